#!/bin/sh
# The run quoted in README "Performance" (issue 9). Root, 2 cores, Linux 6.18, ext4 on a virtual
# disk. Peers from `cargo install --root /work/peers cpz xcp fcp` (on PATH), rsync from Debian.
# Other jobs were still compiling on the machine for part of the run (load 8-12 at the start; the
# JSON records loadavg_at_start): read ratios within a table, not absolutes.
PATH=/work/peers/bin:$PATH cargo xtask bench --corpora small-4k,small-64k \
  --scenarios tmpfs,ext4-warm,ext4-cold \
  --contenders ucopy:auto:inode,ucopy-a,cpz,xcp,fcp,cp-a,rsync,floor --rounds 5 --warmup 1
