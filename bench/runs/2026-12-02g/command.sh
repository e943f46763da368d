#!/bin/sh
# The run of 2026-12-02g, at the commit its JSON names: the commands of 2026-12-02e (and the
# machine, peers and commands of bench/runs/2026-12-01f, whose command.sh says more) after a
# listing's names went into one block (a1c87c8). Each invocation's table is written next to this
# script, and its JSON copied here from target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02g
