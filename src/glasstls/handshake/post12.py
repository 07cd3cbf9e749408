"""TLS 1.2 pieces both roles share: session keys from the master secret, the
Finished check, and the connected state (which refuses renegotiation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import trace as t
from ..constants import HandshakeType as H
from ..crypto import prf
from ..crypto.hkdf import constant_time_equal
from ..crypto.suites import Suite
from ..errors import (
    AlertDescription,
    DecryptError,
)
from ..events import HandshakeComplete
from ..messages.handshake import ClientHello, Finished, parse_empty
from ..record import Tls12Protection
from .common import Engine, State


@dataclass(frozen=True)
class Tls12Keys:
    client_write: Tls12Protection
    server_write: Tls12Protection


def install_tls12_keys(engine: Engine, suite: Suite, master: bytes, client_random: bytes,
                       server_random: bytes, *, is_client: bool, extended: bool) -> Tls12Keys:
    """RFC 5246 §6.3: the key block, split into write keys and IVs (AEAD: no MAC keys)."""
    key_len, iv_len = suite.key_len, suite.iv_len
    block = prf.key_block(suite.hash_name, master, client_random, server_random,
                          2 * (key_len + iv_len))
    client_key, server_key = block[:key_len], block[key_len : 2 * key_len]
    client_iv = block[2 * key_len : 2 * key_len + iv_len]
    server_iv = block[2 * key_len + iv_len :]
    if engine.tracing:
        engine.trace(t.KEY_DERIVATION, t.LOCAL, {
            "stage": "master secret and key block", "prf_hash": suite.hash_name,
            "extended_master_secret": extended,
            "derived": {"master_secret": len(master), "client_write_key": key_len,
                        "server_write_key": key_len, "client_write_iv": iv_len,
                        "server_write_iv": iv_len},
        }, {"master_secret": master, "client_write_key": client_key,
            "server_write_key": server_key, "client_write_iv": client_iv,
            "server_write_iv": server_iv})
    return Tls12Keys(Tls12Protection(suite, client_key, client_iv),
                     Tls12Protection(suite, server_key, server_iv))


def verify_finished12(engine: Engine, suite: Suite, master: bytes, message: Finished,
                      from_client: bool) -> None:
    expected = prf.finished_verify_data(suite.hash_name, master, from_client,
                                        engine.transcript.digest_before_last())
    if not constant_time_equal(expected, message.verify_data):
        raise DecryptError(f"{'client' if from_client else 'server'} Finished does not verify")
    if engine.tracing:
        engine.trace(t.FINISHED, t.RECEIVED, {"verify_data_bytes": len(message.verify_data),
                                              "result": "verified"})


def finish_handshake12(engine: Engine, connected: Connected12, suite: Suite, master: bytes,
                       client_random: bytes, server_random: bytes,
                       event: HandshakeComplete) -> None:
    from ..connection import _Connection

    assert isinstance(engine, _Connection)
    engine.suite = suite

    def exporter(label: bytes, context: bytes | None, length: int) -> bytes:
        return prf.export(suite.hash_name, master, client_random, server_random, label,
                          context, length)

    engine.tls12_exporter = exporter
    engine.handshake_done(connected)
    if engine.tracing:
        engine.trace(t.ESTABLISHED, t.LOCAL, {
            "version": event.version, "cipher_suite": event.cipher_suite,
            "key_exchange": event.key_exchange, "group": event.group,
            "signature_scheme": event.signature_scheme, "alpn": event.alpn_protocol,
            "extended_master_secret": event.extended_master_secret, "resumed": event.resumed,
        })
    engine.complete(event)


class Connected12(State):
    """Application data flows. A HelloRequest (client) or ClientHello (server) asks
    for renegotiation, which glasstls refuses (RFC 5746 §4.2, §4.4)."""

    accepts_application_data = True
    plain_application_data = True
    connected = True

    def __init__(self, is_client: bool) -> None:
        self.is_client = is_client
        self.expects = ({H.hello_request: parse_empty} if is_client
                        else {H.client_hello: ClientHello.parse})

    def handle(self, engine: Engine, message: Any) -> State:
        # RFC 5246 §7.2.2: no_renegotiation is a warning; the connection goes on.
        engine.send_alert(AlertDescription.no_renegotiation, fatal=False)
        if engine.tracing:
            engine.trace(t.ALERT, t.SENT, {
                "level": "warning", "description": "no_renegotiation",
                "meaning": "renegotiation was refused"})
        return self
