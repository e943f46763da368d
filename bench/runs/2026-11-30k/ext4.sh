#!/bin/bash
# ext4.sh cold|warm ROUNDS SRC name=command ... — each run copies SRC into a fresh ext4 (a 3 GiB
# loop image on /dev/shm, made and mounted before every run); `cold` drops the page cache first,
# `warm` reads SRC once before the rounds. Prints median and fastest wall time, median CPU (s).
# PRE="command" (optional) runs after the caches are dropped, before each copy (e.g.
# PRE="find SRC -type d": the walk's metadata cached, the data not; bench/runs/2026-12-01f).
set -u
MODE=$1; R=$2; S=$3; shift 3
OUT=$(mktemp); IMG=/dev/shm/ucopy-ab-ext4.img; MNT=$(mktemp -d)
[ "$MODE" = warm ] && find "$S" -type f -exec cat {} + >/dev/null 2>&1
for _ in $(seq "$R"); do
  for spec in "$@"; do
    n=${spec%%=*}; c=${spec#*=}
    rm -f "$IMG"; truncate -s 3G "$IMG"; mkfs.ext4 -q -F "$IMG"; mount -o loop "$IMG" "$MNT"
    if [ "$MODE" = cold ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
    eval "${PRE:-true}" >/dev/null 2>&1
    # shellcheck disable=SC2086
    /usr/bin/time -f "$n %e %U %S" -a -o "$OUT" $c "$S" "$MNT/dst" >/dev/null 2>&1
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
