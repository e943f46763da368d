#!/bin/bash
# bench/runs/2026-12-02k/timeline.sh SRC CMD... — one cold copy (fresh 3 GiB loop ext4 on /dev/shm as
# the destination, page cache dropped) sampled every 50 ms: the source disk's MB/s and reads in
# flight, all CPUs busy (% of one: 200 = both), destination inodes made and bytes written per second.
S=$1; shift
IMG=/dev/shm/cold1.img; MNT=$(mktemp -d)
rm -f $IMG; truncate -s 3G $IMG; mkfs.ext4 -q -F $IMG; mount -o loop $IMG "$MNT"
sync; echo 3 >/proc/sys/vm/drop_caches
python3 - "$MNT" > /tmp/tl2.raw <<'PY' &
import os, time, sys
m = sys.argv[1]
while True:
    st = os.statvfs(m)
    d = open('/sys/block/vda/stat').read().split()
    c = open('/proc/stat').readline().split()
    print(time.time(), d[2], d[8], st.f_files - st.f_ffree, (st.f_blocks - st.f_bfree) * st.f_frsize, ' '.join(c[1:9]), flush=True)
    time.sleep(0.05)
PY
P=$!
sleep 0.2
t0=$(date +%s.%N)
"$@" "$S" "$MNT/dst" >/dev/null
t1=$(date +%s.%N)
sleep 0.1; kill $P
umount "$MNT"; rmdir "$MNT"; rm -f $IMG
python3 - $t0 $t1 <<'PY'
import sys
t0=float(sys.argv[1]); t1=float(sys.argv[2])
rows=[l.split() for l in open('/tmp/tl2.raw')]
print(f"wall {t1-t0:.3f}")
prev=None
for r in rows:
    t=float(r[0]); sec=int(r[1]); inf=int(r[2]); ino=int(r[3]); by=int(r[4]); cpu=[int(x) for x in r[5:13]]
    if prev and t0-0.05 <= t <= t1+0.1:
        dt=t-prev[0]
        busy=(cpu[0]+cpu[1]+cpu[2]+cpu[5]+cpu[6])-(prev[5][0]+prev[5][1]+prev[5][2]+prev[5][5]+prev[5][6])
        print(f"{t-t0:5.2f} disk {(sec-prev[1])*512/1e6/dt:6.0f} MB/s qd {inf:3d} cpu {busy/dt:4.0f}% files/s {(ino-prev[3])/dt:7.0f} dstMB/s {(by-prev[4])/1e6/dt:6.0f}")
    prev=(t,sec,inf,ino,by,cpu)
PY
