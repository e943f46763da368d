#!/bin/sh
# The run of 2026-12-01f, at the commit its JSON names: root, 2 cores, the machine of
# 2026-12-01d/e (Intel Xeon under KVM, a system call ~72 ns, 24 GiB, Linux 6.18, ext4 on a
# virtual disk). Peers from `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and
# GNU cp from Debian. Nothing else ran on the machine meanwhile.
set -e
cargo build --release
# in-memory.json / in-memory.txt:
target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs,tree \
  --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1
# cold.json / cold.txt (the toolchain cold too: issue 9's "a real tree" row):
target/release/xtask bench --corpora small-4k,small-64k,mixed,tree \
  --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu --scenarios ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# node-modules.json / node-modules.txt (the tree of bench/trees/node-modules: `npm ci` there):
target/release/xtask bench --corpora tree --tree /tmp/nm/node_modules --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# The disk's own envelope (disk-envelope.txt): bench/runs/2026-12-01f/disk-envelope.sh
# README's tables:
python3 bench/readme-tables.py bench/runs/2026-12-01f/in-memory.json bench/runs/2026-12-01f/cold.json
python3 bench/readme-tables.py bench/runs/2026-12-01f/node-modules.json
