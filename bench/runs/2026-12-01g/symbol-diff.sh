#!/bin/bash
# symbol-diff.sh RUNS SRC DST nameA=cmdA nameB=cmdB — where two copy commands spend their CPU
# differently. Each command copies SRC to DST (removed first) RUNS times under `perf record -a`
# (4 kHz, every CPU: idle shows as pv_native_safe_halt); samples are summed per symbol over the
# runs and the symbols are listed by how many more samples A took than B (and the other way).
# Samples, not percentages: at a fixed rate a sample is a fixed slice of CPU time.
set -u
R=$1; S=$2; D=$3; shift 3
TMP=$(mktemp -d)
for spec in "$@"; do
  n=${spec%%=*}; c=${spec#*=}
  for _ in $(seq "$R"); do
    rm -rf "$D"; sync
    # shellcheck disable=SC2086 # the command is meant to split into words
    perf record -q -a -F 4000 -o "$TMP/perf.data" -- $c "$S" "$D" >/dev/null 2>&1
    perf report -i "$TMP/perf.data" --no-children --sort sym --stdio -n 2>/dev/null |
      grep '%' >>"$TMP/$n"
  done
done
rm -rf "$D"
python3 - "$TMP" "${1%%=*}" "${2%%=*}" <<'PY'
import collections, sys
tmp, a, b = sys.argv[1:]
def load(n):
    d = collections.Counter()
    for line in open(f"{tmp}/{n}"):
        p = line.split()
        if len(p) >= 4 and p[0].endswith('%'):
            d[' '.join(p[2:])] += int(p[1])
    return d
A, B = load(a), load(b)
def split(d):
    k = sum(v for s, v in d.items() if s.startswith('[k]'))
    return k, sum(d.values()) - k
for n, d in ((a, A), (b, B)):
    k, u = split(d)
    print(f"{n}: {sum(d.values())} samples, kernel {k}, user {u}, "
          f"idle {d['[k] pv_native_safe_halt']}")
diff = sorted(((A[s] - B[s], s) for s in set(A) | set(B)), reverse=True)
print(f"\nmore in {a} than in {b} (difference, {a}, {b}):")
for v, s in diff[:40]:
    print(f"{v:6d} {A[s]:6d} {B[s]:6d}  {s}")
print(f"\nmore in {b} than in {a}:")
for v, s in diff[::-1][:15]:
    print(f"{v:6d} {A[s]:6d} {B[s]:6d}  {s}")
PY
rm -rf "$TMP"
