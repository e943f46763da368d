#!/bin/sh
# The run of 2026-12-01d (PERF.md, "Which backend with the data in memory" and "Leaf
# candidates"): root, 2 cores, a third machine (Intel Xeon under KVM, a system call ~72 ns),
# Linux 6.18, ext4 on a virtual disk. Peers from `cargo install --root /work/peers cpz xcp fcp`
# (on PATH); rsync and GNU cp from Debian. A/B numbers and counts are in results.txt.
set -e
cargo build --release
# in-memory.json / in-memory.txt, at 6e0db6d:
target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1
# cold.json / cold.txt, at the same commit:
target/release/xtask bench --corpora small-4k,small-64k,mixed --scenarios ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# A/Bs (trees copied from target/bench/corpora/*/tree to /dev/shm; OLD and NEW are builds):
bench/ab.sh 10 /dev/shm/b/src /dev/shm/b/dst old_auto=OLD new_auto=NEW std="OLD --backend std" cpz=cpz
bench/ab.sh 8 /dev/shm/td/src /dev/shm/td/dst old=OLD new=NEW cpz=cpz
bench/runs/2026-11-30k/ext4.sh warm 8 target/bench/corpora/small-4k.*/tree std="OLD --backend std" auto=OLD cpz=cpz
# A system call's cost: ucopy --probe (syscall_ns), or a loop of getppid(2).
# The committed files: in-memory.* at bfdc6bf with --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
# and --corpora small-4k,small-64k,mixed,tiny-dirs,tree (an earlier run of the same command without
# the tree, at 6e0db6d, is in git history as the first in-memory.* of this directory); cold.* at bfdc6bf
# (the JSON says "-dirty": README and these files were being edited; no code). README's tables:
python3 bench/readme-tables.py bench/runs/2026-12-01d/in-memory.json bench/runs/2026-12-01d/cold.json
