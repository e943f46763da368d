#!/bin/bash
# thread-states.sh SRC CMD... : one cold copy of SRC into a fresh loop ext4 (PRE=... runs after
# the caches are dropped), its threads' states counted by thread-states.py.
S=$1; shift
IMG=/dev/shm/thread-states.img; MNT=$(mktemp -d)
rm -f $IMG; truncate -s 3G $IMG; mkfs.ext4 -q -F $IMG; mount -o loop $IMG $MNT
sync; echo 3 >/proc/sys/vm/drop_caches; eval "${PRE:-true}" >/dev/null
"$@" "$S" "$MNT/dst" >/dev/null &
P=$!
python3 "$(dirname "$0")/thread-states.py" $P
wait $P
umount $MNT; rm -f $IMG; rmdir $MNT
