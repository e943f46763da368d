#!/bin/bash
# bench/runs/2026-12-02o: an Intel Xeon (2 cores, KVM, Linux 6.18), at f5ed786 (`cargo build
# --release --locked`; the binary copied to /tmp/ucopy-base so that the trials below could be
# built beside it). No product code changed in this run; results.txt says what each part found.
# Peers from crates.io (`cargo install --root /work/peers cpz xcp fcp`); corpora from
# `cargo xtask bench` (target/bench/corpora); node_modules from bench/trees/node-modules
# (`npm ci`, copied to /tmp/nm); in-memory sources are `cp -a` copies on /dev/shm.
set -eu
cd "$(dirname "$0")/../../.."
D=bench/runs/2026-12-02o
C=target/bench/corpora
H=bench/runs/2026-12-02h
T=$HOME/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
U=/tmp/ucopy-base
cp target/release/ucopy $U
# 1. Four cold workers per CPU (the change of 2026-12-02m, chosen on an AMD EPYC) against the
#    settings before it, on this Xeon, 5 rotated cold rounds.
$H/matrix.sh 5 "s4=$C/small-4k.a4016e97/tree s64=$C/small-64k.c0ccde43/tree \
mix=$C/mixed.809846f8/tree nm=/tmp/nm/node_modules tc=$T" \
  "before=$U -r --threads 4 --queue-depth 32" "after=$U -r" "cpz=/work/peers/bin/cpz" > $D/change.txt
python3 bench/runs/2026-12-02m/summary.py $D/change.txt
# 2. The toolchain cold: where its time goes (disk, CPU and files a second every 50 ms), and its
#    two halves copied alone.
{ echo "# toolchain"; bash bench/runs/2026-12-02k/timeline.sh $T $U -r | awk 'NR%2==1'
  echo "# toolchain/share"; bash bench/runs/2026-12-02k/timeline.sh $T/share $U -r | awk 'NR%2==1'
} > $D/timelines.txt
for i in 1 2 3; do
  for s in share lib; do echo "$s $($H/cold1.sh $T/$s $U -r)"; done
  echo "all $($H/cold1.sh $T $U -r)"
done > $D/toolchain-parts.txt
#    What each thread waits on in the first 0.6 s of a cold copy of toolchain/share (results.txt
#    item 2): sched_switch with call chains, off-CPU time summed per thread and reason.
IMG=/dev/shm/cold1.img; rm -f $IMG; truncate -s 3G $IMG; mkfs.ext4 -q -F $IMG
mkdir -p /mnt/c; mount -o loop $IMG /mnt/c; sync; echo 3 >/proc/sys/vm/drop_caches
perf record -q -o /tmp/sched.data -e sched:sched_switch -e sched:sched_wakeup -g $U -r $T/share /mnt/c/dst
umount /mnt/c; rm -f $IMG
perf script -i /tmp/sched.data -F comm,tid,time,event,trace,ip,sym > /tmp/sched.txt
python3 $D/offcpu.py /tmp/sched.txt 0.6
# 3. The directory warmer (crates/ucopy/src/warm.rs) with its subdirectories taken in the walk's
#    inode order, with 8 threads, with both, and without its lookups: warm-exp.patch (knobs as
#    environment variables; not kept), 4 rotated cold rounds.
git apply $D/warm-exp.patch && cargo build --release -p ucopy-cli && cp target/release/ucopy /tmp/ucopy-exp
git apply -R $D/warm-exp.patch
for v in "base=" "ord=UCOPY_WARM_ORDER=1" "t8=UCOPY_WARM_THREADS=8" \
  "t8ord=UCOPY_WARM_THREADS=8 UCOPY_WARM_ORDER=1" "nolk=UCOPY_WARM_NOLOOKUP=1" \
  "t32nolk=UCOPY_WARM_THREADS=32 UCOPY_WARM_NOLOOKUP=1"; do
  printf '#!/bin/sh\nexec env %s /tmp/ucopy-exp -r "$@"\n' "${v#*=}" > /tmp/w-${v%%=*}
  chmod +x /tmp/w-${v%%=*}
done
$H/matrix.sh 4 "tc=$T mix=$C/mixed.809846f8/tree nm=/tmp/nm/node_modules s4=$C/small-4k.a4016e97/tree" \
  base=/tmp/w-base ord=/tmp/w-ord t8=/tmp/w-t8 t8ord=/tmp/w-t8ord nolk=/tmp/w-nolk > $D/warm.txt
