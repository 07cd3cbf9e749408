"""The TLS 1.3 server's messages made with their bytes (handshake/flight13.py): the
bytes must be what the codec serialises from the same fields, for every shape (the
messages given as bytes alone must parse to the fields they were made from, and
serialise back to the same bytes), and the EncryptedExtensions encoded once per
answer must never be another answer's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, strategies as st

from glasstls.constants import TLS12, TLS13, ExtensionType as X
from glasstls.handshake import flight13
from glasstls.messages.extensions import (
    SH,
    EarlyDataIndication,
    KeyShare,
    KeyShareEntry,
    PreSharedKey,
    SupportedVersions,
)
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
    raw = flight13.server_hello(random, session_id, suite,
                                (share.group, share.key_exchange) if share else None, psk_index)
    parsed = ServerHello.parse(raw)
    extensions: list[Any] = [SupportedVersions((TLS13,), selected=True)]
    if share is not None:
        extensions.append(KeyShare((share,), where=SH))
    if psk_index is not None:
        extensions.append(PreSharedKey(selected_identity=psk_index))
    assert parsed == ServerHello(TLS12, random, session_id, suite, 0, tuple(extensions))
    assert _codec_bytes(parsed) == raw


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
    raw = flight13.certificate_verify(scheme, signature)
    parsed = CertificateVerify.parse(raw)
    assert parsed == CertificateVerify(scheme, signature)
    assert _codec_bytes(parsed) == raw


@given(verify_data=st.binary(min_size=32, max_size=48))
def test_finished_bytes_are_the_codecs(verify_data: bytes) -> None:
    raw = flight13.finished(verify_data)
    parsed = Finished.parse(raw)
    assert parsed == Finished(verify_data)
    assert _codec_bytes(parsed) == raw


@given(lifetime=u32, age_add=u32, nonce=st.binary(max_size=255),
       ticket=st.binary(min_size=1, max_size=2000), early=u32)
def test_new_session_ticket_bytes_are_the_codecs(lifetime: int, age_add: int, nonce: bytes,
                                                 ticket: bytes, early: int) -> None:
    raw = flight13.new_session_ticket(lifetime, age_add, nonce, ticket, early)
    parsed = NewSessionTicket13.parse(raw)
    assert parsed == NewSessionTicket13(
        lifetime, age_add, nonce, ticket, (EarlyDataIndication(early),) if early else ())
    assert parsed.max_early_data_size == early
    assert _codec_bytes(parsed) == raw
