"""The record layer seen from a connection: tampering, ChangeCipherSpec rules,
record_size_limit, padding, fragmentation and coalescing of handshake messages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from glasstls import AlertDescription
from glasstls.constants import CipherSuite
from glasstls.crypto.suites import SUITES
from glasstls.events import HandshakeComplete
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    KeptRecords,
    KeyLog,
    Pair,
    client_config,
    connect,
    engine_of,
    record,
    reseal,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")
AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
CCS = record(20, b"\x01")


def once(direction: str, change: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    """A hook applying ``change`` to the first transfer in ``direction``."""
    done: list[bool] = []

    def hook(d: str, data: bytes) -> bytes:
        if d != direction or done:
            return data
        done.append(True)
        return change(data)
    return hook


def flip_in_record(index: int, offset: int) -> Callable[[bytes], bytes]:
    """Flip one bit at ``offset`` in the payload of the ``index``-th record."""
    def change(data: bytes) -> bytes:
        records = [bytearray(r) for r in split_records(data)]
        records[index][5 + offset] ^= 0x01
        return b"".join(records)
    return change


def established() -> Pair:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    assert pair.complete
    return pair


def record_lengths(data: bytes, content_type: int = 23) -> list[int]:
    return [len(r) - 5 for r in split_records(data) if r[0] == content_type]


# -- tampering ---------------------------------------------------------------------------


def test_tampered_server_flight_is_bad_record_mac() -> None:
    # Records: ServerHello, ChangeCipherSpec, the protected flight.
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, flip_in_record(2, 40)))
    assert pair.client.alert_sent == AlertDescription.bad_record_mac
    assert pair.server.alerts_received == [AlertDescription.bad_record_mac]
    assert not pair.client.of_type(HandshakeComplete)


def test_tampered_server_hello_random_changes_the_keys_so_the_flight_is_bad_record_mac() -> None:
    # The random is in the transcript, so the handshake keys differ from the server's.
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, flip_in_record(0, 4 + 2 + 5)))
    assert pair.client.alert_sent == AlertDescription.bad_record_mac


def test_tampered_client_finished_is_bad_record_mac() -> None:
    # The client's second flight: ChangeCipherSpec, then the protected Finished.
    def second_flight(direction: str, data: bytes) -> bytes:
        if direction == CLIENT_TO_SERVER and data[:1] == b"\x14":
            return flip_in_record(1, 3)(data)
        return data

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI), hook=second_flight)
    assert pair.server.alert_sent == AlertDescription.bad_record_mac
    assert not pair.server.connection.handshake_complete


def test_tampered_application_data_is_bad_record_mac_and_the_connection_stays_failed() -> None:
    pair = established()
    pair.client.connection.send(b"transfer 100 to alice")
    pair.hook = once(CLIENT_TO_SERVER, flip_in_record(0, 2))
    pair.pump()
    assert pair.server.alert_sent == AlertDescription.bad_record_mac
    assert pair.server.data == b""
    # Errors stick: the failed connection refuses further input with the same error.
    with pytest.raises(type(pair.server.error)):
        pair.server.connection.receive_data(b"")


def test_truncated_record_waits_for_more_bytes_rather_than_failing() -> None:
    pair = established()
    pair.client.connection.send(b"hello")
    data = pair.client.connection.data_to_send()
    server = pair.server.connection
    assert server.receive_data(data[:-1]) == []
    (event,) = server.receive_data(data[-1:])
    assert event.data == b"hello"  # type: ignore[attr-defined]


# -- ChangeCipherSpec ----------------------------------------------------------------------


def test_change_cipher_spec_after_the_handshake_is_unexpected_message() -> None:
    pair = established()
    pair.deliver(pair.client, CCS)
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_change_cipher_spec_before_the_client_hello_is_unexpected_message() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    pair.deliver(pair.server, CCS)
    assert pair.server.alert_sent == AlertDescription.unexpected_message


def test_change_cipher_spec_after_the_client_finished_is_unexpected_message() -> None:
    def ccs_after_finished(direction: str, data: bytes) -> bytes:
        if direction == CLIENT_TO_SERVER and data[:1] == b"\x14":
            return data + CCS
        return data

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI), hook=ccs_after_finished)
    assert pair.server.alert_sent == AlertDescription.unexpected_message


def test_change_cipher_spec_of_another_value_is_unexpected_message() -> None:
    def bad_value(data: bytes) -> bytes:
        return data.replace(CCS, record(20, b"\x02"), 1)

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, bad_value))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_extra_change_cipher_spec_records_during_the_handshake_are_ignored() -> None:
    # RFC 8446 §5: dropped anywhere between the first ClientHello and the peer's Finished.
    def more(data: bytes) -> bytes:
        records = split_records(data)
        return CCS.join([b"", *records]) + CCS

    pair = connect(client_config(TEST_PKI, middlebox_compatibility=False),
                   server_config(TEST_PKI), hook=once(SERVER_TO_CLIENT, more))
    assert pair.complete


def test_change_cipher_spec_inside_a_handshake_message_is_unexpected_message() -> None:
    # The ServerHello split in two records with a ChangeCipherSpec between them.
    def split_server_hello(data: bytes) -> bytes:
        first, *rest = split_records(data)
        payload = first[5:]
        return record(22, payload[:10]) + CCS + record(22, payload[10:]) + b"".join(rest)

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, split_server_hello))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_protected_change_cipher_spec_is_unexpected_message() -> None:
    # RFC 8446 §5: a protected change_cipher_spec record MUST be refused.
    keylog = KeyLog()

    def protected_ccs_first(data: bytes) -> bytes:
        *clear, flight = split_records(data)
        secret = keylog.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]
        # A ChangeCipherSpec sealed under the server's handshake key, as its first record.
        ccs = reseal(flight, AES128, secret, lambda kind, plaintext: (20, b"\x01"))
        return b"".join(clear) + ccs + flight

    pair = connect(client_config(TEST_PKI, cipher_suites=(AES128.id,)),
                   server_config(TEST_PKI, keylog=keylog),
                   hook=once(SERVER_TO_CLIENT, protected_ccs_first))
    assert pair.client.alert_sent == AlertDescription.unexpected_message
    assert "content type 20" in str(pair.client.error)


# -- record_size_limit (RFC 8449) ---------------------------------------------------------------


def test_record_size_limit_of_the_client_bounds_every_protected_record_of_the_server() -> None:
    pair = connect(client_config(TEST_PKI, record_size_limit=256), server_config(TEST_PKI))
    assert pair.complete
    pair.server.connection.send(bytes(5000))
    pair.pump()
    assert pair.client.data == bytes(5000)
    lengths = record_lengths(pair.sent(SERVER_TO_CLIENT))
    # In TLS 1.3 the limit counts the inner plaintext (content and type); plus the tag.
    assert max(lengths) <= 256 + 16
    assert len(record_lengths(pair.sent(SERVER_TO_CLIENT))) >= 5000 // 255


def test_record_size_limit_of_the_server_bounds_the_records_of_the_client() -> None:
    pair = connect(client_config(TEST_PKI, record_size_limit=2**14 + 1),
                   server_config(TEST_PKI, record_size_limit=100))
    assert pair.complete
    pair.client.connection.send(bytes(1000))
    pair.pump()
    assert pair.server.data == bytes(1000)
    assert max(record_lengths(pair.sent(CLIENT_TO_SERVER))) <= 100 + 16


def test_without_record_size_limit_records_are_full_size() -> None:
    pair = established()
    pair.client.connection.send(bytes(40000))
    pair.pump()
    assert pair.server.data == bytes(40000)
    assert record_lengths(pair.sent(CLIENT_TO_SERVER))[-3:] == [2**14 + 17, 2**14 + 17, 7249]


def test_record_larger_than_the_advertised_limit_is_record_overflow() -> None:
    pair = connect(client_config(TEST_PKI, record_size_limit=256), server_config(TEST_PKI))
    assert pair.complete
    engine_of(pair.server.connection).record.max_fragment = 2**14  # a server that ignores the limit
    pair.server.connection.send(bytes(1000))
    pair.pump()
    assert pair.client.alert_sent == AlertDescription.record_overflow


# -- padding --------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [32, 256, 1024])
def test_record_padding_pads_every_protected_record_to_the_block(block: int) -> None:
    pair = connect(client_config(TEST_PKI, record_padding_block=block),
                   server_config(TEST_PKI, record_padding_block=block))
    assert pair.complete
    pair.client.connection.send(b"x")
    pair.server.connection.send(bytes(block + 1))
    pair.pump()
    assert pair.server.data == b"x"
    assert pair.client.data == bytes(block + 1)
    for direction in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
        lengths = record_lengths(pair.sent(direction))
        assert lengths and all((length - 16) % block == 0 for length in lengths)


def test_padded_records_never_exceed_the_record_size_limit() -> None:
    pair = connect(client_config(TEST_PKI, record_size_limit=300),
                   server_config(TEST_PKI, record_padding_block=256))
    pair.server.connection.send(bytes(1000))
    pair.pump()
    assert pair.client.data == bytes(1000)
    assert max(record_lengths(pair.sent(SERVER_TO_CLIENT))) <= 300 + 16


# -- fragmentation and coalescing ---------------------------------------------------------------


def refragment(size: int) -> Callable[[bytes], bytes]:
    """Split every unprotected handshake record into records of ``size`` bytes."""
    def change(data: bytes) -> bytes:
        out = b""
        for raw in split_records(data):
            if raw[0] == 22:
                payload = raw[5:]
                raw = b"".join(record(22, payload[i:i + size])
                               for i in range(0, len(payload), size))
            out += raw
        return out
    return change


def test_hellos_fragmented_into_one_byte_records_complete_the_handshake() -> None:
    fragment = refragment(1)

    def hook(direction: str, data: bytes) -> bytes:
        return fragment(data)

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI), hook=hook)
    assert pair.complete
    assert len(split_records(pair.sent(CLIENT_TO_SERVER))) > 500


def test_protected_server_flight_in_many_small_records_completes_the_handshake() -> None:
    # record_size_limit 64: 63 bytes of handshake data per protected record.
    pair = connect(client_config(TEST_PKI, record_size_limit=64), server_config(TEST_PKI))
    assert pair.complete
    server_records = split_records(pair.sent(SERVER_TO_CLIENT))
    assert len([r for r in server_records if r[0] == 23]) > 10


def test_handshake_delivered_one_byte_at_a_time_completes() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI), chunk_size=1).pump()
    assert pair.complete
    pair.client.connection.send(b"abc")
    pair.pump()
    assert pair.server.data == b"abc"


def test_server_flight_is_coalesced_into_one_protected_record() -> None:
    # EncryptedExtensions, Certificate, CertificateVerify and Finished together.
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    first_flight = pair.wire[1][1]
    assert [r[0] for r in split_records(first_flight)] == [22, 20, 23]


def test_client_finished_and_application_data_in_one_delivery_are_both_processed() -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    pair.transfer(CLIENT_TO_SERVER)
    pair.transfer(SERVER_TO_CLIENT)
    pair.client.connection.send(b"early bird")  # queued right behind the Finished
    pair.transfer(CLIENT_TO_SERVER)
    assert pair.server.of_type(HandshakeComplete)
    assert pair.server.data == b"early bird"


def test_handshake_message_spanning_a_key_change_is_unexpected_message() -> None:
    # RFC 8446 §5.1: the ServerHello must end at a record boundary, since keys change
    # after it; here a record carries it and the first bytes of the next message.
    def glue(data: bytes) -> bytes:
        first, *rest = split_records(data)
        return record(22, first[5:] + b"\x08\x00") + b"".join(rest)

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, glue))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_large_application_data_is_split_and_reassembled_in_order() -> None:
    pair = established()
    data = bytes(range(256)) * 300  # 76800 bytes
    pair.client.connection.send(data)
    pair.pump()
    assert pair.server.data == data
    assert all(length <= 2**14 + 256 for length in record_lengths(pair.sent(CLIENT_TO_SERVER)))


def test_buffers_to_send_hand_over_what_data_to_send_would_without_joining() -> None:
    """A large send's records come as one buffer of whole records; the queue is
    emptied; each buffer is the caller's own; data_to_send() still gives bytes."""
    pair = established()
    client = pair.client.connection
    data = bytes(range(256)) * 300  # 76800 bytes: five records
    client.send(data)
    client.send(b"tail")
    buffers = client.buffers_to_send()
    assert len(buffers) == 2
    assert [len(r) - 5 for r in split_records(bytes(buffers[0]))] == [16384 + 17] * 4 + [11264 + 17]
    assert client.buffers_to_send() == [] and client.data_to_send() == b""
    wire = b"".join(buffers)
    buffers[0][:] = bytes(len(buffers[0]))  # the caller may overwrite its buffer
    events = pair.server.connection.receive_data(wire)
    assert b"".join(e.data for e in events if hasattr(e, "data")) == data + b"tail"
    client.send(data)
    sent = client.data_to_send()
    assert type(sent) is bytes and len(sent) == len(wire) - len(b"tail") - 22


