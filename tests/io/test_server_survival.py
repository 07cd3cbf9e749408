"""glasstls.serve() under pressure: a worker thread that cannot start costs one
connection, not the accept loop; the default bound on connections holds; and
connections in many threads (each making traffic keys over and over) raise no
exception but TLS errors."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import sys
import threading
from collections.abc import Iterator

import pytest
from io_helpers import client_config, echo, echoes, server_config, serving

import glasstls
from glasstls import ClientConnection, TLSError
from glasstls.constants import TLS12, TLS13
from glasstls.io.server import DEFAULT_MAX_CONNECTIONS


@contextlib.contextmanager
def thread_starts_failing(times: int) -> Iterator[list[str]]:
    """The next ``times`` worker threads of a server fail to start, as under a
    thread or memory limit; yields the names of those refused."""
    refused: list[str] = []
    start = threading.Thread.start

    def failing_start(thread: threading.Thread) -> None:
        if thread.name.startswith("glasstls-worker") and len(refused) < times:
            refused.append(thread.name)
            raise RuntimeError("can't start new thread")
        start(thread)

    threading.Thread.start = failing_start  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        threading.Thread.start = start  # type: ignore[method-assign]


def test_accept_loop_survives_a_thread_that_cannot_start(
        caplog: pytest.LogCaptureFixture) -> None:
    # max_connections=1: a refused connection that kept its slot would block the next.
    with serving(max_connections=1) as server, thread_starts_failing(3) as refused:
        for _ in range(3):
            # The connection that got no worker thread is closed after its handshake,
            # without close_notify: the client reads a truncation (an EOF, or a reset
            # when its data had arrived unread), never a clean end.
            with pytest.raises((ssl.SSLEOFError, ConnectionResetError)):
                echoes(server)
        assert len(refused) == 3
        assert echoes(server)
        assert echoes(server, b"and again")
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 3
    assert all("no thread to serve" in r.getMessage() for r in failures)


def test_serve_bounds_connections_by_default() -> None:
    # DEFAULT_MAX_CONNECTIONS idle clients (TCP only, no ClientHello) hold every slot;
    # the next client's ClientHello waits in the backlog until one of them leaves.
    with serving() as server:
        idle = [socket.create_connection(server.address, timeout=10)
                for _ in range(DEFAULT_MAX_CONNECTIONS)]
        try:
            client = ClientConnection(client_config(), server_name="localhost")
            with socket.create_connection(server.address, timeout=10) as waiting:
                waiting.sendall(client.data_to_send())
                # Both ends of 512 connections live in this process: descriptors pass
                # select()'s limit of 1024, so wait with poll().
                poller = select.poll()
                poller.register(waiting, select.POLLIN)
                assert not poller.poll(1000), "served beyond max_connections"
                idle.pop().close()
                assert poller.poll(10_000), "not served after a slot came free"
                assert waiting.recv(5)[:1] == b"\x16"  # the ServerHello's record
        finally:
            for sock in idle:
                sock.close()


def test_serve_rejects_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        glasstls.serve(("127.0.0.1", 0), echo, config=server_config(), max_connections=0)


THREADS = 8
KEY_UPDATES = 200


@pytest.mark.parametrize("version", [TLS13, TLS12], ids=["TLS1.3", "TLS1.2"])
def test_connections_in_threads_with_constant_switching_raise_only_tls_errors(
        version: int) -> None:
    # The server's threads each make traffic keys after every KeyUpdate (TLS 1.3) or
    # resume sessions (TLS 1.2) while the interpreter switches threads every
    # microsecond: shared caches raced here before they were locked.
    failures: list[BaseException] = []
    config = client_config(version)

    def client(index: int) -> None:
        try:
            for round_ in range(2):
                with glasstls.connect(server.address, config=config,
                                      server_hostname="localhost", timeout=60) as sock:
                    for update in range(KEY_UPDATES if version == TLS13 else 1):
                        if version == TLS13:
                            sock.key_update(request_peer_update=True)
                        message = f"{index}/{round_}/{update}".encode()
                        sock.sendall(message)
                        assert sock.recv(100) == message
        except BaseException as error:  # counted below
            failures.append(error)

    server_errors: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            server_errors.append(record)

    collector = Collect(logging.INFO)
    logger = logging.getLogger("glasstls.io")
    logger.addHandler(collector)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with serving() as server:
            threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(240)
            assert not any(t.is_alive() for t in threads)
    finally:
        sys.setswitchinterval(interval)
        logger.removeHandler(collector)
    assert not [f for f in failures if not isinstance(f, TLSError | OSError)], failures
    assert failures == []
    # The server logs handshakes that failed and handlers that raised: none did.
    assert [r.getMessage() for r in server_errors] == []
