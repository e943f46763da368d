#!/bin/sh
# Seventh run of 2026-11-30: the README's in-memory rows (tmpfs, ext4 warm) after `auto` with the
# data in memory runs `rw` tuned for it (files up to 32 KiB through the ring, one worker per CPU)
# when most sampled files are that small, and `std` otherwise. Root, 2 cores, Linux 6.18, ext4 on
# a virtual disk, nothing else running. Peers from `cargo install --root /work/peers cpz xcp fcp`
# (on PATH); rsync and GNU cp from Debian. Cold rows stay those of ../2026-11-30c/ (small-4k,
# small-64k) and ../2026-11-30d/ (mixed): a cold source still gets the default `rw` (the sample
# says "not cached"), whose only change here is the hand-over of large files (next line).
set -e
cargo build --release -p xtask
X=target/release/xtask
# in-memory-a.json / in-memory-a.txt — at 30766da (rw in memory for every tree). Its small-4k
# cells are the README's. Its small-64k cells ran rw for 64 KiB files (every file opened by the
# ring, then handed to copy_file_range: 0.89× cpz on tmpfs), which led to 39f82a3; its mixed
# ext4-warm round 4 had another copy running beside it. Both superseded by in-memory-b.
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# in-memory-b.json / in-memory-b.txt — at 39f82a3 (rw in memory only for trees of small files;
# small-64k now runs std, mixed rw). Its cells are the README's small-64k and mixed rows.
$X bench --corpora small-64k,mixed --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
# resync-warm.json / resync-warm.txt — at 39f82a3: the warm re-syncs now run rw in memory.
$X bench --corpora small-4k --scenarios resync-warm,resync-1pct \
  --contenders ucopy-au,cp-au,rsync-a --rounds 5 --warmup 1
# resync-floor.txt: the least work a re-sync that learns a file's times through its name can do
# on 2 threads (resync-floor.c: per directory, readdir the source, fstatat each name on both
# sides, compare mtimes), against ucopy -a -u and cp -au, cold. Each round: a fresh 4 GiB loop
# ext4 image on the host disk, `cp -a` of the small-4k corpus into it, sync, drop_caches, then
# the timed command (`/usr/bin/time`); 3 interleaved rounds, medians.
#   gcc -O2 -pthread -o resync-floor resync-floor.c
#   resync-floor SRC/. DST THREADS
# tree-warm.json / tree-warm.txt — at b95e855: the real tree (a Rust toolchain, 53,531 entries,
# 1.21 GiB) in memory. `auto` ran std on it: most of the files its sample met are larger than
# 32 KiB. Its row replaces the README's warm tree row (was ../2026-11-30b/tree.json).
$X bench --corpora tree --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu \
  --scenarios ext4-warm --contenders ucopy:auto:inode,cpz,xcp,fcp,floor --rounds 5 --warmup 1
