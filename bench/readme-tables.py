#!/usr/bin/env python3
"""bench/readme-tables.py RUN.json [RUN.json ...] — README's performance tables from committed runs.

One Markdown table per corpus: a row per scenario (in the order the runs give them), files/s
(MB/s for the large file) at the median of each contender, then the ratios README cites — ucopy
(the `ucopy:auto:inode` contender) against cpz, the floor and the best peer, `ucopy -a` against
`cp -a` and `rsync -a` — each a median time divided by another median of the same run. A cell
a run lacks is "-". With several files, later ones add scenarios (e.g. the cold run after the
in-memory one).
"""
import json
import sys

COLUMNS = [
    ("ucopy", "ucopy:auto:inode"),
    ("ucopy -a", "ucopy-a"),
    ("floor", "floor"),
    ("cpz", "cpz"),
    ("xcp", "xcp"),
    ("fcp", "fcp"),
    ("cp -a", "cp-a"),
    ("rsync -a", "rsync"),
]
PEERS = ["cpz", "xcp", "fcp", "cp-a", "rsync"]


def rate(cell, c):
    s = c["stats"]
    if cell["corpus"] in ("large", "sparse"):
        return f"{s['mb_per_sec']:.0f} MB/s"
    v = s["files_per_sec"]
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def main(paths):
    corpora = {}
    for path in paths:
        for cell in json.load(open(path))["cells"]:
            corpora.setdefault(cell["corpus"], (cell["corpus_description"], []))[1].append(cell)
    for corpus, (description, cells) in corpora.items():
        unit = "MB/s" if corpus in ("large", "sparse") else "files/s"
        print(f"**{corpus}: {description}** ({unit}, median of {cells[0]['rounds']})\n")
        head = [name for name, _ in COLUMNS] + [
            "ucopy ÷ cpz", "ucopy ÷ floor", "ucopy ÷ best peer", "ucopy -a ÷ cp -a",
            "ucopy -a ÷ rsync -a",
        ]
        print("| scenario | " + " | ".join(head) + " |")
        print("|---" * (len(head) + 1) + "|")
        for cell in cells:
            by = {c["name"]: c for c in cell["contenders"] if c.get("status") == "ok"}
            # A corpus of one file has no walk order: the bench names the contender without it.
            if "ucopy:auto" in by and "ucopy:auto:inode" not in by:
                by["ucopy:auto:inode"] = by.pop("ucopy:auto")
            med = {n: c["stats"]["median_secs"] for n, c in by.items()}

            def ratio(a, b, bold=False):
                if a not in med or b not in med:
                    return "-"
                r = f"{med[b] / med[a]:.2f}×"
                return f"**{r}**" if bold else r

            row = []
            for _, name in COLUMNS:
                c = by.get(name)
                if c is None:
                    row.append("-")
                    continue
                ran = f" ({c['ucopy_backend']})" if c.get("ucopy_backend") else ""
                row.append(rate(cell, c) + ran)
            peers = [p for p in PEERS if p in med]
            best = min(peers, key=lambda p: med[p]) if peers else None
            row += [
                ratio("ucopy:auto:inode", "cpz", bold=True),
                ratio("ucopy:auto:inode", "floor"),
                ratio("ucopy:auto:inode", best) if best else "-",
                ratio("ucopy-a", "cp-a"),
                ratio("ucopy-a", "rsync"),
            ]
            print(f"| {cell['scenario']} | " + " | ".join(row) + " |")
        print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
