"""How a ``TLSSocket`` reads and closes, in system calls: a server takes the
client's first flight in one read and a ChangeCipherSpec with the record after it
(never reading past the end of the handshake), and a close sends close_notify
without changing the socket's timeout when the socket takes it at once."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from io_helpers import client_config, glass_context

import glasstls
from glasstls.constants import TLS12, TLS13


@contextlib.contextmanager
def recorded_recvs(sock: socket.socket) -> Iterator[list[tuple[int, int, int | str]]]:
    """(size asked, flags, bytes returned or the error) of each recv on ``sock``."""
    calls: list[tuple[int, int, int | str]] = []
    original = socket.socket.recv

    def recv(self: socket.socket, size: int, flags: int = 0) -> bytes:
        if self is not sock:
            return original(self, size, flags)
        try:
            data = original(self, size, flags)
        except OSError as error:
            calls.append((size, flags, type(error).__name__))
            raise
        calls.append((size, flags, len(data)))
        return data

    socket.socket.recv = recv  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        socket.socket.recv = original  # type: ignore[method-assign]


@pytest.mark.parametrize("version", [TLS13, TLS12], ids=["TLS1.3", "TLS1.2"])
def test_a_server_reads_each_client_flight_in_one_call_and_no_further(
        files: dict[str, Path], version: int) -> None:
    server_context = glass_context(files, version, server=True)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        accepted.setblocking(False)
        tls = server_context.wrap_socket(accepted, server_side=True,
                                         do_handshake_on_connect=False)
        client = glasstls.ClientConnection(client_config(version), server_name="localhost")
        with plain, tls, recorded_recvs(tls) as calls:
            hello = client.data_to_send()
            plain.sendall(hello)
            select.select([tls], [], [], 10)
            with pytest.raises(ssl.SSLWantReadError):
                tls.do_handshake()
            # The whole ClientHello in one read, nothing looked at first, and no
            # read that could only fail once it was taken.
            assert [(flags, count) for _, flags, count in calls] == [(0, len(hello))]
            calls.clear()
            tls.setblocking(True)
            done = threading.Thread(target=tls.do_handshake)
            done.start()
            while not client.handshake_complete:
                if outgoing := client.data_to_send():
                    plain.sendall(outgoing)  # (TLS 1.2: the key exchange and Finished)
                client.receive_data(plain.recv(65536))
            client.send(b"first request")
            plain.sendall(client.data_to_send())  # (TLS 1.3: CCS, Finished and data at once)
            done.join(10)
            assert tls.version() is not None
            if version == TLS13:
                # The compatibility ChangeCipherSpec and the Finished after it: one read.
                assert len([call for call in calls if not call[1] & socket.MSG_PEEK]) == 1
            readable, _, _ = select.select([tls], [], [], 5)
            assert readable == [tls], "the data was read past, where select() cannot see it"
            assert tls.recv(100) == b"first request"


@contextlib.contextmanager
def connected_pair(files: dict[str, Path]) -> Iterator[tuple[Any, Any]]:
    """(client, server) ``TLSSocket``s, blocking, TLS 1.3, handshake done."""
    server_context = glass_context(files, TLS13, server=True)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = glass_context(files, TLS13).wrap_socket(
            socket.create_connection(listener.getsockname()), server_hostname="localhost",
            do_handshake_on_connect=False)
        accepted, _ = listener.accept()
        handshake = threading.Thread(target=client.do_handshake)
        handshake.start()
        tls = server_context.wrap_socket(accepted, server_side=True)
        handshake.join(10)
        with client, tls:
            yield client, tls


def test_close_on_a_blocking_socket_sends_close_notify_and_keeps_its_timeout(
        files: dict[str, Path]) -> None:
    with connected_pair(files) as (client, tls):
        tls.sendall(b"bye")
        timeouts: list[Any] = []
        original = socket.socket.settimeout

        def settimeout(self: socket.socket, value: Any) -> None:
            if self is tls:
                timeouts.append(value)
            original(self, value)

        socket.socket.settimeout = settimeout  # type: ignore[method-assign]
        try:
            tls.close()
        finally:
            socket.socket.settimeout = original  # type: ignore[method-assign]
        assert timeouts == []
        assert client.recv(10) == b"bye"
        assert client.recv(10) == b""  # close_notify: a clean end


def test_close_is_bounded_when_the_peer_reads_nothing(files: dict[str, Path]) -> None:
    """The socket cannot take the close_notify at once: close() waits for it at most
    the close timeout, then closes anyway (the peer sees a truncation)."""
    server_context = glass_context(files, TLS13, server=True)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.socket()
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        plain.connect(listener.getsockname())
        accepted, _ = listener.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        connection = glasstls.ClientConnection(client_config(TLS13), server_name="localhost")
        tls = server_context.wrap_socket(accepted, server_side=True,
                                         do_handshake_on_connect=False)
        with plain:
            plain.sendall(connection.data_to_send())
            done = threading.Thread(target=tls.do_handshake)
            done.start()
            while not connection.handshake_complete:
                connection.receive_data(plain.recv(65536))
            plain.sendall(connection.data_to_send())
            done.join(10)
            # Fill both buffers: the client reads nothing more.
            tls.setblocking(False)
            with contextlib.suppress(ssl.SSLWantWriteError):
                while True:
                    tls.send(b"x" * 16384)
            tls.setblocking(True)
            closing = threading.Thread(target=tls.close)
            closing.start()
            closing.join(30)
            assert not closing.is_alive(), "close() waited for a peer that never reads"
            assert tls.fileno() == -1


def test_close_after_the_peers_close_notify_reads_nothing_more(
        files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing follows a close_notify: closing then does not look for unread data."""
    with connected_pair(files) as (client, tls):
        client.sendall(b"last words")
        client.shutdown(socket.SHUT_WR)  # close_notify; the client still reads
        received = b""
        while data := tls.recv(100):
            received += data
        assert received == b"last words"
        looks: list[Any] = []
        monkeypatch.setattr(glasstls.io.sockets, "_ready",
                            lambda *args: looks.append(args) or False)
        with recorded_recvs(tls) as calls:
            tls.close()
        assert looks == [] and calls == []
        assert client.recv(10) == b""  # and ours arrived: a clean end
