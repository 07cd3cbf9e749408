"""``decrypt_into``: a transport's ``recv_into`` has the application data of the next
``receive_data`` decrypted straight into its buffer, while whole TLS 1.3 records fit
there; the rest goes to the sink. Same data, same order, same refusals, nothing
written past the buffer and no unauthenticated plaintext left in it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls import AlertDescription, ClientConnection, ServerConnection, TLSError, record
from glasstls.constants import TLS12
from glasstls.errors import UsageError
from glasstls.events import KeyUpdated
from helpers.pump import (
    Pair,
    client_config,
    collecting,
    connect,
    engine_of,
    sealed_records,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")
SENTINEL = 0xA5  # what the bytes past the buffer given hold, and must keep


def established(**client: object) -> Pair:
    pair = connect(client_config(TEST_PKI, **client), server_config(TEST_PKI))
    assert pair.complete
    return pair


# What a transport reads into and fills again after each read (the asyncio one does):
# receive_data is given a view of it, and must keep nothing of it but copies.
_READ_BUFFER = bytearray(2**17)


def receive_into(connection: ClientConnection | ServerConnection, wire: bytes, room: int,
                 view: bool = False) -> tuple[bytearray, int]:
    """``receive_data`` with a buffer of ``room`` bytes (followed by sentinel bytes
    that must stay as they are); returns the whole backing store and the count. With
    ``view``, ``wire`` is given as a view of a read buffer that is overwritten after
    the call."""
    store = bytearray([SENTINEL]) * (room + 64)
    connection.decrypt_into(memoryview(store)[:room])
    data: bytes | memoryview = wire
    if view:
        assert len(wire) <= len(_READ_BUFFER)
        _READ_BUFFER[:len(wire)] = wire
        data = memoryview(_READ_BUFFER)[:len(wire)]
    try:
        connection.receive_data(data)
    finally:
        filled = connection.decrypted_into()
        if view:
            _READ_BUFFER[:len(wire)] = bytes([0x17]) * len(wire)  # the next read's bytes
    assert store[room:] == bytearray([SENTINEL]) * 64, "written past the buffer"
    return store, filled


def test_whole_records_are_decrypted_into_the_buffer_and_the_rest_goes_to_the_sink() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    data = bytes(range(256)) * 200  # 51200 bytes: records of 16384, 16384, 16384, 2048
    client.send(data)
    # Room for two whole inner plaintexts (content and type byte), not three.
    store, filled = receive_into(server, client.data_to_send(), 2 * 16385 + 100)
    assert filled == 2 * 16384
    assert store[:filled] == data[:filled]
    assert b"".join(sink) == data[filled:]
    assert [len(chunk) for chunk in sink] == [16384, 2048]


def test_a_record_that_does_not_fit_sends_every_later_one_to_the_sink() -> None:
    # The third record would fit after the second went to the sink: it must not
    # overtake it.
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"a" * 100)
    client.send(b"b" * 16384)
    client.send(b"c" * 10)
    store, filled = receive_into(server, client.data_to_send(), 1000)
    assert (filled, bytes(store[:filled])) == (100, b"a" * 100)
    assert b"".join(sink) == b"b" * 16384 + b"c" * 10


def test_the_buffer_is_let_go_after_the_call() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"first")
    receive_into(server, client.data_to_send(), 100)
    client.send(b"second")
    server.receive_data(client.data_to_send())
    assert list(map(bytes, sink)) == [b"second"]
    assert server.decrypted_into() == 0


def test_a_tampered_record_leaves_no_plaintext_in_the_buffer() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"first")
    client.send(b"secret second")
    client.send(b"third")
    records = [bytearray(r) for r in split_records(client.data_to_send())]
    records[1][7] ^= 0x01
    store = bytearray([SENTINEL]) * 1000
    server.decrypt_into(memoryview(store))
    with pytest.raises(TLSError) as caught:
        server.receive_data(b"".join(records))
    assert caught.value.alert == AlertDescription.bad_record_mac
    # The authentic record before it is there and counted; where the tampered
    # one was decrypted, zeros.
    assert server.decrypted_into() == 5
    assert store[:5] == b"first"
    assert store[5:5 + len(b"secret second") + 1] == bytes(14)
    assert b"secret" not in store
    assert not sink


def test_padded_records_reach_the_sink_without_their_padding_and_in_order() -> None:
    pair = established(record_padding_block=4096)
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"x" * 5000)
    client.send(b"y")
    store, filled = receive_into(server, client.data_to_send(), 30000)
    assert filled == 0
    assert store[:8192] == bytes(8192)  # taken back out of the buffer
    assert b"".join(sink) == b"x" * 5000 + b"y"


def test_a_key_update_between_records_is_handled_in_order() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"before" * 3000)
    client.key_update(request_peer_update=True)
    client.send(b"after" * 3000)
    store = bytearray(100_000)
    server.decrypt_into(memoryview(store))
    events = server.receive_data(client.data_to_send())
    filled = server.decrypted_into()
    assert bytes(store[:filled]) + b"".join(sink) == b"before" * 3000 + b"after" * 3000
    assert filled == 18000  # the records before the KeyUpdate
    assert [e for e in events if isinstance(e, KeyUpdated)] == [KeyUpdated("read", True),
                                                                 KeyUpdated("write")]


def test_empty_records_are_still_counted() -> None:
    from glasstls import limits

    pair = established()
    server = pair.server.connection
    sink = collecting(server)
    client = pair.client.connection
    allowed = limits.IN_A_ROW[limits.EMPTY_RECORDS]
    wire = sealed_records(client, [b""] * allowed + [b"data"] + [b""] * allowed)
    _, filled = receive_into(server, wire, 100)
    assert filled == 0  # the empty ones went the general way, and the data after them
    assert list(map(bytes, sink)) == [b"data"]
    server.decrypt_into(memoryview(bytearray(100)))
    with pytest.raises(TLSError) as caught:
        server.receive_data(sealed_records(client, [b""]))
    assert caught.value.alert == AlertDescription.unexpected_message


def test_tls12_data_goes_to_the_sink() -> None:
    pair = connect(client_config(TEST_PKI, versions=(TLS12,)),
                   server_config(TEST_PKI, versions=(TLS12,)))
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"twelve" * 5000)
    _, filled = receive_into(server, client.data_to_send(), 100_000)
    assert filled == 0
    assert b"".join(sink) == b"twelve" * 5000


def test_decrypt_into_needs_a_sink_and_a_writable_buffer() -> None:
    pair = established()
    server = pair.server.connection
    with pytest.raises(UsageError):
        server.decrypt_into(memoryview(bytearray(10)))
    collecting(server)
    with pytest.raises(UsageError):
        server.decrypt_into(memoryview(bytes(10)))


def test_a_buffer_of_wider_items_is_filled_by_bytes() -> None:
    import array

    pair = established()
    client, server = pair.client.connection, pair.server.connection
    collecting(server)
    words = array.array("I", bytes(4000))
    client.send(b"w" * 3000)
    server.decrypt_into(memoryview(words))
    server.receive_data(client.data_to_send())
    assert server.decrypted_into() == 3000
    assert words.tobytes()[:3000] == b"w" * 3000


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=40_000), min_size=1, max_size=6),
       room=st.integers(min_value=0, max_value=70_000),
       cut=st.integers(min_value=1, max_value=70_000), view=st.booleans())
def test_any_records_any_reads_any_room_give_the_data_in_order(
        sizes: list[int], room: int, cut: int, view: bool) -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    data = b"".join(bytes([index + 1]) * size for index, size in enumerate(sizes))
    position = 0
    for size in sizes:
        client.send(data[position:position + size])
        position += size
    wire = client.data_to_send()
    received = b""
    for start in range(0, len(wire), cut):
        if sink:  # a transport reads what is buffered first
            received += b"".join(sink)
            sink.clear()
        store, filled = receive_into(server, wire[start:start + cut], room, view)
        received += bytes(store[:filled])
    received += b"".join(sink)
    assert received == data


@pytest.mark.parametrize("view", [False, True], ids=["bytes", "view"])
def test_records_split_at_every_byte_offset_all_go_into_the_buffers(view: bool) -> None:
    """Two reads cut anywhere (in a header, in a payload, between records): each
    read's whole records go into its buffer, the one cut is completed by the next
    read, and nothing goes to the sink (a read ending in part of a record leaves the
    buffer usable for the records of the next); given as views of a read buffer
    overwritten after each read, what is kept of one is the engine's own copy."""
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    payloads = [b"a" * 300, bytes(range(256)) * 64, b"c" * 200]  # the middle one full
    data = b"".join(payloads)
    size = sum(5 + len(payload) + 1 + 16 for payload in payloads)  # TLS 1.3 records
    for cut in range(size + 1):
        wire = sealed_records(client, payloads)
        received = b""
        for read in (wire[:cut], wire[cut:]):
            if read:
                store, filled = receive_into(server, read, 40_000, view)
                received += bytes(store[:filled])
        assert not sink
        assert received == data, cut


