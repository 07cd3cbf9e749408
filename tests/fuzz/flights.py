"""Recorded handshakes for the fuzz harnesses, and flights as plaintext records.

Each scenario is a glasstls client and server made deterministic (seeded random
sources, a fixed clock, deterministic signatures: Ed25519, RSA PKCS#1 v1.5), run to
the end in memory with some traffic after the handshake; every transfer is kept.
Each record of a transfer is decoded to (content type, plaintext) with the keys that
protected it (found in the key log), so a fuzzer can mutate the plaintext of an
encrypted flight and have it sealed again: its inputs then reach the parsers behind
the record protection instead of dying at the first AEAD tag.

A flight is encoded for the fuzzer as a list of records, each

    slot(1) content_type(1) version(2) length(3) payload

where ``slot`` 0 is an unprotected record, ``k`` seals the payload with the k-th
protection the recorded transfer used (counting on from the recorded sequence
number), and ``RAW`` sends the payload bytes as they are (any framing, or none).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from glasstls import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from glasstls.constants import TLS12, CipherSuite, NamedGroup, SignatureScheme
from glasstls.crypto import prf
from glasstls.crypto.suites import Suite, suite_by_name
from glasstls.keyschedule import next_traffic_secret, traffic_keys
from glasstls.messages.handshake import ClientHello, ServerHello
from glasstls.record import Protection, Tls12Protection, Tls13Protection
from glasstls.session import ClientSession, TicketKeys
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    KeyLog,
    Pair,
    engine_of,
    split_records,
)
from pki import pki

Connection = ClientConnection | ServerConnection
Configs = tuple[ClientConfig, ServerConfig]

RAW = 0xFF
# One fixed instant for every config: ticket ages, certificate validity and ticket
# keys then give the same bytes on every replay within a process.
NOW = time.time()
_SERVER_NAME = "localhost"


def seeded(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


def _clock() -> float:
    return NOW


def _client(key_type: str, seed: int, **overrides: object) -> ClientConfig:
    options: dict[str, object] = {
        "trust": pki(key_type).trust, "rng": seeded(seed), "clock": _clock,
        "key_share_groups": (NamedGroup.x25519,),
        # cryptography's path validator refuses Ed25519 certificates (the Web PKI
        # profile); Ed25519 is here for its deterministic signatures.
        "verify_certificates": key_type != "ed25519", **overrides}
    return ClientConfig(**options)  # type: ignore[arg-type]


def _server(key_type: str, seed: int, **overrides: object) -> ServerConfig:
    options: dict[str, object] = {
        "certificates": (pki(key_type).certified,), "rng": seeded(seed), "clock": _clock,
        "ticket_keys": TicketKeys(secret=bytes(32), rng=seeded(seed + 100)),
        "cookie_secret": bytes(32), **overrides}
    return ServerConfig(**options)  # type: ignore[arg-type]


_RSA12 = {"signature_schemes": (SignatureScheme.rsa_pkcs1_sha256,)}


def _client_auth(key_type: str) -> dict[str, object]:
    return {"client_auth": "required", "client_trust": pki(key_type).trust}


@dataclass(frozen=True)
class Scenario:
    """How to make the two configs (``seed`` varies the random sources), and what
    happens around the recorded connection."""

    configs: Callable[[int], Configs]
    # A first connection whose session the recorded one resumes.
    resume: bool = False
    early_data: bytes = b""
    post_handshake_auth: bool = False


SCENARIOS: dict[str, Scenario] = {
    "tls13": Scenario(lambda s: (
        _client("ed25519", s), _server("ed25519", s + 1))),
    "tls13_retry": Scenario(lambda s: (
        _client("ed25519", s, groups=(NamedGroup.x25519, NamedGroup.secp256r1)),
        _server("ed25519", s + 1, groups=(NamedGroup.secp256r1,)))),
    # The client's ECDSA signature differs on every run; only the server checks it,
    # against the recorded flight, so the replay still holds.
    "tls13_client_auth": Scenario(lambda s: (
        _client("ed25519", s, certificate=pki("ecdsa-p256").client_certified,
                cipher_suites=(CipherSuite.TLS_CHACHA20_POLY1305_SHA256,)),
        _server("ed25519", s + 1, **_client_auth("ecdsa-p256")))),
    "tls13_post_handshake_auth": Scenario(lambda s: (
        _client("ed25519", s, certificate=pki("ecdsa-p256").client_certified,
                post_handshake_auth=True),
        _server("ed25519", s + 1, client_auth="optional",
                client_trust=pki("ecdsa-p256").trust)), post_handshake_auth=True),
    "tls13_resumed_early_data": Scenario(lambda s: (
        _client("ed25519", s, enable_early_data=True,
                cipher_suites=(CipherSuite.TLS_AES_256_GCM_SHA384,)),
        _server("ed25519", s + 1, max_early_data_size=1024)),
        resume=True, early_data=b"early data from the client"),
    "tls12": Scenario(lambda s: (
        _client("rsa-2048", s, versions=(TLS12,)),
        _server("rsa-2048", s + 1, versions=(TLS12,), session_cache=None, **_RSA12))),
    "tls12_client_auth": Scenario(lambda s: (
        _client("rsa-2048", s, versions=(TLS12,),
                certificate=pki("rsa-2048").client_certified,
                cipher_suites=(CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,)),
        _server("rsa-2048", s + 1, versions=(TLS12,), **_RSA12,
                **_client_auth("rsa-2048")))),
    "tls12_rsa_key_exchange": Scenario(lambda s: (
        _client("rsa-2048", s, versions=(TLS12,), enable_rsa_key_exchange=True,
                cipher_suites=(CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384,)),
        _server("rsa-2048", s + 1, versions=(TLS12,), enable_rsa_key_exchange=True,
                **_RSA12))),
    "tls12_resumed": Scenario(lambda s: (
        _client("rsa-2048", s, versions=(TLS12,)),
        _server("rsa-2048", s + 1, versions=(TLS12,), **_RSA12)), resume=True),
}
RECORDED_SEED, FIRST_CONNECTION_SEED = 1, 11


@functools.cache
def first_session(name: str) -> ClientSession | None:
    """The session a resuming scenario's recorded connection starts from."""
    if not SCENARIOS[name].resume:
        return None
    client, server = SCENARIOS[name].configs(FIRST_CONNECTION_SEED)
    pair = Pair(client, server, server_name=_SERVER_NAME).pump()
    assert pair.complete, (pair.client.error, pair.server.error)
    if pair.client.connection.session is None:  # TLS 1.2 tickets arrive with Finished
        pair.pump()
    assert pair.client.connection.session is not None
    return pair.client.connection.session


