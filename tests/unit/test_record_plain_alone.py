"""``RecordLayer.plain_alone``: a read that is exactly one whole unprotected handshake
record, nothing buffered before it (a server's ClientHello), taken without ``feed`` and
``next_record``. It must give what they give for that read, and take nothing (None,
the layer untouched) for any other read, which then goes the general way and gets its
alert there."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.errors import TLSError
from glasstls.record import RecordLayer

from .test_record import tls13_pair


def _general(data: bytes) -> tuple[str, object]:
    """What ``feed`` + ``next_record`` make of ``data`` on a fresh layer."""
    reference = RecordLayer()
    reference.feed(data)
    try:
        return "record", reference.next_record()
    except TLSError as error:
        return "alert", error.alert


# Records as a peer may send its first read: mostly handshake records of any length
# (empty, over 2^14), with any version; other types; cut short or with more after.
_HEADERS = st.tuples(st.sampled_from([20, 21, 22, 22, 22, 23, 24, 0x80]),
                     st.sampled_from([3, 3, 3, 2, 0x16]), st.integers(0, 255))


@settings(max_examples=400, deadline=None)
@given(header=_HEADERS, payload=st.one_of(st.binary(max_size=60),
                                          st.just(b"\x01" * (2**14 + 1))),
       length_off=st.sampled_from([0, 0, 0, 1, -1]), after=st.binary(max_size=8),
       as_view=st.booleans())
def test_a_lone_plain_record_gives_what_feed_and_next_record_give(
        header: tuple[int, int, int], payload: bytes, length_off: int, after: bytes,
        as_view: bool) -> None:
    content_type, major, minor = header
    length = max(0, min(0xFFFF, len(payload) + length_off))
    data = bytes([content_type, major, minor]) + length.to_bytes(2, "big") + payload + after
    layer = RecordLayer()
    buffer = bytearray(data)
    record = layer.plain_alone(memoryview(buffer) if as_view else data)
    buffer[:] = b"\xee" * len(buffer)  # a transport's buffer, filled again
    if record is None:
        assert layer.buffered == 0  # nothing taken
        assert not (content_type == 22 and major == 3 and 0 < len(data) - 5 == length
                    <= 2**14)
        return
    assert type(record[1]) is bytes
    assert ("record", record) == _general(data)
    assert layer.buffered == 0
    assert layer.next_record() is None


def test_a_client_hello_record_is_taken_whole() -> None:
    data = b"\x16\x03\x01\x00\x04\x01\x00\x00\x00"
    layer = RecordLayer()
    assert layer.plain_alone(data) == (22, b"\x01\x00\x00\x00")
    assert layer.buffered == 0


def test_nothing_is_taken_while_bytes_are_buffered() -> None:
    layer = RecordLayer()
    layer.feed(b"\x16\x03\x03\x00\x04\x01\x00")
    assert layer.plain_alone(b"\x16\x03\x03\x00\x01\x02") is None
    layer.feed(b"\x00\x00\x16\x03\x03\x00\x01\x02")
    assert layer.next_record() == (22, b"\x01\x00\x00\x00")
    assert layer.next_record() == (22, b"\x02")


@pytest.mark.parametrize("content_type", [21, 22, 23])
def test_nothing_is_taken_once_records_are_protected(content_type: int) -> None:
    sender, receiver = tls13_pair()
    data = sender.seal(content_type, b"\x01\x00")
    assert receiver.plain_alone(data) is None
    assert receiver.buffered == 0
    # And a record that looks plain under keys is the general way's (to refuse).
    assert receiver.plain_alone(b"\x16\x03\x03\x00\x01\x02") is None
