"""Where the time goes while the threaded servers run the sockets bench's
handshake clients: machine CPU (both cores, ``/proc/stat``), the server's loop
thread against its workers, the clients' processes and everything else on the
machine, measured over the measured window only (not the clients' start-up).

    bench/.venv/bin/python bench/threaded_idle.py --tree old=/tmp/thr3-old --tree new=. \
        --clients 64 [--rounds 4] [--duration 2]

Each ``--tree LABEL=DIR`` runs this script's server role with that checkout's
interpreter (as ``ab_servers.py`` does); ``ssl`` is the thread-per-client ssl
server of ``sockets_peers.py``. The glasstls servers are the sockets bench's echo
server (``serve()`` with its defaults) with a probe on the loop's selector: how
many ``select()`` calls per connection, how long the loop spent in them (asleep,
or waiting for the GIL on the way out), how many returned nothing to do, and how
many handshakes the loop had in hand while it slept (they wait for their
clients). Per thread, from ``/proc/PID/task/TID/schedstat``: run time, time
runnable but waiting for a CPU, and voluntary sleeps (the GIL, a lock, the
network); the loop is the server thread that ran most, the workers the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_servers import interpreter, thread_schedstats  # noqa: E402
from sockets import Bench, Row, cpu_seconds  # noqa: E402
from sockets_peers import THREADS_PER_CLIENT_PROCESS, load_pki, make_pki, ready  # noqa: E402

CLOCK = os.sysconf("SC_CLK_TCK")


# -- the server role ------------------------------------------------------------------------

class _Probe:
    """Counters of the loop's selector (one loop by default)."""

    def __init__(self) -> None:
        self.selects = 0
        self.empty = 0  # returned no event (a deadline or a back-off)
        self.events = 0
        self.in_select = 0.0  # seconds inside select(), GIL reacquisition included
        self.blocked_with = 0  # handshakes registered, summed over the calls that slept
        self.slept = 0  # calls that took over 50 us (the loop slept)

    def snapshot(self) -> dict[str, Any]:
        return dict(vars(self))


def _probed_server(pki: dict[str, str]) -> None:
    import selectors

    from sockets_peers import glasstls_server_config, raise_fd_limit

    import glasstls

    raise_fd_limit()
    if os.environ.get("THREADED_IDLE_SWITCH"):  # a diagnostic: the GIL's switch interval
        sys.setswitchinterval(float(os.environ["THREADED_IDLE_SWITCH"]))
    probe = _Probe()
    base = selectors.DefaultSelector

    class ProbedSelector(base):  # type: ignore[misc, valid-type]
        def select(self, timeout: float | None = None) -> Any:
            started = time.perf_counter()
            ready_ = super().select(timeout)
            spent = time.perf_counter() - started
            probe.selects += 1
            probe.in_select += spent
            probe.events += len(ready_)
            if not ready_:
                probe.empty += 1
            if spent > 50e-6:
                probe.slept += 1
                probe.blocked_with += max(0, len(self.get_map()) - 2)
            return ready_

    selectors.DefaultSelector = ProbedSelector  # type: ignore[misc]
    stages = _stage_probe() if os.environ.get("THREADED_IDLE_STAGES") else None
    server = glasstls.serve(("127.0.0.1", 0), _staged_echo(stages),
                            config=glasstls_server_config(pki))
    ready(server.address[1])
    for _ in sys.stdin:  # a line asks for the counters
        snapshot = probe.snapshot()
        if stages is not None:
            snapshot["stages"] = stages[:]
            stages.clear()
        print(json.dumps(snapshot), flush=True)


def _stage_probe() -> list[list[float]]:
    """Timestamps of each connection's steps on the loop (a diagnostic: patches the
    loop's methods): accepted, each step's start and end, handler started."""
    from glasstls.io import server as server_module

    finished: list[list[float]] = []
    loop_class = server_module._Loop
    start_handshake, step = loop_class._start_handshake, loop_class._step

    def patched_start(self: Any, fd: int, address: Any, context: Any) -> Any:
        handshake = start_handshake(self, fd, address, context)
        if handshake is not None:
            _times[id(handshake.sock)] = [time.perf_counter()]
        return handshake

    def patched_step(self: Any, handshake: Any) -> bool:
        times = _times.get(id(handshake.sock))
        if times is not None:
            times.append(time.perf_counter())
        done = step(self, handshake)
        if times is not None:
            times.append(time.perf_counter())
        return done

    loop_class._start_handshake = patched_start
    loop_class._step = patched_step
    _stages_out.append(finished)
    return finished


_times: dict[int, list[float]] = {}
_stages_out: list[list[list[float]]] = []


