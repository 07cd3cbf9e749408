"""glasstls.serve() leaves a TLS 1.3 connection's session tickets (RFC 8446 §4.6.1:
any time after the client's Finished) to go with the handler's first write, in the
same send: the client wakes once for both. They go before the handler waits to read,
and before close_notify when it never writes. TLS 1.2's last flight is the
handshake's own and goes from the loop, as before."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from io_helpers import client_config, echo, server_config, serving

import glasstls
from glasstls import TLSSocket
from glasstls.constants import TLS12

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)


def records(data: bytes) -> list[tuple[int, int]]:
    """The (content type, length) of each whole TLS record in ``data``."""
    found = []
    while len(data) >= 5:
        length = int.from_bytes(data[3:5], "big")
        found.append((data[0], length))
        data = data[5 + length:]
    assert not data, "a send ended inside a record"
    return found


@pytest.fixture
def server_sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bytes]]]:
    """Every send system call of a server-side TLSSocket: (thread name, bytes)."""
    sends: list[tuple[str, bytes]] = []
    real_send, real_sendall = socket.socket.send, socket.socket.sendall

    def note(sock: socket.socket, data: Any) -> None:
        if isinstance(sock, TLSSocket) and sock.server_side:
            sends.append((threading.current_thread().name, bytes(data)))

    def send(self: socket.socket, data: Any, *args: Any) -> int:
        sent = real_send(self, data, *args)
        note(self, memoryview(data)[:sent])
        return sent

    def sendall(self: socket.socket, data: Any, *args: Any) -> None:
        real_sendall(self, data, *args)
        note(self, data)

    monkeypatch.setattr(socket.socket, "send", send)
    monkeypatch.setattr(socket.socket, "sendall", sendall)
    yield sends


def echo_once_readable(sock: TLSSocket, address: Any) -> None:
    """``echo``, once the client's data is there (else the first read, finding
    nothing, would send the tickets before it waits)."""
    select.select([sock], [], [], PATIENCE)
    echo(sock, address)


def test_the_tickets_go_in_the_same_send_as_the_handlers_first_write(
        server_sends: list[tuple[str, bytes]]) -> None:
    with serving(echo_once_readable) as server, glasstls.connect(
            server.address, config=client_config(), server_hostname="localhost",
            timeout=PATIENCE) as sock:
        sock.sendall(b"ping")
        assert sock.recv(100) == b"ping"
        assert sock.version() == "TLSv1.3"
        assert sock.session is not None  # the tickets came
    loop = [data for thread, data in server_sends if thread == "glasstls-server"]
    worker = [data for thread, data in server_sends if thread.startswith("glasstls-worker")]
    assert len(loop) == 1  # the flight, ServerHello to Finished; no tickets
    # The handler's first write: the NewSessionTickets (the default two, in one
    # record) and the echo, in one send. Encrypted records (content type 23); the
    # echo's holds its 4 bytes, the inner content type and the 16-byte tag.
    assert server_config().tickets == 2
    (tickets, tickets_length), (data, data_length) = records(worker[0])
    assert (tickets, data, data_length) == (23, 23, 4 + 1 + 16)
    assert tickets_length > 2 * 100  # two tickets' worth
    # Then close_notify (after the client's), alone.
    assert [len(records(data)) for data in worker[1:]] == [1]


@pytest.mark.parametrize("timeout", [None, 0.0, PATIENCE])
def test_the_tickets_go_before_the_handler_waits_to_read(timeout: float | None) -> None:
    # The client sends nothing until it has a ticket: the handler reads first, and
    # the tickets must not wait for a write that will never come. (With a timeout,
    # Python's recv() waits for data before it reads; non-blocking, it never waits.)
    def nonblocking_echo(sock: TLSSocket, address: Any) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except ssl.SSLWantReadError:
                select.select([sock], [], [], PATIENCE)
                continue
            if not data:
                return
            sock.sendall(data)

    with serving(nonblocking_echo if timeout == 0.0 else echo, timeout=timeout) as server, \
            glasstls.connect(
            server.address, config=client_config(), server_hostname="localhost",
            timeout=0.05) as sock:
        for _ in range(PATIENCE * 20):
            with contextlib.suppress(TimeoutError):
                sock.recv(100)
            if sock.session is not None:
                break
        assert sock.session is not None
        sock.settimeout(PATIENCE)
        sock.sendall(b"now")
        assert sock.recv(100) == b"now"


def test_a_handler_that_never_writes_sends_the_tickets_before_close_notify(
        server_sends: list[tuple[str, bytes]]) -> None:
    def leave(sock: TLSSocket, address: Any) -> None:
        pass

    with serving(leave) as server, glasstls.connect(
            server.address, config=client_config(), server_hostname="localhost",
            timeout=PATIENCE) as sock:
        assert sock.recv(100) == b""  # close_notify
        assert sock.session is not None
    worker = [data for thread, data in server_sends if thread.startswith("glasstls-worker")]
    # The tickets' record, then close_notify's (2 bytes, the content type, the tag).
    sent = [record for data in worker for record in records(data)]
    assert len(sent) == 2 and sent[0][1] > 2 * 100 and sent[1] == (23, 2 + 1 + 16)


@pytest.mark.parametrize("tickets", [2, 0])
def test_a_client_with_nagle_gets_its_finished_acknowledged_before_any_write(
        tickets: int) -> None:
    # Python's ssl leaves Nagle's algorithm on: its first data after its Finished
    # waits until the Finished is acknowledged. The tickets used to be that
    # acknowledgement; now the server asks the kernel for it (TCP_QUICKACK), which
    # Linux reports as on until the server next sends. (With no tickets, nothing
    # ever acknowledged it at once.)
    if not hasattr(socket, "TCP_QUICKACK"):
        pytest.skip("TCP_QUICKACK is Linux's")
    quick: list[int] = []

    def look(sock: TLSSocket, address: Any) -> None:
        quick.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK))
        echo(sock, address)

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    server = glasstls.serve(("127.0.0.1", 0), look, config=server_config(tickets=tickets))
    try:
        with context.wrap_socket(
                socket.create_connection(server.address, timeout=PATIENCE)) as sock:
            sock.sendall(b"ping")
            assert sock.recv(100) == b"ping"
            assert sock.version() == "TLSv1.3"
    finally:
        server.close(abort_connections=True)
    assert quick == [1]


def test_tls12s_last_flight_goes_from_the_loop(server_sends: list[tuple[str, bytes]]) -> None:
    server = glasstls.serve(("127.0.0.1", 0), echo, config=server_config(TLS12))
    try:
        with glasstls.connect(server.address, config=client_config(TLS12),
                              server_hostname="localhost", timeout=PATIENCE) as sock:
            sock.sendall(b"ping")
            assert sock.recv(100) == b"ping"
            assert sock.version() == "TLSv1.2"
    finally:
        server.close(abort_connections=True)
    loop = [data for thread, data in server_sends if thread == "glasstls-server"]
    # The flight to ServerHelloDone, then NewSessionTicket, ChangeCipherSpec and
    # Finished once the client's Finished came.
    assert len(loop) == 2
    assert [kind for kind, _ in records(loop[1])] == [22, 20, 22]
