#!/bin/bash
# startup.sh ROUNDS SRC name=cmd ... : per invocation of `cmd SRC /dev/shm/o1` (the destination
# removed first, in the same shell): wall time and CPU time (task-clock: every thread of the
# `sh -c` and what it runs), `perf stat -r 50` per round, the commands rotated every round;
# prints the median of the rounds' means minus that of `true` run the same way (the shell and
# the removal). bench/runs/2026-12-01g/startup-ab.sh with the CPU time beside the wall time:
# on this host the wall time of a 2 ms process moves by ±15 % between rounds, its CPU time less.
R=$1; S=$2; shift 2
SPECS=("base=true" "$@")
OUT=$(mktemp)
for r in $(seq "$R"); do
  for i in $(seq 0 $((${#SPECS[@]} - 1))); do
    spec=${SPECS[$(((i + r) % ${#SPECS[@]}))]}
    n=${spec%%=*}; c=${spec#*=}
    perf stat -r 50 -x, -e duration_time,task-clock sh -c "rm -rf /dev/shm/o1; $c $S /dev/shm/o1 >/dev/null" 2>&1 |
      awk -F, -v n="$n" '$3 == "duration_time" {w = $1 / 1e6} $3 == "task-clock" {t = $1} END {print n, w, t}' >>"$OUT"
  done
done
rm -rf /dev/shm/o1
python3 - "$OUT" <<'P'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, w, t = line.split()
    d[n].append((float(w), float(t)))
bw = st.median(x[0] for x in d["base"]); bt = st.median(x[1] for x in d["base"])
for n, v in d.items():
    if n != "base":
        print(f"{n:8s} wall {st.median(x[0] for x in v) - bw:6.3f} ms   cpu {st.median(x[1] for x in v) - bt:6.3f} ms")
P
rm -f "$OUT"
