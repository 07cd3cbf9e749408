"""``collect_application_data``: received application data appended to a transport's
own list instead of ``ApplicationData`` events, the records of a bulk transfer as
read-only views of their decrypted bytes (the copy that slicing off TLS 1.3's inner
content type would make is spared). Same data, same order, same refusals."""

from __future__ import annotations

import dataclasses

import pytest

from glasstls import AlertDescription, TLSError
from glasstls.events import ApplicationData, KeyUpdated
from helpers.pump import (
    KeptRecords,
    Pair,
    client_config,
    collecting,
    connect,
    sealed_records,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def established(**client: object) -> Pair:
    pair = connect(client_config(TEST_PKI, **client), server_config(TEST_PKI))
    assert pair.complete
    return pair


def test_application_data_goes_to_the_sink_as_read_only_views_not_events() -> None:
    pair = established()
    server = pair.server.connection
    sink = collecting(server)
    data = bytes(range(256)) * 200  # 51200 bytes: four records
    pair.client.connection.send(data)
    pair.client.connection.send(b"tail")
    events = server.receive_data(pair.client.connection.data_to_send())
    assert not [e for e in events if isinstance(e, ApplicationData)]
    assert b"".join(sink) == data + b"tail"
    assert [len(chunk) for chunk in sink] == [16384, 16384, 16384, 2048, 4]
    for chunk in sink:
        # A view of bytes: nobody, glasstls included, can write into it later.
        assert isinstance(chunk, memoryview) and chunk.readonly and type(chunk.obj) is bytes


def test_collected_data_is_not_changed_by_later_records() -> None:
    pair = established()
    server = pair.server.connection
    sink = collecting(server)
    pair.client.connection.send(b"a" * 20000)
    server.receive_data(pair.client.connection.data_to_send())
    first = list(sink)
    pair.client.connection.send(b"b" * 20000)
    server.receive_data(pair.client.connection.data_to_send())
    assert b"".join(first) == b"a" * 20000
    assert b"".join(sink) == b"a" * 20000 + b"b" * 20000


def test_padded_records_are_collected_without_their_padding() -> None:
    pair = established(record_padding_block=4096)
    client = pair.client.connection
    sink = collecting(pair.server.connection)
    client.send(b"x" * 5000)
    client.send(b"y")
    wire = client.data_to_send()
    assert [len(r) - 5 - 16 for r in split_records(wire)] == [8192, 4096]
    pair.server.connection.receive_data(wire)
    assert b"".join(sink) == b"x" * 5000 + b"y"


def test_a_key_update_between_collected_records_is_handled_in_order() -> None:
    # Records after the KeyUpdate are under new keys: the run stops at it.
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"before" * 5000)
    client.key_update(request_peer_update=True)
    client.send(b"after" * 5000)
    events = server.receive_data(client.data_to_send())
    assert b"".join(sink) == b"before" * 5000 + b"after" * 5000
    assert [e for e in events if isinstance(e, KeyUpdated)] == [KeyUpdated("read", True),
                                                                 KeyUpdated("write")]


def test_a_tampered_record_leaves_only_the_authentic_records_in_the_sink() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"first")
    client.send(b"secret second")
    client.send(b"third")
    records = [bytearray(r) for r in split_records(client.data_to_send())]
    records[1][7] ^= 0x01
    with pytest.raises(TLSError) as caught:
        server.receive_data(b"".join(records))
    assert caught.value.alert == AlertDescription.bad_record_mac
    assert list(map(bytes, sink)) == [b"first"]


def test_empty_records_among_collected_data_are_still_counted() -> None:
    from glasstls import limits

    pair = established()
    server = pair.server.connection
    sink = collecting(server)
    client = pair.client.connection
    # Data resets the count: as many empty records as allowed, twice, are fine...
    allowed = limits.IN_A_ROW[limits.EMPTY_RECORDS]
    server.receive_data(sealed_records(client, [b""] * allowed + [b"data"] + [b""] * allowed))
    assert list(map(bytes, sink)) == [b"data"]
    # ...one more in a row is refused.
    with pytest.raises(TLSError) as caught:
        server.receive_data(sealed_records(client, [b""]))
    assert caught.value.alert == AlertDescription.unexpected_message


def test_records_split_across_reads_are_collected_whole_and_in_order() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    data = bytes(range(251)) * 300
    client.send(data)
    wire = client.data_to_send()
    for start in range(0, len(wire), 7001):
        server.receive_data(wire[start:start + 7001])
    assert b"".join(sink) == data
    assert all(len(chunk) for chunk in sink)


def test_a_recorded_connection_collects_and_records_each_record() -> None:
    kept = KeptRecords()
    pair = connect(client_config(TEST_PKI),
                   server_config(TEST_PKI, recorder=lambda side, number: kept))
    server = pair.server.connection
    sink = collecting(server)
    kept.received.clear()
    pair.client.connection.send(b"z" * 40000)
    wire = pair.client.connection.data_to_send()
    server.receive_data(wire)
    assert b"".join(sink) == b"z" * 40000
    assert kept.received == split_records(wire)


def test_received_application_data_events_are_ordinary_frozen_events() -> None:
    # The bulk path makes them through their slots: they must be indistinguishable
    # from ApplicationData(data).
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    client.send(b"first" * 1000)
    client.send(b"second")
    events = server.receive_data(client.data_to_send())
    assert events == [ApplicationData(b"first" * 1000), ApplicationData(b"second")]
    event = events[1]
    assert type(event) is ApplicationData and type(event.data) is bytes
    assert event.early is False
    assert hash(event) == hash(ApplicationData(b"second", False))
    assert repr(event) == "ApplicationData(data=b'second', early=False)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = b"changed"  # type: ignore[misc]