@pytest.mark.parametrize("cut", [0, 3, 5, 100, 16_000])
def test_records_of_other_kinds_among_viewed_reads_keep_their_order(cut: int) -> None:
    """Data, a KeyUpdate, a padded record and data again, read as views of a buffer
    overwritten after each read and cut after ``cut`` bytes of the second record:
    the records after the one that goes the general way are kept as copies, and
    everything arrives in order."""
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    client.send(b"a" * 20_000)
    client.key_update(request_peer_update=False)
    engine_of(client).record.padding_block = 512
    client.send(b"b" * 1000)
    engine_of(client).record.padding_block = 0
    client.send(b"c" * 30_000)
    wire = client.data_to_send()
    first = 5 + 16_384 + 17 + cut
    received = b""
    for read in (wire[:first], wire[first:]):
        received += b"".join(sink)  # a transport reads what is buffered first
        sink.clear()
        store, filled = receive_into(server, read, 70_000, view=True)
        received += bytes(store[:filled])
    received += b"".join(sink)
    assert received == b"a" * 20_000 + b"b" * 1000 + b"c" * 30_000


def test_a_tampered_record_in_a_viewed_read_is_refused() -> None:
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    collecting(server)
    client.send(b"x" * 40_000)
    wire = bytearray(client.data_to_send())
    wire[16_384 + 22 + 100] ^= 1  # in the second record
    with pytest.raises(TLSError) as refused:
        receive_into(server, bytes(wire), 70_000, view=True)
    assert refused.value.alert == AlertDescription.bad_record_mac


