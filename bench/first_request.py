"""How long a Python-ssl client's first request waits after its handshake, against
each glasstls server and ssl's: the time from the end of the client's handshake to
the echo of its first 4 bytes, per case, median and maximum over the connections.

    bench/.venv/bin/python bench/first_request.py [--src src] [--n 20]

The client is Python's ssl with Nagle's algorithm on (its default): it holds its
request until its last handshake flight is acknowledged. The cases are the ones
where the server sends nothing after that flight (a TLS 1.2 resumption; TLS 1.3
with no session tickets) beside TLS 1.3 with tickets, whose segment is that
acknowledgement. Each connection resumes the last one's session (TLS 1.2 resumes;
TLS 1.3 resumes when there are tickets). Servers: glasstls's serve(), a server
socket of glasstls's SSLContext, glasstls.aio.start_server, and ssl's
thread-per-client server (the sockets bench's), all in this process. A second table
has glasstls's client (``glasstls.connect()``) beside Python's against ssl's server:
a TLS 1.2 resumption's last flight is the client's own Finished.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = (("TLS 1.3, 2 tickets", "1.3", 2), ("TLS 1.3, no tickets", "1.3", 0),
         ("TLS 1.2, resumed", "1.2", 2))


def echo_once(read: Callable[[], bytes], write: Callable[[bytes], Any]) -> None:
    data = read()
    if data:
        write(data)


def tls_versions(context: Any, version: str) -> None:
    tls = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
    context.minimum_version = context.maximum_version = tls


def accept_forever(listener: socket.socket, serve_one: Callable[[socket.socket], None]) -> None:
    """A thread per connection, as the sockets bench's ssl server."""
    def run() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(raw,), daemon=True).start()

    threading.Thread(target=run, daemon=True).start()


def start(kind: str, pki: dict[str, str], version: str, tickets: int) -> Callable[[], int]:
    """A server of ``kind`` on a free port; returns what gives its port."""
    import glasstls
    from glasstls import aio
    from glasstls.constants import TLS12, TLS13

    if kind in ("ssl", "glasstls SSLContext"):
        if kind == "ssl":
            context: Any = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        else:
            context = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki["cert"], pki["key"])
        tls_versions(context, version)
        context.num_tickets = tickets
        listener = socket.create_server(("127.0.0.1", 0))

        def serve_one(raw: socket.socket) -> None:
            try:
                with context.wrap_socket(raw, server_side=True) as sock:
                    echo_once(lambda: sock.recv(100), sock.sendall)
            except OSError:
                pass

        accept_forever(listener, serve_one)
        return lambda: int(listener.getsockname()[1])
    certified = glasstls.CertifiedKey.from_files(pki["cert"], pki["key"])
    versions = (TLS12,) if version == "1.2" else (TLS13,)
    config = glasstls.ServerConfig(certificates=(certified,), versions=versions,
                                   tickets=tickets)
    if kind == "glasstls serve()":
        server = glasstls.serve(("127.0.0.1", 0), lambda sock, address: echo_once(
            lambda: sock.recv(100), sock.sendall), config=config)
        return lambda: int(server.address[1])
    ports: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(data)
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await aio.start_server(handler, "127.0.0.1", 0, config=config)
        ports.append(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    while not ports:
        time.sleep(0.01)
    return lambda: ports[0]


def client(kind: str, ca: str, version: str) -> Callable[[int, Any], Any]:
    """What connects (port, session) -> a TLS socket: Python's ssl, or glasstls.connect()."""
    if kind == "ssl":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca)
        tls_versions(context, version)
        return lambda port, session: context.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="localhost",
            session=session)
    import glasstls
    from glasstls.constants import TLS12, TLS13

    with open(ca, "rb") as handle:
        trust = glasstls.TrustStore.from_pem(handle.read())
    config = glasstls.ClientConfig(trust=trust,
                                   versions=(TLS12,) if version == "1.2" else (TLS13,))
    return lambda port, session: glasstls.connect(
        ("127.0.0.1", port), config=config, server_hostname="localhost", session=session)


def waits(port: int, ca: str, version: str, count: int, kind: str = "ssl"
          ) -> tuple[list[float], int]:
    """Seconds from each connection's handshake to its echo, and how many resumed."""
    connect = client(kind, ca, version)
    session = None
    seconds, resumed = [], 0
    for index in range(count + 1):  # the first one only makes a session
        with connect(port, session) as sock:
            started = time.perf_counter()
            sock.sendall(b"ping")
            assert sock.recv(100) == b"ping"
            if index:
                seconds.append(time.perf_counter() - started)
                resumed += sock.session_reused
            session = sock.session
    return seconds, resumed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", help="the glasstls tree to import (default: installed)")
    parser.add_argument("--n", type=int, default=20, help="connections per case")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, os.path.abspath(args.src))
    sys.path.insert(0, HERE)
    from sockets_peers import make_pki

    def row(label: str, server: str, client_kind: str) -> None:
        cells = []
        for _, version, tickets in CASES:
            port = start(server, pki, version, tickets)()
            seconds, resumed = waits(port, pki["ca"], version, args.n, client_kind)
            cells.append(f"{statistics.median(seconds) * 1e3:.2f} / "
                         f"{max(seconds) * 1e3:.2f} ({resumed} resumed)")
        print(f"| {label} | " + " | ".join(cells) + " |")

    header = " | ".join(name for name, _, _ in CASES)
    with tempfile.TemporaryDirectory() as pki_dir:
        pki = make_pki(pki_dir)
        print(f"# first request after the handshake, Python ssl client (Nagle on), {args.n} "
              "connections per case; ms, median / max")
        print(f"| server | {header} |\n|---|" + "---:|" * len(CASES))
        for kind in ("glasstls serve()", "glasstls SSLContext", "glasstls aio", "ssl"):
            row(kind, kind, "ssl")
        print(f"\n# the same against ssl's server, by client\n| client | {header} |\n|---|"
              + "---:|" * len(CASES))
        for kind in ("glasstls connect()", "ssl"):
            row(kind, "ssl", kind)


if __name__ == "__main__":
    main()
