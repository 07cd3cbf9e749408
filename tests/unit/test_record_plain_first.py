"""``RecordLayer.plain_first``: a read that is exactly one whole unprotected handshake
record, nothing buffered before it (a server's ClientHello), taken without ``feed`` and
``next_record``, and, under keys, a read that begins with TLS 1.3's compatibility
change_cipher_spec (a client's last flight), that record taken and the rest kept. It
must give what they give for that read, and take nothing (None, the layer untouched)
for any other read, which then goes the general way and gets its alert there."""

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
    record = layer.plain_first(memoryview(buffer) if as_view else data)
    buffer[:] = b"\xee" * len(buffer)  # a transport's buffer, filled again
    if record is None:
        assert layer.buffered == 0  # nothing taken
        assert not (content_type == 22 and major == 3 and 0 < len(data) - 5 == length
                    <= 2**14)
        assert not data.startswith(b"\x14\x03\x03\x00\x01\x01")
        return
    if data.startswith(b"\x14\x03\x03\x00\x01\x01"):
        return  # the change_cipher_spec's own test, below
    assert type(record[1]) is bytes
    assert ("record", record) == _general(data)
    assert layer.buffered == 0
    assert layer.next_record() is None


def test_a_client_hello_record_is_taken_whole() -> None:
    data = b"\x16\x03\x01\x00\x04\x01\x00\x00\x00"
    layer = RecordLayer()
    assert layer.plain_first(data) == (22, b"\x01\x00\x00\x00")
    assert layer.buffered == 0


def test_nothing_is_taken_while_bytes_are_buffered() -> None:
    layer = RecordLayer()
    layer.feed(b"\x16\x03\x03\x00\x04\x01\x00")
    assert layer.plain_first(b"\x16\x03\x03\x00\x01\x02") is None
    layer.feed(b"\x00\x00\x16\x03\x03\x00\x01\x02")
    assert layer.next_record() == (22, b"\x01\x00\x00\x00")
    assert layer.next_record() == (22, b"\x02")


@pytest.mark.parametrize("content_type", [21, 22, 23])
def test_nothing_is_taken_once_records_are_protected(content_type: int) -> None:
    sender, receiver = tls13_pair()
    data = sender.seal(content_type, b"\x01\x00")
    assert receiver.plain_first(data) is None
    assert receiver.buffered == 0
    # And a record that looks plain under keys is the general way's (to refuse).
    assert receiver.plain_first(b"\x16\x03\x03\x00\x01\x02") is None


def _all_records(layer: RecordLayer) -> list[tuple[str, object]]:
    """The records next_record gives until it has none, and its alert if it fails."""
    records: list[tuple[str, object]] = []
    try:
        while (record := layer.next_record()) is not None:
            records.append(("record", record))
    except TLSError as error:
        records.append(("alert", error.alert))
    return records


@settings(max_examples=300, deadline=None)
@given(protected=st.booleans(), rest=st.lists(
    st.tuples(st.sampled_from([20, 21, 22, 23]), st.binary(max_size=40)), max_size=3),
    cut=st.integers(0, 8), junk=st.binary(max_size=6), as_view=st.booleans())
def test_a_change_cipher_spec_first_is_taken_and_the_rest_read_as_the_general_way_reads_it(
        protected: bool, rest: list[tuple[int, bytes]], cut: int, junk: bytes,
        as_view: bool) -> None:
    # A client's last flight: the compatibility change_cipher_spec, then records of
    # any type, possibly cut short or followed by junk; under keys (as a client's last
    # flight comes) or not.
    sender, receiver = tls13_pair() if protected else (RecordLayer(), RecordLayer())
    reference = RecordLayer()
    reference.read_protection = tls13_pair()[1].read_protection if protected else (
        reference.read_protection)
    records = b"".join(sender.seal(content_type, payload) for content_type, payload in rest)
    data = b"\x14\x03\x03\x00\x01\x01" + records[:max(0, len(records) - cut)] + junk
    reference.feed(data)
    expected = _all_records(reference)
    buffer = bytearray(data)
    first = receiver.plain_first(memoryview(buffer) if as_view else data)
    buffer[:] = b"\xee" * len(buffer)  # a transport's buffer, filled again
    if not protected:
        # Before keys, a change_cipher_spec (after a HelloRetryRequest) is the
        # general way's.
        assert first is None
        assert receiver.buffered == 0
        return
    assert first == (20, b"\x01")
    assert [("record", first), *_all_records(receiver)] == expected


@pytest.mark.parametrize("data", [
    b"\x14\x03\x03\x00\x01\x02",  # not the compatibility record: the general way's
    b"\x14\x03\x01\x00\x01\x01",
    b"\x14\x03\x03\x00\x02\x01\x01",
    b"\x14\x03\x03\x00\x01",  # cut short
])
def test_any_other_change_cipher_spec_is_left_to_the_general_way(data: bytes) -> None:
    _, receiver = tls13_pair()
    assert receiver.plain_first(data) is None
    assert receiver.buffered == 0


def test_a_change_cipher_spec_is_not_taken_while_bytes_are_buffered() -> None:
    layer = RecordLayer()
    layer.feed(b"\x16\x03\x03\x00\x04\x01\x00")
    assert layer.plain_first(b"\x14\x03\x03\x00\x01\x01") is None
    assert layer.buffered == 7
