#!/bin/bash
# bench/runs/2026-12-02a/command.sh — where the floor's lead on real trees comes from, and three
# levers tried against it (none kept). BASE is the product (6641fe1); AFF is it with the
# dispatcher's directory affinity on (look-ahead 32), LEAF with leaves of up to $UCOPY_LEAF
# files, RWSMALL with files up to 16 KiB read and written instead of copy_file_range (the three
# patches in trials.patch, each applied alone to 6641fe1 and built with `cargo build --release`);
# FLOOR is `target/release/xtask`. TREE is the bench's real tree (the Rust toolchain corpus under
# target/bench/corpora/), /dev/shm/{nm,rt} the node_modules and toolchain trees on tmpfs as in
# 2026-12-01i. Needs cpz on PATH and perf.
set -u
cd "$(dirname "$0")/../../.."
R=bench/runs/2026-12-02a
echo "== the toolchain into a fresh ext4, warm (10 rounds, rotated)"
bash $R/ext4-ab.sh warm 10 "$TREE" "base=$BASE -r" "aff=$AFF -r" \
  "leaf8k=env UCOPY_LEAF=8192 $LEAF -r" "cpz=cpz" "floor=$FLOOR floor"
echo "== the same, CPU samples by system call (3 rounds)"
bash $R/by-syscall.sh 3 "$TREE" ext4 "base=$BASE -r" "floor=$FLOOR floor" "cpz=cpz" \
  "leaf8k=env UCOPY_LEAF=8192 $LEAF -r"
echo "== the same, inside openat (3 rounds)"
bash $R/by-syscall.sh 3 "$TREE" ext4 openat "base=$BASE -r" "floor=$FLOOR floor"
for t in nm rt; do
  echo "== /dev/shm/$t, tmpfs (8 rounds)"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "base=$BASE -r" "aff=$AFF -r" \
    "leaf8k=env UCOPY_LEAF=8192 $LEAF -r" "rwsmall=$RWSMALL -r" "cpz=cpz" "floor=$FLOOR floor"
done
echo "== /dev/shm/nm, CPU samples by system call (4 rounds)"
bash $R/by-syscall.sh 4 /dev/shm/nm tmpfs "base=$BASE -r" "cpz=cpz" "floor=$FLOOR floor"
echo "== allocations in one copy of /dev/shm/nm (uprobes on glibc's malloc and free)"
LIBC=$(ldd "$BASE" | awk '/libc.so/ {print $3}')
perf probe -q -d 'probe_libc:*' 2>/dev/null
perf probe -q -x "$LIBC" malloc && perf probe -q -x "$LIBC" free
for c in "$BASE -r" cpz "$FLOOR floor"; do
  rm -rf /dev/shm/dst
  # shellcheck disable=SC2086
  perf stat -x, -e probe_libc:malloc,probe_libc:free $c /dev/shm/nm /dev/shm/dst 2>&1 >/dev/null |
    awk -F, -v c="${c##*/}" '{printf "%s %s=%s", (NR == 1 ? c : ""), $3, $1} END {print ""}'
done
perf probe -q -d 'probe_libc:*'
rm -rf /dev/shm/dst
