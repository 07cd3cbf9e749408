"""Where the threaded servers' CPU goes per connection, thread kind by thread kind:
user and system CPU and context switches of ``glasstls.serve()``'s loop thread,
its workers and the rest, against the ssl thread-per-client server's accept thread
and its connection threads; alternated rounds, as ``ab_servers.py``.

    bench/.venv/bin/python bench/threaded_split.py --tree new=. [--tree old=/tmp/old] \
        [--clients 64] [--rounds 4] [--duration 2]

Each server is ``sockets_peers.echo_server`` (the full bench's servers, the same
config and handler) run on a thread of a small wrapper process whose main thread
only answers "where are you" on stdin with ``getrusage(RUSAGE_SELF)`` (which
counts the threads that ended: the ssl server's connection threads end with their
connection) and the names of its live threads by native id. Per thread, from
``/proc/PID/task/TID/stat`` and ``status``: user and system ticks, voluntary
(a sleep: the GIL, a lock, the network) and involuntary (preempted) switches.
Threads that ended in a round are counted as "ended" from the process totals
less the live threads' (their switches from the rusage totals likewise).
Clock ticks are 10 ms: use rounds of a few thousand connections.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from ab_servers import interpreter
from sockets import Bench, Row
from sockets_peers import make_pki
from threaded_idle import threaded_parser

HERE = os.path.dirname(os.path.abspath(__file__))
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")

WRAPPER = r"""
import json, resource, sys, threading
sys.path.insert(0, sys.argv[1])
from sockets_peers import echo_server, load_pki
threading.Thread(target=echo_server, args=(sys.argv[2], "threaded", load_pki(sys.argv[3])),
                 daemon=True, name="server-main").start()
for line in sys.stdin:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"nvcsw": usage.ru_nvcsw, "nivcsw": usage.ru_nivcsw,
                      "names": {t.native_id: t.name for t in threading.enumerate()}}),
          flush=True)
"""


def kind_of(name: str, impl: str) -> str:
    if name.startswith("glasstls-server"):
        return "loop"
    if name.startswith("glasstls-worker"):
        return "workers"
    if name == "server-main":
        return "accept" if impl == "ssl" else "main"
    if name == "MainThread":
        return "wrapper"
    return "conn threads" if impl == "ssl" else "other"


class Server:
    def __init__(self, label: str, python: str, bench_dir: str, impl: str, pki_dir: str,
                 script: str) -> None:
        self.label, self.impl = label, impl
        self.process = subprocess.Popen([python, script, bench_dir, impl, pki_dir],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"{label}'s server did not start: {line!r}")
        self.port = int(line.split()[1])

    def snapshot(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        pid = self.process.pid
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
        threads = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                    stat = handle.read().rpartition(")")[2].split()
                with open(f"/proc/{pid}/task/{tid}/status") as handle:
                    status = {key: value.strip() for key, _, value in
                              (line.partition(":") for line in handle)}
            except OSError:
                continue
            name = reply["names"].get(tid, "?")
            threads[int(tid)] = (kind_of(name, self.impl), int(stat[11]), int(stat[12]),
                                 int(status["voluntary_ctxt_switches"]),
                                 int(status["nonvoluntary_ctxt_switches"]))
        return {"utime": int(fields[11]), "stime": int(fields[12]),
                "nvcsw": reply["nvcsw"], "nivcsw": reply["nivcsw"], "threads": threads}


def split(before: dict[str, Any], after: dict[str, Any], connections: int
          ) -> dict[str, list[float]]:
    """Per thread kind: user ms, system ms, voluntary, involuntary switches per connection."""
    kinds: dict[str, list[float]] = {}
    live = [0.0, 0.0, 0.0, 0.0]
    for tid, (kind, user, system, vol, invol) in after["threads"].items():
        old = before["threads"].get(tid)
        base = old[1:] if old is not None else (0, 0, 0, 0)
        delta = [user - base[0], system - base[1], vol - base[2], invol - base[3]]
        sums = kinds.setdefault(kind, [0.0, 0.0, 0.0, 0.0])
        for index, value in enumerate(delta):
            sums[index] += value
            live[index] += value
    total = [after["utime"] - before["utime"], after["stime"] - before["stime"],
             after["nvcsw"] - before["nvcsw"], after["nivcsw"] - before["nivcsw"]]
    # Threads that ended between the snapshots (and the part of the ones that
    # ended after the first that ran before it... counted there: small).
    kinds["ended"] = [t - l for t, l in zip(total, live, strict=True)]
    kinds["process"] = total
    per = max(1, connections)
    return {kind: [v[0] * TICK_MS / per, v[1] * TICK_MS / per, v[2] / per, v[3] / per]
            for kind, v in kinds.items()}


def main() -> None:
    args = threaded_parser(__doc__.splitlines()[0]).parse_args()
    args.mode = "full"
    trees = dict(item.split("=", 1) for item in args.tree)
    specs = [(label, interpreter(tree), os.path.join(os.path.abspath(tree), "bench"),
              "glasstls") for label, tree in trees.items()]
    if not args.no_ssl:
        specs.append(("ssl", sys.executable, HERE, "ssl"))
    with tempfile.TemporaryDirectory(prefix="threaded-split-") as directory:
        pki = make_pki(directory)
        pki["dir"] = directory
        script = os.path.join(directory, "wrapper.py")
        with open(script, "w") as handle:
            handle.write(WRAPPER)
        bench = Bench(args, pki)
        servers = [Server(label, python, bench_dir, impl, directory, script)
                   for label, python, bench_dir, impl in specs]
        bench.python = sys.executable
        results: dict[str, list[dict[str, list[float]]]] = {s.label: [] for s in servers}
        rates: dict[str, list[float]] = {s.label: [] for s in servers}
        try:
            for round_ in range(args.rounds):
                order = servers[round_ % len(servers):] + servers[:round_ % len(servers)]
                for server in order:
                    row = Row(server.label, "hs/s", "")
                    before = server.snapshot()
                    connections = bench._handshake_round(row, "glasstls", server.process,
                                                         server.port, args.clients, "full")
                    after = server.snapshot()
                    results[server.label].append(split(before, after, connections))
                    rates[server.label] += row.values["glasstls"]
        finally:
            for server in servers:
                server.process.terminate()
                server.process.wait(10)
    print(f"# threaded full x{args.clients}, {args.rounds} rounds of {args.duration} s, "
          f"load {os.getloadavg()[0]:.2f} after; medians over rounds, per connection")
    print("| server | hs/s | thread kind | user ms | system ms | voluntary sw | "
          "involuntary sw |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for label, rounds in results.items():
        kinds = sorted({kind for r in rounds for kind in r},
                       key=lambda k: (k == "process", k))
        for kind in kinds:
            values = [r.get(kind, [0.0] * 4) for r in rounds]
            med = [statistics.median(v[i] for v in values) for i in range(4)]
            print(f"| {label} | {statistics.median(rates[label]):.0f} | {kind} | "
                  f"{med[0]:.3f} | {med[1]:.3f} | {med[2]:.2f} | {med[3]:.2f} |")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
