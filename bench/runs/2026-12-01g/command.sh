#!/bin/sh
# The measurements of 2026-12-01g (results.txt), at e0e9cfe: root, 2 cores, the machine of
# 2026-12-01f. Trees on /dev/shm as results.txt names them (copies of the bench's corpora and of
# the toolchain; nm is bench/runs/2026-12-01e's node_modules). Peers from crates.io on PATH.
set -e
cargo build --release
U=target/release/ucopy
for t in nm mx rt rt/src/share rt/src/lib; do
  bash bench/ab.sh 8 /dev/shm/$t /dev/shm/out ucopy=$U cpz=cpz
done
bash bench/ab.sh 5 /dev/shm/rt/src/share /dev/shm/out ucopy=$U "u1=$U --threads 1" \
  "u3=$U --threads 3" cpz=cpz
D=bench/runs/2026-12-01g
$D/symbol-diff.sh 3 /dev/shm/rt/src/share /dev/shm/out ucopy=$U cpz=cpz >$D/share-ucopy-cpz.txt
$D/symbol-diff.sh 3 /dev/shm/rt/src/share /dev/shm/out "two=$U --threads 2" \
  "one=$U --threads 1" >$D/share-two-one-worker.txt
# 4c and 4d: the C programs, built with gcc -O2, on 20,000 files of 4 KiB in one directory
# (/dev/shm/src4k) and 50,000 new files.
# 4a, 4b, 4c in ucopy: the builds of the patches at the end of results.txt, as further
# contenders of bench/ab.sh; the ext4 row with bench/runs/2026-11-30k/ext4.sh warm 6.
