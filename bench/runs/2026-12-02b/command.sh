#!/bin/bash
# bench/runs/2026-12-02b/command.sh — a source that is no directory, copied with plain system
# calls, is copied on the driver's thread (no worker thread, no descriptor table of its own, no
# CPU count read): BASE (d4730fb, the build before) against UCOPY (the change), with GNU cp and
# cpz, per invocation (startup.sh here: wall and CPU time, `perf stat -r 50` per round, 12 rounds
# rotated, minus the shell's own time), on /dev/shm/st: f4k (4 KiB), f1m (1 MiB), d20 (a
# directory of 20 files of 8 KiB: workers as before); then trees and one 1 GiB file
# (bench/ab.sh), which take the workers' path or copy one large file either way.
set -u
cd "$(dirname "$0")/../../.."
S=bench/runs/2026-12-02b/startup.sh
for src in f4k f1m; do
  echo "== one file, /dev/shm/st/$src"
  bash $S 12 "/dev/shm/st/$src" "before=$BASE" "after=$UCOPY" "cp=cp" "cpz=cpz"
done
echo "== one file, -a, /dev/shm/st/f4k"
bash $S 12 /dev/shm/st/f4k "before=$BASE -a" "after=$UCOPY -a" "cp=cp -a"
echo "== one file, --backend rw (the worker's path, unchanged), /dev/shm/st/f4k"
bash $S 12 /dev/shm/st/f4k "before=$BASE --backend rw" "after=$UCOPY --backend rw"
echo "== a directory of 20 files, /dev/shm/st/d20 (the workers' path, unchanged)"
bash $S 12 /dev/shm/st/d20 "before=$BASE -r" "after=$UCOPY -r" "cp=cp -r" "cpz=cpz"
echo "== one 1 GiB file, tmpfs"
bash bench/ab.sh 5 /dev/shm/lg/large.bin /dev/shm/dst "before=$BASE" "after=$UCOPY" "cp=cp"
for t in nm b; do
  echo "== /dev/shm/$t (the workers' path, unchanged)"
  bash bench/ab.sh 6 "/dev/shm/$t" /dev/shm/dst "before=$BASE -r" "after=$UCOPY -r" "cpz=cpz"
done
