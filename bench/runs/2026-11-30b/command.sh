#!/bin/sh
# The runs quoted in README "Performance" (issues 9 and 11), second run of 2026-11-30: root,
# 2 cores, Linux 6.18, ext4 on a virtual disk, nothing else running. Peers from
# `cargo install --root /work/peers cpz xcp fcp` (on PATH); rsync and GNU cp from Debian.
# The bench binary is built in release (see ../2026-11-30/command.sh for why).
set -e
cargo build --release -p xtask
X=target/release/xtask
C=ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor
# main.json / main.txt — at da858ec (batches per directory, lazy paths). Its tmpfs and ext4-warm
# rows are the README's; its ext4-cold rows are superseded by cold.json: in 3 of 5 ucopy -a
# rounds `auto` took the cold source for cached (RWF_NOWAIT sampling) and ran std at queue
# depth 1 — fixed in d385804 (cachestat).
$X bench --corpora small-4k,small-64k --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders $C --rounds 5 --warmup 0
# resync.json / resync.txt — at da858ec (the "-dirty" in its JSON is PERF.md only). Its
# resync-warm and resync-1pct rows are the README's; resync-cold is superseded by resync-cold.json.
$X bench --corpora small-4k --scenarios resync-warm,resync-cold,resync-1pct \
  --contenders ucopy-au,cp-au,rsync-a --rounds 5 --warmup 0
# cold.json / cold.txt and resync-cold.json / resync-cold.txt — at d385804 (cachestat).
$X bench --corpora small-4k,small-64k --scenarios ext4-cold --contenders $C --rounds 5 --warmup 0
$X bench --corpora small-4k --scenarios resync-cold --contenders ucopy-au,cp-au,rsync-a \
  --rounds 5 --warmup 0
# tree.json / tree.txt — at 7df8106 (documentation after d385804): a real tree (a Rust toolchain,
# 53,531 entries, 1.21 GiB), ext4 warm and cold.
$X bench --corpora tree --tree ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu \
  --scenarios ext4-warm,ext4-cold --contenders ucopy:auto:inode,cpz,xcp,fcp,floor --rounds 5 --warmup 0