def fresh_connection(name: str, is_server: bool, configs: Configs | None = None
                     ) -> Connection:
    client, server = configs or SCENARIOS[name].configs(RECORDED_SEED)
    if is_server:
        return ServerConnection(server)
    return ClientConnection(client, server_name=_SERVER_NAME, session=first_session(name))


# -- recording ------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """The AEAD keys of one protection seen on the wire."""

    suite: Suite
    key: bytes
    iv: bytes
    tls13: bool

    def protection(self, sequence: int) -> Protection:
        made = (Tls13Protection if self.tls13 else Tls12Protection)(self.suite, self.key,
                                                                     self.iv)
        made.sequence = sequence
        return made


@dataclass(frozen=True)
class Record:
    content_type: int
    version: bytes
    payload: bytes  # the plaintext, for a protected record
    keys: Keys | None = None
    sequence: int = 0


@dataclass(frozen=True)
class Transfer:
    direction: str
    data: bytes
    records: tuple[Record, ...]

    @property
    def to_server(self) -> bool:
        return self.direction == CLIENT_TO_SERVER

    @property
    def keys(self) -> tuple[Keys, ...]:
        """The protections this transfer's records used, in order of first use."""
        seen: list[Keys] = []
        for record in self.records:
            if record.keys is not None and record.keys not in seen:
                seen.append(record.keys)
        return tuple(seen)


Action = Callable[[Connection], None]


def _actions(scenario: Scenario, tls13: bool) -> list[tuple[bool, Action]]:
    """What each side does after the handshake, as (by the server?, action): data
    each way, a KeyUpdate each way in TLS 1.3, post-handshake authentication where
    the scenario has it, and close_notify from both."""
    actions: list[tuple[bool, Action]] = [
        (True, lambda c: c.send(b"application data from the server")),
        (False, lambda c: c.send(b"application data from the client")),
    ]
    if tls13:
        actions.append((False, lambda c: c.key_update(request_peer_update=True)))
        if scenario.post_handshake_auth:
            actions.append((True, lambda c: c.request_client_certificate()))  # type: ignore[union-attr]
        actions.append((True, lambda c: c.key_update(request_peer_update=False)))
        actions.append((True, lambda c: c.send(b"after the key updates")))
    actions += [(False, lambda c: c.close()), (True, lambda c: c.close())]
    return actions


@dataclass(frozen=True)
class Recording:
    transfers: tuple[Transfer, ...]
    # (number of transfers before it, by the server?, action)
    actions: tuple[tuple[int, bool, Action], ...]


