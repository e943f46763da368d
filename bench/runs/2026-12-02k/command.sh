#!/bin/bash
# bench/runs/2026-12-02k/command.sh — what this AMD EPYC (KVM, 2 cores) allows a cold copy, and
# trials in memory (PERF.md, "What this machine allows cold"). Built at 765f525 (the code of
# bench/runs/2026-12-02j's README tables plus the warmer's lookups and held bytes). Root (drop_caches,
# loop mounts); peers from /work/peers/bin; corpora from target/bench/corpora (any bench run makes
# them); node_modules copied to /dev/shm/nm (bench/trees/node-modules, `npm ci`).
set -u
cd "$(dirname "$0")/../../.."
export PATH=/work/peers/bin:$PATH
D=bench/runs/2026-12-02k
C=target/bench/corpora
# 1. the disk, as in 2026-12-01f
bash bench/runs/2026-12-01f/disk-envelope.sh >$D/disk-envelope.txt 2>&1
# 2. one cold copy each, sampled every 50 ms
for c in small-4k.a4016e97 mixed.809846f8 tree.9e536432 tree.cf3d3404; do
  echo "== $c"; bash $D/timeline.sh $C/$c/tree target/release/ucopy -r
done >$D/timelines.txt
# 3. cold 4 KiB files with each copier's CPU (perf stat task-clock), 6 rotated rounds
bash bench/runs/2026-12-02h/matrix.sh 6 "s4=$C/small-4k.a4016e97/tree" \
  "ucopy=perf stat -x, -e task-clock -o /tmp/cpu-ucopy.txt --append target/release/ucopy -r" \
  "cpz=perf stat -x, -e task-clock -o /tmp/cpu-cpz.txt --append cpz"
# 4. in memory: profiles and trials (trials.patch applied, rebuilt: its knobs are environment
#    variables) — bench/ab.sh 8-10 rounds on /dev/shm copies of the corpora and node_modules;
#    perf record -a -g -F 4999 of 5 copies each, bench/syscall-split.py --merge-threads
bash bench/ab.sh 10 /dev/shm/c/small-4k.a4016e97 /dev/shm/dst "std=target/release/ucopy -r --backend std" \
  "rw=target/release/ucopy -r --backend rw" "hybrid=env UCOPY_HYBRID=1 target/release/ucopy -r --backend rw" \
  "cpz=cpz" "floor=target/release/xtask floor"
bash bench/ab.sh 10 /dev/shm/nm/node_modules /dev/shm/dst "b4=env UCOPY_BPW=4 target/release/ucopy -r" \
  "b8=env UCOPY_BPW=8 target/release/ucopy -r" "b16=env UCOPY_BPW=16 target/release/ucopy -r" "cpz=cpz"
bash bench/ab.sh 10 /dev/shm/nm/node_modules /dev/shm/dst "n0=target/release/ucopy -r" \
  "n1=env UCOPY_NICE=1 target/release/ucopy -r" "n5=env UCOPY_NICE=5 target/release/ucopy -r" "cpz=cpz"
