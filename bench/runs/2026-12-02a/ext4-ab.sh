#!/bin/bash
# ext4-ab.sh cold|warm ROUNDS SRC name=command ... — bench/runs/2026-11-30k/ext4.sh with the
# contenders' order rotated every round (as bench/ab.sh does: a run's place in the round moves
# its time on this host). Each run copies SRC into a fresh ext4 (a 3 GiB loop image on /dev/shm,
# made and mounted before every run); `cold` drops the page cache first, `warm` reads SRC once
# before the rounds. Prints median and fastest wall time, median CPU (s).
set -u
MODE=$1; R=$2; S=$3; shift 3
SPECS=("$@"); N=${#SPECS[@]}
OUT=$(mktemp); IMG=/dev/shm/ucopy-ab-ext4.img; MNT=$(mktemp -d)
[ "$MODE" = warm ] && find "$S" -type f -exec cat {} + >/dev/null 2>&1
# Round -1 is a warm-up, not counted: the first run after a pause is up to 3x slower here.
for r in $(seq -1 $((R - 1))); do
  for i in $(seq 0 $((N - 1))); do
    spec=${SPECS[$(((i + r + N) % N))]}
    n=${spec%%=*}; c=${spec#*=}
    rm -f "$IMG"; truncate -s 3G "$IMG"; mkfs.ext4 -q -F "$IMG"; mount -o loop "$IMG" "$MNT"
    if [ "$MODE" = cold ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
    # shellcheck disable=SC2086 # the command is meant to split into words
    /usr/bin/time -f "$n %e %U %S" -a -o "$OUT.$r" $c "$S" "$MNT/dst" >/dev/null 2>&1
    [ "$r" -ge 0 ] && cat "$OUT.$r" >>"$OUT"; rm -f "$OUT.$r"
    umount "$MNT"
  done
done
rm -f "$IMG"; rmdir "$MNT"
python3 - "$OUT" <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, w, u, s = line.split()
    d[n].append((float(w), float(u) + float(s)))
for n, v in d.items():
    print(f"{n:8s} n={len(v)} wall median {st.median(x[0] for x in v):.3f} fastest "
          f"{min(x[0] for x in v):.3f}  cpu median {st.median(x[1] for x in v):.3f}")
PY
rm -f "$OUT"