def _staged_echo(stages: list[list[float]] | None) -> Any:
    from sockets_peers import _echo_blocking

    def handler(sock: Any, address: Any) -> None:
        times = _times.pop(id(sock), None) if stages is not None else None
        if times is not None:
            times.append(time.perf_counter())
            stages.append(times)
        _echo_blocking(sock)

    return handler


def _ssl_server(pki: dict[str, str]) -> None:
    from sockets_peers import _ssl_thread_per_client_server, raise_fd_limit

    raise_fd_limit()
    threading.Thread(target=_ssl_thread_per_client_server, args=(pki,), daemon=True).start()
    for _ in sys.stdin:
        print("{}", flush=True)


# -- the coordinator ------------------------------------------------------------------------

def _cpu_line() -> list[int]:
    with open("/proc/stat") as handle:
        return [int(value) for value in handle.readline().split()[1:]]


def _children_cpu(parent: int, exclude: set[int]) -> float:
    """CPU seconds of the processes whose parent is ``parent`` (the clients)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude:
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / CLOCK
    return total


class _Snapshot:
    def __init__(self, server: subprocess.Popen[str], exclude: set[int]) -> None:
        self.at = time.monotonic()
        self.cpu = _cpu_line()
        self.threads = thread_schedstats(server.pid)
        self.clients = _children_cpu(os.getpid(), exclude)
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write("snap\n")
        server.stdin.flush()
        self.probe = json.loads(server.stdout.readline())
        self.server = cpu_seconds(server.pid)  # threads that ended included (ssl's)


# x86-64 system call numbers a sleeping server thread is found in
_SYSCALLS = {"202": "futex", "232": "epoll", "281": "epoll", "45": "recv", "44": "send",
             "0": "read", "1": "write", "7": "poll", "23": "select", "288": "accept"}


def _thread_states(pid: int) -> dict[int, str]:
    """Per thread: "R" (running or runnable) or what it sleeps in."""
    states = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                state = handle.read().rpartition(")")[2].split()[0]
            if state != "R":
                with open(f"/proc/{pid}/task/{tid}/syscall") as handle:
                    number = handle.read().split()[0]
                state = _SYSCALLS.get(number, "other" + number)
        except (OSError, IndexError):
            continue
        states[int(tid)] = state
    return states


def _runnable_threads(pids: list[int]) -> int:
    count = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                    if handle.read().rpartition(")")[2].split()[0] == "R":
                        count += 1
        except OSError:
            continue
    return count


def _client_pids(parent: int, exclude: set[int]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in exclude and int(entry) != parent:
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rpartition(")")[2].split()[1]) == parent:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _sampler(server: subprocess.Popen[str], exclude: set[int], times: tuple[float, float],
             out: list[_Snapshot], hz: float, samples: list[tuple[dict[int, str], int]]
             ) -> None:
    time.sleep(max(0.0, times[0] - time.monotonic()))
    out.append(_Snapshot(server, exclude))
    if hz:
        clients = _client_pids(os.getpid(), exclude)
        while time.monotonic() < times[1]:
            samples.append((_thread_states(server.pid), _runnable_threads(clients)))
            time.sleep(1 / hz)
    time.sleep(max(0.0, times[1] - time.monotonic()))
    out.append(_Snapshot(server, exclude))


def _states_report(label: str, samples: list[tuple[dict[int, str], int]], loop: int) -> str:
    """How the loop thread was found, over all samples and over those where fewer
    than two threads of the bench were runnable (a CPU free for the bench)."""
    from collections import Counter

    every: Counter[str] = Counter()
    spare: Counter[str] = Counter()
    workers_r = spare_clients = 0
    for states, clients_r in samples:
        loop_state = states.get(loop, "gone")
        others_r = sum(1 for tid, state in states.items() if tid != loop and state == "R")
        every[loop_state] += 1
        if (loop_state == "R") + others_r + clients_r < 2:
            spare[loop_state] += 1
            spare_clients += clients_r
        workers_r += others_r

    def shares(counter: Counter[str]) -> str:
        total = max(1, sum(counter.values()))
        return ", ".join(f"{state} {count / total:.0%}" for state, count in counter.most_common())

    n = max(1, len(samples))
    return (f"# {label}: {len(samples)} samples; loop thread: {shares(every)}; "
            f"samples with a CPU free for the bench {sum(spare.values()) / n:.0%}, the loop "
            f"then: {shares(spare)}; runnable workers per sample {workers_r / n:.2f}")


def _window(before: _Snapshot, after: _Snapshot, connections: int) -> dict[str, float]:
    """Figures over the measured window: shares of the machine's CPUs and, per
    connection, milliseconds and counts."""
    cpus = os.cpu_count() or 1
    ticks = [b - a for a, b in zip(before.cpu, after.cpu, strict=True)]
    total = max(1, sum(ticks[:8]))
    wall = after.at - before.at
    per = max(1, connections)
    deltas = {tid: tuple(b - a for a, b in zip(before.threads[tid], stats, strict=True))
              for tid, stats in after.threads.items() if tid in before.threads}
    loop_tid = max(deltas, key=lambda tid: deltas[tid][0])
    loop = deltas[loop_tid]
    others = [stats for tid, stats in deltas.items() if tid != loop_tid]
    server_cpu = after.server - before.server
    clients_cpu = after.clients - before.clients
    busy = 1 - (ticks[3] + ticks[4]) / total
    probe = {key: after.probe.get(key, 0) - before.probe.get(key, 0) for key in after.probe
             if key != "stages"}
    _STAGES.extend(after.probe.get("stages", []))
    figures = {
        "rate": connections / wall,
        "idle": (ticks[3] + ticks[4]) / total,
        "server_cores": server_cpu / wall,
        "clients_cores": clients_cpu / wall,
        "others_cores": max(0.0, busy * cpus - (server_cpu + clients_cpu) / wall),
        "loop_ran": loop[0] / 1e6 / per, "loop_waited": loop[1] / 1e6 / per,
        "loop_slept": loop[3] / per, "loop_preempted": loop[2] / per,
        "loop_wall_share": (loop[0] + loop[1]) / 1e9 / wall,
        "workers_ran": sum(s[0] for s in others) / 1e6 / per,
        "workers_waited": sum(s[1] for s in others) / 1e6 / per,
        "workers_slept": sum(s[3] for s in others) / per,
    }
    if probe.get("selects"):
        figures.update({
            "selects": probe["selects"] / per, "empty": probe["empty"] / per,
            "events_per_select": probe["events"] / probe["selects"],
            "events": probe["events"] / per, "slept_selects": probe["slept"] / per,
            "in_select_ms": probe["in_select"] * 1000 / per,
            "in_select_share": probe["in_select"] / wall,
            "pending_while_asleep": probe["blocked_with"] / max(1, probe["slept"]),
        })
    return figures


_STAGES: list[list[float]] = []


def _stages_report(label: str, stages: list[list[float]]) -> str:
    """Per connection on the server: the hello's wait (accept to its step), the
    hello step, hello end to the Finished step (the client's work and the wait),
    the Finished step, and the hand-off to the handler; p50 / p90 / p99 ms."""
    rows = [t for t in stages if len(t) == 6]
    if not rows:
        return f"# {label}: no stage timestamps"
    names = ["hello wait", "hello step", "client + F wait", "F step", "hand-off", "total"]
    columns = [[t[1] - t[0] for t in rows], [t[2] - t[1] for t in rows],
               [t[3] - t[2] for t in rows], [t[4] - t[3] for t in rows],
               [t[5] - t[4] for t in rows], [t[5] - t[0] for t in rows]]

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    parts = [f"{name} {pct(c, 0.5):.1f}/{pct(c, 0.9):.1f}/{pct(c, 0.99):.1f}"
             for name, c in zip(names, columns, strict=True)]
    return f"# {label} stages ms p50/p90/p99 over {len(rows)} connections: " + "; ".join(parts)


def threaded_parser(description: str) -> argparse.ArgumentParser:
    """The options of the threaded-server probes (this one and ``threaded_split.py``):
    the trees to compare, the clients and the rounds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tree", action="append", required=True, help="LABEL=DIR")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--no-ssl", action="store_true")
    return parser


