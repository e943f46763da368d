#!/bin/sh
# The run of 2026-12-01b (PERF.md, "Shared counts, allocations, and the order of an A/B"): root,
# 2 cores (the Intel Xeon under KVM of bench/runs/2026-12-01), Linux 6.18, ext4 on a virtual disk.
# Peers from `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from
# Debian. A/B numbers, instruction and system-call counts are in results.txt.
set -e
cargo build --release
# in-memory.json / in-memory.txt, at f4e1968:
target/release/xtask bench --corpora small-4k,small-64k,mixed,tiny-dirs --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1
# A/Bs (trees copied from target/bench/corpora/*/tree to /dev/shm; BEFORE and AFTER are builds):
bench/ab.sh 12 /dev/shm/b/src /dev/shm/b/dst base="BEFORE --backend std" now="AFTER --backend std" \
  nowauto=AFTER baseauto=BEFORE cpz=cpz
bench/ab.sh 12 /dev/shm/td/src /dev/shm/td/dst base="BEFORE --backend std" now="AFTER --backend std" \
  nowauto=AFTER cpz=cpz
# The position effect: one binary five times, in a fixed order and rotated:
bench/ab.sh --fixed-order 8 /dev/shm/s64/src /dev/shm/s64/dst p1="AFTER --backend std" \
  p2="AFTER --backend std" p3="AFTER --backend std" p4="AFTER --backend std" p5="AFTER --backend std"
bench/ab.sh 10 /dev/shm/s64/src /dev/shm/s64/dst p1="AFTER --backend std" p2="AFTER --backend std" \
  p3="AFTER --backend std" p4="AFTER --backend std" p5="AFTER --backend std"
# User instructions: valgrind --tool=callgrind --callgrind-out-file=cg.out AFTER --backend std SRC DST
# System calls: strace -c -f -o st.txt AFTER --backend std SRC DST