@functools.cache
def recording(name: str) -> Recording:
    """Every transfer of the scenario's connection, each record decoded."""
    scenario = SCENARIOS[name]
    client_config, server_config = scenario.configs(RECORDED_SEED)
    keylog = KeyLog()
    client_config = dataclasses.replace(client_config, keylog=keylog)
    server_config = dataclasses.replace(server_config, keylog=keylog)  # logs resumptions
    client = fresh_connection(name, False, (client_config, server_config))
    assert isinstance(client, ClientConnection)
    if scenario.early_data:
        assert engine_of(client).early_data_allowance > 0, "no 0-RTT in the early data scenario"
        client.send_early_data(scenario.early_data)
    pair = Pair(client, server_config).pump()
    assert pair.complete, (name, pair.client.error, pair.server.error)
    actions = []
    tls13 = pair.client.negotiated.version == "TLSv1.3"
    for by_server, action in _actions(scenario, tls13):
        actions.append((len(pair.wire), by_server, action))
        action((pair.server if by_server else pair.client).connection)
        pair.pump()
    assert pair.client.error is None and pair.server.error is None, name
    suite = suite_by_name(pair.client.negotiated.cipher_suite)
    wire = pair.wire
    if tls13:
        protections = _tls13_keys(suite, keylog)
    else:
        # A resumed TLS 1.2 handshake is not in the key log (noted for issue 12 phase
        # 2): its master secret is the session's.
        session = first_session(name)
        master = keylog.secrets.get("CLIENT_RANDOM") or (session.secret if session else b"")
        protections = _tls12_keys(suite, master, wire)
    return Recording(tuple(_decode(wire, protections)), tuple(actions))


def _tls13_keys(suite: Suite, keylog: KeyLog) -> dict[str, list[Keys]]:
    """Per direction, the protections in the order they come into use."""
    out: dict[str, list[Keys]] = {}
    for direction, side in ((CLIENT_TO_SERVER, "CLIENT"), (SERVER_TO_CLIENT, "SERVER")):
        secrets = [keylog.secrets[label] for label in (
            f"{side}_EARLY_TRAFFIC_SECRET", f"{side}_HANDSHAKE_TRAFFIC_SECRET",
            f"{side}_TRAFFIC_SECRET_0") if label in keylog.secrets]
        for _ in range(2):  # the generations after KeyUpdates
            secrets.append(next_traffic_secret(suite, secrets[-1]))
        out[direction] = [Keys(suite, *traffic_keys(suite, s), tls13=True) for s in secrets]
    return out


def _tls12_keys(suite: Suite, master: bytes, wire: Sequence[tuple[str, bytes]]
                ) -> dict[str, list[Keys]]:
    # The randoms, from the plaintext hellos (the first record of each first flight).
    hello = ClientHello.parse(split_records(wire[0][1])[0][5:])
    first_reply = split_records(wire[1][1])[0][5:]
    server_hello = ServerHello.parse(first_reply[:4 + int.from_bytes(first_reply[1:4], "big")])
    key_len, iv_len = suite.key_len, suite.iv_len
    block = prf.key_block(suite.hash_name, master, hello.random,
                          server_hello.random, 2 * (key_len + iv_len))
    client_key, server_key = block[:key_len], block[key_len:2 * key_len]
    client_iv, server_iv = block[2 * key_len:2 * key_len + iv_len], block[2 * key_len + iv_len:]
    return {CLIENT_TO_SERVER: [Keys(suite, client_key, client_iv, tls13=False)],
            SERVER_TO_CLIENT: [Keys(suite, server_key, server_iv, tls13=False)]}


def _decode(wire: Sequence[tuple[str, bytes]], protections: dict[str, list[Keys]]
            ) -> Iterator[Transfer]:
    """Each record with the protection that opens it. In TLS 1.3 protected records
    are application_data records, and a record the current protection cannot open
    moves on to the next one (handshake keys, then traffic keys, then their updates);
    in TLS 1.2 a direction is protected after its ChangeCipherSpec."""
    tls13 = all(k.tls13 for keys in protections.values() for k in keys)
    # Per direction: the index of the protection in use (-1: none yet), its sequence.
    state = {direction: [-1, 0] for direction in protections}
    for direction, data in wire:
        candidates, position = protections[direction], state[direction]
        records = []
        for raw in split_records(data):
            header, payload = raw[:5], raw[5:]
            protected = raw[0] == 23 if tls13 else raw[0] != 20 and position[0] >= 0
            opened = _open(candidates, position, header, payload) if protected else None
            records.append(opened or Record(raw[0], raw[1:3], payload))
            if raw[0] == 20 and not tls13:
                position[:] = [0, 0]
        yield Transfer(direction, data, tuple(records))


