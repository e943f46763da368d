#!/bin/bash
# bench/runs/2026-12-01c/cpus.sh UCOPY SRC ROUNDS — one CPU against two: the same copy with every
# thread on one CPU (taskset -c 1) and on both, for ucopy (--backend std) and cpz, interleaved
# round by round; `perf record -g` of each, split by system call with bench/syscall-split.py.
# What grows from one CPU to two is the price of handing work between threads on different CPUs.
set -eu
U=$1; S=$2; R=${3:-4}
D=$(mktemp -d /dev/shm/cpus.XXXXXX); OUT=$(mktemp -d)
for r in $(seq 1 "$R"); do
  for cfg in ucopy-1cpu ucopy-2cpu cpz-1cpu cpz-2cpu; do
    case $cfg in
      ucopy-1cpu) cmd="taskset -c 1 $U --backend std" ;;
      ucopy-2cpu) cmd="$U --backend std" ;;
      cpz-1cpu) cmd="taskset -c 1 cpz" ;;
      cpz-2cpu) cmd="cpz" ;;
    esac
    rm -rf "$D/dst"; sync
    # shellcheck disable=SC2086 # the command is meant to split into words
    perf record -q -o "$OUT/$cfg.$r.data" -e cpu-clock -F 10000 -g $cmd "$S" "$D/dst" 2>/dev/null
  done
done
rm -rf "$D"
for cfg in ucopy-1cpu ucopy-2cpu cpz-1cpu cpz-2cpu; do
  echo "== $cfg (mean of $R runs, samples of 0.1 ms)"
  python3 "$(dirname "$0")/../../syscall-split.py" --merge-threads --top 12 "$OUT/$cfg".*.data
done
rm -rf "$OUT"
