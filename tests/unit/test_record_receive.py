"""``RecordLayer.receive_records``: ``feed`` and ``next_records`` in one call (the bulk
path's usual read, opened straight from the bytes given when nothing is buffered).
It must give what the two calls give, leave the same bytes buffered (compact when it
returns None), and refuse what they refuse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.crypto.suites import TLS12_SUITES, TLS13_SUITES
from glasstls.errors import AlertDescription, TLSError
from glasstls.record import RecordLayer, Tls12Protection
from helpers.pump import cut_into_reads

from .test_record import keys, tls13_pair
from .test_record_runs import _RECORD, read_in_runs, sealed_stream


def receive_all(receiver: RecordLayer, data: bytes | bytearray) -> list[tuple[int, bytes]]:
    """What ``receive_records(data)`` and then ``next_records`` give, in order, until
    no whole record is left (checked: when the first call gives None, the buffer is
    compact)."""
    got: list[tuple[int, bytes]] = []
    plaintexts: list[bytes] = []
    record = receiver.receive_records(data, plaintexts)
    if record is None:
        # Compact: at most part of one record kept, and from its start.
        assert receiver._position == 0
        assert not receiver._following
    while True:
        assert all(type(plaintext) is bytes for plaintext in plaintexts)
        got += [(23, plaintext) for plaintext in plaintexts]
        if record is None:
            receiver.compact()  # as receive_data does after the general way
            return got
        got.append(record)
        plaintexts = []
        record = receiver.next_records(plaintexts)


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@settings(max_examples=150, deadline=None)
@given(records=st.lists(_RECORD, min_size=1, max_size=10),
       cuts=st.lists(st.integers(min_value=1, max_value=60_000), max_size=6),
       as_bytearray=st.booleans())
def test_reads_split_anywhere_give_what_feed_and_next_records_give(
        suite: object, records: list[tuple[int, bytes, int]], cuts: list[int],
        as_bytearray: bool) -> None:
    """Reads of whole records, of part of one, of several and a part, with handshake,
    alert, padded and empty records among them: the same records in the same order as
    ``feed`` + ``next_records``, the same bytes left buffered after each read, the same
    sequence number at the end."""
    wire = sealed_stream(records, suite)
    _, reference = tls13_pair(suite)  # type: ignore[arg-type]
    _, receiver = tls13_pair(suite)  # type: ignore[arg-type]
    for chunk in cut_into_reads(wire, cuts):
        reference.feed(chunk)
        expected = read_in_runs(reference)
        reference.compact()
        assert receive_all(receiver, bytearray(chunk) if as_bytearray else chunk) == expected
        assert receiver.buffered == reference.buffered
    assert receiver.read_protection.sequence == len(records)


def test_a_read_of_whole_records_keeps_nothing() -> None:
    wire = sealed_stream([(23, b"one", 0), (23, b"x" * 16384, 0)])
    _, receiver = tls13_pair()
    plaintexts: list[bytes] = []
    assert receiver.receive_records(wire, plaintexts) is None
    assert plaintexts == [b"one", b"x" * 16384]
    assert receiver.buffered == 0
    assert receiver.take_buffer() == b""


def test_part_of_a_record_after_whole_ones_is_kept_alone_and_completed_by_the_next_read(
        ) -> None:
    wire = sealed_stream([(23, b"one", 0), (23, b"two", 0)])
    cut = len(wire) - 7
    _, receiver = tls13_pair()
    plaintexts: list[bytes] = []
    assert receiver.receive_records(wire[:cut], plaintexts) is None
    assert plaintexts == [b"one"]
    # Only the start of the second record is kept, not the whole read.
    assert receiver._pending == wire[len(sealed_stream([(23, b"one", 0)])):cut]
    assert receiver.receive_records(wire[cut:], plaintexts) is None
    assert plaintexts == [b"one", b"two"]
    assert receiver.buffered == 0


def test_a_record_of_another_kind_is_returned_and_what_follows_it_waits_unopened() -> None:
    # A KeyUpdate may change the keys: the record after it is not opened before the
    # connection has handled it.
    wire = sealed_stream([(23, b"one", 0), (22, b"\x18\x00\x00\x01\x00", 0), (23, b"two", 0)])
    _, receiver = tls13_pair()
    plaintexts: list[bytes] = []
    assert receiver.receive_records(wire, plaintexts) == (22, b"\x18\x00\x00\x01\x00")
    assert plaintexts == [b"one"]
    assert receiver.read_protection.sequence == 2
    assert receiver.buffered == len(sealed_stream([(23, b"two", 0)]))
    plaintexts.clear()
    assert receiver.next_records(plaintexts) is None
    assert plaintexts == [b"two"]


def test_a_tampered_record_is_bad_record_mac_and_gives_no_plaintext() -> None:
    wire = bytearray(sealed_stream([(23, b"first", 0), (23, b"secret second", 0)]))
    wire[-3] ^= 0x01  # in the second record's tag
    _, receiver = tls13_pair()
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.receive_records(bytes(wire), plaintexts)
    assert caught.value.alert == AlertDescription.bad_record_mac
    assert plaintexts == [b"first"]


@pytest.mark.parametrize(("forge", "alert"), [
    (lambda record: record[:1] + b"\x04" + record[2:], AlertDescription.decode_error),
    (lambda record: b"\x63" + record[1:], AlertDescription.unexpected_message),
    (lambda record: b"\x17\x03\x03\x48\x01" + record[5:], AlertDescription.record_overflow),
])
def test_a_malformed_record_after_whole_ones_is_refused_as_next_record_refuses_it(
        forge: object, alert: AlertDescription) -> None:
    good = sealed_stream([(23, b"fine", 0)])
    bad = forge(sealed_stream([(23, b"fine", 0), (23, b"bad", 0)])[len(good):])  # type: ignore[operator]
    _, receiver = tls13_pair()
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.receive_records(good + bad, plaintexts)
    assert caught.value.alert == alert
    assert plaintexts == [b"fine"]


def test_what_was_buffered_before_is_read_first() -> None:
    wire = sealed_stream([(23, b"one", 0), (23, b"two", 0)])
    _, receiver = tls13_pair()
    receiver.feed(wire[:3])
    plaintexts: list[bytes] = []
    assert receiver.receive_records(wire[3:], plaintexts) is None
    assert plaintexts == [b"one", b"two"]
    assert receiver.buffered == 0


def test_tls12_records_are_opened_the_general_way() -> None:
    suite = TLS12_SUITES[0]
    sender = Tls12Protection(suite, *keys(suite))
    receiver = RecordLayer()
    receiver.tls13 = False
    receiver.read_protection = Tls12Protection(suite, *keys(suite))
    wire = b"".join(sender.seal(content_type, data, b"\x03\x03", 0) for content_type, data in
                    [(23, b"x" * 16384), (21, b"\x01\x00"), (23, b"z")])
    assert receive_all(receiver, wire) == [(23, b"x" * 16384), (21, b"\x01\x00"), (23, b"z")]


def test_without_keys_a_read_is_next_record() -> None:
    receiver = RecordLayer()
    plaintexts: list[bytes] = []
    assert receiver.receive_records(b"\x16\x03\x03\x00\x01\x01\x17", plaintexts) == (22, b"\x01")
    assert plaintexts == []
    assert receiver.buffered == 1


# -- full-size records: decrypted into the protection's own buffer (_FullRecord) ------------


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
def test_full_size_records_of_every_shape_give_what_decrypt_gives(suite: object) -> None:
    # 2^14 + 1 bytes of TLSInnerPlaintext each: plain data, data padded to the full size,
    # a handshake record, and data again after them (the buffer is reused).
    records = [(23, b"\x01" * 16384, 0), (23, b"\x02" * 16000, 384), (23, b"\x03" * 16384, 0),
               (22, b"\x18\x00\x3f\xfc" + bytes(16380), 0), (23, b"\x04" * 16384, 0),
               (23, b"", 16384)]
    wire = sealed_stream(records, suite)
    assert all(len(record) == 5 + 16384 + 1 + 16 for record in _split(wire))
    _, reference = tls13_pair(suite)  # type: ignore[arg-type]
    reference.feed(wire)
    expected = []
    while (item := reference.next_record()) is not None:
        expected.append(item)
    _, receiver = tls13_pair(suite)  # type: ignore[arg-type]
    assert receive_all(receiver, wire) == expected == [
        (content_type, data) for content_type, data, _ in records]


def test_a_tampered_full_size_record_leaves_nothing_of_its_plaintext_behind() -> None:
    wire = bytearray(sealed_stream([(23, b"\x5a" * 16384, 0), (23, b"secret" * 2730 + b"xxxx", 0)]))
    wire[-1] ^= 0x01  # the second record's tag
    _, receiver = tls13_pair()
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.receive_records(bytes(wire), plaintexts)
    assert caught.value.alert == AlertDescription.bad_record_mac
    assert plaintexts == [b"\x5a" * 16384]
    assert receiver.read_protection._full is not None  # type: ignore[attr-defined]
    assert receiver.read_protection._full.buffer == bytes(16385)  # type: ignore[attr-defined]


def test_the_sink_path_keeps_its_views_of_decrypted_bytes_for_full_size_records() -> None:
    # With views (a transport's sink), records are not decrypted into the shared buffer:
    # each view must stay valid after the next record is opened.
    wire = sealed_stream([(23, b"\x01" * 16384, 0), (23, b"\x02" * 16384, 0)])
    _, receiver = tls13_pair()
    receiver.feed(wire)
    views: list[memoryview] = []
    assert receiver.next_records(views, views=True) is None
    assert [bytes(view) for view in views] == [b"\x01" * 16384, b"\x02" * 16384]
    assert receiver.read_protection._full is None  # type: ignore[attr-defined]


def _split(wire: bytes) -> list[bytes]:
    records, position = [], 0
    while position < len(wire):
        end = position + 5 + int.from_bytes(wire[position + 3:position + 5], "big")
        records.append(wire[position:end])
        position = end
    return records