def main() -> None:
    parser = threaded_parser(__doc__.splitlines()[0])
    parser.add_argument("--switch", action="append", default=[], metavar="LABEL=SECONDS",
                        help="a diagnostic: that server's sys.setswitchinterval()")
    parser.add_argument("--sample", type=float, default=0.0, metavar="HZ",
                        help="also sample the threads' states HZ times a second (costs CPU)")
    args = parser.parse_args()
    args.mode = "full"
    trees = dict(item.split("=", 1) for item in args.tree)
    servers = {label: (interpreter(tree), "glasstls") for label, tree in trees.items()}
    if not args.no_ssl:
        servers["ssl"] = (interpreter(next(iter(trees.values()))), "ssl")
    switch = dict(item.split("=", 1) for item in args.switch)
    results: dict[str, list[dict[str, float]]] = {label: [] for label in servers}
    rows = {label: Row(label, "hs/s", ">= 1.0x") for label in servers}
    reports: list[str] = []
    stage_rows: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="thr-idle-") as directory:
        pki = make_pki(directory)
        pki["dir"] = directory
        bench = Bench(args, pki)
        running = {}
        try:
            for label, (python, impl) in servers.items():
                env = dict(os.environ)
                if label in switch:
                    env["THREADED_IDLE_SWITCH"] = switch[label]
                process = subprocess.Popen(
                    [python, os.path.abspath(__file__), "_server", directory, impl],
                    stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env)
                assert process.stdout is not None
                line = process.stdout.readline()
                if not line.startswith("READY "):
                    raise SystemExit(f"{label}'s server did not start: {line!r}")
                running[label] = (process, int(line.split()[1]))
            exclude = {process.pid for process, _ in running.values()}
            bench.python = sys.executable
            labels = list(servers)
            processes = max(1, -(-args.clients // THREADS_PER_CLIENT_PROCESS))
            for round_ in range(args.rounds):
                order = labels[round_ % len(labels):] + labels[:round_ % len(labels)]
                for label in order:
                    process, port = running[label]
                    start = time.monotonic() + 0.3 + 0.05 * processes
                    times = (start + args.warmup + 0.02,
                             start + args.warmup + args.duration - 0.02)
                    snaps: list[_Snapshot] = []
                    samples: list[tuple[dict[int, str], int]] = []
                    sampler = threading.Thread(target=_sampler,
                                               args=(process, exclude, times, snaps,
                                                     args.sample, samples))
                    sampler.start()
                    row = rows[label]
                    before = len(row.values["glasstls"])
                    bench._handshake_round(row, "glasstls", process, port, args.clients,
                                           args.mode)
                    sampler.join()
                    assert len(row.values["glasstls"]) == before + 1
                    # connections finished within the window, from the round's count
                    done = row.values["glasstls"][-1] * (snaps[1].at - snaps[0].at)
                    results[label].append(_window(snaps[0], snaps[1], round(done)))
                    stage_rows.setdefault(label, []).extend(_STAGES)
                    _STAGES.clear()
                    if samples:
                        loop = max(snaps[1].threads, key=lambda tid: snaps[1].threads[tid][0]
                                   - snaps[0].threads.get(tid, (0,))[0])
                        reports.append(_states_report(label, samples, loop))
        finally:
            for process, _ in running.values():
                assert process.stdin is not None
                process.stdin.close()
                Bench._stop(process)
    print(f"# threaded full x{args.clients}, {args.rounds} rounds of {args.duration} s "
          f"(figures over the measured window, medians over the rounds); "
          f"{time.strftime('%H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}")
    keys = ["rate", "idle", "server_cores", "clients_cores", "others_cores", "loop_ran",
            "loop_waited", "loop_slept", "loop_preempted", "loop_wall_share", "workers_ran",
            "workers_waited", "workers_slept", "selects", "events_per_select", "empty",
            "slept_selects", "in_select_ms", "in_select_share", "pending_while_asleep"]
    print("| figure | " + " | ".join(servers) + " |")
    print("|---|" + "---:|" * len(servers))
    for key in keys:
        cells = []
        for label in servers:
            values = [result[key] for result in results[label] if key in result]
            if not values:
                cells.append("-")
                continue
            median = statistics.median(values)
            cells.append(f"{median:.3f}" if abs(median) < 10 else f"{median:.0f}")
        print(f"| {key} | " + " | ".join(cells) + " |")
    first = next(iter(servers))
    print(f"\nper-round ratios to {first} (each round's servers ran seconds apart), "
          "median (min-max):")
    print(f"| server | rate | server CPU ms/conn | others' cores (theirs - {first}'s) |")
    print("|---|---:|---:|---:|")
    for label in list(servers)[1:]:
        mine, theirs = results[label], results[first]
        rate = [a["rate"] / b["rate"] for a, b in zip(mine, theirs, strict=True)]
        cpu = [(a["server_cores"] / a["rate"]) / (b["server_cores"] / b["rate"])
               for a, b in zip(mine, theirs, strict=True)]
        others = [a["others_cores"] - b["others_cores"] for a, b in zip(mine, theirs, strict=True)]
        print(f"| {label} | {statistics.median(rate):.3f} ({min(rate):.3f}-{max(rate):.3f}) "
              f"| {statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f}) "
              f"| {statistics.median(others):+.2f} |")
    print("\n".join(reports))
    for label, stage_list in stage_rows.items():
        if stage_list:
            print(_stages_report(label, stage_list))
    for label in servers:
        p50, p99 = rows[label].percentile("glasstls", 0.5), rows[label].percentile("glasstls", 0.99)
        print(f"# {label}: p50 / p99 {(p50 or 0) * 1000:.1f} / {(p99 or 0) * 1000:.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        _, _, directory, impl = sys.argv
        (_probed_server if impl == "glasstls" else _ssl_server)(load_pki(directory))
    else:
        main()