def test_a_recorded_connection_records_each_record_of_a_large_send() -> None:
    kept = KeptRecords()
    pair = connect(client_config(TEST_PKI, recorder=lambda side, number: kept),
                   server_config(TEST_PKI))
    kept.sent.clear()
    pair.client.connection.send(bytes(40_000))
    wire = pair.client.connection.data_to_send()
    assert [len(r) for r in kept.sent] == [5 + 16384 + 17] * 2 + [5 + 7232 + 17]
    assert b"".join(kept.sent) == wire


def test_empty_send_sends_nothing() -> None:
    pair = established()
    pair.client.connection.send(b"")
    assert pair.client.connection.data_to_send() == b""


def test_alert_in_the_middle_of_a_handshake_message_is_unexpected_message() -> None:
    def interleave(data: bytes) -> bytes:
        first, *rest = split_records(data)
        payload = first[5:]
        alert = record(21, b"\x01\x00")
        return record(22, payload[:10]) + alert + record(22, payload[10:]) + b"".join(rest)

    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI),
                   hook=once(SERVER_TO_CLIENT, interleave))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_application_data_in_the_middle_of_a_handshake_message_is_unexpected_message() -> None:
    pair = established()
    key_update = b"\x18\x00\x00\x01\x00"
    client = pair.client.connection
    # Two protected records from the client: half a KeyUpdate, then application data.
    record_layer = engine_of(client).record
    data = record_layer.seal(22, key_update[:2]) + record_layer.seal(23, b"data")
    pair.deliver(pair.server, data)
    assert pair.server.alert_sent == AlertDescription.unexpected_message
