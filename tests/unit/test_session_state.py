"""What a ticket seals (``SessionState``): its encoding (format 2: the fixed fields and
the lengths first, in one struct) round-trips, the codec's layout of format 1 still
decodes, so that tickets sealed before an upgrade still open, and anything damaged is
refused with ``DecodeError`` (a full handshake), never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from glasstls.codec import Writer
from glasstls.errors import DecodeError
from glasstls.session import SessionState

states = st.builds(
    SessionState, version=st.sampled_from([0x0303, 0x0304]),
    cipher_suite=st.integers(0, 0xFFFF), secret=st.binary(max_size=48),
    issued_ms=st.integers(0, 2**64 - 1), lifetime=st.integers(0, 2**32 - 1),
    age_add=st.integers(0, 2**32 - 1), alpn=st.binary(max_size=255),
    server_name=st.binary(max_size=300), extended_master_secret=st.booleans(),
    max_early_data_size=st.integers(0, 2**32 - 1),
    peer_certificates=st.lists(st.binary(max_size=300), max_size=3).map(tuple))


def _codec_encoding(state: SessionState) -> bytes:
    """The layout written field by field with the codec (docs: session.py)."""
    w = Writer()
    w.u8(1)
    w.u16(state.version)
    w.u16(state.cipher_suite)
    w.opaque(1, state.secret)
    w.u64(state.issued_ms)
    w.u32(state.lifetime)
    w.u32(state.age_add)
    w.opaque(1, state.alpn)
    w.opaque(2, state.server_name)
    w.u8(1 if state.extended_master_secret else 0)
    w.u32(state.max_early_data_size)
    with w.vector(3):
        for certificate in state.peer_certificates:
            w.opaque(3, certificate)
    return bytes(w.buffer)


def _format_2(state: SessionState) -> bytes:
    """The layout of format 2 written field by field with the codec (docs: session.py)."""
    w = Writer()
    for size, value in ((1, 2), (2, state.version), (2, state.cipher_suite),
                        (8, state.issued_ms), (4, state.lifetime), (4, state.age_add),
                        (1, 1 if state.extended_master_secret else 0),
                        (4, state.max_early_data_size)):
        w.raw(value.to_bytes(size, "big"))
    chain = Writer()
    for certificate in state.peer_certificates:
        chain.opaque(3, certificate)
    for size, field in ((1, state.secret), (1, state.alpn), (2, state.server_name),
                        (4, bytes(chain.buffer))):
        w.raw(len(field).to_bytes(size, "big"))
    w.raw(state.secret + state.alpn + state.server_name + bytes(chain.buffer))
    return bytes(w.buffer)


@given(states)
def test_a_state_is_encoded_in_format_2_and_decodes_back(state: SessionState) -> None:
    encoded = state.encode()
    assert encoded == _format_2(state)
    assert SessionState.decode(encoded) == state
    assert SessionState.encode_fields(
        state.version, state.cipher_suite, state.secret, state.issued_ms, state.lifetime,
        state.age_add, state.alpn, state.server_name, state.extended_master_secret,
        state.max_early_data_size, state.peer_certificates) == encoded


@given(states)
def test_a_state_in_format_1_the_codecs_layout_still_decodes(state: SessionState) -> None:
    assert SessionState.decode(_codec_encoding(state)) == state


@given(states, st.data())
def test_a_truncated_or_extended_state_is_a_decode_error(state: SessionState,
                                                         data: st.DataObject) -> None:
    for encoded in (state.encode(), _codec_encoding(state)):
        cut = data.draw(st.integers(0, len(encoded) - 1))
        with pytest.raises(DecodeError):
            SessionState.decode(encoded[:cut])
        with pytest.raises(DecodeError):
            SessionState.decode(encoded + data.draw(st.binary(min_size=1, max_size=4)))


def _decoded_or_refused(data: bytes) -> None:
    """``data`` decodes to a state that encodes back to it (format 2) or to the same
    state (format 1), or is refused with DecodeError, nothing else."""
    try:
        state = SessionState.decode(data)
    except DecodeError:
        return
    if data[:1] == b"\x02":
        assert state.encode() == data
    else:
        assert SessionState.decode(state.encode()) == state


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_state_or_a_decode_error(data: bytes) -> None:
    _decoded_or_refused(data)
    _decoded_or_refused(b"\x02" + data)


@given(states, st.data())
def test_a_state_damaged_anywhere_decodes_or_is_refused(state: SessionState,
                                                        data: st.DataObject) -> None:
    for encoded in (state.encode(), _codec_encoding(state)):
        damaged = bytearray(encoded)
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
        _decoded_or_refused(bytes(damaged))


def test_another_format_version_is_refused() -> None:
    encoded = bytearray(SessionState(0x0304, 0x1301, bytes(32), 0, 7200).encode())
    encoded[0] = 3
    with pytest.raises(DecodeError, match="format"):
        SessionState.decode(bytes(encoded))


def test_a_field_too_long_for_its_length_is_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="out of range"):
        SessionState(0x0304, 0x1301, bytes(256), 0, 7200).encode()
    with pytest.raises(ValueError, match="out of range"):
        SessionState(0x0304, 0x1301, bytes(32), 0, 7200, alpn=bytes(256)).encode()
    with pytest.raises(ValueError, match="out of range"):
        SessionState(0x0304, 0x1301, bytes(32), 0, 7200,
                     peer_certificates=(bytes(2**24),)).encode()
