#!/bin/sh
# The run of 2026-12-01e: the 1 GiB file, on the machine of 2026-12-01d (Intel Xeon under KVM,
# 2 cores, Linux 6.18, 24 GiB, ext4 on a virtual disk), at 43d81ec. Peers from
# `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian.
# large.json / large.txt:
set -e
cargo build --release
target/release/xtask bench --corpora large --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# (One file has no walk order: the bench names the ucopy contender `ucopy:auto`.)
# A/Bs outside the bench (results.txt), the same file:
#   bench/runs/2026-11-30k/ext4.sh warm 8 target/bench/corpora/large.*/tree ucopy=target/release/ucopy fcp=fcp cpz=cpz "cp=cp -r"
#   head -c 1G /dev/urandom > /dev/shm/lg/src/big
#   bench/ab.sh 8 /dev/shm/lg/src /dev/shm/lg/dst "ucopy=target/release/ucopy -r" "ucopya=target/release/ucopy -a" "cpa=cp -a" cpz=cpz
# node-modules.json / node-modules.txt, at 7e7fe2b: a real tree, made with
#   mkdir /tmp/nm && cd /tmp/nm && npm install --no-audit --no-fund webpack eslint jest typescript @babel/core
# whose package.json and package-lock.json are bench/trees/node-modules/ (`npm ci` there makes
# the same 10,014 files in 1,491 directories; then --tree bench/trees/node-modules/node_modules):
target/release/xtask bench --corpora tree --tree /tmp/nm/node_modules --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# README's tables:
python3 bench/readme-tables.py bench/runs/2026-12-01e/large.json
python3 bench/readme-tables.py bench/runs/2026-12-01e/node-modules.json
