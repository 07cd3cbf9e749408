"""After the handshake: KeyUpdate (RFC 8446 §4.6.3), the record limit that forces
one (§5.5), exporters (§7.5), and closing (§6.1)."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, ConnectionClosedError, UsageError
from glasstls.constants import CipherSuite
from glasstls.crypto.suites import SUITES
from glasstls.events import ConnectionClosed, KeyUpdated
from glasstls.keyschedule import next_traffic_secret, traffic_keys
from glasstls.record import Tls13Protection
from helpers.pump import (
    KeyLog,
    Pair,
    client_config,
    connect,
    engine_of,
    exchange,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")
AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


def established(**client_overrides: object) -> Pair:
    pair = connect(client_config(TEST_PKI, **client_overrides), server_config(TEST_PKI))
    assert pair.complete
    pair.client.events.clear()
    pair.server.events.clear()
    return pair


# -- KeyUpdate --------------------------------------------------------------------------


def test_client_key_update_with_request_is_answered_by_the_server() -> None:
    pair = established()
    pair.client.connection.key_update(request_peer_update=True)
    pair.pump()
    assert pair.server.of_type(KeyUpdated) == [KeyUpdated("read", True), KeyUpdated("write")]
    assert pair.client.of_type(KeyUpdated) == [KeyUpdated("read", False)]
    exchange(pair)


def test_server_key_update_with_request_is_answered_by_the_client() -> None:
    pair = established()
    pair.server.connection.key_update(request_peer_update=True)
    pair.pump()
    assert pair.client.of_type(KeyUpdated) == [KeyUpdated("read", True), KeyUpdated("write")]
    assert pair.server.of_type(KeyUpdated) == [KeyUpdated("read", False)]
    exchange(pair)


@pytest.mark.parametrize("updater", ["client", "server"])
def test_key_update_without_request_is_not_answered(updater: str) -> None:
    pair = established()
    side, peer = ((pair.client, pair.server) if updater == "client"
                  else (pair.server, pair.client))
    side.connection.key_update(request_peer_update=False)
    pair.deliver(peer, side.connection.data_to_send())
    assert peer.of_type(KeyUpdated) == [KeyUpdated("read", False)]
    assert peer.connection.data_to_send() == b""
    exchange(pair)


def test_key_update_switches_to_the_next_traffic_secret() -> None:
    # RFC 8446 §7.2: records after the KeyUpdate use application_traffic_secret_1.
    keylog = KeyLog()
    pair = established(keylog=keylog)
    client = pair.client.connection
    client.key_update(request_peer_update=False)
    client.send(b"under the new key")
    _key_update_record, data_record = split_records(client.data_to_send())
    secret_1 = next_traffic_secret(AES128, keylog.secrets["CLIENT_TRAFFIC_SECRET_0"])
    reader = Tls13Protection(AES128, *traffic_keys(AES128, secret_1))
    assert reader.open(data_record[:5], data_record[5:]) == (23, b"under the new key")
    old = Tls13Protection(AES128, *traffic_keys(AES128, keylog.secrets["CLIENT_TRAFFIC_SECRET_0"]))
    old.sequence = 1  # the KeyUpdate was the first record under the old key
    from glasstls.errors import BadRecordMac

    with pytest.raises(BadRecordMac):
        old.open(data_record[:5], data_record[5:])


def test_many_key_updates_in_both_directions_keep_the_connection_working() -> None:
    pair = established()
    for round_number in range(10):
        pair.client.connection.key_update(request_peer_update=round_number % 2 == 0)
        pair.server.connection.key_update(request_peer_update=round_number % 3 == 0)
        pair.pump()
        exchange(pair, str(round_number).encode())
    assert len(pair.client.of_type(KeyUpdated)) >= 10


def test_key_update_before_the_handshake_is_a_usage_error() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    with pytest.raises(UsageError):
        pair.client.connection.key_update()


def test_key_update_with_request_update_two_is_illegal_parameter() -> None:
    pair = established()
    client = pair.client.connection
    pair.deliver(pair.server, engine_of(client).record.seal(22, b"\x18\x00\x00\x01\x02"))
    assert pair.server.alert_sent == AlertDescription.illegal_parameter


def test_key_update_not_at_the_end_of_its_record_is_unexpected_message() -> None:
    # RFC 8446 §5.1: keys change after a KeyUpdate, so it must end its record.
    pair = established()
    client = pair.client.connection
    two_updates = b"\x18\x00\x00\x01\x00" + b"\x18\x00"
    pair.deliver(pair.server, engine_of(client).record.seal(22, two_updates))
    assert pair.server.alert_sent == AlertDescription.unexpected_message


def test_new_session_ticket_from_the_client_is_unexpected_message() -> None:
    pair = established()
    client = pair.client.connection
    ticket = b"\x04\x00\x00\x0d" + bytes(8) + b"\x00" + b"\x00\x01\x01" + b"\x00\x00"
    pair.deliver(pair.server, engine_of(client).record.seal(22, ticket))
    assert pair.server.alert_sent == AlertDescription.unexpected_message


# -- the record limit forces a KeyUpdate ---------------------------------------------------


def test_write_key_reaching_its_record_limit_is_replaced_by_a_key_update() -> None:
    pair = established()
    client = pair.client.connection
    protection = engine_of(client).record.write_protection
    assert isinstance(protection, Tls13Protection)
    protection.limit = protection.sequence + 3  # three more records under this key
    for i in range(5):
        client.send(f"record {i};".encode())
    pair.pump()
    assert pair.server.of_type(KeyUpdated) == [KeyUpdated("read", False)]
    assert pair.server.data == b"".join(f"record {i};".encode() for i in range(5))
    assert engine_of(client).record.write_protection is not protection


@pytest.mark.parametrize("side", ["client", "server"])
def test_key_update_after_records_config_forces_a_key_update(side: str) -> None:
    pair = connect(client_config(TEST_PKI, key_update_after_records=3),
                   server_config(TEST_PKI, key_update_after_records=3))
    assert pair.complete
    sender, receiver = ((pair.client, pair.server) if side == "client"
                        else (pair.server, pair.client))
    receiver.events.clear()
    for i in range(5):
        sender.connection.send(f"record {i};".encode())
    pair.pump()
    assert KeyUpdated("read", False) in receiver.of_type(KeyUpdated)


# -- exporters -------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", [CipherSuite.TLS_AES_128_GCM_SHA256,
                                   CipherSuite.TLS_AES_256_GCM_SHA384])
def test_exporters_are_equal_on_both_sides(suite: int) -> None:
    pair = established(cipher_suites=(suite,))
    client, server = pair.client.connection, pair.server.connection
    for label, context, length in (("EXPERIMENTAL glasstls", b"", 32),
                                   ("EXPERIMENTAL glasstls", b"context", 64),
                                   ("EXPORTER-Channel-Binding", None, 32)):
        exported = client.export_keying_material(label, context, length)
        assert len(exported) == length
        assert exported == server.export_keying_material(label, context, length)


def test_exporter_output_depends_on_label_and_context_and_connection() -> None:
    pair, other = established(), established()
    client = pair.client.connection
    base = client.export_keying_material("EXPERIMENTAL a", b"", 32)
    assert client.export_keying_material("EXPERIMENTAL b", b"", 32) != base
    assert client.export_keying_material("EXPERIMENTAL a", b"x", 32) != base
    assert other.client.connection.export_keying_material("EXPERIMENTAL a", b"", 32) != base
    # RFC 8446 §7.5: in TLS 1.3 no context and an empty context are the same.
    assert client.export_keying_material("EXPERIMENTAL a", None, 32) == base


def test_exporters_survive_a_key_update() -> None:
    pair = established()
    before = pair.client.connection.export_keying_material("EXPERIMENTAL k", b"", 32)
    pair.client.connection.key_update()
    pair.pump()
    assert pair.client.connection.export_keying_material("EXPERIMENTAL k", b"", 32) == before
    assert pair.server.connection.export_keying_material("EXPERIMENTAL k", b"", 32) == before


def test_exporter_before_the_handshake_is_a_usage_error() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    with pytest.raises(UsageError):
        pair.client.connection.export_keying_material("EXPERIMENTAL", b"", 32)


# -- closing ------------------------------------------------------------------------------


def test_close_notify_each_way_and_half_close() -> None:
    pair = established()
    pair.client.connection.close()
    pair.pump()
    assert pair.server.of_type(ConnectionClosed) == [ConnectionClosed()]
    # TLS 1.3 close is half-close: the server may still send.
    pair.server.connection.send(b"last words")
    pair.server.connection.close()
    pair.pump()
    assert pair.client.data == b"last words"
    assert pair.client.of_type(ConnectionClosed) == [ConnectionClosed()]
    assert pair.client.connection.closed and pair.server.connection.closed
    assert pair.client.error is None and pair.server.error is None


def test_send_after_close_is_refused() -> None:
    pair = established()
    pair.client.connection.close()
    with pytest.raises(ConnectionClosedError):
        pair.client.connection.send(b"too late")


def test_send_before_the_handshake_is_a_usage_error() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    with pytest.raises(UsageError):
        pair.client.connection.send(b"too early")


def test_data_after_close_notify_is_not_delivered() -> None:
    pair = established()
    client = pair.client.connection
    client.close()
    closing = client.data_to_send()
    forged_after = engine_of(client).record.seal(23, b"after close")
    pair.deliver(pair.server, closing + forged_after)
    assert pair.server.of_type(ConnectionClosed)
    assert pair.server.data == b""


def test_fatal_alert_from_the_peer_ends_the_connection() -> None:
    pair = established()
    client = pair.client.connection
    fatal = bytes([2, AlertDescription.internal_error])
    pair.deliver(pair.server, engine_of(client).record.seal(21, fatal))
    assert pair.server.alerts_received == [AlertDescription.internal_error]
    assert pair.server.connection.closed
    with pytest.raises(ConnectionClosedError):
        pair.server.connection.send(b"anyone there?")


def test_unknown_alert_description_is_decode_error() -> None:
    pair = established()
    pair.deliver(pair.server, engine_of(pair.client.connection).record.seal(21, b"\x02\xfe"))
    assert pair.server.alert_sent == AlertDescription.decode_error


def test_close_notify_travels_in_its_own_protected_record() -> None:
    pair = established()
    pair.client.connection.close()
    (closing,) = split_records(pair.client.connection.data_to_send())
    assert closing[0] == 23  # an alert under protection looks like application data
    assert len(closing) == 5 + 2 + 1 + 16  # level, description, inner type, tag
