#!/bin/bash
# bench/runs/2026-12-02d/instructions.sh SRC name=cmd ... — user-space instructions of one copy
# of SRC per command (valgrind's callgrind: every thread, start-up included; deterministic where
# wall and CPU time on this host move by ±10 %), each `cmd SRC DST` into a fresh DST on /dev/shm;
# prints the total and the functions with the most instructions of their own.
# A profiling build names ucopy's functions: `cargo build --profile profiling`.
set -u
S=$1; shift
for spec in "$@"; do
  n=${spec%%=*}; c=${spec#*=}
  out=$(mktemp)
  rm -rf /dev/shm/instructions.dst
  # shellcheck disable=SC2086 # the command is meant to split into words
  valgrind --tool=callgrind --callgrind-out-file="$out" $c "$S" /dev/shm/instructions.dst >/dev/null 2>&1
  total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {print $1; exit}')
  echo "== $n: $total instructions"
  callgrind_annotate --inclusive=no "$out" 2>/dev/null |
    awk '/file:function/ {on = 1; next} on && NF {print}' | head -12 | cut -c1-150
  rm -f "$out"
done
rm -rf /dev/shm/instructions.dst
