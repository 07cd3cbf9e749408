"""The record layer's bulk path, ``RecordLayer.next_records``: a run of application
data records opened in one loop must give exactly what ``next_record`` gives one
record at a time, refuse the same records with the same alerts, and never hand out
plaintext of a record that failed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.crypto.suites import TLS12_SUITES, TLS13_SUITES
from glasstls.errors import AlertDescription, TLSError
from glasstls.record import RecordLayer, Tls12Protection, Tls13Protection
from helpers.pump import cut_into_reads

from .test_record import AES128, keys, tls13_pair

# (content type, data, padding) of the records a stream is made of: mostly
# application data, with the other records a connection meets after its handshake.
_RECORD = st.one_of(
    st.tuples(st.just(23), st.binary(min_size=0, max_size=2000), st.integers(0, 40)),
    st.tuples(st.just(23), st.just(b"\x5a" * 16384), st.just(0)),
    st.tuples(st.just(22), st.just(b"\x18\x00\x00\x01\x00"), st.integers(0, 40)),
    st.tuples(st.just(21), st.just(b"\x01\x00"), st.just(0)),
)


def sealed_stream(records: list[tuple[int, bytes, int]], suite: object = AES128) -> bytes:
    sender = Tls13Protection(suite, *keys(suite))  # type: ignore[arg-type]
    return b"".join(sender.seal(content_type, data, b"\x03\x03", padding)
                    for content_type, data, padding in records)


def read_in_runs(receiver: RecordLayer, views: bool = False) -> list[tuple[int, bytes]]:
    """Everything ``next_records`` gives for the bytes fed so far, in order (views
    checked to be read-only and turned into bytes)."""
    got: list[tuple[int, bytes]] = []
    while True:
        plaintexts: list[bytes | memoryview] = []
        record = receiver.next_records(plaintexts, views=views)
        for plaintext in plaintexts:
            assert type(plaintext) is (memoryview if views else bytes)
            assert not views or plaintext.readonly  # type: ignore[union-attr]
            got.append((23, bytes(plaintext)))
        if record is None:
            return got
        got.append(record)


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@settings(max_examples=120, deadline=None)
@given(records=st.lists(_RECORD, min_size=1, max_size=10),
       cuts=st.lists(st.integers(min_value=1, max_value=60_000), max_size=6),
       views=st.booleans())
def test_a_run_gives_the_records_next_record_gives_whatever_the_reads(
        suite: object, records: list[tuple[int, bytes, int]], cuts: list[int],
        views: bool) -> None:
    """Padded, empty and full-size records and handshake and alert records among
    them, in reads split anywhere: the same records, types and order as one
    ``next_record`` at a time over a single read, the same sequence number after
    them, and nothing left over."""
    wire = sealed_stream(records, suite)
    _, one_by_one = tls13_pair(suite)  # type: ignore[arg-type]
    one_by_one.feed(wire)
    expected = []
    while (item := one_by_one.next_record()) is not None:
        expected.append(item)
    assert expected == [(content_type, data) for content_type, data, _ in records]

    _, receiver = tls13_pair(suite)  # type: ignore[arg-type]
    got = []
    for chunk in cut_into_reads(wire, cuts):
        receiver.feed(chunk)
        got += read_in_runs(receiver, views)
    assert got == expected
    assert all(type(data) is bytes for _, data in got)
    assert receiver.buffered == 0
    assert receiver.read_protection.sequence == one_by_one.read_protection.sequence == len(records)


def test_a_run_stops_at_the_first_record_that_is_not_application_data() -> None:
    # A KeyUpdate (or any handshake message) may change the keys: nothing after it
    # is opened before the connection has handled it.
    wire = sealed_stream([(23, b"one", 0), (23, b"two", 0), (22, b"\x18\x00\x00\x01\x00", 0),
                          (23, b"three", 0)])
    _, receiver = tls13_pair()
    receiver.feed(wire)
    plaintexts: list[bytes] = []
    assert receiver.next_records(plaintexts) == (22, b"\x18\x00\x00\x01\x00")
    assert plaintexts == [b"one", b"two"]
    assert receiver.read_protection.sequence == 3
    plaintexts.clear()
    assert receiver.next_records(plaintexts) is None
    assert plaintexts == [b"three"]


def test_an_empty_application_data_record_ends_a_run() -> None:
    # Returned alone, so that the connection counts it against empty records in a row.
    wire = sealed_stream([(23, b"one", 0), (23, b"", 5), (23, b"two", 0)])
    _, receiver = tls13_pair()
    receiver.feed(wire)
    plaintexts: list[bytes] = []
    assert receiver.next_records(plaintexts) == (23, b"")
    assert plaintexts == [b"one"]


def test_a_tampered_record_in_a_run_is_bad_record_mac_and_gives_no_plaintext() -> None:
    wire = bytearray(sealed_stream([(23, b"first", 0), (23, b"secret second", 0),
                                    (23, b"third", 0)]))
    second_start = 5 + 5 + 1 + 16
    wire[second_start + 5 + 2] ^= 0x80  # a ciphertext byte of the second record
    _, receiver = tls13_pair()
    receiver.feed(bytes(wire))
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.next_records(plaintexts)
    assert caught.value.alert == AlertDescription.bad_record_mac
    # Only what was authentic before it; neither the tampered record nor the next.
    assert plaintexts == [b"first"]


@pytest.mark.parametrize(("forge", "alert"), [
    (lambda record: record[:1] + b"\x04" + record[2:], AlertDescription.decode_error),
    (lambda record: b"\x16" + record[1:], AlertDescription.unexpected_message),
])
def test_a_malformed_record_after_a_run_is_refused_as_next_record_refuses_it(
        forge: object, alert: AlertDescription) -> None:
    good = sealed_stream([(23, b"fine", 0)])
    bad = forge(sealed_stream([(23, b"fine", 0), (23, b"bad", 0)])[len(good):])  # type: ignore[operator]
    _, receiver = tls13_pair()
    receiver.feed(good + bad)
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.next_records(plaintexts)
    assert caught.value.alert == alert
    assert plaintexts == [b"fine"]


@pytest.mark.parametrize(("limit", "taken", "refused"), [(101, 100, 1000), (100, 99, 100)])
def test_a_run_respects_the_record_size_limit_we_announced(
        limit: int, taken: int, refused: int) -> None:
    # RFC 8449: once acknowledged, a longer record is record_overflow, in a run too;
    # the limit counts TLSInnerPlaintext (content type byte included).
    wire = sealed_stream([(23, b"a" * taken, 0), (23, b"b" * refused, 0)])
    _, receiver = tls13_pair()
    receiver.read_limit = limit
    receiver.feed(wire)
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.next_records(plaintexts)
    assert caught.value.alert == AlertDescription.record_overflow
    assert plaintexts == [b"a" * taken]


@pytest.mark.parametrize("suite", TLS12_SUITES[:1] + TLS12_SUITES[-3:-2], ids=lambda s: s.name)
def test_a_tls12_run_opens_its_records_and_stops_at_an_alert(suite: object) -> None:
    sender = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    receiver = RecordLayer()
    receiver.tls13 = False
    receiver.read_protection = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    wire = b"".join(sender.seal(content_type, data, b"\x03\x03", 0) for content_type, data in
                    [(23, b"x" * 16384), (23, b"y"), (21, b"\x01\x00"), (23, b"z")])
    receiver.feed(wire)
    assert read_in_runs(receiver) == [(23, b"x" * 16384), (23, b"y"), (21, b"\x01\x00"),
                                      (23, b"z")]


def test_a_tls12_record_over_2_14_bytes_of_plaintext_is_record_overflow_in_a_run() -> None:
    # RFC 5246 §6.2.3: TLS 1.2 ciphertext may be 2^14 + 2048 long, plaintext not.
    suite = TLS12_SUITES[0]
    sender = Tls12Protection(suite, *keys(suite))
    receiver = RecordLayer()
    receiver.tls13 = False
    receiver.read_protection = Tls12Protection(suite, *keys(suite))
    receiver.feed(sender.seal(23, b"ok", b"\x03\x03", 0)
                  + sender.seal(23, bytes(16385), b"\x03\x03", 0))
    plaintexts: list[bytes] = []
    with pytest.raises(TLSError) as caught:
        receiver.next_records(plaintexts)
    assert caught.value.alert == AlertDescription.record_overflow
    assert plaintexts == [b"ok"]


def test_without_keys_a_run_is_next_record() -> None:
    receiver = RecordLayer()
    receiver.feed(b"\x17\x03\x03\x00\x02hi\x16\x03\x03\x00\x01\x01")
    plaintexts: list[bytes] = []
    assert receiver.next_records(plaintexts) == (23, b"hi")
    assert plaintexts == []


def test_a_run_never_uses_the_last_sequence_number() -> None:
    # RFC 8446 §5.3: the sequence number must not wrap; in a run as one at a time.
    _, receiver = tls13_pair()
    receiver.read_protection.sequence = 2**64 - 1
    receiver.feed(sealed_stream([(23, b"x", 0)]))
    with pytest.raises(TLSError) as caught:
        receiver.next_records([])
    assert caught.value.alert == AlertDescription.internal_error


def test_a_run_that_reads_everything_lets_the_read_go_and_takes_the_next_one() -> None:
    wire = sealed_stream([(23, b"one", 0), (23, b"two", 0), (23, b"three", 0)])
    first = len(sealed_stream([(23, b"one", 0), (23, b"two", 0)]))
    _, receiver = tls13_pair()
    receiver.feed(wire[:first])
    plaintexts: list[bytes] = []
    assert receiver.next_records(plaintexts) is None
    assert receiver.buffered == 0
    assert receiver.take_buffer() == b""
    receiver.feed(wire[first:])
    assert receiver.next_records(plaintexts) is None
    assert plaintexts == [b"one", b"two", b"three"]
