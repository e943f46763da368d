#!/bin/sh
# The run of 2026-12-01 (PERF.md, "A second machine"): root, 2 cores (Intel Xeon under KVM; the
# runs before were on an AMD EPYC), Linux 6.18, ext4 on a virtual disk. Peers from
# `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian.
# A/B numbers and the instruction counts are in results.txt.
set -e
cargo build --release
# in-memory.json / in-memory.txt, at c9de6df:
target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1
# Interleaved A/Bs of two builds (trees copied from target/bench/corpora/*/tree to /dev/shm):
U=target/release/ucopy
bench/runs/2026-11-30k/ab.sh 20 /dev/shm/b/src /dev/shm/b/dst "auto=$U" "std=$U --backend std" cpz=cpz
bench/runs/2026-11-30k/ab.sh 14 /dev/shm/td/src /dev/shm/td/dst base=BEFORE now=AFTER cpz=cpz
# User-space instructions (repeatable; valgrind runs the threads one at a time):
valgrind --tool=callgrind --callgrind-out-file=cg.out $U --backend std /dev/shm/b/src /dev/shm/b/dst
valgrind --tool=callgrind --callgrind-out-file=cg.out cpz /dev/shm/b/src /dev/shm/b/dst
# System calls: strace -c -f -o st.txt $U /dev/shm/td/src /dev/shm/td/dst
