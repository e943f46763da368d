#!/bin/bash
# Every measurement quoted in ../PERF.md. Needs root (loop mounts, drop_caches), the corpora
# (mkcorpus.py) on tmpfs and on a loop ext4 image, and release builds of `ucopy` (with the
# io_uring backends wired in) and of the `tree_copy` example:
#   cargo build --release -p ucopy-cli -p ucopy-uring --example tree_copy
# Usage: all.sh OUTDIR
set -euo pipefail
out=${1:?outdir}; mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
U=${UCOPY:-/work/target-uring/release/ucopy}
T=${TREE_COPY:-/work/target-uring/release/examples/tree_copy}
SHM=/dev/shm/ucopy-corpus; EXT=/work/bench-uring/srcmnt
R=${ROUNDS:-5}
{ uname -r; rustc --version; git -C "$here" rev-parse HEAD; nproc; } > "$out/versions.txt"
run() { # name, then run.py args
  local name=$1; shift
  echo "== $name" | tee -a "$out/tables.txt"
  python3 "$here/run.py" --rounds "$R" --json "$out/$name.json" "$@" 2> "$out/$name.log" | tee -a "$out/tables.txt"
}
backends=("std=$U --backend std {src} {dst}" "splice=$U --backend splice {src} {dst}" "rw=$U --backend rw {src} {dst}" "fixed=$U --backend fixed {src} {dst}")
run tmpfs-4k   --src $SHM/small  --dst tmpfs "${backends[@]}"
run tmpfs-64k  --src $SHM/medium --dst tmpfs "${backends[@]}"
run ext4-4k    --src $EXT/small  --dst ext4  "${backends[@]}"
run ext4-64k   --src $EXT/medium --dst ext4  "${backends[@]}"
run ext4-4k-cold --cold --src $EXT/small --dst ext4 "${backends[@]}"
# The ring-write and ring-create variants (ring writes, OPENAT in the chain or in the open wave)
# were measured slower (PERF.md, "Design the measurements chose") and left the executor; their
# runs are reproducible from the commit that measured them (89117d1).
