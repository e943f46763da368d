#!/bin/bash
# bench/runs/2026-12-03a: an Intel Xeon (2 cores under KVM, Linux 6.18, ext4 on a virtual disk
# with the mq-deadline scheduler; a system call ≈ 100–126 ns by `ucopy -v`'s getppid loop), at
# 26bf012 (`cargo build --release --locked`, the binary copied to /tmp/ucopy-head). No product
# code changed: results.txt says what each item found. Peers from crates.io (`cargo install
# --root /work/peers cpz xcp fcp`); corpora from `cargo xtask bench` (target/bench/corpora),
# copied to /dev/shm/c for the in-memory items.
set -eu
cd "$(dirname "$0")/../../.."
D=bench/runs/2026-12-03a
C=target/bench/corpora
H=bench/runs/2026-12-02h
T=$HOME/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
U=/tmp/ucopy-head
cargo build --release --locked -p ucopy-cli -p xtask
cp target/release/ucopy $U
PATH=/work/peers/bin:$PATH target/release/xtask bench --corpora small-4k,small-64k,mixed \
  --scenarios tmpfs --contenders floor,cpz --rounds 1 --warmup 0 >/dev/null   # the corpora
# 1. What this disk gives (fio.txt): random reads of 4 KiB and 64 KiB at several depths, and
#    the whole of one 199 MB file in 1 MiB reads, all O_DIRECT. fio.txt holds the lines these
#    print, one per depth.
F=$(ls $T/lib/libLLVM.so.22*)
for qd in 1 8 32 128; do fio --name=rnd --filename=$F --rw=randread --bs=4k --direct=1 \
  --iodepth=$qd --ioengine=io_uring --readonly --runtime=4 --time_based | grep IOPS; done
for qd in 1 8 64; do fio --name=rnd --filename=$F --rw=randread --bs=64k --direct=1 \
  --iodepth=$qd --ioengine=io_uring --readonly --runtime=4 --time_based | grep IOPS; done
for qd in 1 16 64; do fio --name=seq --filename=$F --rw=read --bs=1M --direct=1 \
  --iodepth=$qd --ioengine=io_uring --readonly | grep READ:; done
# 2. Cold copies of the generated corpora, ucopy against cpz and xcp, 3 rotated rounds
#    (cold.txt; medians by bench/runs/2026-12-02m/summary.py).
$H/matrix.sh 3 "s4=$C/small-4k.a4016e97/tree s64=$C/small-64k.c0ccde43/tree \
mix=$C/mixed.809846f8/tree" "ucopy=$U -r" "cpz=/work/peers/bin/cpz" "xcp=/work/peers/bin/xcp -r" \
  > $D/cold.txt
python3 bench/runs/2026-12-02m/summary.py $D/cold.txt > $D/cold-summary.txt
# 3. The toolchain cold with the large files' reads at the idle I/O class (idle-large.patch:
#    `ioprio_set(IOPRIO_CLASS_IDLE)` around the std path's copies of files the ring does not
#    take, when UCOPY_EXP_IDLE is set), 6 rotated rounds (idle-large.txt). Not kept.
git apply $D/idle-large.patch && cargo build --release -p ucopy-cli && cp target/release/ucopy /tmp/ucopy-exp
git apply -R $D/idle-large.patch
$H/matrix.sh 6 "tc=$T" "base=/tmp/ucopy-exp -r" "idle=env UCOPY_EXP_IDLE=1 /tmp/ucopy-exp -r" \
  "cpz=/work/peers/bin/cpz" > $D/idle-large.txt
python3 bench/runs/2026-12-02m/summary.py $D/idle-large.txt > $D/idle-large-summary.txt
# 4. In memory, tmpfs → tmpfs (in-memory.txt): ucopy, cpz and the floor, 10 rotated rounds per
#    corpus; then --backend std and rw against cpz, 8 rounds.
mkdir -p /dev/shm/c
for c in small-4k small-64k mixed; do rm -rf /dev/shm/c/$c; cp -a $C/$c.*/tree /dev/shm/c/$c; done
{
  for c in small-4k small-64k mixed; do
    echo "# $c, tmpfs, 10 rounds"
    bash bench/ab.sh 10 /dev/shm/c/$c /dev/shm/d ucopy=$U cpz=/work/peers/bin/cpz \
      floor="target/release/xtask floor"
  done
  echo "# small-4k, tmpfs, 8 rounds: --backend std and rw against cpz"
  bash bench/ab.sh 8 /dev/shm/c/small-4k /dev/shm/d std="$U --backend std" \
    rw="$U --backend rw" cpz=/work/peers/bin/cpz
} > $D/in-memory.txt
# 5. Where the CPU goes in memory (user-share.txt): one copy of small-4k each under
#    `perf record -F 4999 -g` (cpu-clock: this guest has no hardware counters), samples by DSO
#    and the user-space symbols (ucopy's `auto` ran std: `ucopy -v` says so, a system call
#    costing 100–126 ns); the system calls by `strace -c -f` (strace-*.txt; ucopy with
#    --backend std, because under strace a system call costs more and `auto` would pick rw).
#    user-share.txt holds the DSO tables and the user-space symbols over 0.2 %.
for c in "$U" /work/peers/bin/cpz "target/release/xtask floor"; do
  rm -rf /dev/shm/d; perf record -o /tmp/p.data -F 4999 -g $c /dev/shm/c/small-4k /dev/shm/d
  perf report -i /tmp/p.data --no-children --sort dso -g none
  perf report -i /tmp/p.data --no-children --sort sym -g none --dsos "$(basename ${c%% *}),libc.so.6"
done
rm -rf /dev/shm/d; strace -c -f -o $D/strace-ucopy-std.txt $U --backend std /dev/shm/c/small-4k /dev/shm/d
rm -rf /dev/shm/d; strace -c -f -o $D/strace-cpz.txt /work/peers/bin/cpz /dev/shm/c/small-4k /dev/shm/d
# 6. Peak RSS of a copy of 200,000 empty files (200 directories of 1,000) on /dev/shm, by
#    /usr/bin/time (issue 9: at most 16 MiB); results.txt item 6 gives the four lines.
mkdir -p /dev/shm/rss/src
for d in $(seq -w 0 199); do mkdir /dev/shm/rss/src/d$d; (cd /dev/shm/rss/src/d$d && touch $(seq -f "f%04g" 0 999)); done
for args in "" "-a" "--backend rw" "--backend std -a"; do
  rm -rf /dev/shm/rss/dst; /usr/bin/time -f "%M KiB %e s" $U $args /dev/shm/rss/src /dev/shm/rss/dst
done
