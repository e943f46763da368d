#!/usr/bin/env python3
"""Interleaved timing of tree copies (benchmarking.md): one warm-up round, ROUNDS counted
rounds, contenders rotated each round, a fresh destination for every run (a new directory on
tmpfs, or a freshly made and mounted ext4 image), outputs removed outside the timed region.

    run.py --src DIR --dst tmpfs|ext4 --rounds 5 NAME=COMMAND... 

COMMAND is a shell template with {src} and {dst}. Prints per-contender median and min files/s
and writes JSON with every sample to --json.
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

WORK = "/work/bench-uring"


def cpu_jiffies():
    """(busy, total, user) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v), v[0] + v[1]


def wait_quiet(max_busy=0.08, window=1.0):
    """Waits until other processes leave the CPUs (almost) idle: this machine is shared."""
    waited = 0.0
    while True:
        b0, t0, _ = cpu_jiffies()
        time.sleep(window)
        b1, t1, _ = cpu_jiffies()
        if (b1 - b0) / max(1, t1 - t0) <= max_busy:
            if waited:
                print(f"  (waited {waited:.0f} s for a quiet machine)", file=sys.stderr)
            return
        waited += window


def run_timed(cmd, user_only):
    """Runs cmd; returns (rc, stderr, seconds, foreign): foreign is the CPU time other processes
    used meanwhile, as a fraction of the elapsed time (0 when we had the machine alone). With
    user_only, only user time counts: cold runs make kernel threads (loop device, block I/O
    completion) busy on our behalf, and that is part of what is measured."""
    hz = os.sysconf("SC_CLK_TCK")
    b0, _, u0 = cpu_jiffies()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    b1, _, u1 = cpu_jiffies()
    if user_only:
        foreign = max(0.0, (u1 - u0) / hz - ru.ru_utime) / secs
    else:
        foreign = max(0.0, (b1 - b0) / hz - ru.ru_utime - ru.ru_stime) / secs
    return os.waitstatus_to_exitcode(status), err, secs, foreign


def count_files(root):
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


class Dest:
    def __init__(self, kind):
        self.kind = kind

    def make(self):
        if self.kind == "tmpfs":
            base = "/dev/shm/ucopy-bench-dst"
            shutil.rmtree(base, ignore_errors=True)
            os.makedirs(base)
            return base, os.path.join(base, "out")
        img = os.path.join(WORK, "dst.img")
        mnt = os.path.join(WORK, "dstmnt")
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        if os.path.exists(img):
            os.remove(img)
        subprocess.run(["truncate", "-s", "4G", img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                        img], check=True)
        os.makedirs(mnt, exist_ok=True)
        subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
        return mnt, os.path.join(mnt, "out")

    def clean(self, base):
        if self.kind == "tmpfs":
            shutil.rmtree(base, ignore_errors=True)
        else:
            subprocess.run(["umount", base], check=True)
            os.remove(os.path.join(WORK, "dst.img"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", choices=["tmpfs", "ext4"], required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="drop caches before every run")
    ap.add_argument("--json")
    ap.add_argument("contenders", nargs="+")
    a = ap.parse_args()
    contenders = [c.split("=", 1) for c in a.contenders]
    expected = count_files(a.src)
    dest = Dest(a.dst)
    samples = {name: [] for name, _ in contenders}
    for rnd in range(a.rounds + 1):
        k = rnd % len(contenders)
        order = contenders[k:] + contenders[:k]
        for name, tmpl in order:
            base, out = dest.make()
            subprocess.run(["sync"])
            if a.cold:
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("3\n")
            cmd = tmpl.format(src=shlex.quote(a.src), dst=shlex.quote(out))
            for attempt in range(10):
                wait_quiet()
                rc, err, secs, foreign = run_timed(cmd, a.cold)
                got = count_files(out)
                if rc != 0 or got != expected:
                    sys.exit(f"{name}: rc={rc}, {got}/{expected} files\n{err.decode()[-2000:]}")
                if foreign <= 0.10:
                    break
                # Someone else used the CPUs meanwhile: this sample measures them too.
                print(f"  {name}: discarded ({foreign:.0%} foreign CPU)", file=sys.stderr)
                dest.clean(base)
                base, out = dest.make()
                subprocess.run(["sync"])
                if a.cold:
                    with open("/proc/sys/vm/drop_caches", "w") as f:
                        f.write("3\n")
            dest.clean(base)
            if rnd > 0:
                samples[name].append(expected / secs)
            print(f"round {rnd}{' (warm-up)' if rnd == 0 else ''} {name}: "
                  f"{expected / secs:,.0f} files/s", file=sys.stderr)
    base_name = contenders[0][0]
    base_med = statistics.median(samples[base_name])
    print(f"{'contender':<22} {'median files/s':>15} {'min':>10} {'vs ' + base_name:>10}")
    for name, _ in contenders:
        med = statistics.median(samples[name])
        print(f"{name:<22} {med:>15,.0f} {min(samples[name]):>10,.0f} {med / base_med:>10.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"src": a.src, "dst": a.dst, "cold": a.cold, "rounds": a.rounds,
                       "files": expected, "commands": dict(contenders),
                       "files_per_s": samples}, f, indent=1)


if __name__ == "__main__":
    main()
