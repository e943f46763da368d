#!/bin/sh
# The run of 2026-12-01l, at the commit its JSON names: the commands of 2026-12-01j (and the machine,
# peers and commands of bench/runs/2026-12-01f, whose command.sh says more) after e715103 (small
# subtrees: a worker copies a fan-out's small subtree whole). Each invocation's table is written
# next to this script, and its JSON copied here from target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-01l
