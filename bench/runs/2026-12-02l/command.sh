#!/bin/sh
# The run of 2026-12-02l, at the commit its JSON names: the commands of 2026-12-02j after the
# cold directory warmer started looking up each file it lists (9006dca) and a small tree of many
# bytes started its workers (2d556f1; PERF.md, "The run of `bench/runs/2026-12-02j/`"). Each
# invocation's table is written next to this script, and its JSON copied here from
# target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02l
