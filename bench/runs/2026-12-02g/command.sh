#!/bin/sh
# The run of 2026-12-02g, at the commit its JSON names: the commands of 2026-12-02e (and the
# machine, peers and commands of bench/runs/2026-12-01f, whose command.sh says more) after a
# listing's names went into one block (a1c87c8). Each invocation's table is written next to this
# script, and its JSON copied here from target/bench/results/.
set -e
cd "$(dirname "$0")/../../.."
D=bench/runs/2026-12-02g
export PATH=/work/peers/bin:$PATH
cargo build --release
TC=~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
last_json() { ls -t target/bench/results/*.json | head -1; }
target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs,tree --tree "$TC" \
  --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1 >$D/in-memory.txt
cp "$(last_json)" $D/in-memory.json
target/release/xtask bench --corpora small-4k,small-64k,mixed,tree --tree "$TC" \
  --scenarios ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1 \
  >$D/cold.txt
cp "$(last_json)" $D/cold.json
target/release/xtask bench --corpora tree --tree /tmp/nm/node_modules \
  --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1 \
  >$D/node-modules.txt
cp "$(last_json)" $D/node-modules.json
# README's tables:
#   python3 bench/readme-tables.py $D/in-memory.json $D/cold.json
#   python3 bench/readme-tables.py $D/node-modules.json
