"""The session file (``glasstls client --sess-out`` / ``--sess-in``): a versioned
encoding of ``ClientSession`` that round-trips and refuses anything else cleanly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, strategies as st

from glasstls.constants import TLS12, TLS13
from glasstls.errors import DecodeError
from glasstls.session import SESSION_FILE_MAGIC, ClientSession

texts = st.none() | st.text(max_size=40)
chains = st.lists(st.binary(min_size=1, max_size=64), max_size=3).map(tuple)
sessions = st.builds(
    ClientSession, version=st.sampled_from([TLS12, TLS13]),
    cipher_suite=st.integers(0, 0xFFFF), secret=st.binary(max_size=64),
    received_ms=st.integers(0, 2**63), lifetime=st.integers(0, 2**32 - 1),
    server_name=texts, alpn=st.none() | st.binary(max_size=255),
    ticket=st.binary(max_size=300), age_add=st.integers(0, 2**32 - 1),
    max_early_data_size=st.integers(0, 2**32 - 1), session_id=st.binary(max_size=32),
    extended_master_secret=st.booleans(), peer_certificates=chains,
    signature_scheme=texts, verified_chain=chains)


@given(sessions)
def test_a_session_survives_the_file(session: ClientSession) -> None:
    data = session.to_bytes()
    assert data.startswith(SESSION_FILE_MAGIC + b"\x01")
    assert ClientSession.from_bytes(data) == session


@given(sessions, st.data())
def test_a_damaged_file_is_a_decode_error_never_a_crash(session: ClientSession,
                                                      data: st.DataObject) -> None:
    encoded = bytearray(session.to_bytes())
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        ClientSession.from_bytes(bytes(encoded[:cut]))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(DecodeError):  # a flipped byte may leave another valid session
        ClientSession.from_bytes(bytes(encoded))


def test_another_format_version_is_refused_with_the_reason() -> None:
    data = ClientSession(TLS13, 0x1301, b"k", 0, 60, None, None).to_bytes()
    newer = data[:len(SESSION_FILE_MAGIC)] + b"\x02" + data[len(SESSION_FILE_MAGIC) + 1:]
    with pytest.raises(DecodeError, match="format 2 is not supported"):
        ClientSession.from_bytes(newer)
    with pytest.raises(DecodeError, match="not a glasstls session file"):
        ClientSession.from_bytes(b"-----BEGIN SSL SESSION PARAMETERS-----\n")
