#!/usr/bin/env python3
"""dir-trees.py ROOT — the three directory-heavy trees of this run, 8,000 files of 1 KiB each
(random bytes), in directories of 2, 8 or 32 files: ROOT/d2, ROOT/d8, ROOT/d32 (each with 100
directories per parent, so 4,041 / 1,011 / 254 directories in all)."""
import os
import sys

root = sys.argv[1]
for per_dir in (2, 8, 32):
    dirs = 8000 // per_dir
    for i in range(dirs):
        d = os.path.join(root, f"d{per_dir}", f"t{i // 100:02d}", f"d{i % 100:03d}")
        os.makedirs(d, exist_ok=True)
        for f in range(per_dir):
            with open(os.path.join(d, f"f{f}"), "wb") as out:
                out.write(os.urandom(1024))
