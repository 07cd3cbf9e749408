"""TLS 1.2 pieces both roles share: session keys from the master secret, the
Finished check, the exporter, and the connected state (which refuses renegotiation)."""

from __future__ import annotations

import functools
from dataclasses import field
from typing import Any

from ..constants import TLS12, HandshakeType as H, NamedGroup, describe
from ..crypto import prf
from ..crypto.hkdf import constant_time_equal
from ..crypto.suites import Suite
from ..errors import AlertDescription, DecryptError
from ..events import HandshakeComplete
from ..immutable import frozen
from ..messages.handshake import ClientHello, Finished, parse_empty
from ..record import Tls12Protection
from .engine import Engine, Negotiated, Parser, State

_CLIENT: dict[int, Parser] = {H.hello_request: parse_empty}
_SERVER: dict[int, Parser] = {H.client_hello: ClientHello.parse}


@frozen
class Tls12Keys:
    """RFC 5246 §6.3: the master secret and the key block made from it (AEAD suites:
    write keys and IVs, no MAC keys)."""

    suite: Suite
    master: bytes
    extended_master_secret: bool  # how the master secret was made (RFC 7627)
    client_random: bytes
    server_random: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes
    # The master secret as the PRF's key, for the Finished messages (the handshake
    # only: the established connection's exporter keeps the bytes, see negotiated12).
    master_prf: prf.MasterSecret = field(compare=False, repr=False)

    @classmethod
    def derive(cls, suite: Suite, master: bytes, extended_master_secret: bool,
               client_random: bytes, server_random: bytes) -> Tls12Keys:
        key_len, iv_len = suite.key_len, suite.iv_len
        master_prf = prf.MasterSecret(suite.hash_name, master)
        block = master_prf.key_block(client_random, server_random, 2 * (key_len + iv_len))
        return cls(suite, master, extended_master_secret, client_random, server_random,
                   block[:key_len],
                   block[key_len : 2 * key_len], block[2 * key_len : 2 * key_len + iv_len],
                   block[2 * key_len + iv_len :], master_prf)

    @property
    def client_write(self) -> Tls12Protection:
        return Tls12Protection(self.suite, self.client_key, self.client_iv)

    @property
    def server_write(self) -> Tls12Protection:
        return Tls12Protection(self.suite, self.server_key, self.server_iv)

    def describe(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        secrets = {"master_secret": self.master, "client_write_key": self.client_key,
                   "server_write_key": self.server_key, "client_write_iv": self.client_iv,
                   "server_write_iv": self.server_iv}
        return ({"stage": "master secret and key block", "prf_hash": self.suite.hash_name,
                 "extended_master_secret": self.extended_master_secret,
                 "derived": {name: len(value) for name, value in secrets.items()}}, secrets)


def derive_keys12(engine: Engine, suite: Suite, master: bytes, extended_master_secret: bool,
                  client_random: bytes, server_random: bytes) -> Tls12Keys:
    keys = Tls12Keys.derive(suite, master, extended_master_secret, client_random,
                            server_random)
    engine.trace_keys(keys)
    return keys


def verify_finished12(engine: Engine, keys: Tls12Keys, message: Finished,
                      from_client: bool) -> None:
    expected = keys.master_prf.finished_verify_data(from_client,
                                                    engine.transcript.digest_before_last())
    if not constant_time_equal(expected, message.verify_data):
        raise DecryptError(f"{'client' if from_client else 'server'} Finished does not verify")
    engine.note(result="verified")


def send_finished12(engine: Engine, keys: Tls12Keys, from_client: bool) -> None:
    """ChangeCipherSpec, then Finished under the new keys (RFC 5246 §7.4.9)."""
    engine.send_change_cipher_spec()
    engine.install_write(keys.client_write if from_client else keys.server_write)
    engine.send(Finished(keys.master_prf.finished_verify_data(from_client,
                                                              engine.transcript.digest())))


@functools.cache
def key_exchange12(suite: Suite, group: int | None, resumed: bool) -> str:
    """``HandshakeComplete.key_exchange`` of a TLS 1.2 handshake, made once per kind
    and shared (every established connection keeps its summary)."""
    if resumed:
        return "resumed"
    if suite.key_exchange == "RSA":
        return "RSA"
    return f"ECDHE {describe(NamedGroup, group or 0)}"


def negotiated12(keys: Tls12Keys, summary: HandshakeComplete) -> Negotiated:
    # RFC 5705 keying material. The exporter holds the secret's bytes, not the keys
    # with their padded HMAC states.
    return Negotiated(TLS12, keys.suite, summary, functools.partial(
        prf.export, keys.suite.hash_name, keys.master, keys.client_random, keys.server_random))


class Connected12(State):
    """Application data flows. A HelloRequest (client) or ClientHello (server) asks
    for renegotiation, which glasstls refuses (RFC 5746 §4.2, §4.4)."""

    __slots__ = ("expects",)
    accepts_application_data = True
    plain_application_data = True
    connected = True

    def __init__(self, is_client: bool) -> None:
        # Shared tables: an idle connection keeps no dictionary of its own.
        self.expects = _CLIENT if is_client else _SERVER

    def handle(self, engine: Engine, message: Any) -> State:
        # RFC 5246 §7.2.2: no_renegotiation is a warning; the connection goes on.
        engine.send_warning(AlertDescription.no_renegotiation)
        return self
