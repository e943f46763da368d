#!/bin/sh
# The run of 2026-12-01j, at the commit its JSON names: the commands of 2026-12-01h (and the machine,
# peers and commands of bench/runs/2026-12-01f, whose command.sh says more) with the floor of
# 164a270 (threads with tables of their own take whole directories). Each invocation's table is
# written next to this script, and its JSON copied here from target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-01j
