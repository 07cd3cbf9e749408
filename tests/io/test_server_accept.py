"""serve()'s loop takes the clients out of the listen backlog by the count the system
gives (Linux: TCP_INFO on the listener), without an accept() that finds no one; where
the count cannot be had it accepts until accept() fails, as before. Either way every
client that connected while the loop was busy is served."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from io_helpers import client_config, echoes, serving

import glasstls
from glasstls import ServerConfig
from glasstls.io import server as server_module

PATIENCE = 30  # seconds a test waits for what must happen (a hang guard, not a timing)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the backlog count is Linux's TCP_INFO")


@contextmanager
def accept_outcomes(address: Any) -> Iterator[list[str]]:
    """Each accept() of the listener at ``address``: "client" or "no one"."""
    outcomes: list[str] = []
    accept = socket.socket._accept  # type: ignore[attr-defined]

    def counted(sock: socket.socket) -> tuple[int, Any]:
        mine = sock.getsockname() == address
        try:
            result = accept(sock)
        except BlockingIOError:
            if mine:
                outcomes.append("no one")
            raise
        if mine:
            outcomes.append("client")
        return result  # type: ignore[no-any-return]

    socket.socket._accept = counted  # type: ignore[attr-defined]
    try:
        yield outcomes
    finally:
        socket.socket._accept = accept  # type: ignore[attr-defined]


def burst_while_the_loop_is_held(server_options: dict[str, Any], count: int) -> list[str]:
    """The first client's connection_config holds the loop while ``count`` more
    connect; then all of them are echoed. Returns the accept() outcomes."""
    held = threading.Event()
    release = threading.Event()

    def connection_config(config: ServerConfig) -> ServerConfig:
        if not held.is_set():
            held.set()
            release.wait(PATIENCE)
        return config

    results: list[bool] = []
    with serving(connection_config=connection_config, **server_options) as server, \
            accept_outcomes(server.address) as outcomes:
        first = threading.Thread(target=lambda: results.append(echoes(server)))
        first.start()
        assert held.wait(PATIENCE)
        waiting = [socket.create_connection(server.address, timeout=PATIENCE)
                   for _ in range(count)]
        try:
            release.set()
            first.join(PATIENCE)
            for sock in waiting:
                tls = glasstls.io.start_tls(sock, config=client_config(),
                                            server_hostname="localhost")
                tls.settimeout(PATIENCE)
                tls.sendall(b"ping")
                results.append(tls.recv(100) == b"ping")
                tls.close()
        finally:
            for sock in waiting:
                sock.close()
        assert echoes(server)
    assert results == [True] * (count + 1)
    return outcomes


@linux_only
def test_the_loop_accepts_as_many_clients_as_wait_and_no_more() -> None:
    outcomes = burst_while_the_loop_is_held({}, 4)
    assert outcomes.count("client") == 6  # the first, the four, the last echo
    assert "no one" not in outcomes, outcomes


def test_without_a_count_the_loop_accepts_until_no_one_is_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "_TCP_INFO", 0)
    outcomes = burst_while_the_loop_is_held({}, 4)
    assert outcomes.count("client") == 6
    assert "no one" in outcomes  # each look ends with an accept() that finds no one


@linux_only
def test_the_count_is_the_number_of_clients_in_the_backlog() -> None:
    # The one slot is taken by a client the handler holds: the next three stay in
    # the backlog, where the loop's count finds them.
    release = threading.Event()
    with serving(lambda sock, address: release.wait(PATIENCE), max_connections=1) as server:
        holder = glasstls.connect(server.address, config=client_config(),
                                  server_hostname="localhost", timeout=PATIENCE)
        waiting = [socket.create_connection(server.address, timeout=PATIENCE)
                   for _ in range(3)]
        try:
            loop = server._loops[0]
            # (A client is in the backlog once the kernel has its last ACK, which may
            # come just after connect() returned.)
            deadline = time.monotonic() + PATIENCE
            while loop._waiting_clients() < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert loop._waiting_clients() == 3
        finally:
            release.set()
            holder.close()
            for sock in waiting:
                sock.close()


def test_an_unknown_count_is_minus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with serving() as server:
        loop = server._loops[0]
        monkeypatch.setattr(loop, "_backlog_unknown", True)
        assert loop._waiting_clients() == -1
