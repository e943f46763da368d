#!/bin/sh
# Measurements after the tenth run of 2026-11-30 (PERF.md, "After the tenth run"). Root, 2 cores,
# Linux 6.18, ext4 on a virtual disk. Peers from `cargo install --root /work/peers cpz xcp fcp`
# (on PATH); rsync and GNU cp from Debian. Numbers in results.txt.
set -e
cargo build --release
# tiny-dirs.json / tiny-dirs.txt, at b37727f (the working tree added the corpus to the bench):
target/release/xtask bench --corpora tiny-dirs --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor \
  --rounds 5 --warmup 1
# The directory-heavy trees and the A/Bs (see results.txt for each command's arguments):
python3 bench/runs/2026-11-30k/dir-trees.py /dev/shm/dt
U=target/release/ucopy
for t in d2 d8 d32; do
  bench/runs/2026-11-30k/ab.sh 12 /dev/shm/dt/$t /dev/shm/dt/dst "auto=$U -r" \
    "std=$U -r --backend std" cpz=cpz fcp=fcp "xcp=xcp -r"
done
# Warm and cold copies into a fresh ext4 per run, e.g.:
bench/runs/2026-11-30k/ext4.sh warm 10 target/bench/corpora/small-4k.*/tree "def=$U -r" \
  "t4=$U -r --threads 4" cpz=cpz
bench/runs/2026-11-30k/ext4.sh cold 6 target/bench/corpora/small-64k.*/tree "def=$U -r" \
  "qd128=$U -r --queue-depth 128" "t6=$U -r --threads 6" "t8qd32=$U -r --threads 8 --queue-depth 32"
# The disk's ceiling:
# fio --name=r --filename=F --size=2G --rw=randread --bs=64k --iodepth=QD --ioengine=io_uring \
#   --direct=1 --runtime=8 --time_based    (QD 16, 32, 64, 128, 256; and --rw=read --bs=1M)
