"""summary.py FILE... — medians of matrix.sh lines ("KEY name wall 1.234s ..."), per corpus and
command, with each command's median against the first command's and against cpz's."""
import collections
import statistics as st
import sys

walls = collections.defaultdict(list)
order = []
for path in sys.argv[1:]:
    for line in open(path):
        p = line.split()
        if len(p) > 3 and p[2] == "wall":
            if p[1] not in order:
                order.append(p[1])
            walls[(p[0], p[1])].append(float(p[3].rstrip("s")))
for key in sorted({k for k, _ in walls}):
    base = st.median(walls[(key, order[0])])
    cpz = walls.get((key, "cpz"))
    for name in order:
        w = walls.get((key, name))
        if not w:
            continue
        m = st.median(w)
        vs_cpz = f"  {st.median(cpz) / m:5.2f}x cpz" if cpz else ""
        print(f"{key:4s} {name:6s} n={len(w)} median {m:6.3f} s  min {min(w):6.3f}  "
              f"{m / base:5.3f} of {order[0]}{vs_cpz}   [{' '.join(f'{x:.3f}' for x in w)}]")
