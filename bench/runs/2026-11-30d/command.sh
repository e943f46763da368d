#!/bin/sh
# The mixed corpus (issue 9's "mixed" row), fourth run of 2026-11-30, at the commit that added
# this directory's code parent (the address-space change does nothing without `ulimit -v`, which
# the bench does not set): root, 2 cores, Linux 6.18, ext4 on a virtual disk, nothing else
# running. Peers from `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp
# from Debian. The other rows stay those of ../2026-11-30b/ (in memory) and ../2026-11-30c/ (cold).
set -e
cargo build --release -p xtask
X=target/release/xtask
# mixed.json / mixed.txt — 20,000 files of 0 … 1 MiB, deep and wide directories, symlinks
$X bench --corpora mixed --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 0
