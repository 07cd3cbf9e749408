"""Property tests of the tickets that serve()'s loop leaves to a TLS 1.3 connection's
handler (``TLSSocket._hold``): whatever the handler does first, the client gets every
record in order, and gets the tickets no later than the handler's first write, its
first read that finds nothing, a KeyUpdate or its close_notify. Only a read that finds
data already there leaves them waiting."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from collections.abc import Iterator

import pytest
from hypothesis import given, settings, strategies as st
from io_helpers import client_config, server_config

import glasstls
from glasstls import TLSSocket
from glasstls.events import ApplicationData, SessionTicketReceived
from glasstls.io.channel import TLSChannel

PATIENCE = 10  # seconds a look waits for what must come (a hang guard, not a timing)


class Client:
    """A glasstls client engine on a plain socket, driven by the test."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.engine = glasstls.ClientConnection(client_config(), server_name="localhost")
        self.data = b""
        self.tickets = 0

    def send(self, data: bytes = b"") -> None:
        if data:
            self.engine.send(data)
        self.sock.sendall(self.engine.data_to_send())

    def take(self, wait: bool) -> None:
        """What the server sent so far (``wait``: at least one read's worth)."""
        while select.select([self.sock], [], [], PATIENCE if wait else 0)[0]:
            wait = False
            data = self.sock.recv(65536)
            if not data:
                return
            for event in self.engine.receive_data(data):
                if isinstance(event, ApplicationData):
                    self.data += event.data
                elif isinstance(event, SessionTicketReceived):
                    self.tickets += 1
            self.send()  # a KeyUpdate's answer, if any


@contextlib.contextmanager
def handed_over(timeout: float | None) -> Iterator[tuple[TLSSocket, Client]]:
    """A TLS 1.3 connection whose handshake ran as on serve()'s loop, its tickets held."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        plain = socket.create_connection(listener.getsockname())
        fd, _ = listener._accept()  # type: ignore[attr-defined]
        config = server_config()
        server = TLSSocket._accepted(fd, listener.family, listener.proto,
                                     lambda: TLSChannel.server(config))
    client = Client(plain)
    with plain, server:
        client.send()
        select.select([server], [], [], PATIENCE)
        assert server._loop_handshake(False) is False
        server._loop_send()
        while not client.engine.handshake_complete:
            client.take(wait=True)
        client.send()  # its Finished
        select.select([server], [], [], PATIENCE)
        assert server._loop_handshake(False) is True
        server._hold()
        server._leave_loop(timeout)
        assert server._holding and client.tickets == 0
        yield server, client


# What the handler does: ("write", size), ("read", size) with the client's data sent
# first, ("read-nothing", 0) (non-blocking: nothing there), ("key-update", 0), ("close", 0).
operations = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(1, 40_000)),
    st.tuples(st.just("read"), st.integers(1, 3_000)),
    st.tuples(st.just("read-nothing"), st.just(0)),
    st.tuples(st.just("key-update"), st.just(0)),
), max_size=6).map(lambda ops: [*ops, ("close", 0)])


@settings(max_examples=40, deadline=None)
@given(ops=operations, timeout=st.sampled_from([None, 0.0, 5.0]))
def test_the_held_tickets_come_in_order_and_in_time(ops: list[tuple[str, int]],
                                                     timeout: float | None) -> None:
    with handed_over(timeout) as (server, client):
        written = b""
        held = True  # the tickets may still wait
        for number, (op, size) in enumerate(ops):
            sends = op != "read"  # whether this step puts something on the wire
            if op == "write":
                data = bytes([number % 251]) * size
                server.sendall(data)
                written += data
            elif op == "read":
                client.send(b"r" * size)
                select.select([server], [], [], PATIENCE)
                received = b""
                while len(received) < size:
                    received += server.recv(size - len(received))
                assert received == b"r" * size
            elif op == "read-nothing":
                if timeout != 0.0:
                    continue  # (a blocking read would wait for good)
                with pytest.raises(ssl.SSLWantReadError):
                    server.recv(100)
                sends = held  # the tickets, if they were still waiting
            elif op == "key-update":
                server.key_update(request_peer_update=False)
            else:
                server.close()
            held = held and not sends
            client.take(wait=sends)
            if not held:
                assert client.tickets == server_config().tickets
            else:
                assert client.tickets == 0
            assert written.startswith(client.data)
        client.take(wait=False)
        assert client.data == written
