#!/bin/bash
# What this machine's disk can deliver to a reader, to set the cold targets against (PERF.md,
# "Cold: how close to the disk"). fio with io_uring, page cache dropped before each run:
#  1. a 4 GiB file on the same ext4 as the corpora: random reads of 4 KiB … 1 MiB, O_DIRECT
#     and buffered, at the queue depths the copiers reach;
#  2. the mixed corpus itself, every file read whole (fio --opendir), buffered and O_DIRECT:
#     a reader that creates nothing and writes nothing.
# Usage: bench/runs/2026-12-01f/disk-envelope.sh [SCRATCH_DIR]   (root: drop_caches)
set -eu
cd "$(dirname "$0")/../../.."
scratch=${1:-target/bench}
file="$scratch/fio-envelope.dat"
mixed=$(readlink -f target/bench/corpora/mixed.*/tree)
[ -f "$file" ] || fio --name=make --filename="$file" --size=4G --rw=write --bs=1M --direct=1 >/dev/null
run() { sync; echo 3 >/proc/sys/vm/drop_caches; fio --name=t --ioengine=io_uring "$@" 2>&1 |
  sed -n 's/^ *READ: bw=[^(]*(\([0-9.]*[MG]B\/s\)).*/\1/p'; }
echo "fio $(fio --version), $(uname -r), $(cat /sys/block/vda/queue/scheduler 2>/dev/null)"
echo "one 4 GiB file, 4 s each: pattern block depth -> O_DIRECT / buffered"
for cfg in "randread 4k 1" "randread 4k 64" "randread 16k 32" "randread 64k 8" "randread 64k 32" \
           "randread 256k 8" "read 1m 4"; do
  set -- $cfg
  d=$(run --filename="$file" --size=4G --rw="$1" --bs="$2" --iodepth="$3" --direct=1 --runtime=4 --time_based)
  b=$(run --filename="$file" --size=4G --rw="$1" --bs="$2" --iodepth="$3" --direct=0 --runtime=4 --time_based)
  echo "  $1 $2 QD$3 -> $d / $b"
done
echo "the mixed corpus, every file whole in 128 KiB reads: depth -> O_DIRECT / buffered"
for qd in 64 256; do
  d=$(run --opendir="$mixed" --rw=read --bs=128k --iodepth=$qd --openfiles=$qd --direct=1)
  b=$(run --opendir="$mixed" --rw=read --bs=128k --iodepth=$qd --openfiles=$qd --direct=0)
  echo "  QD$qd -> $d / $b"
done
