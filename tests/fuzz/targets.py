"""Fuzz targets: each takes bytes and checks glasstls's one promise about hostile input,
"no exception but a TLSError escapes, and a failure queues its alert".

They are driven by hypothesis in this directory's tests, and can run under atheris
for longer campaigns:

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/targets.py server_first_flight [atheris options]
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import random
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

if __name__ == "__main__":  # pragma: no cover - run as a script under atheris
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glasstls import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from glasstls.codec import Reader
from glasstls.constants import TLS12, TLS13, NamedGroup, SignatureScheme
from glasstls.errors import AlertReceivedError
from glasstls.messages import extensions as ext
from helpers.pump import CLIENT_TO_SERVER, Pair, client_config, server_config, split_records
from helpers.strategies import PARSERS, WHERES
from pki import pki

Connection = ClientConnection | ServerConnection


_PROTECTED_ALERTS = {(23, 2 + 1 + 16), (21, 2 + 16), (21, 8 + 2 + 16)}


def check_receive(connection: Connection, chunks: Sequence[bytes]) -> TLSError | None:
    """Feed ``chunks`` one ``receive_data`` call each. A ``TLSError`` is the only
    exception allowed out; when one comes, its alert must be queued to send (unless
    it reports the peer's own fatal alert) and the connection must stay failed."""
    try:
        for chunk in chunks:
            connection.receive_data(chunk)
    except TLSError as error:
        pending = connection.data_to_send()
        if not isinstance(error, AlertReceivedError):
            records = split_records(pending)
            assert records, f"no alert queued for {error!r}"
            alert = records[-1]
            if len(alert) == 5 + 2:
                # (record version 0x0301 or 0x0303, depending on how far it got)
                assert alert[:2] == b"\x15\x03" and alert[3:] == bytes([0, 2, 2, error.alert]), (
                    alert.hex(), error)
            else:
                # Under protection, one record the size of an alert and its overhead:
                # TLS 1.3 adds the inner type and a tag; TLS 1.2 a tag, and an explicit
                # nonce for AES-GCM.
                assert (alert[0], len(alert) - 5) in _PROTECTED_ALERTS, (alert.hex(), error)
        try:
            connection.receive_data(b"")
        except TLSError as again:
            assert again is error, "the failure does not stick"
        else:
            raise AssertionError("a failed connection accepted more input")
        return error
    return None


# -- deterministic handshakes, recorded flight by flight -------------------------------------


CLIENT_SEED, SERVER_SEED = 1, 2


def _rng(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


# Each scenario's configs make the whole handshake (up to the tickets) the same bytes
# every time: seeded random sources and deterministic signatures (Ed25519; RSA
# PKCS#1 v1.5 in TLS 1.2).
SCENARIOS: dict[str, Callable[[], tuple[ClientConfig, ServerConfig]]] = {
    "tls13": lambda: (
        client_config(pki("ed25519"), rng=_rng(CLIENT_SEED), verify_certificates=False,
                      key_share_groups=(NamedGroup.x25519,)),
        server_config(pki("ed25519"), rng=_rng(SERVER_SEED))),
    "retry": lambda: (
        client_config(pki("ed25519"), rng=_rng(CLIENT_SEED), verify_certificates=False,
                      groups=(NamedGroup.x25519, NamedGroup.secp256r1),
                      key_share_groups=(NamedGroup.x25519,)),
        server_config(pki("ed25519"), rng=_rng(SERVER_SEED), groups=(NamedGroup.secp256r1,),
                      cookie_secret=bytes(32))),
    "tls12": lambda: (
        client_config(pki("rsa-2048"), rng=_rng(CLIENT_SEED),
                      key_share_groups=(NamedGroup.x25519,)),
        server_config(pki("rsa-2048"), rng=_rng(SERVER_SEED), versions=(TLS12,),
                      signature_schemes=(SignatureScheme.rsa_pkcs1_sha256,),
                      session_cache=None, ticket_keys=None)),
}


@cache
def recorded(scenario: str) -> tuple[tuple[str, bytes], ...]:
    """Every transfer of the scenario's handshake, then application data each way."""
    client, server = SCENARIOS[scenario]()
    pair = Pair(client, server).pump()
    if pair.complete:
        pair.server.connection.send(b"application data from the server")
        pair.client.connection.send(b"application data from the client")
        pair.pump()
    return tuple(pair.wire)


def connection_before(scenario: str, index: int) -> Connection:
    """A fresh connection of the side that receives transfer ``index``, brought to
    the state just before it by replaying the transfers before it."""
    wire = recorded(scenario)
    client_config_, server_config_ = SCENARIOS[scenario]()
    is_server = wire[index][0] == CLIENT_TO_SERVER
    connection: Connection = (ServerConnection(server_config_) if is_server
                              else ClientConnection(client_config_, server_name="localhost"))
    for direction, data in wire[:index]:
        if (direction == CLIENT_TO_SERVER) == is_server:
            connection.receive_data(data)
        else:
            sent = connection.data_to_send()
            # Handshake flights must be the recorded bytes; what follows the handshake
            # (tickets sealed with fresh randomness, data not re-sent) need not be.
            if not connection.handshake_complete:
                assert sent == data, "the recorded handshake is not replayable"
    return connection


def flight_names() -> list[str]:
    return [f"{scenario}:{index}" for scenario in SCENARIOS
            for index in range(len(recorded(scenario)))]


def flight(name: str) -> bytes:
    scenario, index = name.split(":")
    return recorded(scenario)[int(index)][1]


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)] or [b""]