python3 bench/runs/2026-12-02m/summary.py $D/warm.txt
#    Item 5: more warmer threads with the same build, three A/Bs (4, 5 and 6 rounds).
for v in "t16=UCOPY_WARM_THREADS=16" "t32=UCOPY_WARM_THREADS=32"; do
  printf '#!/bin/sh\nexec env %s /tmp/ucopy-exp -r "$@"\n' "${v#*=}" > /tmp/w-${v%%=*}
  chmod +x /tmp/w-${v%%=*}
done
{ echo "# first A/B (4 rounds)"
  $H/matrix.sh 4 "tc=$T mix=$C/mixed.809846f8/tree nm=/tmp/nm/node_modules" \
    base=/tmp/w-base t16=/tmp/w-t16 t32=/tmp/w-t32 t32nolk=/tmp/w-t32nolk
  for r in 5 6; do
    echo "# A/B of $r rounds"
    $H/matrix.sh $r "tc=$T mix=$C/mixed.809846f8/tree nm=/tmp/nm/node_modules \
s4=$C/small-4k.a4016e97/tree s64=$C/small-64k.c0ccde43/tree" base=/tmp/w-base t16=/tmp/w-t16 t32=/tmp/w-t32
  done
} > $D/warm-threads.txt
# 6. The toolchain's large files: the source disk's read-ahead (restored to 8 MiB after), and
#    large files through the ring with O_DIRECT (xtask uring-copy; ring-max 1 MiB against 1 GiB).
{ echo "# read_ahead_kb of the source disk (a system setting), 5 rotated rounds"
  L=(8192 1024 256)
  for r in 0 1 2 3 4; do for i in 0 1 2; do
    ra=${L[$(((i + r) % 3))]}; echo $ra > /sys/block/vda/queue/read_ahead_kb
    echo "tc ra$ra $($H/cold1.sh $T $U -r)"
  done; done
  echo 8192 > /sys/block/vda/queue/read_ahead_kb
  echo "# large files through the ring with O_DIRECT (xtask uring-copy, no warmer): a = ring-max 1 MiB, b = 1 GiB; ucopy for scale"
  X=$PWD/target/release/xtask
  printf '#!/bin/sh\nexec %s uring-copy rw "$1" "$2" --knobs direct,in-flight=16,threads=8\n' $X > /tmp/uc-a
  printf '#!/bin/sh\nexec %s uring-copy rw "$1" "$2" --knobs direct,in-flight=16,threads=8,ring-max=1G\n' $X > /tmp/uc-b
  chmod +x /tmp/uc-a /tmp/uc-b
  $H/matrix.sh 4 "tc=$T" a=/tmp/uc-a b=/tmp/uc-b ucopy="$U -r"
} > $D/large-files.txt
# 4. In memory (tmpfs → tmpfs): ucopy, cpz and the floor; user-space instructions per file
#    (callgrind, one worker thread); a fat-LTO build; closes batched with close_range(2) in a
#    minimal C copier (close-range.c: argument 0 closes each file, 1 batches them).
mkdir -p /dev/shm/c && cp -a $C/small-4k.a4016e97/tree /dev/shm/c/small-4k
bash bench/ab.sh 8 /dev/shm/c/small-4k /dev/shm/d ucopy=$U cpz=/work/peers/bin/cpz \
  floor="target/release/xtask floor"
for c in "$U --threads 1" /work/peers/bin/cpz "target/release/xtask floor"; do
  rm -rf /dev/shm/d; valgrind --tool=callgrind --callgrind-out-file=/dev/null $c /dev/shm/c/small-4k /dev/shm/d 2>&1 | grep refs
done
CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo build --release -p ucopy-cli --target-dir /tmp/tlto
rm -rf /dev/shm/d; valgrind --tool=callgrind --callgrind-out-file=/dev/null /tmp/tlto/release/ucopy --threads 1 /dev/shm/c/small-4k /dev/shm/d 2>&1 | grep refs
bash bench/ab.sh 14 /dev/shm/c/small-4k /dev/shm/d base=$U lto=/tmp/tlto/release/ucopy
gcc -O2 -pthread -o /tmp/cr $D/close-range.c
printf '#!/bin/sh\nexec /tmp/cr "$1" "$2" 0\n' > /tmp/cr0; printf '#!/bin/sh\nexec /tmp/cr "$1" "$2" 1\n' > /tmp/cr1
chmod +x /tmp/cr0 /tmp/cr1
bash bench/ab.sh 20 /dev/shm/c/small-4k /dev/shm/d plain=/tmp/cr0 ranges=/tmp/cr1
