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

from sockets import Bench, Row
from sockets_peers import make_pki

HERE = os.path.dirname(os.path.abspath(__file__))


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
        try:
            for round_ in range(args.rounds):
                order = labels[round_ % len(labels):] + labels[:round_ % len(labels)]
                for label in order:
                    bench._handshake_round(rows[label], "glasstls", *running[label],
                                           args.clients, args.mode)
        finally:
            for process, _ in running.values():
                Bench._stop(process)
        load_after = os.getloadavg()
    print(f"# {args.kind} {args.mode} x{args.clients}, {args.rounds} rounds of "
          f"{args.duration} s; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; {time.strftime('%H:%M UTC', time.gmtime())}")
    print("| server | hs/s median (min-max) | p50 / p99 ms | server CPU ms/conn median "
          "(min-max) | failed |")
    print("|---|---:|---:|---:|---:|")
    for label, row in rows.items():
        rates = row.values["glasstls"]
        cpu = [value * 1000 for value in row.server_cpu["glasstls"]]
        p50, p99 = row.percentile("glasstls", 0.5), row.percentile("glasstls", 0.99)
        print(f"| {label} | {statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f}) "
              f"| {(p50 or 0) * 1000:.1f} / {(p99 or 0) * 1000:.1f} "
              f"| {statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f}) "
              f"| {row.failed['glasstls']} |")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
