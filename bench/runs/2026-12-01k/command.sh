#!/bin/bash
# bench/runs/2026-12-01k/command.sh — small subtrees (e715103): a worker copies a fan-out's
# candidate whole when the subtree below it is small, instead of giving it back to the walk.
# The build before (BASE, e715103's parent) against it (UCOPY), with cpz and the bench's floor
# (FLOOR: `cargo xtask` at 164a270 or later), 8 interleaved rounds each with bench/ab.sh
# (tmpfs → tmpfs, the trees of the bench's corpora on /dev/shm as in 2026-12-01i), `-a` on the two
# real trees, node_modules into a fresh ext4 (warm and cold, bench/runs/2026-11-30k/ext4.sh), and
# the system calls of one node_modules copy (perf stat tracepoints).
set -u
cd "$(dirname "$0")/../../.."
for t in nm rt/src/share rt mx td b; do
  echo "== /dev/shm/$t"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "base=$BASE -r" "ucopy=$UCOPY -r" "cpz=cpz" \
    "floor=$FLOOR floor"
done
for t in nm rt/src/share; do
  echo "== /dev/shm/$t, -a"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "base=$BASE -a" "ucopy=$UCOPY -a"
done
for mode in warm cold; do
  echo "== /tmp/nm/node_modules into a fresh ext4, $mode"
  bash bench/runs/2026-11-30k/ext4.sh $mode 6 /tmp/nm/node_modules "base=$BASE -r" \
    "ucopy=$UCOPY -r" "cpz=cpz"
done
echo "== system calls, /dev/shm/nm, one copy each"
for c in "$BASE -r" "$UCOPY -r" cpz; do
  rm -rf /dev/shm/dst
  # shellcheck disable=SC2086
  perf stat -x, -e raw_syscalls:sys_enter,syscalls:sys_enter_pidfd_getfd,syscalls:sys_enter_getdents64,syscalls:sys_enter_openat,syscalls:sys_enter_close,context-switches \
    $c /dev/shm/nm /dev/shm/dst 2>&1 >/dev/null | awk -F, -v c="${c##*/}" \
    '{printf "%s %s=%s", (NR == 1 ? c : ""), $3, $1} END {print ""}'
done
rm -rf /dev/shm/dst
