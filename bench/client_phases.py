"""Where the handshake bench's clients spend a connection, phase by phase, against
the glasstls and the ssl echo server of ``sockets.py`` in alternated rounds: what
``sockets.py``'s handshake rows cannot show when the one client process, not the
server, bounds the rate (16 clients are one process of 16 threads under one GIL).

    bench/.venv/bin/python bench/client_phases.py [--kind aio] [--mode resumed] \
        [--clients 16] [--rounds 4] [--duration 4]

The clients are ``sockets_peers.py``'s (Python's ssl, the same context), split into
the phases of ``_handshake`` and ``_goodbye``: the TCP connect, the handshake
(``wrap_socket``), the echo of the PING, and the goodbye (close_notify both ways).
Printed per round: the rate, the clients' CPU per connection, and per phase the mean
wall milliseconds and the client thread's voluntary context switches (its sleeps:
on the network, or on the GIL; ``getrusage(RUSAGE_THREAD)``) per connection, then
the server's voluntary / involuntary switches per connection (all its threads,
``/proc/PID/task/*/status``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import sockets_peers as peers  # noqa: E402

PHASES = ("connect", "handshake", "echo", "goodbye")


def _switches() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


def clients(port: int, threads: int, resumed: bool, duration: float,
            pki: dict[str, str]) -> dict[str, Any]:
    """``threads`` clients back to back for ``duration`` seconds; per phase the
    summed wall seconds and voluntary switches, and the connections made."""
    context = peers.ssl_client_context(pki)
    lock = threading.Lock()
    totals = {name: [0.0, 0] for name in PHASES}
    count = [0]
    until = time.monotonic() + duration

    def client() -> None:
        mine = {name: [0.0, 0] for name in PHASES}
        made = 0
        session = None
        while time.monotonic() < until:
            marks = [(time.monotonic(), _switches())]
            raw = socket.create_connection((peers.HOST, port), timeout=60)
            marks.append((time.monotonic(), _switches()))
            sock = context.wrap_socket(raw, server_hostname=peers.SERVER_NAME,
                                       session=session)
            marks.append((time.monotonic(), _switches()))
            sock.sendall(peers.PING)
            echoed = b""
            while len(echoed) < len(peers.PING):
                data = sock.recv(len(peers.PING) - len(echoed))
                if not data:
                    raise EOFError("the server closed before echoing")
                echoed += data
            marks.append((time.monotonic(), _switches()))
            if resumed:
                session = sock.session
            peers._goodbye(sock)
            marks.append((time.monotonic(), _switches()))
            for name, before, after in zip(PHASES, marks[:-1], marks[1:], strict=True):
                mine[name][0] += after[0] - before[0]
                mine[name][1] += after[1] - before[1]
            made += 1
        with lock:
            count[0] += made
            for name in PHASES:
                totals[name][0] += mine[name][0]
                totals[name][1] += mine[name][1]

    cpu = time.process_time()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"connections": count[0], "cpu": time.process_time() - cpu, "phases": totals}


def server_switches(pid: int) -> tuple[int, int]:
    voluntary = involuntary = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            for line in status:
                if line.startswith("voluntary_ctxt_switches"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches"):
                    involuntary += int(line.split()[1])
    return voluntary, involuntary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("aio", "threaded"), default="aio")
    parser.add_argument("--mode", choices=("full", "resumed"), default="resumed")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--client", nargs=2, metavar=("PORT", "PKI"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, directory = args.client
        print(json.dumps(clients(int(port), args.clients, args.mode == "resumed",
                                 args.duration, peers.load_pki(directory))))
        return
    with tempfile.TemporaryDirectory() as directory:
        peers.make_pki(directory)
        servers = {}
        for impl in peers.IMPLS:
            server = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "sockets.py"), "_echo-server", "--pki",
                 directory, impl, args.kind], stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL, text=True)
            assert server.stdout is not None
            servers[impl] = (server, int(server.stdout.readline().split()[1]))
        print(f"# {args.kind} {args.mode} x{args.clients}, {args.rounds} rounds of "
              f"{args.duration} s; per connection: wall ms / the client thread's "
              "voluntary switches")
        print("| server | hs/s | client CPU ms | " + " | ".join(PHASES) +
              " | server switches vol / invol |")
        print("|---|---:|---:|" + "---:|" * len(PHASES) + "---:|")
        try:
            for number in range(args.rounds):
                order = peers.IMPLS if number % 2 == 0 else peers.IMPLS[::-1]
                for impl in order:
                    server, port = servers[impl]
                    before = server_switches(server.pid)
                    done = subprocess.run(
                        [sys.executable, __file__, "--client", str(port), directory,
                         "--mode", args.mode, "--clients", str(args.clients),
                         "--duration", str(args.duration)],
                        capture_output=True, text=True, check=True)
                    after = server_switches(server.pid)
                    result = json.loads(done.stdout)
                    made = max(1, result["connections"])
                    phases = " | ".join(
                        f"{seconds / made * 1000:.2f} / {switches / made:.1f}"
                        for seconds, switches in result["phases"].values())
                    print(f"| {impl} | {result['connections'] / args.duration:.0f} | "
                          f"{result['cpu'] / made * 1000:.3f} | {phases} | "
                          f"{(after[0] - before[0]) / made:.2f} / "
                          f"{(after[1] - before[1]) / made:.2f} |", flush=True)
        finally:
            for server, _ in servers.values():
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
