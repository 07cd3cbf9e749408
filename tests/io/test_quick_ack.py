"""A server that sends nothing after the client's last handshake flight asks Linux to
acknowledge that flight at once (TCP_QUICKACK): a TLS 1.2 resumption (the server's
Finished went first) and TLS 1.3 with no session tickets. A client with Nagle's
algorithm on (Python's ssl, by default) holds its first data until the flight is
acknowledged, and the delayed acknowledgement comes ~40 ms later; OpenSSL's servers
leave it so. Linux reports TCP_QUICKACK as on until the server next sends, so each
server below looks before it writes anything.

The three servers: glasstls.serve(), a server-side socket of glasstls's SSLContext,
and glasstls.aio.start_server. (serve() with TLS 1.3 is test_server_tickets.py's.)

The client side of the same stall: a TLS 1.2 resumption's last flight is the client's
Finished, which OpenSSL's servers leave to the delayed acknowledgement. So
glasstls.connect() turns Nagle's algorithm off (TCP_NODELAY), as serve() and asyncio
do, and its request goes at once; so does the command-line client."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    SSL_VERSIONS,
    VERSION_NAMES,
    client_config,
    glass_context,
    python_tls_listener,
    server_config,
)

import glasstls
from glasstls import TLSSocket
from glasstls.constants import TLS12, TLS13
from glasstls.io import aio

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"),
                                reason="TCP_QUICKACK is Linux's")

# (version, tickets, connections): the last connection is the one looked at; with
# TLS 1.2 it resumes the first one's session.
CASES = [pytest.param(TLS12, 2, 2, id="TLS1.2-resumed"),
         pytest.param(TLS13, 0, 1, id="TLS1.3-no-tickets")]


def quick_ack(sock: Any) -> int:
    return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK))


def python_client_context(version: int) -> ssl.SSLContext:
    """Python's ssl, for one version (its sessions resume only on the same context)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = SSL_VERSIONS[version]
    return context


def python_client(context: ssl.SSLContext, port: int, session: ssl.SSLSession | None
                  ) -> tuple[str, bool, ssl.SSLSession | None]:
    """A Python ssl client (Nagle on) resuming ``session`` if given: it echoes a ping
    and closes. Its version, whether it resumed, and its session."""
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=PATIENCE),
                             session=session) as sock:
        sock.sendall(b"ping")
        assert sock.recv(100) == b"ping"
        return sock.version() or "", sock.session_reused, sock.session


def python_clients(port: int, version: int, connections: int) -> list[tuple[str, bool]]:
    """``python_client`` ``connections`` times, each resuming the last one's session."""
    context = python_client_context(version)
    seen = []
    session = None
    for _ in range(connections):
        name, resumed, session = python_client(context, port, session)
        seen.append((name, resumed))
    return seen


def expected(version: int, connections: int) -> list[tuple[str, bool]]:
    return [(VERSION_NAMES[version], index > 0) for index in range(connections)]


def echo_once(read: Callable[[], bytes], write: Callable[[bytes], Any]) -> None:
    data = read()
    if data:
        write(data)


@pytest.mark.parametrize(("version", "tickets", "connections"), CASES[:1])
def test_serve(version: int, tickets: int, connections: int) -> None:
    looks: list[int] = []

    def handler(sock: TLSSocket, address: Any) -> None:
        looks.append(quick_ack(sock))
        echo_once(lambda: sock.recv(100), sock.sendall)

    server = glasstls.serve(("127.0.0.1", 0), handler,
                            config=server_config(version, tickets=tickets))
    try:
        assert python_clients(server.address[1], version, connections) == (
            expected(version, connections))
    finally:
        server.close(abort_connections=True)
    assert looks[-1] == 1


def context_server_looks(files: dict[str, Path], version: int, tickets: int,
                         connections: int) -> list[int]:
    """Connections served one by one on server sockets of glasstls's SSLContext (the
    handshake in wrap_socket), each resuming the last one's session: each one's look
    at TCP_QUICKACK right after the handshake."""
    context = glass_context(files, version, server=True)
    context.num_tickets = tickets
    looks: list[int] = []

    def handler(sock: ssl.SSLSocket) -> None:
        looks.append(quick_ack(sock))
        echo_once(lambda: sock.recv(100), sock.sendall)

    serve_one_by_one(files, context, handler, version, connections)
    return looks


def serve_one_by_one(files: dict[str, Path], context: Any, handler: Callable[[Any], None],
                     version: int, connections: int) -> None:
    """``connections`` Python ssl clients (``python_client``), each served alone by
    ``handler`` on a server socket of ``context`` and resuming the one before."""
    client = python_client_context(version)
    session = None
    for index in range(connections):
        with python_tls_listener(files, handler, context=context) as port:
            name, resumed, session = python_client(client, port, session)
        assert (name, resumed) == expected(version, connections)[index]


@pytest.mark.parametrize(("version", "tickets", "connections"), CASES)
def test_ssl_context_server_socket(files: dict[str, Path], version: int, tickets: int,
                                   connections: int) -> None:
    assert context_server_looks(files, version, tickets, connections)[-1] == 1


@pytest.mark.parametrize(("version", "tickets", "connections"), CASES)
def test_asyncio_server(version: int, tickets: int, connections: int) -> None:
    async def main() -> tuple[list[tuple[str, bool]], list[int]]:
        looks: list[int] = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            looks.append(quick_ack(writer.get_extra_info("socket")))
            data = await reader.read(100)
            writer.write(data)
            await writer.drain()
            writer.close()

        server = await aio.start_server(handler, "127.0.0.1", 0,
                                        config=server_config(version, tickets=tickets))
        async with server:
            port = server.sockets[0].getsockname()[1]
            seen = await asyncio.wait_for(
                asyncio.to_thread(python_clients, port, version, connections), PATIENCE)
        return seen, looks

    seen, looks = asyncio.run(main())
    assert seen == expected(version, connections)
    assert looks[-1] == 1


def test_a_flight_answered_gets_no_quick_ack_request(files: dict[str, Path]) -> None:
    # A full TLS 1.2 handshake: our ChangeCipherSpec and Finished answer the client's
    # last flight, and their segment acknowledges it; no system call is spent.
    assert context_server_looks(files, TLS12, 2, 1) == [0]


def test_connect_turns_nagle_off(files: dict[str, Path]) -> None:
    def handler(sock: ssl.SSLSocket) -> None:
        echo_once(lambda: sock.recv(100), sock.sendall)

    with python_tls_listener(files, handler, version=TLS12) as port, glasstls.connect(
            ("127.0.0.1", port), config=client_config(TLS12), server_hostname="localhost",
            timeout=PATIENCE) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        sock.sendall(b"ping")
        assert sock.recv(100) == b"ping"


def test_the_cli_client_turns_nagle_off(files: dict[str, Path]) -> None:
    import argparse

    from glasstls.cli.client import open_connection

    def handler(sock: ssl.SSLSocket) -> None:
        echo_once(lambda: sock.recv(100), sock.sendall)

    args = argparse.Namespace(timeout=PATIENCE, starttls=None)
    with python_tls_listener(files, handler, version=TLS12) as port, open_connection(
            args, "127.0.0.1", port, client_config(TLS12), "localhost", None,
            output=None) as sock:  # no STARTTLS: nothing to show
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        sock.sendall(b"ping")
        assert sock.recv(100) == b"ping"
