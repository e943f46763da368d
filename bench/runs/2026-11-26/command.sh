#!/bin/sh
# The run quoted in README "Performance" (root, 2 cores, Linux 6.18, ext4 on a virtual disk).
cargo xtask bench --install-peers
cargo xtask bench --corpora small-4k,small-64k --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy:std:inode,ucopy:rw:inode,ucopy:rw:none,ucopy:splice:inode,ucopy:fixed:inode,cp-r,cpz,xcp,fcp \
  --rounds 5
cargo xtask bench --seed-table
