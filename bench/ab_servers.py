"""Handshakes per second and server CPU per connection of the socket servers of two
or more glasstls checkouts and of ssl, alternated in one time window: A/B checks of
server changes on a shared machine (``sockets.py`` compares one tree with ssl).

    bench/.venv/bin/python bench/ab_servers.py --tree main=/work/main --tree branch=. \
        --kind aio --clients 16 --mode full [--rounds 5] [--duration 2]

Each ``--tree LABEL=DIR`` runs its own ``DIR/bench/sockets.py`` echo server with that
checkout's interpreter (``DIR/bench/.venv`` or else ``DIR/.venv``); ``ssl`` is the
first tree's ssl server. The clients are this checkout's ``sockets.py`` clients
(Python's ssl in processes of their own), the same for every server. Each round
measures every server once, in an order that rotates between rounds; printed per
server: the median rate and its spread, p50 / p99 latency over all rounds, and
the median server CPU milliseconds per connection (user + system of the server
process over the round), with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from sockets import Bench, Row
from sockets_peers import make_pki

HERE = os.path.dirname(os.path.abspath(__file__))


def thread_schedstats(pid: int) -> dict[int, tuple[int, int, int, int]]:
    """Per thread of a process: nanoseconds run on a CPU and waited on a run queue
    (``/proc/PID/task/TID/schedstat``), how often it was preempted (involuntary
    context switches) and how often it slept (voluntary ones: a wait for the GIL, a
    lock, the network); a thread that has ended is not listed."""
    stats = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                ran, waited, _ = handle.read().split()
            with open(f"/proc/{pid}/task/{tid}/status") as handle:
                switches = {key: int(value) for key, _, value in
                            (line.partition(":") for line in handle)
                            if key.endswith("voluntary_ctxt_switches")}
        except (OSError, ValueError):
            continue
        stats[int(tid)] = (int(ran), int(waited), switches["nonvoluntary_ctxt_switches"],
                           switches["voluntary_ctxt_switches"])
    return stats


def machine_idle() -> tuple[int, int]:
    """(idle, total) jiffies of all CPUs so far (``/proc/stat``)."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


class Waits:
    """Where a server's threads waited, over the rounds: run-queue time per
    connection of the busiest thread (a loop thread) and of all threads alive at
    both ends of a round, and the machine's idle share."""

    def __init__(self) -> None:
        self.busiest: list[tuple[float, float]] = []  # (ran, waited) ms per connection
        self.preempted: list[float] = []  # the busiest thread's, per connection
        self.slept: list[float] = []  # the busiest thread's, per connection
        self.all_slept: list[float] = []  # all threads', per connection
        self.all: list[tuple[float, float]] = []
        self.idle: list[float] = []

    def measure(self, pid: int, round_: Any) -> None:
        before, idle_before = thread_schedstats(pid), machine_idle()
        connections = round_()
        after, idle_after = thread_schedstats(pid), machine_idle()
        deltas = [(after[tid][0] - ran, after[tid][1] - waited, after[tid][2] - preempted,
                   after[tid][3] - slept)
                  for tid, (ran, waited, preempted, slept) in before.items() if tid in after]
        per = 1e6 * max(1, connections)  # ns -> ms per connection
        busiest = max(deltas, default=(0, 0, 0, 0))
        self.busiest.append((busiest[0] / per, busiest[1] / per))
        self.preempted.append(busiest[2] / max(1, connections))
        self.slept.append(busiest[3] / max(1, connections))
        self.all_slept.append(sum(d[3] for d in deltas) / max(1, connections))
        self.all.append((sum(d[0] for d in deltas) / per, sum(d[1] for d in deltas) / per))
        self.idle.append((idle_after[0] - idle_before[0])
                         / max(1, idle_after[1] - idle_before[1]))


