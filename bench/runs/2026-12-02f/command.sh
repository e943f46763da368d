#!/bin/sh
# The measurements of bench/runs/2026-12-02f, by hand: a listing's names in one block (a1c87c8)
# against the commit before (31e99cc), both built in release and profiling builds
# (`git worktree add /tmp/base 31e99cc`, `CARGO_TARGET_DIR=/tmp/base-target cargo build
# --release -p ucopy-cli`, and `--profile profiling`). Trees on tmpfs: /dev/shm/b (small-4k,
# the bench's corpus copied with cp -a), /dev/shm/nm (a node_modules of 10,014 files).
set -e
cd "$(dirname "$0")/../../.."
D=bench/runs/2026-12-02f
B=/tmp/base-target
for s in b nm; do
  bench/runs/2026-12-02d/instructions.sh /dev/shm/$s "base=$B/profiling/ucopy -r --backend std" \
    "name=target/profiling/ucopy -r --backend std"
done >$D/instructions.txt
bench/ab.sh 12 /dev/shm/b /dev/shm/x.dst "base=$B/release/ucopy -r" \
  "name=target/release/ucopy -r" "cpz=/work/peers/bin/cpz" >>$D/results.txt
bench/ab.sh 30 /dev/shm/b /dev/shm/x.dst "base=$B/release/ucopy -r" \
  "name=target/release/ucopy -r" >>$D/results.txt
# Where user space is (no PMU in this VM: a timer's samples):
for c in "target/release/ucopy -r" /work/peers/bin/cpz; do
  rm -rf /dev/shm/x.dst
  perf record -F 20000 -e cpu-clock -o /tmp/perf.data -- $c /dev/shm/b /dev/shm/x.dst
  perf report -i /tmp/perf.data --no-children --sort dso
  perf report -i /tmp/perf.data --no-children --sort sym
done >>$D/results.txt
