"""One step of serve()'s loop on a handshake (``TLSSocket._loop_handshake``): it
answers what the socket holds and says whether the handshake is done, returning
False (not raising) when it waits for the client, with the same reads as
``do_handshake()``: the ClientHello in one read, the client's last flight and no
further (its first application data stays in the kernel for the handler)."""

from __future__ import annotations

import errno
import select
import socket
import ssl
from typing import Any

import pytest
from io_helpers import client_config, server_config
from test_handshake_reads import recorded_recvs

import glasstls
from glasstls import TLSSocket
from glasstls.constants import TLS12, TLS13
from glasstls.io.channel import TLSChannel


def accepted_server(listener: socket.socket, version: int) -> TLSSocket:
    fd, _ = listener._accept()  # type: ignore[attr-defined]
    config = server_config(version)
    return TLSSocket._accepted(fd, listener.family, listener.proto,
                               lambda: TLSChannel.server(config))


@pytest.mark.parametrize("version", [TLS13, TLS12], ids=["TLS1.3", "TLS1.2"])
def test_a_loop_step_returns_false_while_waiting_and_true_once_done(version: int) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        tls = accepted_server(listener, version)
        client = glasstls.ClientConnection(client_config(version), server_name="localhost")
        with plain, tls, recorded_recvs(tls) as calls:
            with pytest.raises(ssl.SSLWantReadError):  # nothing came yet
                tls._loop_handshake()
            hello = client.data_to_send()
            plain.sendall(hello)
            select.select([tls], [], [], 10)
            calls.clear()
            assert tls._loop_handshake() is False
            assert [(flags, count) for _, flags, count in calls] == [
                (socket.MSG_DONTWAIT, len(hello))]
            # The server's flight was sent: the client answers it (TLS 1.3: its CCS,
            # Finished and first request at once; TLS 1.2: its key exchange, CCS and
            # Finished, and the request once the server's Finished came).
            while not (answer := client.data_to_send()):
                client.receive_data(plain.recv(65536))
            if client.handshake_complete:
                client.send(b"first request")
                answer += client.data_to_send()
            plain.sendall(answer)
            select.select([tls], [], [], 10)
            assert tls._loop_handshake() is True
            assert tls.version() is not None
            while not client.handshake_complete:
                client.receive_data(plain.recv(65536))
                if client.handshake_complete:
                    client.send(b"first request")
                    plain.sendall(client.data_to_send())
            readable, _, _ = select.select([tls], [], [], 5)
            assert readable == [tls], "the data was read past, where select() cannot see it"
            tls._leave_loop(None)
            assert tls.recv(100) == b"first request"


