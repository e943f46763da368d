#!/bin/sh
# The run of 2026-12-02p: the cold part and node_modules of the full run (bench/full-run.sh's
# commands, as they ran), on an Intel Xeon with a slower disk than earlier runs' machines
# (bench/runs/2026-12-02o), at the commit its JSON names (90ed612) — the product code of
# 2026-12-02n (four cold workers per CPU). The in-memory part was not run: no code it measures
# changed since 2026-12-02n. Each invocation's table is written next to this script, and its
# JSON copied here from target/bench/results/.
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02p cold node-modules
