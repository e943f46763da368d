#!/usr/bin/env python3
"""bench/syscall-split.py DATA... — where the CPU samples of `perf record -g` runs went.

Each sample is put in one bucket: the system call it was in (the frame just below
`do_syscall_64`), else "user". Buckets are per thread name (the driver thread carries the
binary's name, workers are `ucopy-worker`) unless --merge-threads is given. Several data files
of one command are averaged, so that interleaved runs can be compared side by side:

    perf record -e cpu-clock -F 10000 -g -o run1.data COMMAND SRC DST
    bench/syscall-split.py run1.data run2.data run3.data

`--self` prints the leaf function of each sample instead (kernel or user), which is what shows
*why* one call costs more in one setting than in another.
"""
import argparse
import collections
import subprocess


def samples(path):
    """Yields (thread name, [frames, leaf first]) for every sample of one perf data file."""
    out = subprocess.run(
        ["perf", "script", "-i", path, "-F", "comm,ip,sym"],
        capture_output=True, text=True, check=True,
    ).stdout
    for block in out.split("\n\n"):
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        if not lines:
            continue
        comm = lines[0].split()[0]
        frames = []
        for line in lines[1:]:
            parts = line.split(None, 1)
            frames.append(parts[1].split("+")[0] if len(parts) == 2 else "?")
        yield comm, frames


def bucket(frames):
    if "do_syscall_64" in frames:
        at = frames.index("do_syscall_64")
        return frames[at - 1] if at > 0 else "do_syscall_64"
    return "user"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--merge-threads", action="store_true")
    parser.add_argument("--self", dest="leaf", action="store_true")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    counts = collections.Counter()
    total = 0
    for path in args.data:
        for comm, frames in samples(path):
            total += 1
            if args.leaf:
                key = frames[0] if frames else "?"
            else:
                key = bucket(frames)
            thread = "" if args.merge_threads else comm
            counts[(thread, key)] += 1
    runs = len(args.data)
    print(f"samples per run: {total / runs:.0f}")
    for (thread, key), n in counts.most_common(args.top):
        print(f"{n / runs:8.0f}  {thread:14s} {key}")


if __name__ == "__main__":
    main()