def interpreter(tree: str) -> str:
    for venv in ("bench/.venv", ".venv"):
        python = os.path.join(tree, venv, "bin", "python")
        if os.path.exists(python):
            return python
    raise SystemExit(f"no bench/.venv or .venv in {tree}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="LABEL=DIR")
    parser.add_argument("--kind", choices=("aio", "threaded"), default="aio")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--mode", choices=("full", "resumed"), default="full")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--no-ssl", action="store_true", help="only the trees")
    args = parser.parse_args()
    trees = dict(item.split("=", 1) for item in args.tree)
    servers: dict[str, tuple[list[str], str]] = {
        label: ([interpreter(tree), os.path.join(tree, "bench", "sockets.py")], "glasstls")
        for label, tree in trees.items()}
    if not args.no_ssl:
        first = next(iter(trees.values()))
        servers["ssl"] = ([interpreter(first), os.path.join(first, "bench", "sockets.py")],
                          "ssl")
    with tempfile.TemporaryDirectory(prefix="ab-servers-") as directory:
        pki = make_pki(directory)
        pki["dir"] = directory
        bench = Bench(args, pki)
        load_before = os.getloadavg()
        running = {}
        for label, (command, impl) in servers.items():
            bench.python, script = command
            process = subprocess.Popen(
                [bench.python, script, "_echo-server", "--pki", directory, impl, args.kind],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("READY "):
                raise SystemExit(f"{label}'s server did not start: {line!r}")
            running[label] = (process, int(line.split()[1]))
        bench.python = sys.executable  # the clients: this checkout's, for every server
        labels = list(servers)
        # Each server's figures go in its own row, under "glasstls" whatever it is.
        rows = {label: Row(label, "hs/s", ">= 1.0x") for label in labels}
        waits = {label: Waits() for label in labels}
        try:
            for round_ in range(args.rounds):
                order = labels[round_ % len(labels):] + labels[:round_ % len(labels)]
                for label in order:
                    process, port = running[label]
                    row = rows[label]

                    waits[label].measure(process.pid, lambda row=row, process=process,
                                         port=port: bench._handshake_round(
                                             row, "glasstls", process, port, args.clients,
                                             args.mode))
        finally:
            for process, _ in running.values():
                Bench._stop(process)
        load_after = os.getloadavg()
    print(f"# {args.kind} {args.mode} x{args.clients}, {args.rounds} rounds of "
          f"{args.duration} s; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; {time.strftime('%H:%M UTC', time.gmtime())}")
    print("| server | hs/s median (min-max) | p50 / p99 ms | server CPU ms/conn median "
          "(min-max) | clients' CPU ms/conn | busiest server thread: ran / waited ms/conn "
          "| preempted / slept /conn | server threads: ran / waited | all threads slept /conn "
          "| machine idle | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, row in rows.items():
        rates = row.values["glasstls"]
        cpu = [value * 1000 for value in row.server_cpu["glasstls"]]
        p50, p99 = row.percentile("glasstls", 0.5), row.percentile("glasstls", 0.99)
        wait = waits[label]

        def pair(values: list[tuple[float, float]]) -> str:
            return (f"{statistics.median(v[0] for v in values):.3f} / "
                    f"{statistics.median(v[1] for v in values):.3f}")

        print(f"| {label} | {statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f}) "
              f"| {(p50 or 0) * 1000:.1f} / {(p99 or 0) * 1000:.1f} "
              f"| {statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f}) "
              f"| {statistics.median(row.client_cpu['glasstls']) * 1000:.3f} "
              f"| {pair(wait.busiest)} | {statistics.median(wait.preempted):.2f} / "
              f"{statistics.median(wait.slept):.2f} "
              f"| {pair(wait.all)} | {statistics.median(wait.all_slept):.1f} "
              f"| {statistics.median(wait.idle):.0%} | {row.failed['glasstls']} |")

    # On a shared machine the load swings between rounds more than most changes move
    # the figures: each round's figure over the first server's in the same round
    # (measured seconds apart) cancels what the round's load did to both.
    first = labels[0]
    print(f"\nper-round ratios to {first}, median (min-max) over the rounds:")
    print("| server | hs/s | server CPU ms/conn | busiest thread ran ms/conn |")
    print("|---|---:|---:|---:|")
    def ratios(mine: list[float], theirs: list[float]) -> str:
        values = [a / b for a, b in zip(mine, theirs, strict=True) if b]
        return (f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"
                if values else "-")

    def ran(label: str) -> list[float]:
        return [ran for ran, _ in waits[label].busiest]

    for label in labels[1:]:
        print(f"| {label} "
              f"| {ratios(rows[label].values['glasstls'], rows[first].values['glasstls'])} "
              f"| {ratios(rows[label].server_cpu['glasstls'], rows[first].server_cpu['glasstls'])} "
              f"| {ratios(ran(label), ran(first))} |")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
