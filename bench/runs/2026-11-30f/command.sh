#!/bin/sh
# Sixth run of 2026-11-30: the README's in-memory rows (tmpfs, ext4 warm) for small-4k, small-64k
# and mixed, after worker threads got descriptor tables of their own (commits 0e9024b, e09d7fc;
# the JSON names 144d1da, whose later commits touch only docs and bench records): root, 2 cores,
# Linux 6.18, ext4 on a virtual disk, nothing else running. Peers from
# `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian.
# The cold rows stay those of ../2026-11-30c/ (small-4k, small-64k) and ../2026-11-30d/ (mixed):
# the change does not touch what `auto` runs cold beyond the descriptor tables, and a 3-round
# cold check of small-4k after it (not kept) gave ucopy 1.88 s, the same 26.6k files/s as before.
set -e
cargo build --release -p xtask
X=target/release/xtask
# in-memory.json / in-memory.txt
$X bench --corpora small-4k,small-64k,mixed --scenarios tmpfs,ext4-warm \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 0