@pytest.mark.parametrize("view", [False, True], ids=["bytes", "view"])
def test_no_record_takes_the_last_sequence_number_on_the_decrypt_into_path(
        view: bool) -> None:
    """RFC 8446 §5.3: the record before the last sequence number is opened, one
    numbered with the last is refused (the loop that decrypts into the buffer checks
    once per read, and leaves reads near the end to the loop that checks each)."""
    pair = established()
    client, server = pair.client.connection, pair.server.connection
    sink = collecting(server)
    writer = engine_of(client).record.write_protection
    engine_of(server).record.read_protection.sequence = record._LAST_SEQUENCE - 1
    writer.sequence = record._LAST_SEQUENCE - 1
    wire = sealed_records(client, [b"the last allowed"])
    header = record._pack_header(23, 0x0303, len(b"one too many") + 1 + 16)
    nonce = (writer._iv ^ record._LAST_SEQUENCE).to_bytes(12, "big")
    wire += header + writer._aead.encrypt(nonce, b"one too many\x17", header)
    store = bytearray(1000)
    server.decrypt_into(memoryview(store))
    data: bytes | memoryview = memoryview(bytearray(wire)) if view else wire
    with pytest.raises(TLSError, match="sequence number exhausted"):
        server.receive_data(data)
    filled = server.decrypted_into()
    assert bytes(store[:filled]) + b"".join(sink) == b"the last allowed"
