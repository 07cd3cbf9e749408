"""Helpers for resumption tests: an injectable clock, a repeatable random source,
and "connect, then connect again" for a client and a server in memory.

    first, second = connect_twice(client, server)
    assert second.server.negotiated.resumed
"""

from __future__ import annotations

import random
import time
from typing import Any

from glasstls import ClientConfig, ClientConnection, ServerConfig
from glasstls.events import SessionTicketReceived
from glasstls.session import ClientSession

from .pump import Pair


class Clock:
    """A config ``clock`` whose time the test moves: ``clock.advance(3600)``."""

    def __init__(self, now: float | None = None) -> None:
        # Now by default: the test certificates are valid from an hour ago.
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RepeatableRng:
    """A config ``rng`` that gives the same bytes for the same seed, so two
    connections made with equal seeds send byte-identical flights."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def __call__(self, n: int) -> bytes:
        return self._random.randbytes(n)


def connect_pair(client: ClientConfig | ClientConnection, server: ServerConfig,
                 **kwargs: Any) -> Pair:
    pair = Pair(client, server, **kwargs)
    pair.pump()
    return pair


def connect_twice(client: ClientConfig, server: ServerConfig,
                  second_client: ClientConfig | None = None,
                  second_server: ServerConfig | None = None, **kwargs: Any
                  ) -> tuple[Pair, Pair]:
    """A full handshake, then a second connection with the same client session cache
    (``second_client`` must share it to resume) against ``second_server``."""
    first = connect_pair(client, server, **kwargs)
    assert first.complete, (first.client.error, first.server.error)
    second = connect_pair(second_client or client, second_server or server, **kwargs)
    return first, second


def tickets(pair: Pair) -> list[SessionTicketReceived]:
    return pair.client.of_type(SessionTicketReceived)


def latest_session(pair: Pair) -> ClientSession:
    session = pair.client.connection.session
    assert session is not None, "the client has no session to resume"
    return session