def _open(candidates: list[Keys], position: list[int], header: bytes, payload: bytes
          ) -> Record | None:
    for index in range(max(position[0], 0), len(candidates)):
        sequence = position[1] if index == position[0] else 0
        keys = candidates[index]
        try:
            content_type, plaintext = keys.protection(sequence).open(header, payload)
        except Exception:  # not these keys
            continue
        position[:] = [index, sequence + 1]
        return Record(content_type, header[1:3], plaintext, keys, sequence)
    return None


# -- flights as fuzzer input ------------------------------------------------------------


def encode(records: Sequence[Record], keys: Sequence[Keys]) -> bytes:
    """Records in the fuzzer's format; protected ones name their slot in ``keys``."""
    out = bytearray()
    for record in records:
        slot = keys.index(record.keys) + 1 if record.keys is not None else 0
        out += bytes([slot, record.content_type]) + record.version
        out += len(record.payload).to_bytes(3, "big") + record.payload
    return bytes(out)


def decode(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(slot, content type, version, payload) of each record of a fuzzer input; a
    truncated last record keeps what there is."""
    position = 0
    while position + 7 <= len(data):
        slot, content_type = data[position], data[position + 1]
        version = data[position + 2:position + 4]
        length = int.from_bytes(data[position + 4:position + 7], "big")
        payload = data[position + 7:position + 7 + length]
        position += 7 + length
        yield slot, content_type, version, payload


def wire_bytes(data: bytes, transfer: Transfer) -> bytes:
    """The bytes to deliver for a fuzzer input: each record framed, and sealed with
    the transfer's keys when its slot names them (sequence numbers counting on from
    those the recorded transfer started at)."""
    keys = transfer.keys
    first_sequence: dict[Keys, int] = {}
    for record in transfer.records:
        if record.keys is not None:
            first_sequence.setdefault(record.keys, record.sequence)
    sealers: dict[int, Protection] = {}
    out = bytearray()
    for slot, content_type, version, payload in decode(data):
        if slot == RAW:
            out += payload
        elif 1 <= slot <= len(keys):
            sealer = sealers.get(slot)
            if sealer is None:
                sealer = sealers[slot] = keys[slot - 1].protection(
                    first_sequence[keys[slot - 1]])
            out += sealer.seal(content_type, payload, version, 0)
        else:
            out += bytes([content_type]) + version
            out += min(len(payload), 0xFFFF).to_bytes(2, "big") + payload
    return bytes(out)


def seed(transfer: Transfer) -> bytes:
    """The recorded transfer in the fuzzer's format (``wire_bytes`` gives it back)."""
    return encode(transfer.records, transfer.keys)


def replayed(name: str, index: int, configs: Configs | None = None) -> tuple[Connection, bool]:
    """A fresh connection of the side that receives transfer ``index``, brought to the
    state just before it by replaying what came before (transfers received, its own
    actions); and whether its handshake flights came out as recorded (a replay that
    differs, as the client's RSA-encrypted premaster secret does, reaches the same
    state with other keys, and the recorded flights after it no longer verify)."""
    recorded = recording(name)
    is_server = recorded.transfers[index].to_server
    connection = fresh_connection(name, is_server, configs)
    if not is_server and SCENARIOS[name].early_data:
        assert isinstance(connection, ClientConnection)
        connection.send_early_data(SCENARIOS[name].early_data)
    exact = True
    for position, transfer in enumerate(recorded.transfers[:index]):
        for at, by_server, action in recorded.actions:
            if at == position and by_server == is_server:
                action(connection)
        if transfer.to_server == is_server:
            connection.receive_data(transfer.data)
        else:
            sent = connection.data_to_send()
            if not connection.handshake_complete:
                exact = exact and sent == transfer.data
    for at, by_server, action in recorded.actions:
        if at == index and by_server == is_server:
            action(connection)
    connection.data_to_send()
    return connection, exact


@functools.cache
def replayable() -> tuple[tuple[str, int], ...]:
    """(scenario, transfer index) of every transfer whose receiver replays exactly to
    the state before it and then accepts the recorded transfer: the fuzzers start
    from these."""
    usable = []
    for name in SCENARIOS:
        for index, transfer in enumerate(recording(name).transfers):
            try:
                connection, exact = replayed(name, index)
                connection.receive_data(transfer.data)
            except TLSError:
                continue
            if exact:
                usable.append((name, index))
    return tuple(usable)
