#!/bin/sh
# The runs quoted in README "Performance" (issues 9 and 11): root, 2 cores, Linux 6.18, ext4 on a
# virtual disk, nothing else running (load average ≈ 1 at the start, in each JSON). Peers from
# `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian.
# The bench binary is built in release (`cargo xtask bench` runs a debug xtask, whose byte-for-byte
# check of every copy is slow; `floor` is then release-built too).
set -e
cargo build --release -p xtask
X=target/release/xtask
C=ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor
# main.json / main.txt
$X bench --corpora small-4k,small-64k --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders $C --rounds 5 --warmup 0
# resync.json / resync.txt
$X bench --corpora small-4k --scenarios resync-warm,resync-cold,resync-1pct \
  --contenders ucopy-au,cp-au,rsync-a --rounds 5 --warmup 0
# tree.json / tree.txt: a real tree (a Rust toolchain: 53,531 entries, 1.2 GiB of data), ext4 warm
# only (the cold and 1 GiB rows did not fit in the time the machine was free)
$X bench --corpora tree --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu \
  --scenarios ext4-warm --contenders ucopy:auto:inode,cpz,xcp,fcp,floor --rounds 5 --warmup 0
