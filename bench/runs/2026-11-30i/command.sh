#!/bin/sh
# Ninth run of 2026-11-30, at a945750 (names shared as Arc<CStr>, Ring::close_all): in memory on
# tmpfs only, what `auto` runs against plain system calls (`std`) in the same rounds, with cpz and
# the floor; 9 rounds after a warm-up, to narrow this machine's spread. Root, 2 cores, Linux 6.18,
# nothing else running; cpz from `cargo install --root /work/peers cpz` (on PATH).
set -e
cargo build --release -p xtask
X=target/release/xtask
# tmpfs-ab.json / tmpfs-ab.txt
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs \
  --contenders ucopy:auto:inode,ucopy:std:inode,cpz,floor --rounds 9 --warmup 1
