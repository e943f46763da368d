#!/bin/sh
# The run of 2026-12-02n, at the commit its JSON names: the commands of 2026-12-02l after a cold
# copy that reads around the page cache started running four workers per CPU with 16 files in
# flight each (c152153; PERF.md, "More workers per CPU, the same files in flight"). Each
# invocation's table is written next to this script, and its JSON copied here from
# target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02n
