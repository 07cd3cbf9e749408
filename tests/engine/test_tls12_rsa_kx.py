"""RSA key transport is not a padding oracle (RFC 5246 §7.4.7.1, Bleichenbacher).

The ClientKeyExchange is built here with raw RSA from ``cryptography``'s key numbers
(wrong padding, wrong lengths, wrong version, another key) and put in place of the
client's own, in flight. Every case must end exactly like a well-formed pre-master
secret encrypted to another key: the server goes on with a secret the client does
not know, so the first thing that fails is the client's Finished record, which the
server cannot decrypt (bad_record_mac). Same alert, same record, same events, same
trace steps, same bytes sent back, same randomness drawn — for every case.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from glasstls import AlertDescription
from glasstls.constants import CipherSuite, HandshakeType as H
from glasstls.crypto import rsa_kx
from glasstls.trace import TraceEvent
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    Pair,
    connect,
    engine_of,
    split_records,
)
from helpers.tls12 import client12, frame, plaintext_records, server12
from pki import pki

RSA_PKI = pki("rsa-2048")
SUITE = CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256
SERVER_KEY: rsa.RSAPublicKey = RSA_PKI.leaf.certificate.public_key()  # type: ignore[assignment]
OTHER_KEY: rsa.RSAPublicKey = RSA_PKI.client.key.public_key()  # type: ignore[assignment]
MODULUS_BYTES = SERVER_KEY.key_size // 8


def pre_master_secret(version: bytes = b"\x03\x03", length: int = 48) -> bytes:
    return version + os.urandom(length - 2)


def raw_rsa(block: bytes, key: rsa.RSAPublicKey = SERVER_KEY) -> bytes:
    """Textbook RSA of ``block`` (no padding added): block^e mod n."""
    numbers = key.public_numbers()
    value = int.from_bytes(block, "big")
    assert value < numbers.n
    return pow(value, numbers.e, numbers.n).to_bytes(MODULUS_BYTES, "big")


def nonzero(length: int) -> bytes:
    return bytes(b % 255 + 1 for b in os.urandom(length))


def pkcs1_block(message: bytes, block_type: int = 2, separator: bool = True,
                padding_length: int | None = None, first: int = 0) -> bytes:
    """00 || BT || PS || 00 || M, with every part open to being wrong."""
    if padding_length is None:
        padding_length = MODULUS_BYTES - 3 - len(message)
    filler = b"\xff" * padding_length if block_type == 1 else nonzero(padding_length)
    block = bytes([first, block_type]) + filler + (b"\x00" if separator else b"") + message
    if not separator:
        block += nonzero(MODULUS_BYTES - len(block))
    assert len(block) == MODULUS_BYTES, len(block)
    return block


def encrypted(message: bytes, key: rsa.RSAPublicKey = SERVER_KEY) -> bytes:
    return key.encrypt(message, padding.PKCS1v15())


# Each case: the encrypted_pre_master_secret the server receives instead of the client's.
CASES: dict[str, Callable[[], bytes]] = {
    "well-formed secret under another key": lambda: encrypted(pre_master_secret(), OTHER_KEY),
    "another well-formed secret under the right key": lambda: encrypted(pre_master_secret()),
    "ciphertext one byte short": lambda: encrypted(pre_master_secret())[1:],
    "ciphertext one byte long": lambda: b"\x00" + encrypted(pre_master_secret()),
    "ciphertext not below the modulus": lambda: b"\xff" * MODULUS_BYTES,
    "empty ciphertext": lambda: b"",
    "block type 1 (signature) padding": lambda: raw_rsa(
        pkcs1_block(pre_master_secret(), block_type=1)),
    "block type 0 padding": lambda: raw_rsa(pkcs1_block(pre_master_secret(), block_type=0)),
    "first byte not zero": lambda: raw_rsa(pkcs1_block(pre_master_secret(), first=1)),
    "no zero separator": lambda: raw_rsa(pkcs1_block(b"", separator=False,
                                                     padding_length=MODULUS_BYTES - 2)),
    "padding string of 7 bytes": lambda: raw_rsa(pkcs1_block(
        os.urandom(MODULUS_BYTES - 10), padding_length=7)),
    "separator right after the block type": lambda: raw_rsa(pkcs1_block(
        os.urandom(MODULUS_BYTES - 3), padding_length=0)),
    "secret of 47 bytes": lambda: encrypted(pre_master_secret(length=47)),
    "secret of 49 bytes": lambda: encrypted(pre_master_secret(length=49)),
    "empty secret": lambda: encrypted(b""),
    "secret with version 3.1": lambda: encrypted(pre_master_secret(b"\x03\x01")),
    "secret with version 3.2": lambda: encrypted(pre_master_secret(b"\x03\x02")),
    "secret with version 3.4": lambda: encrypted(pre_master_secret(b"\x03\x04")),
    "secret with version bytes swapped": lambda: encrypted(pre_master_secret(b"\x03\x03")[::-1]),
}
REFERENCE = "well-formed secret under another key"


def with_client_key_exchange(flight: bytes, encrypted_secret: bytes) -> bytes:
    """The client's second flight with its ClientKeyExchange body replaced."""
    (content_type, payload), *rest = plaintext_records(flight)
    assert content_type == 22 and payload[0] == H.client_key_exchange, payload[:1]
    body = len(encrypted_secret).to_bytes(2, "big") + encrypted_secret
    message = bytes([H.client_key_exchange]) + len(body).to_bytes(3, "big") + body
    assert len(payload) == 4 + int.from_bytes(payload[1:4], "big"), "one message only"
    return frame([(22, message)]) + frame(rest)


