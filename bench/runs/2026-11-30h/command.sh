#!/bin/sh
# Eighth run of 2026-11-30: the README's in-memory rows (tmpfs, ext4 warm) after the io_uring
# executors close a group's descriptors with Ring::close_all (one IORING_OP_CLOSE each, no chain
# record per close) and make a ring job's task as the batch is sorted. At b89ebf9. Root, 2 cores,
# Linux 6.18, ext4 on a virtual disk, nothing else running. Peers from `cargo install --root
# /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian. Cold rows stay those of
# ../2026-11-30c/ and ../2026-11-30d/; re-syncs, the real tree and the resync floor those of
# ../2026-11-30g/.
set -e
cargo build --release -p xtask
X=target/release/xtask
# in-memory.json / in-memory.txt
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# Outside the bench, the A/B that measured the close change (/tmp/us.sh-style: 12 interleaved
# rounds, `rm -rf DST` before each, `/usr/bin/time`, medians; 50,000 × 4 KiB from /dev/shm to
# /dev/shm; "old" = 96c34c7, "new" = 1c6d3b9, both `ucopy -r SRC DST`):
#   old  wall 0.465 s  user 0.115 s  sys 0.780 s
#   new  wall 0.435 s  user 0.100 s  sys 0.760 s
#   cpz  wall 0.420 s  user 0.030 s  sys 0.805 s
