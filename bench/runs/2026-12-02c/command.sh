#!/bin/bash
# bench/runs/2026-12-02c/command.sh — leaves of up to 1,024 files with plain system calls: a
# directory of files only, up to 1,024 of them (was: a batch, 256), is copied whole by one std
# worker. BASE (46a7f4f) against UCOPY (the change), with cpz and the floor (FLOOR: `cargo
# xtask`), bench/ab.sh 8 rounds on tmpfs: /dev/shm/m200 (200 directories of 1,000 empty files,
# made below if missing: the shape where two workers creating in one directory cost most) and
# the trees of 2026-12-01i (nm, rt, mx, td, b, s64, big1: one directory of 20,000 files, the
# root, never a leaf); `-a` on m200 and rt; the toolchain (TREE) into a fresh ext4, warm
# (bench/runs/2026-12-02a/ext4-ab.sh). The io_uring backends are unchanged (a leaf stays a batch
# there), so nothing cold is run.
set -u
cd "$(dirname "$0")/../../.."
if [ ! -d /dev/shm/m200/d0199 ]; then
  for d in $(seq -w 0 199); do
    mkdir -p "/dev/shm/m200/d0$d"
    (cd "/dev/shm/m200/d0$d" && touch $(seq -f f%04g 0 999))
  done
fi
for t in m200 nm rt mx td b s64 big1; do
  echo "== /dev/shm/$t"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "base=$BASE -r" "ucopy=$UCOPY -r" "cpz=cpz" \
    "floor=$FLOOR floor"
done
for t in m200 rt; do
  echo "== /dev/shm/$t, -a"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "base=$BASE -a" "ucopy=$UCOPY -a"
done
echo "== the toolchain into a fresh ext4, warm"
bash bench/runs/2026-12-02a/ext4-ab.sh warm 8 "$TREE" "base=$BASE -r" "ucopy=$UCOPY -r" "cpz=cpz"
