#!/bin/bash
# cold1.sh SRC COMMAND... — one cold copy: a fresh 3 GiB loop ext4 on /dev/shm as the
# destination, the page cache dropped, then `COMMAND SRC DST`; prints the wall time and what the
# source disk (vda) did meanwhile, from /sys/block/vda/stat: reads completed and merged, MB read,
# the average request size, the average queue depth (time-weighted requests in flight ÷ wall time),
# MB/s and the average time a read spent in the queue and on the device.
S=$1; shift
IMG=/dev/shm/cold1.img; MNT=$(mktemp -d)
rm -f $IMG; truncate -s 3G $IMG; mkfs.ext4 -q -F $IMG; mount -o loop $IMG "$MNT"
sync; echo 3 >/proc/sys/vm/drop_caches
a=$(cat /sys/block/vda/stat); t0=$(date +%s.%N)
"$@" "$S" "$MNT/dst" >/dev/null
t1=$(date +%s.%N); b=$(cat /sys/block/vda/stat)
umount "$MNT"; rmdir "$MNT"; rm -f $IMG
python3 - "$a" "$b" "$t0" "$t1" <<'PY'
import sys
a, b = ([int(x) for x in s.split()] for s in sys.argv[1:3])
w = float(sys.argv[4]) - float(sys.argv[3])
reads, merged, mb = b[0] - a[0], b[1] - a[1], (b[2] - a[2]) * 512
print(f"wall {w:.3f}s reads {reads} merged {merged} MB {mb / 1e6:.0f} "
      f"avgKiB {mb / 1024 / max(reads, 1):.1f} avgQD {(b[10] - a[10]) / 1000 / w:.1f} "
      f"MB/s {mb / 1e6 / w:.0f} rd_ms/req {(b[3] - a[3]) / max(reads, 1):.2f}")
PY
