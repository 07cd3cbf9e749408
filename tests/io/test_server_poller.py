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


def test_a_handshake_is_reported_once_until_modified_where_oneshot(
        poller: Any, pair: Any) -> None:
    ours, theirs = pair
    poller.register(ours.fileno(), READ, "handshake")
    theirs.sendall(b"x")
    assert poller.select(0) == [(ours.fileno(), "handshake")]
    # Still readable: a oneshot registration waits for nothing now, others go on.
    again = [] if poller.ONESHOT else [(ours.fileno(), "handshake")]
    assert poller.select(0) == again
    poller.modify(ours.fileno(), READ, "handshake")  # what a step that needs more does
    assert poller.select(0) == [(ours.fileno(), "handshake")]


def test_the_listener_and_the_wake_up_socket_stay_level_triggered(
        poller: Any, pair: Any) -> None:
    ours, theirs = pair
    poller.register(ours.fileno(), READ)  # no handshake: the listener, say
    theirs.sendall(b"x")
    assert poller.select(0) == [(ours.fileno(), None)]
    assert poller.select(0) == [(ours.fileno(), None)]


def test_a_forgotten_descriptor_is_not_reported_and_its_number_can_come_back(
        poller: Any) -> None:
    ours, theirs = socket.socketpair()
    with theirs:
        poller.register(ours.fileno(), READ, "handshake")
        theirs.sendall(b"x")
        assert poller.select(0) == [(ours.fileno(), "handshake")]
        number = ours.fileno()
        poller.forget(number)  # reported, so waiting for nothing: it leaves
        theirs.sendall(b"more")  # (the worker's data)
        assert poller.select(0) == []
        ours.close()  # the kernel drops what is left of its registration
    again, other = socket.socketpair()
    with again, other:
        if again.fileno() == number:  # the usual case: the lowest free number
            poller.register(again.fileno(), READ, "next")
            other.sendall(b"x")
            assert poller.select(0) == [(number, "next")]


class CountingEpoll:
    """A loop's ``select.epoll``, with its calls recorded."""

    def __init__(self, epoll: Any) -> None:
        self.epoll = epoll
        self.calls: list[tuple[str, Any]] = []

    def register(self, fd: int, mask: int) -> None:
        self.calls.append(("register", fd))
        self.epoll.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        self.calls.append(("modify", fd))
        self.epoll.modify(fd, mask)

    def unregister(self, fd: int) -> None:
        self.calls.append(("unregister", fd))
        self.epoll.unregister(fd)

    def poll(self, timeout: float, maxevents: int) -> list[tuple[int, int]]:
        ready = self.epoll.poll(timeout, maxevents)
        self.calls.append(("ready", [fd for fd, _ in ready]))
        return ready

    def close(self) -> None:
        self.epoll.close()


@pytest.mark.skipif(not hasattr(select, "epoll"), reason="epoll is Linux's")
def test_a_served_connection_leaves_the_loop_without_an_epoll_call() -> None:
    with serving() as server:
        (loop,) = server._loops
        assert isinstance(loop._selector, _EpollPoller)
        counting = CountingEpoll(loop._selector._epoll)
        loop._selector._epoll = counting  # from the loop's next call on
        assert all(echoes(server, b"message %d" % n) for n in range(3))
    others = (loop._listener_fd, loop._wake_fd)
    # (Connections one after the other: their descriptors may share a number.)
    armed = [fd for call, fd in counting.calls
             if call in ("register", "modify") and fd not in others]
    assert len([call for call, fd in counting.calls
                if call == "register" and fd not in others]) == 3, counting.calls
    # Never unregistered: each left the loop with its registration spent...
    assert not [fd for call, fd in counting.calls
                if call == "unregister" and fd not in others], counting.calls
    # ... and reported once for each time it was armed (its hello, if it was not
    # there when it was accepted; its Finished): the data for the handler (the
    # worker's) never woke the loop.
    reported = [fd for call, ready in counting.calls if call == "ready" for fd in ready
                if fd not in others]
    assert sorted(reported) == sorted(armed), counting.calls


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
