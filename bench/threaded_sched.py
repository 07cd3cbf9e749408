"""Where ``serve()``'s loop thread spends a connection's wall time, from the
scheduler's own record: running, runnable but waiting for a CPU, or asleep (for
the GIL, most often); how much CPU the machine left idle meanwhile; what preempted
the loop; and, for the sleeps that a worker ended, what that worker did meanwhile.

    perf record -a -e sched:sched_switch -e sched:sched_wakeup -o sched.data -- \\
        bench/.venv/bin/python bench/ab_servers.py --tree main=. --kind threaded \\
        --clients 64 --rounds 2 --duration 5
    perf script -i sched.data -F pid,tid,cpu,time,event,trace > sched.txt
    python bench/threaded_sched.py sched.txt

The loop is the busiest thread of the record (Python names no threads for perf);
its process is glasstls's server. Each client process (a few dozen threads, not
alive for the whole record) marks one round; the rounds in which the loop ran for
more than a tenth of the time are glasstls's, and only their middle (the first
second and the last 0.2 s left out) is counted.
"""

from __future__ import annotations

import argparse
import bisect
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

_EVENT = re.compile(r"\s*(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)")
_SWITCH = re.compile(r"prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> "
                     r"next_comm=.*? next_pid=(\d+)")
_WAKEUP = re.compile(r" pid=(\d+) prio=\d+ target_cpu=(\d+)")


@dataclass
class Event:
    time: float
    cpu: int
    tid: int  # the task on that CPU when it happened (the waker, for a wakeup)
    switch: bool
    prev: int = 0  # switch: the task leaving, whether preempted, the task coming
    preempted: bool = False
    next: int = 0
    woken: int = 0  # wakeup: the task woken


def read(path: str) -> tuple[list[Event], dict[int, int]]:
    events: list[Event] = []
    process: dict[int, int] = {}
    with open(path) as handle:
        for line in handle:
            match = _EVENT.match(line)
            if match is None:
                continue
            pid, tid = int(match[1]), int(match[2])
            if tid:
                process[tid] = pid
            time, cpu, kind, rest = float(match[4]), int(match[3]), match[5], match[6]
            if kind == "sched_switch" and (switch := _SWITCH.search(rest)):
                events.append(Event(time, cpu, tid, True, int(switch[1]),
                                    switch[2].startswith("R"), int(switch[3])))
            elif kind == "sched_wakeup" and (wakeup := _WAKEUP.search(rest)):
                events.append(Event(time, cpu, tid, False, woken=int(wakeup[1])))
    return events, process


def run_times(events: list[Event]) -> dict[int, float]:
    ran: defaultdict[int, float] = defaultdict(float)
    since: dict[int, float] = {}
    for event in events:
        if event.switch:
            if event.cpu in since and event.prev:
                ran[event.prev] += event.time - since[event.cpu]
            since[event.cpu] = event.time
    return ran


