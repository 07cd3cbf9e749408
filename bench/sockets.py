#!/usr/bin/env python3
"""glasstls beside Python's ssl over real sockets, client and server in separate
processes: what a user of the blocking, threaded and asyncio APIs feels.

    python bench/sockets.py                 # full run (~8 min on an idle 2-core box)
    python bench/sockets.py --quick         # ~1.5 min, smaller figures, same cases
    python bench/sockets.py --only bulk,idle --json /tmp/sockets.json
    python bench/sockets.py --quick --only bulk --bulk-io blocking --bulk-suites chacha20

Every case runs glasstls and ssl the same way in the same run, in interleaved
rounds (the order alternates), and prints the ratio glasstls / ssl beside its
target. The machine may be shared: only the ratios mean anything.

Cases (TLS 1.3, X25519, ECDSA P-256 certificate for ``localhost``, verified):

* ``bulk``: 256 MiB client -> server, then 256 MiB server -> client, one
  connection; both ends are glasstls or both are ssl; blocking sockets
  (``glasstls.connect`` + ``glasstls.serve`` against ``SSLContext.wrap_socket``)
  and asyncio streams (``glasstls.aio`` against ``asyncio`` with ``ssl=``);
  AES-128-GCM and ChaCha20-Poly1305. Time as seen by the client. Beside it, the
  CPU milliseconds per MiB of the sending and of the receiving process, each
  measured in the process over the transfer alone (``time.process_time``): the
  figure that a shared machine disturbs least.
* ``aio``: handshakes per second against an asyncio echo server
  (``glasstls.aio.start_server`` against ``asyncio.start_server(ssl=...)``), with
  1, 16 and 256 concurrent clients, full and resumed.
* ``threaded``: the same against ``glasstls.serve()`` (every handshake on its
  loop thread, the handler on a worker thread) and a thread-per-client ssl
  server (the handshake runs in the connection's thread), 64 and 200 clients.
* ``idle``: 10,000 connections held open on the asyncio server: its RSS growth
  per connection.

The clients of the handshake and idle cases are one program for both servers:
Python's ssl (OpenSSL) in threads, in processes of their own (at most 64
threads each), offering only TLS 1.3, X25519 and TLS_AES_128_GCM_SHA256. A
"handshake" is what a client waits for before it can use the connection: TCP
connect, the TLS handshake, and a 16-byte echo (the server can only answer once
it has the client's Finished); its latency is that time. Then the client sends
close_notify and waits for the server's (``unwrap``), outside the timing. In the
resumed case each client thread resumes with the session of its previous
connection. The servers keep their defaults: two TLS 1.3 tickets each, a listen
backlog of 100 for both asyncio servers (asyncio's), 128 for the threaded ones
(``glasstls.serve()``'s and ``socket.create_server``'s), so a server that accepts
too slowly shows as clients whose connection attempts time out and retry.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from sockets_peers import IMPLS, ROLES, SUITES, THREADS_PER_CLIENT_PROCESS, MiB, make_pki, run_role

# -- the coordinator --------------------------------------------------------------------------

@dataclass
class Row:
    case: str
    unit: str
    target: str
    values: dict[str, list[float]] = field(default_factory=lambda: {i: [] for i in IMPLS})
    latencies: dict[str, list[float]] = field(default_factory=lambda: {i: [] for i in IMPLS})
    # Server CPU seconds (user + system) per connection, for the handshake cases.
    server_cpu: dict[str, list[float]] = field(default_factory=lambda: {i: [] for i in IMPLS})
    # The same for the client processes together (one program for both servers).
    client_cpu: dict[str, list[float]] = field(default_factory=lambda: {i: [] for i in IMPLS})
    # Bulk: CPU milliseconds per MiB of the sending and of the receiving process.
    bulk_cpu: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {i: [] for i in IMPLS})
    # Over all rounds: failed connections, and measured ones that were full
    # handshakes in the resumed case (each client thread's first connection).
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(IMPLS, 0))
    not_resumed: dict[str, list[int]] = field(
        default_factory=lambda: {i: [0, 0] for i in IMPLS})
    lower_is_better: bool = False

    def median(self, impl: str) -> float | None:
        values = self.values[impl]
        return statistics.median(values) if values else None

    def ratio(self) -> float | None:
        ours, theirs = self.median("glasstls"), self.median("ssl")
        if ours is None or not theirs:
            return None
        return ours / theirs

    def met(self) -> str:
        ratio = self.ratio()
        if ratio is None:
            return "?"
        bound = float(self.target.split()[-1].rstrip("x"))
        ok = ratio <= bound if self.target.startswith("<") else ratio >= bound
        return "yes" if ok else "NO"

    def notes(self) -> list[str]:
        notes = [f"{impl}: {count} failed connections"
                 for impl, count in self.failed.items() if count]
        notes += [f"{impl}: {full} of {total} measured were full handshakes"
                  for impl, (full, total) in self.not_resumed.items() if full]
        return notes

    def percentile(self, impl: str, fraction: float) -> float | None:
        values = sorted(self.latencies[impl])
        if not values:
            return None
        return values[min(len(values) - 1, int(fraction * len(values)))]


class Bench:
    def __init__(self, args: argparse.Namespace, pki: dict[str, str]) -> None:
        self.args = args
        self.pki = pki
        self.rows: list[Row] = []
        self.python = sys.executable

    def _command(self, role: str, *extra: Any) -> list[str]:
        return [self.python, os.path.abspath(__file__), role, "--pki", self.pki["dir"],
                *map(str, extra)]

    def _start_server(self, role: str, *extra: Any) -> tuple[subprocess.Popen[str], int]:
        process = subprocess.Popen(self._command(role, *extra), stdout=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            process.kill()
            raise RuntimeError(f"{role} {extra} did not start: {line!r}")
        return process, int(line.split()[1])

    @staticmethod
    def _stop(process: subprocess.Popen[str]) -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _orders(self) -> list[tuple[str, ...]]:
        return [IMPLS if index % 2 == 0 else IMPLS[::-1] for index in range(self.args.rounds)]

    # -- bulk --------------------------------------------------------------------------

    def bulk(self) -> None:
        size = self.args.bulk_mib * MiB
        for io in self.args.bulk_io.split(","):
            for suite in self.args.bulk_suites.split(","):
                rows = {way: Row(f"bulk {io} {suite} {label}", "MB/s", ">= 0.9x")
                        for way, label in (("up", "client->server"),
                                           ("down", "server->client"))}
                for order in self._orders():
                    for impl in order:
                        result = self._bulk_once(impl, io, suite, size)
                        for way, row in rows.items():
                            row.values[impl].append(result[way])
                            row.bulk_cpu[impl].append(result[f"cpu_{way}"])
                for row in rows.values():
                    self._add(row)

    def _bulk_once(self, impl: str, io: str, suite: str, size: int) -> dict[str, Any]:
        server, port = self._start_server("_bulk-server", impl, io, suite, size)
        try:
            output = subprocess.run(
                self._command("_bulk-client", impl, io, suite, size, port),
                check=True, capture_output=True, text=True, timeout=600).stdout
        finally:
            server.wait(60)
        client = json.loads(output)
        assert server.stdout is not None
        line = server.stdout.read().strip()
        server_cpu = json.loads(line.removeprefix("CPU ")) if line.startswith("CPU ") else {}
        per_mib = 1000 / (size / MiB)  # seconds for `size` -> ms per MiB
        result = {way: client[way] for way in ("up", "down")}
        # (sender, receiver): the client sends "up", the server "down".
        result["cpu_up"] = (client["cpu_send"] * per_mib,
                            server_cpu.get("receive", float("nan")) * per_mib)
        result["cpu_down"] = (server_cpu.get("send", float("nan")) * per_mib,
                              client["cpu_receive"] * per_mib)
        return result

    # -- handshakes --------------------------------------------------------------------

    def handshakes(self, kind: str, concurrencies: tuple[int, ...], modes: tuple[str, ...],
                   target: str, p99_target: str | None) -> None:
        servers = {impl: self._start_server("_echo-server", impl, kind) for impl in IMPLS}
        try:
            for mode in modes:
                for clients in concurrencies:
                    row = Row(f"{kind} {mode} x{clients}", "hs/s", target)
                    for order in self._orders():
                        for impl in order:
                            self._handshake_round(row, impl, *servers[impl], clients, mode)
                    self._add(row)
                    if p99_target is not None:
                        self._add(self._p99_row(row, p99_target))
        finally:
            for process, _ in servers.values():
                self._stop(process)

    def _handshake_round(self, row: Row, impl: str, server: subprocess.Popen[str], port: int,
                         clients: int, mode: str) -> int:
        """One measured round; returns how many connections the clients made."""
        processes = max(1, -(-clients // THREADS_PER_CLIENT_PROCESS))
        per_process = [clients // processes + (i < clients % processes)
                       for i in range(processes)]
        start = time.monotonic() + 0.3 + 0.05 * processes  # after every process is up
        cpu_before = cpu_seconds(server.pid)
        measure_from = start + self.args.warmup
        measure_until = measure_from + self.args.duration
        running = [subprocess.Popen(
            self._command("_hs-clients", port, threads, mode, start, measure_from,
                          measure_until),
            stdout=subprocess.PIPE, text=True) for threads in per_process]
        latencies: list[float] = []
        errors = full = resumed = total = 0
        client_cpu = 0.0
        for process in running:
            output, _ = process.communicate(timeout=600)
            result = json.loads(output)
            latencies += result["latencies"]
            errors += result["errors"]
            full += result["full"]
            resumed += result["resumed"]
            total += result["total"]
            client_cpu += result["cpu"]
        time.sleep(0.2)  # the server's last goodbyes
        row.server_cpu[impl].append((cpu_seconds(server.pid) - cpu_before) / max(1, total))
        row.client_cpu[impl].append(client_cpu / max(1, total))
        row.values[impl].append(len(latencies) / self.args.duration)
        row.latencies[impl] += latencies
        row.failed[impl] += errors
        if mode == "resumed":
            row.not_resumed[impl][0] += full
            row.not_resumed[impl][1] += full + resumed
        return total

    @staticmethod
    def _p99_row(row: Row, target: str) -> Row:
        p99 = Row(f"{row.case} p99 latency", "ms", target, lower_is_better=True)
        for impl in IMPLS:
            value = row.percentile(impl, 0.99)
            if value is not None:
                p99.values[impl].append(value * 1000)
        return p99

    # -- idle connections --------------------------------------------------------------

    def idle(self) -> None:
        count = self.args.idle
        row = Row(f"idle x{count} (server RSS per connection)", "KiB", "<= 0.1x",
                  lower_is_better=True)
        for impl in IMPLS:
            row.values[impl].append(self._idle_once(impl, count))
        self._add(row)

    def _idle_once(self, impl: str, count: int) -> float:
        server, port = self._start_server("_echo-server", impl, "aio")
        try:
            # Warm up first, so the baseline has every code path loaded.
            subprocess.run(self._command("_idle-clients", port, 50), check=True,
                           stdout=subprocess.DEVNULL, input="", text=True, timeout=120)
            time.sleep(0.5)
            baseline = rss_kib(server.pid)
            processes = max(1, -(-count // 2500))
            holders = [subprocess.Popen(
                self._command("_idle-clients", port,
                              count // processes + (i < count % processes)),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for i in range(processes)]
            try:
                for holder in holders:
                    assert holder.stdout is not None
                    line = holder.stdout.readline()
                    if not line.startswith("HELD "):
                        raise RuntimeError(f"idle clients failed: {line!r}")
                time.sleep(1.0)
                held = rss_kib(server.pid)
            finally:
                for holder in holders:
                    holder.communicate(timeout=120)
        finally:
            self._stop(server)
        return (held - baseline) / count

    # -- output --------------------------------------------------------------------------

    def _add(self, row: Row) -> None:
        self.rows.append(row)
        print(self._line(row), flush=True)

    def _line(self, row: Row) -> str:
        def value(impl: str) -> str:
            median = row.median(impl)
            if median is None:
                return "-"
            text = f"{median:.1f}" if median < 100 else f"{median:.0f}"
            p50, p99 = row.percentile(impl, 0.5), row.percentile(impl, 0.99)
            if p50 is not None and p99 is not None:
                text += f" ({p50 * 1000:.1f} / {p99 * 1000:.1f} ms)"
            return text

        def cpu(impl: str) -> str:
            values = row.server_cpu[impl]
            if row.bulk_cpu[impl]:
                sender = statistics.median(pair[0] for pair in row.bulk_cpu[impl])
                receiver = statistics.median(pair[1] for pair in row.bulk_cpu[impl])
                return f"{sender:.2f} + {receiver:.2f}"
            return f"{statistics.median(values) * 1000:.2f}" if values else "-"

        ratio = row.ratio()
        cells = [row.case, row.unit, value("glasstls"), value("ssl"),
                 f"{ratio:.2f}x" if ratio is not None else "-", row.target, row.met(),
                 f"{cpu('glasstls')} / {cpu('ssl')}"
                 if row.server_cpu["ssl"] or row.bulk_cpu["ssl"] else ""]
        return "| " + " | ".join(cells) + " |" + "".join(f" {note}." for note in row.notes())

    def header(self) -> str:
        return ("| case | unit | glasstls (p50 / p99) | ssl (p50 / p99) | glasstls / ssl "
                "| target | met? | CPU, glasstls / ssl: server ms/conn (handshakes), "
                "sender + receiver ms/MiB (bulk) |\n"
                "|---|---|---:|---:|---:|---|---|---:|")

    def as_json(self) -> dict[str, Any]:
        return {"rows": [{"case": r.case, "unit": r.unit, "target": r.target,
                          "values": r.values, "ratio": r.ratio(), "met": r.met(),
                          "p50_ms": {i: _ms(r.percentile(i, 0.5)) for i in IMPLS},
                          "p99_ms": {i: _ms(r.percentile(i, 0.99)) for i in IMPLS},
                          "server_cpu_ms": {i: [v * 1000 for v in r.server_cpu[i]]
                                            for i in IMPLS},
                          "client_cpu_ms": {i: [v * 1000 for v in r.client_cpu[i]]
                                            for i in IMPLS},
                          "bulk_cpu_ms_per_mib": r.bulk_cpu,
                          "notes": r.notes()} for r in self.rows],
                "args": vars(self.args), "machine": machine()}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def machine() -> dict[str, Any]:
    import cryptography

    import glasstls

    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION,
        "cryptography": cryptography.__version__, "glasstls": glasstls.__version__,
        "load": os.getloadavg(),
    }


def run(args: argparse.Namespace) -> None:
    cases = set(args.only.split(",")) if args.only else {"bulk", "aio", "threaded", "idle"}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sockets-bench-") as directory:
        pki = make_pki(directory)
        pki["dir"] = directory
        bench = Bench(args, pki)
        info = machine()
        print(f"# sockets bench, {info['date']}: {info['platform']}, {info['cpus']} CPUs, "
              f"Python {info['python']}, {info['openssl']}, cryptography "
              f"{info['cryptography']}; load average {info['load'][0]:.2f} at start")
        print(f"# {args.rounds} interleaved rounds; medians; bulk {args.bulk_mib} MiB each "
              f"way; handshakes: {args.warmup} s warm-up + {args.duration} s measured\n")
        print(bench.header(), flush=True)
        if "bulk" in cases:
            bench.bulk()
        if "aio" in cases:
            bench.handshakes("aio", (1, 16, 256), ("full", "resumed"), ">= 1.0x", None)
        if "threaded" in cases:
            bench.handshakes("threaded", (64, 200), ("full",), ">= 1.0x", "<= 1.5x")
        if "idle" in cases:
            bench.idle()
    load = os.getloadavg()[0]
    print(f"\n# took {time.monotonic() - started:.0f} s; load average {load:.2f} at the end")
    print("\n## summary\n\n" + bench.header())
    for row in bench.rows:
        print(bench._line(row))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(bench.as_json(), handle, indent=1)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ROLES:
        run_role(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 round, 32 MiB bulk, 1 s handshake windows, 1000 idle")
    parser.add_argument("--only", help="comma-separated: bulk,aio,threaded,idle")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (full: 3)")
    parser.add_argument("--bulk-mib", type=int, help="MiB each way (full: 256)")
    parser.add_argument("--duration", type=float, help="measured seconds per round (full: 4)")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (full: 1)")
    parser.add_argument("--idle", type=int, help="idle connections (full: 10000)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--bulk-io", default="blocking,asyncio",
                        help="bulk: comma-separated APIs (blocking,asyncio)")
    parser.add_argument("--bulk-suites", default=",".join(SUITES),
                        help=f"bulk: comma-separated suites ({','.join(SUITES)})")
    args = parser.parse_args()
    defaults = ({"rounds": 1, "bulk_mib": 32, "duration": 1.0, "warmup": 0.5, "idle": 1000}
                if args.quick else
                {"rounds": 3, "bulk_mib": 256, "duration": 4.0, "warmup": 1.0, "idle": 10000})
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    run(args)


if __name__ == "__main__":
    main()
