#!/bin/sh
# Fifth run of 2026-11-30: the in-memory rows after worker threads got descriptor tables of their
# own (commits 0e9024b, e09d7fc; the JSON names 7b7112a, which only adds `cargo xtask
# fd-tables`). ucopy, cpz, xcp and the floor only (7 interleaved rounds, one warm-up): root, 2
# cores, Linux 6.18, ext4 on a virtual disk, nothing else running. Peers from
# `cargo install --root /work/peers cpz xcp` (on PATH). The README's full tables stay those of
# ../2026-11-30b/ (in memory), ../2026-11-30c/ (cold) and ../2026-11-30d/ (mixed).
set -e
cargo build --release -p xtask
X=target/release/xtask
# in-memory.json / in-memory.txt
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,cpz,xcp,floor --rounds 7 --warmup 1
