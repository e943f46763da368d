#!/bin/sh
# The run of 2026-12-02p: the cold part and node_modules of bench/full-run.sh (the same commands,
# on an Intel Xeon with a slower disk than earlier runs' machines; bench/runs/2026-12-02o), at
# the commit its JSON names — the code of 2026-12-02n (four cold workers per CPU). The in-memory
# part was not run: no code it measures changed since 2026-12-02n. Each invocation's table is
# written next to this script, and its JSON copied here from target/bench/results/.
set -e
D=bench/runs/2026-12-02p
cd "$(dirname "$0")/../../.."
export PATH=/work/peers/bin:$PATH
cargo build --release
TC=~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
last_json() { ls -t target/bench/results/*.json | head -1; }
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
