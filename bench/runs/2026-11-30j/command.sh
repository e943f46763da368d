#!/bin/sh
# Tenth run of 2026-11-30, at 1b62104 (the working tree differed only in CHANGELOG.md, hence the
# "-dirty" in the JSON): the README's in-memory rows and the 64 KiB cold row after the planner
# puts a listed name straight into its Arc<CStr> (c1bcbfa), workers localize a batch's
# directories in place (533b429) and the io_uring executors build their groups without
# split_off (1b62104). Root, 2 cores, Linux 6.18, ext4 on a virtual disk, nothing else running.
# Peers from `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from
# Debian. The 4 KiB and mixed cold rows stay those of ../2026-11-30c/ and ../2026-11-30d/;
# re-syncs, the real tree and the resync floor those of ../2026-11-30g/.
set -e
cargo build --release -p xtask
X=target/release/xtask
C=ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor
# in-memory.json / in-memory.txt
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs,ext4-warm --contenders $C \
  --rounds 5 --warmup 1
# cold-64k.json / cold-64k.txt
$X bench --corpora small-64k --scenarios ext4-cold --contenders $C --rounds 5 --warmup 0
# tmpfs-ab.json / tmpfs-ab.txt: what `auto` runs against `std`, cpz and the floor, 9 rounds
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs \
  --contenders ucopy:auto:inode,ucopy:std:inode,cpz,floor --rounds 9 --warmup 1
# Outside the bench (/tmp/ab2.sh-style: interleaved, `rm -rf DST` and `sync` before each run,
# `perf stat -e duration_time,user_time,system_time`, medians in ms), 50,000 × 4 KiB from
# /dev/shm to /dev/shm, 30 rounds; "base" = 4966854 (before this stop), "names" = c1bcbfa plus
# 533b429 and the closing vectors sized, "groups" = 1b62104:
#   base    wall 462.1  cpu 900.3
#   names   wall 437.9  cpu 842.5
#   groups  wall 445.3  cpu 863.4
# Cold 64 KiB (fresh loop ext4 on /dev/shm, caches dropped, 6 interleaved rounds, /usr/bin/time):
#   base 1.080 s, 1b62104 1.050 s (medians).