def test_a_loop_step_sends_what_the_socket_takes_and_the_rest_at_the_next_step() -> None:
    """A socket that takes 100 bytes a call and is full every other call: each
    full socket is an SSLWantWriteError, and the flight arrives whole, in order."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        tls = accepted_server(listener, TLS13)
        client = glasstls.ClientConnection(client_config(TLS13), server_name="localhost")
        original = socket.socket.send
        calls = [0]

        def send(self: socket.socket, data: Any, flags: int = 0) -> int:
            if self is not tls:
                return original(self, data, flags)
            calls[0] += 1
            if calls[0] % 2:
                raise BlockingIOError(errno.EAGAIN, "full")
            return original(self, memoryview(data)[:100], flags)

        with plain, tls:
            plain.sendall(client.data_to_send())
            select.select([tls], [], [], 10)
            socket.socket.send = send  # type: ignore[method-assign]
            try:
                full = 0
                while True:
                    try:
                        assert tls._loop_handshake() is False
                        break
                    except ssl.SSLWantWriteError:
                        full += 1
            finally:
                socket.socket.send = original  # type: ignore[method-assign]
            assert full > 2  # (a flight of several hundred bytes, 100 at a time)
            while not (answer := client.data_to_send()):
                client.receive_data(plain.recv(65536))
            assert client.handshake_complete
            plain.sendall(answer)
            select.select([tls], [], [], 10)
            assert tls._loop_handshake() is True


def test_a_step_after_a_full_socket_sends_first_and_reads_only_once_all_is_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        tls = accepted_server(listener, TLS13)
        client = glasstls.ClientConnection(client_config(TLS13), server_name="localhost")
        with plain, tls, recorded_recvs(tls) as calls:
            plain.sendall(client.data_to_send())
            select.select([tls], [], [], 10)

            def full(flags: int, timeout: float | None, deadline: float | None) -> None:
                raise ssl.SSLWantWriteError("the socket takes nothing now")

            tls._send_queued = full  # type: ignore[method-assign]
            with pytest.raises(ssl.SSLWantWriteError):
                tls._loop_handshake()  # the ClientHello read, its answer queued
            del tls._send_queued
            assert tls._out and len(calls) == 1
            calls.clear()
            # The step that the socket's writability wakes: it sends, then stops
            # (the ClientHello's read emptied the kernel), with no read.
            assert tls._loop_handshake() is False
            assert not tls._out and calls == []
            while not client.handshake_complete:
                client.receive_data(plain.recv(65536))
            plain.sendall(client.data_to_send())
            select.select([tls], [], [], 10)
            assert tls._loop_handshake() is True


@pytest.mark.parametrize("wire, read", [
    # A ChangeCipherSpec and the record after it, whole: read together.
    (b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x00\x35" + bytes(53), 6 + 58),
    # ... the record after it not all there yet: the ChangeCipherSpec alone.
    (b"\x14\x03\x03\x00\x01\x01" + b"\x17\x03\x03\x00\x35" + bytes(20), 6),
    # One record, and the next one's header.
    (b"\x16\x03\x03\x00\x04" + bytes(4) + b"\x17\x03\x03", 9),
    # A record not all there: as much as came.
    (b"\x16\x03\x03\x01\x00" + bytes(100), 105),
    # No TLS: all of it.
    (b"SSH-2.0-OpenSSH_9.6\r\n", 21),
])
def test_a_read_sized_by_a_look_at_the_headers_leaves_the_boundary_the_walk_does(
        wire: bytes, read: int) -> None:
    from glasstls.io.sockets import _RecordBoundary

    ours, theirs = socket.socketpair()
    tls = TLSSocket._accepted(ours.detach(), socket.AF_UNIX, 0,
                              lambda: TLSChannel.server(server_config(TLS13)))
    with tls, theirs:
        tls._first_flight = False  # (its first flight was read)
        theirs.sendall(wire)
        data = tls._raw_recv(None, 0)
        assert data == wire[:read]
        walked = _RecordBoundary()
        walked.feed(data)
        mine = tls._boundary
        assert (mine.carried, mine.to_complete) == (walked.carried, walked.to_complete)
        assert [mine.whole_records(n) for n in (1, 100, 10_000)] == [
            walked.whole_records(n) for n in (1, 100, 10_000)]


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def test_a_loop_step_without_sends_queues_them_for_loop_send() -> None:
    """serve()'s loop sends what its turn's steps queued at the turn's end: a step
    with ``send=False`` sends nothing, ``_loop_send()`` all of it (the flight; the
    session tickets of the step that ends the handshake)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        tls = accepted_server(listener, TLS13)
        client = glasstls.ClientConnection(client_config(TLS13), server_name="localhost")
        with plain, tls:
            plain.sendall(client.data_to_send())
            select.select([tls], [], [], 10)
            assert tls._loop_handshake(False) is False
            assert not readable(plain), "the flight was sent by the step"
            tls._loop_send()
            while not client.handshake_complete:
                client.receive_data(plain.recv(65536))
            plain.sendall(client.data_to_send())
            select.select([tls], [], [], 10)
            assert tls._loop_handshake(False) is True
            assert not readable(plain), "the tickets were sent by the step"
            tls._loop_send()
            select.select([plain], [], [], 10)
            tickets = plain.recv(65536)
            assert tickets[:1] == b"\x17"  # protected records: the NewSessionTickets
            client.receive_data(tickets)


@pytest.mark.parametrize("send", [True, False])
@pytest.mark.parametrize("data", [
    b"SSH-2.0-OpenSSH_9.6\r\n",  # no TLS at all
    b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a ClientHello one byte long
], ids=["not-tls", "decode-error"])
def test_a_failed_loop_step_raises_and_sends_its_alert_at_once(data: bytes, send: bool) -> None:
    """The step raises the handshake failure, and its alert goes at once, also when
    the step's sends wait for the turn's end (send=False): the loop ends that
    connection at once."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        tls = accepted_server(listener, TLS13)
        with plain, tls:
            plain.sendall(data)
            select.select([tls], [], [], 10)
            with pytest.raises(ssl.SSLError):
                tls._loop_handshake(send)
            select.select([plain], [], [], 10)
            assert plain.recv(100, socket.MSG_DONTWAIT)[:1] == b"\x15"  # an alert record
