#!/bin/bash
# bench/runs/2026-12-01i/command.sh — the corrected floor against the old one, cpz and ucopy, in
# memory (tmpfs → tmpfs, the trees of the bench's corpora copied to /dev/shm), 8 interleaved
# rounds each with bench/ab.sh (rotated order, medians).
#   OLD_FLOOR: `cargo xtask` built at 31dfe48 (one table shared by every thread, the walk first)
#   NEW_FLOOR: `cargo xtask` built at 164a270 (tables of their own, whole directories, the walk
#              among the threads)
#   UCOPY:     target/release/ucopy at 164a270 (the product is 31dfe48's)
# Trees: small-4k (/dev/shm/b), small-64k (/dev/shm/s64), mixed (/dev/shm/mx), the Rust
# toolchain (/dev/shm/rt) and its documentation alone (/dev/shm/rt/src/share), node_modules
# (/dev/shm/nm).
set -u
cd "$(dirname "$0")/../../.."
for t in b s64 mx rt rt/src/share nm; do
  echo "== /dev/shm/$t"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "old-floor=$OLD_FLOOR floor" \
    "floor=$NEW_FLOOR floor" "cpz=cpz" "ucopy=$UCOPY -r"
done
