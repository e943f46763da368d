#!/bin/sh
# The run of 2026-12-01c (PERF.md, "Leaf directories, and one CPU against two"): root, 2 cores
# (the Intel Xeon under KVM of bench/runs/2026-12-01), Linux 6.18, ext4 on a virtual disk. Peers
# from `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian.
# A/B numbers, instruction and system-call counts are in results.txt.
set -e
cargo build --release
# in-memory.json / in-memory.txt, at c565e73:
target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1
# in-memory-9d632dd.json / .txt: the same command at 9d632dd.
# A/Bs (trees copied from target/bench/corpora/*/tree to /dev/shm; OLD and NEW are builds):
bench/ab.sh 20 /dev/shm/td/src /dev/shm/td/dst old="OLD --backend std" leaf="NEW --backend std" cpz=cpz
bench/ab.sh 20 /dev/shm/b/src /dev/shm/b/dst old="OLD --backend std" leaf="NEW --backend std" cpz=cpz
# One CPU against two:
bench/ab.sh 12 /dev/shm/b/src /dev/shm/b/dst ucopy-1cpu="taskset -c 1 OLD --backend std" \
  cpz-1cpu="taskset -c 1 cpz" ucopy-2cpu="OLD --backend std" cpz-2cpu=cpz
bench/runs/2026-12-01c/cpus.sh OLD /dev/shm/td/src 4
# User instructions: valgrind --tool=callgrind --callgrind-out-file=cg.out NEW --backend std SRC DST
# System calls: strace -c -f -o st.txt NEW --backend std SRC DST