class CountingRandom:
    """The server's rng: real randomness, with every request remembered."""

    def __init__(self) -> None:
        self.requests: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.requests.append(size)
        return os.urandom(size)


@dataclass(frozen=True)
class Outcome:
    """Everything the server shows of how it handled the client's second flight."""

    failed_at_record: int | None
    alert: AlertDescription | None
    message: str
    events: tuple[Any, ...]
    trace_steps: tuple[tuple[str, str], ...]
    sent: bytes
    left_unread: int
    randomness: tuple[int, ...]
    client_received: tuple[AlertDescription, ...]


def run(encrypted_secret: bytes | None) -> Outcome:
    """A full RSA handshake whose ClientKeyExchange is replaced (None: left alone);
    the client's second flight is delivered to the server one record at a time."""
    steps: list[TraceEvent] = []
    rng = CountingRandom()
    pair = Pair(client12(RSA_PKI, cipher_suites=(SUITE,), enable_rsa_key_exchange=True),
                server12(RSA_PKI, enable_rsa_key_exchange=True, rng=rng,
                         trace=steps.append, session_cache=None, ticket_keys=None))
    assert pair.transfer(CLIENT_TO_SERVER) and pair.transfer(SERVER_TO_CLIENT)
    before = len(steps), len(rng.requests)
    flight = pair.client.connection.data_to_send()
    if encrypted_secret is not None:
        flight = with_client_key_exchange(flight, encrypted_secret)
    failed_at = None
    for index, raw in enumerate(split_records(flight)):
        pair.deliver(pair.server, raw)
        if pair.server.error is not None:
            failed_at = index
            break
    sent = pair.server.connection.data_to_send()
    pair.deliver(pair.client, sent)
    error = pair.server.error
    return Outcome(
        failed_at_record=failed_at,
        alert=pair.server.alert_sent,
        message=str(error) if error else "",
        events=tuple(pair.server.events),
        trace_steps=tuple((e.step, e.action) for e in steps[before[0]:]),
        sent=sent if error else b"",
        left_unread=engine_of(pair.server.connection).record.buffered,
        randomness=tuple(rng.requests[before[1]:]),
        client_received=tuple(pair.client.alerts_received),
    )


@pytest.fixture(scope="module")
def reference() -> Outcome:
    return run(CASES[REFERENCE]())


def test_reference_case_fails_at_the_clients_finished_record_with_bad_record_mac(
        reference: Outcome) -> None:
    # Records of the flight: ClientKeyExchange, ChangeCipherSpec, Finished.
    assert reference.failed_at_record == 2
    assert reference.alert == AlertDescription.bad_record_mac
    assert reference.events == ()
    assert reference.sent == bytes([21, 3, 3, 0, 2, 2, AlertDescription.bad_record_mac])
    assert reference.left_unread == 0
    assert reference.client_received == (AlertDescription.bad_record_mac,)
    # The server drew a fallback secret before decrypting (48 bytes), whatever came.
    assert 48 in reference.randomness


def test_unaltered_client_key_exchange_completes_the_handshake() -> None:
    outcome = run(None)
    assert outcome.failed_at_record is None and outcome.alert is None


@pytest.mark.parametrize("case", [c for c in CASES if c != REFERENCE])
def test_bad_encrypted_pre_master_secret_fails_exactly_like_one_under_another_key(
        case: str, reference: Outcome) -> None:
    assert run(CASES[case]()) == reference


# -- a client that knows the bad secret it sent ------------------------------------------------


def client_believing(monkeypatch: pytest.MonkeyPatch, secret: bytes) -> None:
    """Make the glasstls client use ``secret`` as its pre-master secret (and encrypt
    exactly that), so that its Finished is right for that secret."""
    def encrypt(public_key: Any, client_version: int, rng: Any) -> tuple[bytes, bytes]:
        return secret, encrypted(secret, public_key)

    monkeypatch.setattr(rsa_kx, "encrypt_pre_master_secret", encrypt)


def test_client_sending_the_secret_it_uses_completes_when_the_secret_is_well_formed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The control for the tests below: the substitution itself does no harm.
    client_believing(monkeypatch, pre_master_secret())
    pair = connect(client12(RSA_PKI, cipher_suites=(SUITE,), enable_rsa_key_exchange=True),
                   server12(RSA_PKI, enable_rsa_key_exchange=True))
    assert pair.complete


@pytest.mark.parametrize("secret", [
    pre_master_secret(b"\x03\x01"), pre_master_secret(b"\x03\x02"),
    pre_master_secret(length=47), pre_master_secret(length=49),
], ids=["version-3.1", "version-3.2", "47-bytes", "49-bytes"])
def test_server_never_uses_a_malformed_secret_even_when_the_client_knows_it(
        monkeypatch: pytest.MonkeyPatch, secret: bytes, reference: Outcome) -> None:
    # Were the server to use the decrypted secret despite its version or length, the
    # client's Finished would verify; RFC 5246 §7.4.7.1 replaces it with a random one.
    client_believing(monkeypatch, secret)
    pair = connect(client12(RSA_PKI, cipher_suites=(SUITE,), enable_rsa_key_exchange=True),
                   server12(RSA_PKI, enable_rsa_key_exchange=True))
    assert not pair.complete
    assert pair.server.alert_sent == reference.alert
    assert str(pair.server.error) == reference.message
