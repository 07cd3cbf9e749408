"""``receive_data``'s bulk path (the bytes fed and their application data records
opened in one call, ``RecordLayer.receive_records``) against the general way: a
peer's stream of application data, KeyUpdates, empty records and its close_notify,
delivered in reads split anywhere, gives the events that one record at a time gives,
in order, with ``ApplicationData.data`` as bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.constants import CipherSuite
from glasstls.errors import TLSError
from glasstls.events import ApplicationData, Event
from helpers.pump import (
    Pair,
    client_config,
    connect,
    cut_into_reads,
    engine_of,
    sealed_records,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")
SUITES = (CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_CHACHA20_POLY1305_SHA256)

# What the client sends after the handshake, one step at a time.
_STEP = st.one_of(
    st.binary(min_size=1, max_size=3000).map(lambda data: ("send", data)),
    st.just(("send", b"\xa5" * 40000)),  # three records, the last one short
    st.just(("empty", b"")),
    st.just(("key_update", b"")),
)


def pairs(suite: CipherSuite) -> tuple[Pair, Pair]:
    """Two established pairs with the same keys' schedule shape (one for the reads
    split anywhere, one for a record at a time)."""
    made = []
    for _ in range(2):
        config = client_config(TEST_PKI, cipher_suites=(suite,))
        pair = connect(config, server_config(TEST_PKI))
        assert pair.complete
        made.append(pair)
    return made[0], made[1]


def client_stream(pair: Pair, steps: list[tuple[str, bytes]], close: bool) -> bytes:
    client = pair.client.connection
    for step, data in steps:
        if step == "send":
            client.send(data)
        elif step == "empty":
            engine_of(client).out.append(sealed_records(client, [b""]))
        else:
            client.key_update(request_peer_update=False)
    if close:
        client.close()
    return client.data_to_send()


def described(events: list[Event]) -> list[object]:
    """Events to compare across two connections: application data joined where it
    comes in consecutive events (how a stream is read is the reads' business), the
    rest by type and fields."""
    out: list[object] = []
    for event in events:
        if type(event) is ApplicationData:
            assert type(event.data) is bytes
            assert not event.early
            if out and isinstance(out[-1], bytes):
                out[-1] += event.data
                continue
            out.append(event.data)
        else:
            out.append(event)
    return out


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@settings(max_examples=40, deadline=None)
@given(steps=st.lists(_STEP, min_size=1, max_size=8),
       cuts=st.lists(st.integers(min_value=1, max_value=200_000), max_size=6),
       close=st.booleans())
def test_reads_split_anywhere_give_the_events_of_one_record_at_a_time(
        suite: CipherSuite, steps: list[tuple[str, bytes]], cuts: list[int],
        close: bool) -> None:
    split, one_by_one = pairs(suite)
    wire = client_stream(split, steps, close)
    reference_wire = client_stream(one_by_one, steps, close)
    assert len(wire) == len(reference_wire)

    expected: list[Event] = []
    for record in split_records(reference_wire):
        expected += one_by_one.server.connection.receive_data(record)

    got: list[Event] = []
    for chunk in cut_into_reads(wire, cuts):
        got += split.server.connection.receive_data(chunk)
    assert described(got) == described(expected)
    assert b"".join(data for step, data in steps if step == "send") == b"".join(
        event.data for event in got if type(event) is ApplicationData)
    server = engine_of(split.server.connection)
    assert server.record.buffered == 0
    assert server.record.read_protection.sequence == engine_of(
        one_by_one.server.connection).record.read_protection.sequence


def test_a_read_of_whole_records_gives_one_event_each_and_keeps_nothing() -> None:
    pair, _ = pairs(SUITES[1])
    client, server = pair.client.connection, pair.server.connection
    client.send(b"x" * 16384)
    client.send(b"y" * 100)
    events = server.receive_data(client.data_to_send())
    assert events == [ApplicationData(b"x" * 16384), ApplicationData(b"y" * 100)]
    assert all(type(event.data) is bytes for event in events)  # type: ignore[attr-defined]
    assert engine_of(server).record.buffered == 0


def test_the_part_of_a_record_a_read_ends_with_is_kept_alone() -> None:
    pair, _ = pairs(SUITES[1])
    client, server = pair.client.connection, pair.server.connection
    client.send(b"one")
    client.send(b"two" * 1000)
    wire = client.data_to_send()
    cut = len(wire) - 1000
    assert server.receive_data(wire[:cut]) == [ApplicationData(b"one")]
    record = engine_of(server).record
    assert record.buffered == cut - len(split_records(wire)[0])
    assert record.take_buffer() == wire[len(split_records(wire)[0]):cut]


def test_a_tampered_record_after_good_ones_fails_the_connection() -> None:
    pair, _ = pairs(SUITES[1])
    client, server = pair.client.connection, pair.server.connection
    client.send(b"fine")
    first = client.data_to_send()
    client.send(b"tampered")
    second = bytearray(client.data_to_send())
    second[-1] ^= 0x01
    with pytest.raises(TLSError) as caught:
        server.receive_data(first + bytes(second))
    assert caught.value.alert.name == "bad_record_mac"
    assert server.data_to_send()[:1] == b"\x17"  # the alert, sealed
    with pytest.raises(TLSError):
        server.receive_data(b"\x17\x03\x03\x00\x01")
