#!/bin/bash
# bench/runs/2026-12-02d/command.sh — with plain system calls a tree's first worker waits until
# more than a batch (256 files) has been handed out, and a smaller tree is copied on the
# driver's thread (crates/ucopy-fs/src/driver/held.rs): BASE (101b0bb, the build before) against
# UCOPY (the change), with GNU cp and cpz, per invocation (bench/runs/2026-12-02b/startup.sh:
# wall and CPU time, `perf stat -r 50` per round, 10 rounds rotated, minus the shell's own time)
# on small trees made here in /dev/shm/held (files of 2,000 bytes): d20 (one directory of 20),
# p100 (10 directories of 10), p250 (5 of 50), p500 (10 of 50: more than a batch, so workers
# start as before); then the bench's larger trees (bench/ab.sh), which take the workers' path.
# PATH must hold cpz.
set -u
cd "$(dirname "$0")/../../.."
S=bench/runs/2026-12-02b/startup.sh
H=/dev/shm/held
rm -rf "$H"
python3 - "$H" <<'PY'
import os, sys
root = sys.argv[1]
shapes = {"d20": (1, 20), "p100": (10, 10), "p250": (5, 50), "p500": (10, 50)}
for name, (dirs, files) in shapes.items():
    for d in range(dirs):
        path = os.path.join(root, name, f"d{d}") if dirs > 1 else os.path.join(root, name)
        os.makedirs(path, exist_ok=True)
        for f in range(files):
            with open(os.path.join(path, f"f{f}"), "wb") as out:
                out.write(bytes((d * 31 + f + i) % 251 for i in range(2000)))
PY
for t in d20 p100 p250 p500; do
  echo "== $H/$t, -r"
  bash $S 10 "$H/$t" "before=$BASE -r" "after=$UCOPY -r" "cp=cp -r" "cpz=cpz"
done
echo "== $H/p100, -a"
bash $S 10 "$H/p100" "before=$BASE -a" "after=$UCOPY -a" "cp=cp -a"
for t in nm td b; do
  echo "== /dev/shm/$t (more than a batch: the workers' path)"
  bash bench/ab.sh 8 "/dev/shm/$t" /dev/shm/dst "before=$BASE -r" "after=$UCOPY -r" "cpz=cpz"
done
