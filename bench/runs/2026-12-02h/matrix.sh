#!/bin/bash
# matrix.sh ROUNDS "KEY=SRC ..." name=command ... — cold1.sh for every source and command, the
# commands' order rotated every round; prints "KEY name <cold1.sh's line>" per copy.
R=$1; CORPORA=$2; shift 2
SPECS=("$@"); N=${#SPECS[@]}
HERE=$(dirname "$0")
for r in $(seq 0 $((R - 1))); do
  for kv in $CORPORA; do
    for i in $(seq 0 $((N - 1))); do
      spec=${SPECS[$(((i + r) % N))]}; n=${spec%%=*}; c=${spec#*=}
      # shellcheck disable=SC2086 # the command is meant to split into words
      echo "${kv%%=*} $n $("$HERE/cold1.sh" "${kv#*=}" $c)"
    done
  done
done