def rounds(events: list[Event], process: dict[int, int], server: int) -> list[tuple[float, float]]:
    """(start, end) of each client process's life, trimmed."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    threads: defaultdict[int, set[int]] = defaultdict(set)
    for event in events:
        pid = process.get(event.tid)
        if pid is None or pid == server:
            continue
        first.setdefault(pid, event.time)
        last[pid] = event.time
        threads[pid].add(event.tid)
    whole = events[-1].time - events[0].time
    return [(first[pid] + 1.0, last[pid] - 0.2) for pid in first
            if 8 <= len(threads[pid]) <= 70 and last[pid] - first[pid] < 0.8 * whole
            and last[pid] - first[pid] > 1.5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("script", help="perf script output (-F pid,tid,cpu,time,event,trace)")
    args = parser.parse_args()
    events, process = read(args.script)
    ran = run_times(events)
    loop = max(ran, key=lambda tid: ran[tid])
    server = process[loop]
    print(f"# loop thread {loop} of glasstls's server {server}")
    cpus = sorted({event.cpu for event in events})
    changes = transitions(events, {tid for tid, pid in process.items() if pid == server})
    for start, end in rounds(events, process, server):
        on_cpu = dict.fromkeys(cpus, 0)  # the task running on each CPU (0: idle)
        state = "asleep"  # the loop's: running, waiting (runnable), asleep
        share: defaultdict[tuple[str, int], float] = defaultdict(float)  # (state, idle CPUs)
        causes: Counter[str] = Counter()
        woke: dict[int, tuple[float, int]] = {}  # task -> (when, by whom) last woken
        asleep_since = 0.0
        ended_sleeps: list[tuple[float, float, int]] = []
        last = start
        for event in events:
            if event.time > end:
                break
            if event.time >= start:
                idle = sum(1 for task in on_cpu.values() if task == 0)
                share[(state, idle)] += event.time - last
                last = event.time
            if not event.switch:
                woke[event.woken] = (event.time, event.tid)
                if event.woken == loop and state == "asleep":
                    state = "waiting"
                    if event.time >= start:
                        ended_sleeps.append((asleep_since, event.time, event.tid))
                continue
            on_cpu[event.cpu] = event.next
            if event.prev == loop:
                state = "waiting" if event.preempted else "asleep"
                asleep_since = event.time
                if event.preempted and event.time >= start:
                    when, waker = woke.get(event.next, (0.0, -1))
                    recent = event.time - when < 0.002
                    kind = "a worker" if process.get(event.next) == server else "a client"
                    by = ("the loop" if waker == loop else "another task") if recent else None
                    causes[f"{kind} woken by {by}" if by else f"{kind} not just woken"] += 1
            if event.next == loop:
                state = "running"
        wall = end - start
        spent = {name: sum(t for (s, _), t in share.items() if s == name)
                 for name in ("running", "waiting", "asleep")}
        if spent["running"] < 0.1 * wall:
            continue  # a round of another server
        print(f"\n## round {start:.1f}-{end:.1f} s ({wall:.2f} s counted)")
        idle_all = sum(t * idle for (_, idle), t in share.items())
        print(f"machine idle: {idle_all / (len(cpus) * wall):.1%}")
        print("| loop | share of wall | machine idle meanwhile (of all CPU) |")
        print("|---|---:|---:|")
        for name in ("running", "waiting", "asleep"):
            idle_cpu = sum(t * idle for (s, idle), t in share.items() if s == name)
            print(f"| {name} | {spent[name] / wall:.1%} | {idle_cpu / (len(cpus) * wall):.1%} |")
        print("loop preempted by: " + ", ".join(f"{what} {count}" for what, count
                                                in causes.most_common()))
        by_worker = [(a, b, w) for a, b, w in ended_sleeps
                     if process.get(w) == server and w != loop]
        if by_worker:
            spent_by: defaultdict[str, float] = defaultdict(float)
            for a, b, worker in by_worker:
                for name, seconds in task_states(changes[worker], a, b).items():
                    spent_by[name] += seconds
            count = len(by_worker)
            mean = sum(b - a for a, b, _ in by_worker) / count
            print(f"loop sleeps ended by a worker: {count}, {mean * 1e6:.0f} us each on "
                  "average; that worker meanwhile: " + ", ".join(
                      f"{name} {spent_by[name] / count * 1e6:.0f} us"
                      for name in ("running", "waiting", "asleep")))


def transitions(events: list[Event], tasks: set[int]) -> dict[int, list[tuple[float, str]]]:
    """For each of ``tasks``: (when, the state it entered) in time order."""
    changes: defaultdict[int, list[tuple[float, str]]] = defaultdict(list)
    for event in events:
        if event.switch:
            if event.prev in tasks:
                changes[event.prev].append(
                    (event.time, "waiting" if event.preempted else "asleep"))
            if event.next in tasks:
                changes[event.next].append((event.time, "running"))
        elif event.woken in tasks:
            changes[event.woken].append((event.time, "waiting"))
    return changes


def task_states(changes: list[tuple[float, str]], start: float, end: float
                ) -> dict[str, float]:
    """Seconds a task spent running, runnable and asleep between start and end."""
    spent: defaultdict[str, float] = defaultdict(float)
    index = max(0, bisect.bisect_right(changes, (start, "~")) - 1)
    state, last = "", start
    for when, change in changes[index:]:
        if when >= end:
            break
        if when > start and state:
            spent[state] += when - max(last, start)
        state, last = change, when
    if state:
        spent[state] += end - max(last, start)
    return spent


if __name__ == "__main__":
    main()
