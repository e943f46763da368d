#!/bin/sh
# The run of 2026-12-02e, at the commit its JSON names: the commands of 2026-12-01l (and the
# machine, peers and commands of bench/runs/2026-12-01f, whose command.sh says more) after the
# changes since: one file on the driver's thread (f071487), leaves of up to 1,024 files with std
# (6824d93), a tree of up to a batch on the driver's thread (bc39c81). Each invocation's table is
# written next to this script, and its JSON copied here from target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02e
