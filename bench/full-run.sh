#!/bin/sh
# bench/full-run.sh DIR [PART...] — the full run README's tables come from (bench/runs/2026-12-01h
# onwards; DIR relative to the repository's root): the generated corpora and this machine's Rust
# toolchain in memory (tmpfs, ext4 warm) and cold, and a real node_modules (/tmp/nm/node_modules;
# `npm ci` in bench/trees/node-modules/ makes it) in all three, 5 interleaved rounds after a
# warm-up, peers from /work/peers/bin (`cargo install --root /work/peers cpz xcp fcp`). Each
# invocation's table is written to DIR, and its JSON copied there from target/bench/results/.
# PARTs (default: all three) run only those invocations: in-memory, cold, node-modules.
# README's tables:
#   python3 bench/readme-tables.py DIR/in-memory.json DIR/cold.json
#   python3 bench/readme-tables.py DIR/node-modules.json
set -e
D=$1
shift
PARTS=${*:-in-memory cold node-modules}
part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
cd "$(dirname "$0")/.."
export PATH=/work/peers/bin:$PATH
cargo build --release
TC=~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
last_json() { ls -t target/bench/results/*.json | head -1; }
if part in-memory; then
  target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs,tree --tree "$TC" \
    --scenarios tmpfs,ext4-warm \
    --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
    --rounds 5 --warmup 1 >$D/in-memory.txt
  cp "$(last_json)" $D/in-memory.json
fi
if part cold; then
  target/release/xtask bench --corpora small-4k,small-64k,mixed,tree --tree "$TC" \
    --scenarios ext4-cold \
    --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1 \
    >$D/cold.txt
  cp "$(last_json)" $D/cold.json
fi
if part node-modules; then
  target/release/xtask bench --corpora tree --tree /tmp/nm/node_modules \
    --scenarios tmpfs,ext4-warm,ext4-cold \
    --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1 \
    >$D/node-modules.txt
  cp "$(last_json)" $D/node-modules.json
fi
