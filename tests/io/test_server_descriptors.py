"""serve()'s loop drives each handshake as a non-blocking socket without making
its descriptor non-blocking (where the system has MSG_DONTWAIT): every read and
write of the handshake is made with that flag, so the descriptor needs no ioctl
on the way in and none on the way to the handler, which gets a socket that
follows the server's ``timeout`` as before."""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
from typing import Any

import pytest
from io_helpers import client_config, echoes, server_config, serving

from glasstls import TLSSocket
from glasstls.io.channel import TLSChannel
from glasstls.io.sockets import _DONTWAIT, start_tls

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)

needs_dontwait = pytest.mark.skipif(not _DONTWAIT, reason="no MSG_DONTWAIT here")


def served_socket_state(**options: Any) -> dict[str, Any]:
    """What the handler of one connection finds: its socket's timeout, whether its
    descriptor blocks, and whether it still has the loop's flags."""
    seen: dict[str, Any] = {}

    def handler(sock: TLSSocket, address: Any) -> None:
        seen.update(timeout=sock.gettimeout(), blocking=os.get_blocking(sock.fileno()),
                    flags=sock._loop_flags)
        while data := sock.recv(100):
            sock.sendall(data)

    with serving(handler, **options) as server:
        assert echoes(server, b"hello")
    return seen


def record_blocking_changes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every settimeout/setblocking call on a server's TLSSocket (each an ioctl)."""
    calls: list[tuple[str, Any]] = []
    settimeout, setblocking = socket.socket.settimeout, socket.socket.setblocking

    def spy_settimeout(self: socket.socket, value: Any) -> None:
        if isinstance(self, TLSSocket) and getattr(self, "_server_side", False):
            calls.append(("settimeout", value))
        settimeout(self, value)

    def spy_setblocking(self: socket.socket, flag: bool) -> None:
        if isinstance(self, TLSSocket) and getattr(self, "_server_side", False):
            calls.append(("setblocking", flag))
        setblocking(self, flag)

    monkeypatch.setattr(socket.socket, "settimeout", spy_settimeout)
    monkeypatch.setattr(socket.socket, "setblocking", spy_setblocking)
    return calls


@needs_dontwait
def test_with_the_default_timeout_no_connection_changes_its_blocking_mode(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = record_blocking_changes(monkeypatch)
    seen = served_socket_state()
    # The handler's socket blocks, as before, and never was made non-blocking.
    assert seen == {"timeout": None, "blocking": True, "flags": 0}
    assert calls == []


def test_the_handler_gets_the_servers_timeout() -> None:
    seen = served_socket_state(timeout=12.5)
    # Python implements a socket timeout with a non-blocking descriptor and poll().
    assert seen == {"timeout": 12.5, "blocking": False, "flags": 0}


def test_a_default_socket_timeout_is_made_non_blocking_for_the_loop_as_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # socket.setdefaulttimeout() gives every new socket a timeout (a non-blocking
    # descriptor): the loop then uses the socket non-blocking, not the flag, and the
    # handler still gets the server's timeout (None here).
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(PATIENCE)
    try:
        seen = served_socket_state()
    finally:
        socket.setdefaulttimeout(previous)
    assert seen == {"timeout": None, "blocking": True, "flags": 0}


@needs_dontwait
def test_an_accepted_socket_on_a_blocking_descriptor_never_waits_on_the_loop() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=PATIENCE)
        fd, _ = listener._accept()  # type: ignore[attr-defined]
        config = server_config()
        tls = TLSSocket._accepted(fd, int(listener.family), listener.proto,
                                  lambda: TLSChannel.server(config))
        results: list[Any] = []

        def step() -> None:
            try:
                tls.do_handshake()
                results.append("done")
            except ssl.SSLWantReadError:
                results.append("want read")

        with client, tls:
            assert os.get_blocking(tls.fileno()) and tls.gettimeout() is None
            # Nothing received yet: a blocking read would wait for the client.
            worker = threading.Thread(target=step, daemon=True)
            worker.start()
            worker.join(PATIENCE)
            assert not worker.is_alive() and results == ["want read"]
            # The whole handshake over the flagged socket, the descriptor blocking
            # throughout.
            made: list[TLSSocket] = []
            handshake = threading.Thread(target=lambda: made.append(start_tls(
                client, config=client_config(), server_hostname="localhost")), daemon=True)
            handshake.start()
            while results[-1] != "done":
                select.select([tls], [], [], PATIENCE)
                step()
            handshake.join(PATIENCE)
            assert not handshake.is_alive()
            wrapped = made[0]
            assert os.get_blocking(tls.fileno())
            tls._leave_loop(None)
            assert tls._loop_flags == 0 and tls.gettimeout() is None
            wrapped.sendall(b"ping")
            assert tls.recv(4) == b"ping"  # a blocking read: it waits for the data
            tls.sendall(b"pong")
            assert wrapped.recv(4) == b"pong"
