#!/bin/bash
# by-syscall.sh ROUNDS SRC ext4|tmpfs [SYSCALL] name=command ... — where each copier's CPU goes,
# by system call. Each run copies SRC (into a fresh loop ext4, or to /dev/shm/dst) under
# `perf record -a -g` at 2 kHz, contenders rotated every round; every sample is put under the
# system call on its stack (after one warm-up copy each, to /dev/shm, not counted) (`user` when it is in user space, `idle`, or `other:<thread>` for
# the kernel's own threads), summed over the rounds. With SYSCALL (e.g. `openat`), the samples
# under that call only, by the kernel function they were in, ordered by the first two
# contenders' difference (rows under 0.2 % of every contender's samples summed as the rest). Samples, not percentages: at a fixed rate a sample is a fixed slice of
# CPU time.
set -u
R=$1; S=$2; DEST=$3; shift 3
ONE=""; case "${1:-}" in *=*) ;; *) ONE=$1; shift ;; esac
SPECS=("$@"); N=${#SPECS[@]}
T=$(mktemp -d); IMG=/dev/shm/ucopy-ab-ext4.img; MNT=$T/mnt; mkdir "$MNT"
# A warm-up copy by each, not counted: the first run after a pause is up to 3x slower here.
for spec in "${SPECS[@]}"; do
  # shellcheck disable=SC2086
  rm -rf /dev/shm/dst; ${spec#*=} "$S" /dev/shm/dst >/dev/null 2>&1
done
for r in $(seq 0 $((R - 1))); do
  for i in $(seq 0 $((N - 1))); do
    spec=${SPECS[$(((i + r) % N))]}; n=${spec%%=*}; c=${spec#*=}
    if [ "$DEST" = ext4 ]; then
      rm -f "$IMG"; truncate -s 3G "$IMG"; mkfs.ext4 -q -F "$IMG"; mount -o loop "$IMG" "$MNT"
      D=$MNT/dst
    else
      D=/dev/shm/dst; rm -rf "$D"; sync
    fi
    # shellcheck disable=SC2086 # the command is meant to split into words
    perf record -q -a -g -F 2000 -o "$T/p.data" -- $c "$S" "$D" >/dev/null 2>&1
    [ "$DEST" = ext4 ] && umount "$MNT"
    rm -rf /dev/shm/dst
    perf script -i "$T/p.data" -F comm,ip,sym,dso 2>/dev/null | ONE=$ONE python3 -c '
import collections, os, sys
one = os.environ["ONE"]
c = collections.Counter()
for block in sys.stdin.read().split("\n\n"):
    lines = block.strip().split("\n")
    if len(lines) < 2:
        continue
    comm = lines[0].split()[0]
    frames = [l.split(None, 1)[1].split(" (")[0].split("+")[0] for l in lines[1:]
              if len(l.split(None, 1)) > 1]
    call = next((f.split("_sys_", 1)[1] for f in frames
                 if f.startswith(("__x64_sys_", "__do_sys_"))), None)
    in_kernel = "kallsyms" in lines[1]
    if one:
        if call == one:
            c[frames[0]] += 1
        continue
    if comm == "swapper":
        key = "idle"
    elif comm.startswith(("kworker", "ksoftirqd", "kdamond", "jbd2", "rcu", "migration", "perf", "memfd")):
        key = "other:" + comm.split("/")[0]
    elif not in_kernel:
        key = "user"
    else:
        key = call or "kernel, no system call"
    c[key] += 1
for k, v in c.items():
    print(v, k)
' >>"$T/$n"
  done
done
rm -f "$IMG"
python3 - "$T" "${SPECS[@]}" <<'PY'
import collections, sys
t = sys.argv[1]; names = [a.split("=")[0] for a in sys.argv[2:]]
d = {}
for n in names:
    c = collections.Counter()
    for line in open(f"{t}/{n}"):
        v, k = line.rstrip("\n").split(" ", 1)
        c[k] += int(v)
    d[n] = c
keys = set().union(*d.values())
if len(names) > 1:
    order = sorted(keys, key=lambda k: d[names[1]][k] - d[names[0]][k])
else:
    order = sorted(keys, key=lambda k: -d[names[0]][k])
# Rows that hold at least 0.2 % of a contender's samples, the rest summed.
big = [k for k in order if any(d[n][k] * 500 >= sum(d[n].values()) for n in names)]
rest = {n: sum(v for k, v in d[n].items() if k not in big) for n in names}
print(f"{'':34s}" + "".join(f"{n:>10s}" for n in names))
for k in big:
    print(f"{k[:34]:34s}" + "".join(f"{d[n][k]:10d}" for n in names))
print(f"{'(the rest)':34s}" + "".join(f"{rest[n]:10d}" for n in names))
print(f"{'total':34s}" + "".join(f"{sum(d[n].values()):10d}" for n in names))
PY
rm -rf "$T"
