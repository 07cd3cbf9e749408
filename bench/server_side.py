"""The server's side alone, in memory: glasstls's ``ServerConnection`` beside ssl's
server (``SSLContext.wrap_bio(server_side=True)``), each against the same client, the
sockets bench's Python-ssl client context (so the same ClientHello as over sockets).
Per connection: a full TLS 1.3 handshake, a 16-byte echo and close_notify both ways,
as the sockets bench's echo servers serve them; only the time inside the server's
calls is counted, never the client's.

    bench/.venv/bin/python bench/server_side.py [--src src] [--n 300] [--rounds 6]

Why: ``tlsbench`` times both ends of a pair, and glasstls's client is the faster half
of its pair; over sockets the clients are always Python's ssl, so what a glasstls
server competes with there is OpenSSL's server side alone. Rounds alternate the two;
printed are the minimum and the median microseconds per connection over the rounds,
the ratio of the minima, and the fastest round's split by phase.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PING = b"PING" * 4  # as engine_server_bytecodes.connection, glasstls's side


PHASES = ("setup", "flight", "finished", "close")


class Clock:
    """Seconds spent inside the calls it runs, in all and by phase of the connection
    (``phase``: the connection object's making, ClientHello to flight, the client's
    Finished and PING to the tickets and echo, close_notify to close_notify)."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.phase = PHASES[0]
        self.by_phase = dict.fromkeys(PHASES, 0.0)

    def enter(self, phase: str) -> None:
        self.phase = phase

    def run(self, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return call()
        finally:
            spent = time.perf_counter() - started
            self.spent += spent
            self.by_phase[self.phase] += spent


def glasstls_connection(clock: Clock, config: Any, context: ssl.SSLContext) -> None:
    from engine_server_bytecodes import connection

    clock.phase = "setup"
    connection(config, context, clock, phase=clock.enter)  # a Clock runs calls as a Tracer does


def ssl_connection(clock: Clock, server_context: ssl.SSLContext,
                   context: ssl.SSLContext) -> None:
    to_client, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    to_server, from_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(to_client, from_client, server_hostname="localhost")
    clock.phase = "setup"
    server = clock.run(lambda: server_context.wrap_bio(to_server, from_server,
                                                       server_side=True))

    def carry(source: ssl.MemoryBIO, sink: ssl.MemoryBIO) -> None:
        data = source.read()
        if data:
            sink.write(data)

    def handshake() -> None:
        with contextlib.suppress(ssl.SSLWantReadError):
            server.do_handshake()

    def echo() -> None:
        server.write(server.read(100))

    def close() -> None:
        with contextlib.suppress(ssl.SSLError):
            server.read(100)  # the close_notify
        with contextlib.suppress(ssl.SSLError):
            server.unwrap()  # ours

    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    carry(from_client, to_server)
    clock.phase = "flight"
    clock.run(handshake)  # ClientHello -> the flight
    carry(from_server, to_client)
    client.do_handshake()
    client.write(PING)
    carry(from_client, to_server)
    clock.phase = "finished"
    clock.run(handshake)  # Finished -> tickets
    clock.run(echo)
    carry(from_server, to_client)
    assert client.read(100) == PING
    with contextlib.suppress(ssl.SSLWantReadError):
        client.unwrap()
    carry(from_client, to_server)
    clock.phase = "close"
    clock.run(close)
    carry(from_server, to_client)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", help="the glasstls tree to import (default: installed)")
    parser.add_argument("--n", type=int, default=300, help="connections per round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, os.path.abspath(args.src))
    sys.path.insert(0, HERE)
    import sockets_peers as peers

    with tempfile.TemporaryDirectory() as pki_dir:
        pki = peers.make_pki(pki_dir)
        client_context = peers.ssl_client_context(pki)
        config = peers.glasstls_server_config(pki)
        server_context = peers.ssl_server_context(pki)
        cases: dict[str, Callable[[Clock], None]] = {
            "glasstls": lambda clock: glasstls_connection(clock, config, client_context),
            "ssl": lambda clock: ssl_connection(clock, server_context, client_context),
        }
        spent: dict[str, list[float]] = {name: [] for name in cases}
        phases: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
        for index in range(args.rounds):
            order = list(cases) if index % 2 == 0 else list(reversed(cases))
            for name in order:
                for _ in range(20):  # warm-up
                    cases[name](Clock())
                clock = Clock()
                for _ in range(args.n):
                    cases[name](clock)
                spent[name].append(clock.spent / args.n * 1e6)
                phases[name].append({phase: seconds / args.n * 1e6
                                     for phase, seconds in clock.by_phase.items()})
    print(f"# server side only, in memory: {args.rounds} rounds of {args.n} connections "
          f"(full TLS 1.3 handshake, 16-byte echo, close_notify both ways)")
    for name, values in spent.items():
        print(f"{name:9s} {min(values):7.1f} us/conn min, {statistics.median(values):7.1f} "
              f"median ({', '.join(f'{value:.0f}' for value in values)})")
    print(f"glasstls / ssl time (minima): {min(spent['glasstls']) / min(spent['ssl']):.3f}")
    print("by phase, us/conn in each one's fastest round: " + ", ".join(PHASES))
    for name, rounds in phases.items():
        fastest = rounds[spent[name].index(min(spent[name]))]
        print(f"{name:9s} " + " ".join(f"{fastest[phase]:7.1f}" for phase in PHASES))


if __name__ == "__main__":
    main()