def feed_flight(name: str, data: bytes, cuts: Sequence[int] = ()) -> TLSError | None:
    """Transfer ``name`` ("scenario:index"), replaced by ``data``, to its receiver."""
    scenario, index = name.split(":")
    return check_receive(connection_before(scenario, int(index)), split_at(data, cuts))


def server_receives(data: bytes, tls13_only: bool = False) -> TLSError | None:
    """A fresh server (TLS 1.3 and 1.2, or 1.3 only) fed ``data``."""
    _, config = SCENARIOS["tls13"]()
    if tls13_only:
        config = dataclasses.replace(config, versions=(TLS13,))
    return check_receive(ServerConnection(config), [data])


def client_receives(data: bytes) -> TLSError | None:
    """A client that has sent its ClientHello fed ``data``."""
    return check_receive(connection_before("tls13", 1), [data])


def parse_message(name: str, body: bytes) -> None:
    """A handshake message parser on an arbitrary body (with a matching header)."""
    raw = b"\x00" + len(body).to_bytes(3, "big") + body
    with contextlib.suppress(TLSError):
        PARSERS[name](raw)


def parse_extension_block(where: str, data: bytes) -> None:
    with contextlib.suppress(TLSError), Reader(data) as r:
        ext.parse_extensions(r, where)


ATHERIS_TARGETS: dict[str, Callable[[bytes], object]] = {
    "server_random": server_receives,
    "client_random": client_receives,
    **{f"flight_{name}": functools.partial(feed_flight, name) for name in flight_names()},
    **{f"parse_{name}": functools.partial(parse_message, name) for name in PARSERS},
    **{f"extensions_{where}": functools.partial(parse_extension_block, where)
       for where in WHERES},
}


def _main() -> None:  # pragma: no cover - needs atheris
    import atheris  # type: ignore[import-not-found]

    if len(sys.argv) < 2 or sys.argv[1] not in ATHERIS_TARGETS:
        raise SystemExit("targets: " + ", ".join(sorted(ATHERIS_TARGETS)))
    target = ATHERIS_TARGETS[sys.argv.pop(1)]
    for scenario in SCENARIOS:
        recorded(scenario)  # record before instrumenting
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":  # pragma: no cover
    _main()
