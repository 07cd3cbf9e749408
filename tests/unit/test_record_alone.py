"""``RecordLayer.open_alone``: a read that is one whole TLS 1.3 record, nothing
buffered before it, opened without the bulk loops (the peer's close_notify at a
connection's end). It must give what ``feed`` + ``next_record`` give for that read,
with the same errors, and take nothing (None, the layer untouched) for any other
read, which then goes the general way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.crypto.suites import TLS12_SUITES, TLS13_SUITES
from glasstls.errors import AlertDescription, TLSError
from glasstls.record import RecordLayer, Tls12Protection, Tls13Protection

from .test_record import keys, tls13_pair
from .test_record_runs import sealed_stream

# Records as the peer may send them alone: alerts (close_notify, several alerts, a
# short one), handshake bytes, application data of any length, padded or not, empty.
_ALONE = st.tuples(
    st.sampled_from([21, 22, 23]),
    st.one_of(st.just(b"\x01\x00"), st.just(b"\x02\x28"), st.just(b"\x01\x00\x01\x00"),
              st.just(b"\x01"), st.binary(max_size=40)),
    st.integers(0, 20),
)


def _general(data: bytes) -> tuple[str, object, int]:
    """What ``feed`` + ``next_record`` make of ``data`` on a fresh receiver: the
    record or the alert, and the sequence number after it."""
    _, reference = tls13_pair()
    reference.feed(data)
    try:
        return "record", reference.next_record(), reference.read_protection.sequence
    except TLSError as error:
        return "alert", error.alert, reference.read_protection.sequence


def _alone(data: bytes) -> tuple[str, object, int] | None:
    _, receiver = tls13_pair()
    try:
        record = receiver.open_alone(data)
    except TLSError as error:
        return "alert", error.alert, receiver.read_protection.sequence
    if record is None:
        # Nothing taken: nothing buffered, nothing opened.
        assert receiver.buffered == 0
        assert receiver.read_protection.sequence == 0
        return None
    return "record", record, receiver.read_protection.sequence


@settings(max_examples=300, deadline=None)
@given(record=_ALONE, damage=st.one_of(
    st.none(),
    st.tuples(st.integers(0, 200), st.integers(1, 255)),  # one byte changed
    st.integers(1, 30),  # cut short
    st.binary(min_size=1, max_size=30),  # something after it
))
def test_a_lone_record_gives_what_feed_and_next_record_give(
        record: tuple[int, bytes, int], damage: object) -> None:
    data = sealed_stream([record])
    if isinstance(damage, tuple):
        at, flip = damage
        at %= len(data)
        data = data[:at] + bytes([data[at] ^ flip]) + data[at + 1:]
    elif isinstance(damage, int):
        data = data[:-damage]
    elif isinstance(damage, bytes):
        data += damage
    alone = _alone(data)
    if alone is None:
        # Only for reads that are not one whole protected TLS 1.3 record.
        assert (len(data) < 5 or data[:3] != b"\x17\x03\x03"
                or int.from_bytes(data[3:5], "big") != len(data) - 5)
        return
    assert alone == _general(data)


def test_close_notify_alone_is_the_alert() -> None:
    sender, receiver = tls13_pair()
    wire = sender.seal(21, b"\x01\x00")
    assert len(wire) == 5 + 2 + 1 + 16
    assert receiver.open_alone(wire) == (21, b"\x01\x00")
    assert receiver.read_protection.sequence == 1


def test_an_empty_alert_record_is_refused_as_next_record_refuses_it() -> None:
    data = sealed_stream([(21, b"", 2)])
    with pytest.raises(TLSError) as caught:
        tls13_pair()[1].open_alone(data)
    assert caught.value.alert == AlertDescription.unexpected_message
    assert _general(data)[:2] == ("alert", AlertDescription.unexpected_message)


def test_a_record_over_our_read_limit_is_left_to_next_record() -> None:
    sender, receiver = tls13_pair()
    receiver.read_limit = 8  # RFC 8449, as negotiated
    data = sender.seal(23, b"x" * 20)
    assert receiver.open_alone(data) is None
    receiver.feed(data)
    with pytest.raises(TLSError) as caught:
        receiver.next_record()
    assert caught.value.alert == AlertDescription.record_overflow


def test_nothing_is_taken_while_bytes_are_buffered() -> None:
    sender, receiver = tls13_pair()
    first, second = sender.seal(23, b"one"), sender.seal(21, b"\x01\x00")
    receiver.feed(first[:7])
    assert receiver.open_alone(second) is None
    assert receiver.read_protection.sequence == 0
    receiver.feed(first[7:] + second)
    assert receiver.next_record() == (23, b"one")
    assert receiver.next_record() == (21, b"\x01\x00")


def test_nothing_is_taken_while_skipping_rejected_early_data() -> None:
    sender, receiver = tls13_pair()
    receiver.skip_early_data(1000)
    assert receiver.open_alone(sender.seal(21, b"\x01\x00")) is None


@pytest.mark.parametrize("suite", TLS12_SUITES[:2], ids=lambda s: s.name)
def test_tls12_and_unprotected_records_go_the_general_way(suite: object) -> None:
    receiver = RecordLayer()
    assert receiver.open_alone(b"\x15\x03\x03\x00\x02\x01\x00") is None  # no keys
    receiver.read_protection = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    sender = Tls12Protection(suite, *keys(suite))  # type: ignore[arg-type]
    assert receiver.open_alone(sender.seal(21, b"\x01\x00", b"\x03\x03", 0)) is None
    assert receiver.read_protection.sequence == 0


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
def test_every_tls13_suite(suite: object) -> None:
    sender = Tls13Protection(suite, *keys(suite))  # type: ignore[arg-type]
    receiver = RecordLayer()
    receiver.read_protection = Tls13Protection(suite, *keys(suite))  # type: ignore[arg-type]
    assert receiver.open_alone(sender.seal(21, b"\x01\x00", b"\x03\x03", 0)) == (21, b"\x01\x00")
