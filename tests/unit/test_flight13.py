"""The TLS 1.3 server's messages made with their bytes (handshake/flight13.py): the
bytes must be what the codec serialises from the same fields, for every shape, and
the EncryptedExtensions encoded once per answer must never be another answer's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, strategies as st

from glasstls.constants import ExtensionType as X
from glasstls.handshake import flight13
from glasstls.messages.extensions import KeyShareEntry
from glasstls.messages.handshake import (
    CertificateVerify,
    EncryptedExtensions,
    Finished,
    NewSessionTicket13,
    ServerHello,
    serialize,
)

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def _codec_bytes(message: Any) -> bytes:
    """What the codec serialises from the message's fields alone."""
    return serialize(replace(message, raw=b""))


@given(random=st.binary(min_size=32, max_size=32), session_id=st.binary(max_size=32),
       suite=u16, share=st.none() | st.builds(KeyShareEntry, u16,
                                                st.binary(min_size=1, max_size=1216)),
       psk_index=st.none() | u16)
def test_server_hello_bytes_are_the_codecs(random: bytes, session_id: bytes, suite: int,
                                           share: KeyShareEntry | None,
                                           psk_index: int | None) -> None:
    message = flight13.server_hello(random, session_id, suite, share, psk_index)
    assert message.raw == _codec_bytes(message)
    parsed = ServerHello.parse(message.raw)
    assert parsed == message
    assert parsed.describe() == message.describe()


@given(server_name=st.booleans(), alpn=st.none() | st.binary(min_size=1, max_size=255),
       limit=st.none() | st.integers(64, 2**14 + 1), early_data=st.booleans())
def test_encrypted_extensions_bytes_are_the_codecs(server_name: bool, alpn: bytes | None,
                                                   limit: int | None,
                                                   early_data: bool) -> None:
    message = flight13.encrypted_extensions(server_name, alpn, limit, early_data)
    assert message.raw == _codec_bytes(message)
    assert EncryptedExtensions.parse(message.raw) == message


def test_encrypted_extensions_are_reused_only_for_the_same_answers() -> None:
    base = flight13.encrypted_extensions(True, b"h2", None, False)
    assert flight13.encrypted_extensions(True, b"h2", None, False) is base
    others = [flight13.encrypted_extensions(False, b"h2", None, False),
              flight13.encrypted_extensions(True, b"http/1.1", None, False),
              flight13.encrypted_extensions(True, None, None, False),
              flight13.encrypted_extensions(True, b"h2", 2**14 + 1, False),
              flight13.encrypted_extensions(True, b"h2", 1024, False),
              flight13.encrypted_extensions(True, b"h2", None, True)]
    assert len({m.raw for m in [base, *others]}) == 1 + len(others)
    assert [e.type for e in others[3].extensions] == [
        X.server_name, X.application_layer_protocol_negotiation, X.record_size_limit]


@given(scheme=u16, signature=st.binary(max_size=600))
def test_certificate_verify_bytes_are_the_codecs(scheme: int, signature: bytes) -> None:
    message = flight13.certificate_verify(scheme, signature)
    assert message.raw == _codec_bytes(message)
    assert CertificateVerify.parse(message.raw) == message


@given(verify_data=st.binary(min_size=32, max_size=48))
def test_finished_bytes_are_the_codecs(verify_data: bytes) -> None:
    message = flight13.finished(verify_data)
    assert message.raw == _codec_bytes(message)
    assert Finished.parse(message.raw) == message


@given(lifetime=u32, age_add=u32, nonce=st.binary(max_size=255),
       ticket=st.binary(min_size=1, max_size=2000), early=u32)
def test_new_session_ticket_bytes_are_the_codecs(lifetime: int, age_add: int, nonce: bytes,
                                                 ticket: bytes, early: int) -> None:
    message = flight13.new_session_ticket(lifetime, age_add, nonce, ticket, early)
    assert message.raw == _codec_bytes(message)
    parsed = NewSessionTicket13.parse(message.raw)
    assert parsed == message
    assert parsed.max_early_data_size == early
