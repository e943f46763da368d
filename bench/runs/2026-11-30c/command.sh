#!/bin/sh
# The cold rows quoted in README "Performance" (issues 9 and 11), third run of 2026-11-30, at
# 7e42d43 (io_uring backends run two workers per CPU): root, 2 cores, Linux 6.18, ext4 on a
# virtual disk, nothing else running. Peers from `cargo install --root /work/peers cpz xcp fcp`
# (on PATH); rsync and GNU cp from Debian. Only cold scenarios ran: the change touches only the
# io_uring backends, which `auto` picks when the source is not cached; the tmpfs, ext4-warm,
# resync-warm and resync-1pct rows stay those of ../2026-11-30b/ (auto ran std there).
set -e
cargo build --release -p xtask
X=target/release/xtask
C=ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor
# cold.json / cold.txt
$X bench --corpora small-4k,small-64k --scenarios ext4-cold --contenders $C --rounds 5 --warmup 0
# tree-cold.json / tree-cold.txt — the real tree (a Rust toolchain, 53,531 entries, 1.21 GiB)
$X bench --corpora tree --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu \
  --scenarios ext4-cold --contenders ucopy:auto:inode,cpz,xcp,fcp,floor --rounds 5 --warmup 0
# resync-cold.json / resync-cold.txt
$X bench --corpora small-4k --scenarios resync-cold --contenders ucopy-au,cp-au,rsync-a \
  --rounds 5 --warmup 0
# large.json / large.txt — one 1 GiB file, at 66239b9 (after 7e42d43 only
# the default worker count under an address-space limit changed, which the bench does not set).
$X bench --corpora large --scenarios tmpfs,ext4-warm,ext4-cold --contenders $C --rounds 5 --warmup 0
