"""A read that is one record the size of a lone TLS 1.3 alert (24 bytes: every clean
close brings the peer's close_notify so) is opened alone (``RecordLayer.open_alone``)
and then handled as any record: whatever it holds (an alert, two bytes of data, a
handshake byte), with or without a sink or a ``decrypt_into`` buffer, the events,
data and refusals are those of the general way."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, TLSError
from glasstls.events import AlertReceived, ApplicationData, ConnectionClosed
from helpers.pump import (
    KeptRecords,
    Pair,
    client_config,
    collecting,
    connect,
    engine_of,
    server_config,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def established() -> Pair:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    assert pair.complete
    return pair


def lone(pair: Pair, content_type: int, payload: bytes, padding: int = 0) -> bytes:
    """A record the client's keys seal, padded to 24 bytes when asked."""
    protection = engine_of(pair.client.connection).record.write_protection
    wire = protection.seal(content_type, payload, b"\x03\x03", padding)
    assert len(wire) == 24
    return wire


def test_close_notify_alone_closes_cleanly() -> None:
    pair = established()
    pair.client.connection.close()
    wire = pair.client.connection.data_to_send()
    assert len(wire) == 24
    assert pair.server.connection.receive_data(wire) == [ConnectionClosed()]
    pair.server.connection.close()
    assert pair.client.connection.receive_data(
        pair.server.connection.data_to_send()) == [ConnectionClosed()]


def test_a_fatal_alert_alone_is_received_and_fails_the_connection() -> None:
    pair = established()
    events = pair.server.connection.receive_data(lone(pair, 21, b"\x02\x28"))
    assert events == [AlertReceived(AlertDescription.handshake_failure, fatal=True)]
    assert pair.server.connection.closed


def test_two_bytes_of_data_alone_are_data() -> None:
    pair = established()
    events = pair.server.connection.receive_data(lone(pair, 23, b"hi"))
    assert events == [ApplicationData(b"hi")]


def test_two_bytes_of_data_alone_go_to_the_sink_with_a_decrypt_into_buffer() -> None:
    pair = established()
    server = pair.server.connection
    sink = collecting(server)
    store = bytearray(100)
    server.decrypt_into(memoryview(store))
    assert server.receive_data(lone(pair, 23, b"hi")) == []
    filled = server.decrypted_into()
    assert bytes(store[:filled]) + b"".join(bytes(b) for b in sink) == b"hi"


@pytest.mark.parametrize(("content_type", "payload", "padding", "alert"), [
    (21, b"\x01", 1, AlertDescription.decode_error),  # an alert cut short, padded
    (21, b"\x01\xff", 0, AlertDescription.decode_error),  # an unknown description
    (21, b"", 2, AlertDescription.unexpected_message),  # an empty alert record, padded
    (20, b"\x01\x00", 0, AlertDescription.unexpected_message),  # a protected CCS
])
def test_irregular_records_alone_are_refused_as_the_general_way_refuses_them(
        content_type: int, payload: bytes, padding: int, alert: AlertDescription) -> None:
    general, alone = established(), established()
    # The general way: the same record after another one in the same read.
    lead = engine_of(general.client.connection).record.seal(23, b"first")
    general_wire = lone(general, content_type, payload, padding)
    with pytest.raises(TLSError) as expected:
        general.server.connection.receive_data(lead + general_wire)
    with pytest.raises(TLSError) as caught:
        alone.server.connection.receive_data(lone(alone, content_type, payload, padding))
    assert caught.value.alert == expected.value.alert == alert


def test_a_tampered_lone_record_is_bad_record_mac() -> None:
    pair = established()
    wire = bytearray(lone(pair, 21, b"\x01\x00"))
    wire[-1] ^= 1
    with pytest.raises(TLSError) as caught:
        pair.server.connection.receive_data(bytes(wire))
    assert caught.value.alert == AlertDescription.bad_record_mac


# The in-memory bulk path (no sink) handles an alert it stops at at once too, and
# returns when the loop would read nothing more (close_notify, a fatal alert).

def test_data_then_close_notify_then_cleartext_in_one_read() -> None:
    pair = established()
    record = engine_of(pair.client.connection).record
    wire = record.seal(23, b"last words") + record.seal(21, b"\x01\x00") + b"EHLO plain\r\n"
    events = pair.server.connection.receive_data(wire)
    assert events == [ApplicationData(b"last words"), ConnectionClosed()]
    # What follows close_notify is kept for the protocol that continues in the clear.
    assert pair.server.connection.take_unprocessed_data() == b"EHLO plain\r\n"


def test_a_warning_alert_between_data_records_in_one_read() -> None:
    pair = established()
    record = engine_of(pair.client.connection).record
    wire = (record.seal(23, b"one") + record.seal(21, b"\x01\x5a")  # user_canceled
            + record.seal(23, b"two"))
    events = pair.server.connection.receive_data(wire)
    assert events == [ApplicationData(b"one"),
                      AlertReceived(AlertDescription.user_canceled, fatal=False),
                      ApplicationData(b"two")]
    assert not pair.server.connection.closed


def test_data_then_a_fatal_alert_in_one_read() -> None:
    pair = established()
    record = engine_of(pair.client.connection).record
    wire = record.seal(23, b"one") + record.seal(21, b"\x02\x50")  # internal_error
    events = pair.server.connection.receive_data(wire)
    assert events == [ApplicationData(b"one"),
                      AlertReceived(AlertDescription.internal_error, fatal=True)]
    assert pair.server.connection.closed


def test_a_lone_warning_alert_with_a_sink_then_data() -> None:
    pair = established()
    server = pair.server.connection
    sink = collecting(server)
    assert server.receive_data(lone(pair, 21, b"\x01\x5a")) == [
        AlertReceived(AlertDescription.user_canceled, fatal=False)]
    assert server.receive_data(lone(pair, 23, b"ok")) == []
    assert b"".join(bytes(chunk) for chunk in sink) == b"ok"


def test_close_notify_alone_with_a_sink_then_cleartext() -> None:
    pair = established()
    server = pair.server.connection
    collecting(server)
    assert server.receive_data(lone(pair, 21, b"\x01\x00")) == [ConnectionClosed()]
    server.receive_data(b"plain")
    assert server.take_unprocessed_data() == b"plain"


def test_a_recorded_connection_records_a_lone_close_notify() -> None:
    # glasstls explain: the recording record layer records each record in
    # next_record; a lone close_notify read with a sink (the io transports') is not
    # taken alone past it.
    recorder = KeptRecords()
    pair = connect(client_config(TEST_PKI),
                   server_config(TEST_PKI, recorder=lambda side, number: recorder))
    assert pair.complete
    collecting(pair.server.connection)
    pair.client.connection.close()
    close_notify = pair.client.connection.data_to_send()
    assert len(close_notify) == 24
    recorder.received.clear()
    assert pair.server.connection.receive_data(close_notify) == [ConnectionClosed()]
    assert recorder.received == [close_notify]
