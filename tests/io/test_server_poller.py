"""The loop's poller: epoll itself where there is one, else the selectors module,
with one behaviour: each ready descriptor comes back once with what it was
registered with, whatever made it ready (data, room to write, a hang-up, an
error), and a server runs the same on either."""

from __future__ import annotations

import select
import selectors
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from io_helpers import echoes, serving

from glasstls.io import server as server_module
from glasstls.io.server import _EpollPoller, _SelectorPoller

POLLERS = [_SelectorPoller] + ([_EpollPoller] if hasattr(select, "epoll") else [])
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture(params=POLLERS, ids=lambda kind: kind.__name__)
def poller(request: pytest.FixtureRequest) -> Iterator[Any]:
    made = request.param()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield ours, theirs


def test_nothing_ready_returns_nothing_at_once(poller: Any, pair: Any) -> None:
    ours, _ = pair
    poller.register(ours.fileno(), READ, "waiting")
    assert poller.select(0) == []
    assert poller.select(-1.0) == []  # a deadline already past: no wait either


def test_a_readable_descriptor_comes_back_with_its_data(poller: Any, pair: Any) -> None:
    ours, theirs = pair
    poller.register(ours.fileno(), READ, "handshake")
    theirs.sendall(b"x")
    assert poller.select(None) == [(ours.fileno(), "handshake")]


def test_modify_changes_the_events_and_the_data(poller: Any, pair: Any) -> None:
    ours, _ = pair
    poller.register(ours.fileno(), READ, "reading")
    assert poller.select(0) == []  # nothing to read
    poller.modify(ours.fileno(), WRITE, "writing")
    assert poller.select(0) == [(ours.fileno(), "writing")]  # room to write


def test_an_unregistered_descriptor_is_not_reported(poller: Any, pair: Any) -> None:
    ours, theirs = pair
    poller.register(ours.fileno(), READ, "handshake")
    theirs.sendall(b"x")
    poller.unregister(ours.fileno())
    assert poller.select(0) == []
    with pytest.raises(KeyError):
        poller.unregister(ours.fileno())


def test_a_hang_up_wakes_a_reader(poller: Any, pair: Any) -> None:
    ours, theirs = pair
    poller.register(ours.fileno(), READ, "handshake")
    theirs.close()
    assert poller.select(None) == [(ours.fileno(), "handshake")]


def test_several_ready_descriptors_each_come_back_once(poller: Any) -> None:
    pairs = [socket.socketpair() for _ in range(5)]
    try:
        for index, (ours, theirs) in enumerate(pairs):
            poller.register(ours.fileno(), READ, index)
            theirs.sendall(b"x")
        ready = poller.select(None)
        assert sorted(ready) == sorted((ours.fileno(), index)
                                       for index, (ours, _) in enumerate(pairs))
    finally:
        for ours, theirs in pairs:
            ours.close()
            theirs.close()


@pytest.mark.parametrize("kind", POLLERS, ids=lambda kind: kind.__name__)
def test_a_server_serves_the_same_on_either_poller(
        monkeypatch: pytest.MonkeyPatch, kind: Any) -> None:
    monkeypatch.setattr(server_module, "_Poller", kind)
    with serving() as server:
        stalled = socket.create_connection(server.address, timeout=30)
        with stalled:
            stalled.sendall(b"\x16\x03\x01")  # a handshake begun, then stalled
            assert all(echoes(server, b"message %d" % n) for n in range(5))
        assert isinstance(server._loops[0]._selector, kind)
