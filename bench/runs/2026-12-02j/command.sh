#!/bin/sh
# The run of 2026-12-02j, at the commit its JSON names: the commands of 2026-12-02i after a cold
# copy's large files started reading their later chunks into finished files' buffers (73a2bba)
# and the source's directories started being listed ahead of the walk (fd1e9b6; PERF.md, "Cold
# reads around the page cache"). Each invocation's table is written next to this script, and its
# JSON copied here from target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02j
