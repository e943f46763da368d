#!/usr/bin/env python3
"""offcpu.py SCHED.TXT SECONDS: off-CPU time per thread in the first SECONDS of a trace.

SCHED.TXT is `perf script -F comm,tid,time,event,trace,ip,sym` of `perf record -e sched:sched_switch
-g`. A thread is off CPU from its switch-out to its next switch-in; each interval is keyed by the
thread's state at the switch (S sleeping, D waiting for I/O, R preempted), the first kernel frame
below the scheduler, and the first ucopy frame of the call chain.
"""
import collections
import re
import sys

HEAD = re.compile(r"^\s*(\S+)\s+(\d+)\s+(\d+\.\d+):\s+(\S+):\s*(.*)$")
SWITCH = re.compile(r"prev_pid=(\d+).*prev_state=(\S+).*next_pid=(\d+)")


def events(path):
    cur = None
    for line in open(path):
        m = HEAD.match(line)
        if m:
            cur = [int(m.group(2)), float(m.group(3)), m.group(4), m.group(5), [], m.group(1)]
            yield cur
        elif cur is not None and line.split()[1:2]:
            cur[4].append(line.split()[1])


def main(path, window):
    evs = list(events(path))
    t0 = evs[0][1]
    out, agg, total = {}, collections.defaultdict(float), collections.defaultdict(float)
    names = {}
    for tid, t, event, trace, stack, comm in evs:
        names[tid] = comm
        if event != "sched:sched_switch":
            continue
        m = SWITCH.search(trace)
        prev, state, nxt = int(m.group(1)), m.group(2), int(m.group(3))
        if prev == tid:
            ours = [s for s in stack if "ucopy" in s]
            kernel = [s for s in stack if "schedule" not in s and s != "[unknown]"]
            key = (kernel[0] if kernel else "?") + " | " + (ours[0][:70] if ours else "?")
            out[prev] = (t, state, key)
        if nxt in out:
            start, state, key = out.pop(nxt)
            if start - t0 < window:
                d = min(t, t0 + window) - start
                agg[(nxt, state, key)] += d
                total[nxt] += d
    for tid in sorted(total, key=lambda x: -total[x]):
        print(f"{names.get(tid, '?')} {tid}: {total[tid]:.3f} s off CPU")
        for (t, state, key), d in sorted(agg.items(), key=lambda x: -x[1]):
            if t == tid and d > 0.01:
                print(f"   {d:.3f} {state} {key}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
