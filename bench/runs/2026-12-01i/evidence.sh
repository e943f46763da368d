#!/bin/bash
# bench/runs/2026-12-01i/evidence.sh — why the old floor lost to cpz, and where ucopy's CPU goes
# beyond the corrected floor's (in memory, tmpfs → tmpfs). Same binaries as command.sh
# (OLD_FLOOR, NEW_FLOOR, UCOPY; cpz on PATH). Output: evidence.txt.
#  1. symbol-diff (bench/runs/2026-12-01g/symbol-diff.sh), small-4k, old floor against cpz:
#     the old floor's threads shared one descriptor table.
#  2. symbol-diff, small-4k and node_modules, ucopy against the corrected floor.
#  3. Each ucopy thread's share of the CPU samples on node_modules (perf record, 6 runs).
#  4. close-wrapper.c: glibc's close() against the bare system call in a threaded process.
set -u
cd "$(dirname "$0")/../../.."
SD=bench/runs/2026-12-01g/symbol-diff.sh
T=$(mktemp -d)
# The first lines of a symbol diff (read whole first: `head` on the pipe would cut it short).
diff_head() { n=$1; shift; bash $SD "$@" >"$T/diff"; head -"$n" "$T/diff"; }
echo "## 1. small-4k: old floor (o) against cpz (c), 3 runs each"
diff_head 30 3 /dev/shm/b /dev/shm/dst "o=$OLD_FLOOR floor" "c=cpz"
echo
echo "## 2a. small-4k: ucopy (u) against the corrected floor (f), 3 runs each"
diff_head 40 3 /dev/shm/b /dev/shm/dst "u=$UCOPY -r" "f=$NEW_FLOOR floor"
echo
echo "## 2b. node_modules: ucopy (u) against the corrected floor (f), 6 runs each"
diff_head 40 6 /dev/shm/nm /dev/shm/dst "u=$UCOPY -r" "f=$NEW_FLOOR floor"
echo
echo "## 3. node_modules: CPU samples per ucopy thread (6 runs, perf record -F 4000)"
for i in 1 2 3 4 5 6; do
  rm -rf /dev/shm/dst; sync
  perf record -q -F 4000 -o "$T/p.data" "$UCOPY" -r /dev/shm/nm /dev/shm/dst >/dev/null 2>&1
  perf report -i "$T/p.data" --sort comm --stdio -n 2>/dev/null | grep -E '^ +[0-9]'
done | awk '{n[$3]+=$2; t+=$2} END {for (k in n) printf "%-14s %6d samples %5.1f %%\n", k, n[k], 100*n[k]/t}'
rm -rf "$T" /dev/shm/dst
echo
echo "## 4. close-wrapper.c: ns per dup+close, glibc close (0) and the bare syscall (1)"
gcc -O2 -o /tmp/close-wrapper bench/runs/2026-12-01i/close-wrapper.c -lpthread
for m in 0 1 0 1; do /tmp/close-wrapper $m </dev/null; done
echo
echo "## 5. small-4k: calls of the C library's allocator (uprobes), ucopy and cpz"
perf probe -q -x /lib/x86_64-linux-gnu/libc.so.6 malloc 2>/dev/null
perf probe -q -x /lib/x86_64-linux-gnu/libc.so.6 free 2>/dev/null
for c in "$UCOPY -r" cpz; do
  rm -rf /dev/shm/dst; sync
  # shellcheck disable=SC2086 # the command is meant to split into words
  perf stat -x, -e probe_libc:malloc,probe_libc:free $c /dev/shm/b /dev/shm/dst 2>&1 >/dev/null |
    awk -F, -v c="${c%% *}" '{printf "%-40s %8s %s\n", c, $1, $3}'
done
rm -rf /dev/shm/dst
