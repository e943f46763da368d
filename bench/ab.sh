#!/bin/bash
# bench/ab.sh [--fixed-order] ROUNDS SRC DST name=command ... — interleaved A/B of copy commands
# (each run as `command SRC DST`), `rm -rf DST; sync` before every run, `perf stat -e
# duration_time,user_time,system_time`; prints medians in ms (wall, user, system, CPU).
# The order rotates every round: on the Xeon host of bench/runs/2026-12-01b a run's place in the
# round alone moved its median by 25 % (five runs of one binary, results.txt there).
# --fixed-order runs them in the order given every round, as the A/Bs before that run did.
set -u
ROTATE=1
if [ "${1:-}" = --fixed-order ]; then ROTATE=0; shift; fi
R=$1; S=$2; D=$3; shift 3
SPECS=("$@")
N=${#SPECS[@]}
OUT=$(mktemp)
for r in $(seq 0 $((R - 1))); do
  for i in $(seq 0 $((N - 1))); do
    spec=${SPECS[$(((i + r * ROTATE) % N))]}
    n=${spec%%=*}; c=${spec#*=}
    rm -rf "$D"; sync
    # shellcheck disable=SC2086 # the command is meant to split into words
    perf stat -x, -e duration_time,user_time,system_time $c "$S" "$D" 2>&1 >/dev/null |
      awk -F, -v n="$n" '{v[$3]=$1} END {print n, v["duration_time"]/1e6, v["user_time"]/1e6, v["system_time"]/1e6}' >>"$OUT"
  done
done
rm -rf "$D"
python3 - "$OUT" <<'PY'
import collections, statistics as st, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 4:
        d[p[0]].append(tuple(map(float, p[1:])))
for n, v in d.items():
    med = lambda i: st.median(x[i] for x in v)
    print(f"{n:8s} n={len(v)} wall {med(0):6.1f} (mean {st.mean(x[0] for x in v):6.1f})  "
          f"user {med(1):5.1f}  sys {med(2):6.1f}  cpu {st.median(x[1] + x[2] for x in v):6.1f}")
PY
rm -f "$OUT"
