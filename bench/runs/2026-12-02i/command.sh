#!/bin/sh
# The run of 2026-12-02i, at the commit its JSON names: the commands of 2026-12-02g after cold
# copies on ext4, XFS and btrfs started reading their files of up to 1 MiB with O_DIRECT, at most
# 32 files in flight per ring (ab276f9; PERF.md, "Cold reads around the page cache"). Each
# invocation's table is written next to this script, and its JSON copied here from
# target/bench/results/.
# The commands: bench/full-run.sh (as they ran, with this directory as DIR).
cd "$(dirname "$0")/../../.."
exec bench/full-run.sh bench/runs/2026-12-02i
