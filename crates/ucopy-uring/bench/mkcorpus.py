#!/usr/bin/env python3
"""Deterministic corpus: COUNT files of SIZE bytes spread over DIRS directories under ROOT.
Files are created in a shuffled order (fixed seed), so inode order differs from name order.

    mkcorpus.py ROOT COUNT SIZE DIRS [SEED]
"""
import os
import random
import sys


def main():
    root, count, size, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    rng = random.Random(seed)
    for d in range(dirs):
        os.makedirs(os.path.join(root, f"d{d:04}"), exist_ok=True)
    order = list(range(count))
    rng.shuffle(order)
    block = rng.randbytes(size + 4096)
    for i in order:
        path = os.path.join(root, f"d{i % dirs:04}", f"f{i:06}")
        off = (i * 61) % 4096
        with open(path, "wb") as f:
            f.write(block[off:off + size])


if __name__ == "__main__":
    main()
