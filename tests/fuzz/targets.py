"""Fuzz targets for the hypothesis tests in this directory: each takes bytes and checks
glasstls's one promise about hostile input (harnesses.check_receive). The same
recordings and checks run coverage-guided under atheris: see harnesses.py and
``make fuzz``."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence

from glasstls import ServerConnection, TLSError
from glasstls.codec import Reader
from glasstls.constants import TLS13
from glasstls.messages import extensions as ext
from helpers.strategies import PARSERS

from . import flights
from .harnesses import check_receive, split_at

# The hypothesis tests take the transfers of three scenarios; the atheris harnesses
# take all of them.
HYPOTHESIS_SCENARIOS = ("tls13", "tls13_retry", "tls12")


def flight_names() -> list[str]:
    return [f"{name}:{index}" for name, index in flights.replayable()
            if name in HYPOTHESIS_SCENARIOS]


def flight(name: str) -> bytes:
    scenario, index = name.split(":")
    return flights.recording(scenario).transfers[int(index)].data


def feed_flight(name: str, data: bytes, cuts: Sequence[int] = (), ahead: bool = False
                ) -> TLSError | None:
    """Transfer ``name`` ("scenario:index"), replaced by ``data``, to its receiver
    (which works ahead before each piece, with ``ahead``)."""
    scenario, index = name.split(":")
    connection, _ = flights.replayed(scenario, int(index))
    return check_receive(connection, split_at(data, cuts), ahead)


def server_receives(data: bytes, tls13_only: bool = False) -> TLSError | None:
    """A fresh server (TLS 1.3 and 1.2, or 1.3 only) fed ``data``."""
    _, config = flights.SCENARIOS["tls13"].configs(flights.RECORDED_SEED)
    if tls13_only:
        config = dataclasses.replace(config, versions=(TLS13,))
    return check_receive(ServerConnection(config), [data])


def client_receives(data: bytes) -> TLSError | None:
    """A client that has sent its ClientHello fed ``data``."""
    return check_receive(flights.replayed("tls13", 1)[0], [data])


def parse_message(name: str, body: bytes) -> None:
    """A handshake message parser on an arbitrary body (with a matching header)."""
    raw = b"\x00" + len(body).to_bytes(3, "big") + body
    with contextlib.suppress(TLSError):
        PARSERS[name](raw)


def parse_extension_block(where: str, data: bytes) -> None:
    with contextlib.suppress(TLSError), Reader(data) as r:
        ext.parse_extensions(r, where)
