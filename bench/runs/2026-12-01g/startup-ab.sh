#!/bin/bash
# startup-ab.sh ROUNDS SRC name=cmd ... : per-invocation wall time of `cmd SRC /dev/shm/o1` (the
# destination removed first, in the same shell), perf stat -r 100 per round, the commands rotated;
# prints the median of the rounds' means minus that of `true` run the same way (the shell and the
# removal). "base" is that baseline's name: give the commands other names.
R=$1; S=$2; shift 2
SPECS=("base=true" "$@")
OUT=$(mktemp)
for r in $(seq $R); do
  for i in $(seq 0 $((${#SPECS[@]} - 1))); do
    spec=${SPECS[$(( (i + r) % ${#SPECS[@]} ))]}
    n=${spec%%=*}; c=${spec#*=}
    perf stat -r 100 -x, -e duration_time sh -c "rm -rf /dev/shm/o1; $c $S /dev/shm/o1 >/dev/null" 2>&1 | awk -F, -v n="$n" '{print n, $1/1e6}' >> $OUT
  done
done
python3 - $OUT <<'P'
import sys,collections,statistics as st
d=collections.defaultdict(list)
for l in open(sys.argv[1]): n,v=l.split(); d[n].append(float(v))
b=st.median(d['base'])
for n,v in d.items():
    if n!='base': print(f"{n:8s} {st.median(v)-b:6.3f} ms (rounds: {' '.join(f'{x-b:.3f}' for x in v)})")
P
rm -f $OUT
