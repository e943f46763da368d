#!/bin/bash
# bench/runs/2026-12-02m: cold copies with more io_uring workers per CPU (AMD EPYC under KVM,
# 2 cores). Built at the commit named in results.txt (`cargo build --release --locked`); peers
# from crates.io (`cargo install --root /work/peers cpz`). Each copy is one cold1.sh run: a fresh
# loop ext4 on /dev/shm as the destination, the page cache dropped, the source disk's counters.
# In-memory sources (item 3): /dev/shm/c/<corpus> (`cp -a` of target/bench/corpora/<corpus>/tree)
# and /dev/shm/nm/node_modules (bench/trees/node-modules, `npm ci`).
set -eu
cd "$(dirname "$0")/../../.."
C=target/bench/corpora
H=bench/runs/2026-12-02h
U=target/release/ucopy
# 1. Worker threads and files in flight per worker, 6 rotated rounds over five corpora.
$H/matrix.sh 6 "s4=$C/small-4k.a4016e97/tree s64=$C/small-64k.c0ccde43/tree \
mix=$C/mixed.809846f8/tree nm=$C/tree.cf3d3404/tree tc=$C/tree.9e536432/tree" \
  "t4=$U -r" "t8=$U -r --threads 8" "t8q16=$U -r --threads 8 --queue-depth 16" \
  "cpz=/work/peers/bin/cpz" > bench/runs/2026-12-02m/workers.txt
python3 bench/runs/2026-12-02m/summary.py bench/runs/2026-12-02m/workers.txt
# 2. The change (at the commit named in results.txt: four workers per CPU with 16 files in flight
#    each when cold) against the settings before it (--threads 4 --queue-depth 32 on 2 CPUs), 5
#    rotated rounds.
$H/matrix.sh 5 "s4=$C/small-4k.a4016e97/tree s64=$C/small-64k.c0ccde43/tree \
mix=$C/mixed.809846f8/tree nm=$C/tree.cf3d3404/tree tc=$C/tree.9e536432/tree" \
  "before=$U -r --threads 4 --queue-depth 32" "after=$U -r" "after-a=$U -a" \
  "before-a=$U -a --threads 4 --queue-depth 32" > bench/runs/2026-12-02m/change.txt
python3 bench/runs/2026-12-02m/summary.py bench/runs/2026-12-02m/change.txt
# 3. What bounds the rest (results.txt item 3; one-off, at e5cfb87 — the flags below give its
#    cold settings at any later commit): the same 64 KiB copy four times; the mixed corpus with
#    four and eight workers; a profile of cold 4 KiB files; in memory against cpz and the floor.
for i in 1 2 3 4; do $H/cold1.sh $C/small-64k.c0ccde43/tree $U -r --threads 4 --queue-depth 32; done
for t in 4 8; do $H/cold1.sh $C/mixed.809846f8/tree $U -r --threads $t --queue-depth 32; done
$H/cold1.sh $C/small-4k.a4016e97/tree perf record -q -a -g -F 2000 -o /tmp/cold-s4.data \
  $U -r --threads 4 --queue-depth 32
perf report -i /tmp/cold-s4.data --no-children --sort sym -g none --percent-limit 1.5 --stdio
for c in small-4k.a4016e97 small-64k.c0ccde43; do
  bash bench/ab.sh 9 /dev/shm/c/$c /dev/shm/d/o "ucopy=$U -r" "cpz=/work/peers/bin/cpz" \
    "floor=target/release/xtask floor"
done
bash bench/ab.sh 9 /dev/shm/nm/node_modules /dev/shm/d/o "ucopy=$U -r" "cpz=/work/peers/bin/cpz" \
  "floor=target/release/xtask floor"
rm -rf /dev/shm/d/o; perf record -q -g -o /tmp/mem-s4.data $U -r --backend std \
  /dev/shm/c/small-4k.a4016e97 /dev/shm/d/o; rm -rf /dev/shm/d/o
python3 bench/syscall-split.py --merge-threads /tmp/mem-s4.data
# 4. After the change: more workers per CPU with the same files in flight, and (with a scratch
#    build whose warm.rs read UCOPY_WARM_THREADS for its thread count; not kept) the warmer's threads.
$H/matrix.sh 4 "s4=$C/small-4k.a4016e97/tree mix=$C/mixed.809846f8/tree \
nm=$C/tree.cf3d3404/tree tc=$C/tree.9e536432/tree" "t8q16=$U -r" \
  "t12q11=$U -r --threads 12 --queue-depth 11" "t16q8=$U -r --threads 16 --queue-depth 8" \
  > bench/runs/2026-12-02m/more-workers.txt
W=${SCRATCH_UCOPY:-/tmp/wt-target/release/ucopy}
$H/matrix.sh 4 "s4=$C/small-4k.a4016e97/tree mix=$C/mixed.809846f8/tree \
nm=$C/tree.cf3d3404/tree tc=$C/tree.9e536432/tree" "w4=$W -r" \
  "w2=env UCOPY_WARM_THREADS=2 $W -r" "w8=env UCOPY_WARM_THREADS=8 $W -r" \
  "w0=env UCOPY_WARM_THREADS=0 $W -r" > bench/runs/2026-12-02m/warmers.txt
