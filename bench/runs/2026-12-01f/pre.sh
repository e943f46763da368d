#!/bin/bash
# pre.sh ROUNDS SRC PRECMD name=cmd... : as bench/runs/2026-11-30k/ext4.sh cold, with PRECMD run after the caches are dropped (e.g. "find SRC -type d": the walk's metadata cached, the data not)
set -u
R=$1; S=$2; PRE=$3; shift 3
OUT=$(mktemp); IMG=/dev/shm/pre-ext4.img; MNT=$(mktemp -d)
for _ in $(seq "$R"); do
  for spec in "$@"; do
    n=${spec%%=*}; c=${spec#*=}
    rm -f "$IMG"; truncate -s 3G "$IMG"; mkfs.ext4 -q -F "$IMG"; mount -o loop "$IMG" "$MNT"
    sync; echo 3 >/proc/sys/vm/drop_caches
    eval "$PRE" >/dev/null 2>&1
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
    print(f"{n:8s} n={len(v)} wall median {st.median(x[0] for x in v):.3f} fastest {min(x[0] for x in v):.3f}  cpu median {st.median(x[1] for x in v):.3f}")
PY
rm -f "$OUT"
