"""TLSChannel's plaintext buffer: the engine appends each record (most as read-only
views of the decrypted bytes) and reads copy from them straight into what they
return. Every read size, ``read``/``read_into``/``read_all`` mixed, gives the stream
back whole, as bytes, and a failed record gives none of its plaintext."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.io.channel import TLSChannel
from helpers.pump import client_config, connect, server_config, split_records
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def channel_pair(**client: object) -> tuple[object, TLSChannel]:
    """An established client connection and a channel over the server's."""
    pair = connect(client_config(TEST_PKI, **client), server_config(TEST_PKI))
    assert pair.complete
    return pair.client.connection, TLSChannel(pair.server.connection)


@settings(max_examples=60, deadline=None)
@given(sends=st.lists(st.integers(min_value=1, max_value=40_000), min_size=1, max_size=5),
       reads=st.lists(st.tuples(st.sampled_from(["read", "read_into", "read_all"]),
                                st.integers(min_value=1, max_value=70_000)),
                      min_size=1, max_size=30),
       padding=st.sampled_from([0, 100, 4096]))
def test_reads_of_any_kind_and_size_give_the_stream_back_as_bytes(
        sends: list[int], reads: list[tuple[str, int]], padding: int) -> None:
    client, channel = channel_pair(record_padding_block=padding)
    sent = b"".join(bytes([n % 251]) * size for n, size in enumerate(sends))
    for n, size in enumerate(sends):
        client.send(bytes([n % 251]) * size)  # type: ignore[attr-defined]
    channel.receive(client.data_to_send())  # type: ignore[attr-defined]
    received = bytearray()
    for kind, size in reads:
        assert channel.pending == len(sent) - len(received)
        if not channel.pending:
            break
        if kind == "read_into":
            buffer = bytearray(size)
            count = channel.read_into(memoryview(buffer), size)
            assert count is not None
            received += buffer[:count]
            continue
        data = channel.read(size) if kind == "read" else channel.read_all()
        assert type(data) is bytes  # never a view, whatever the engine buffered
        received += data
    position = len(received)
    assert bytes(received) == sent[:position]
    assert channel.read_all() == sent[position:]
    assert channel.pending == 0
    assert channel.read(10) is None  # more ciphertext needed


def test_read_into_a_small_buffer_takes_records_piece_by_piece() -> None:
    client, channel = channel_pair()
    data = bytes(range(256)) * 130  # 33280 bytes: three records
    client.send(data)  # type: ignore[attr-defined]
    channel.receive(client.data_to_send())  # type: ignore[attr-defined]
    buffer = memoryview(bytearray(7))
    received = bytearray()
    while (count := channel.read_into(buffer, 7)):
        received += buffer[:count]
    assert bytes(received) == data


def test_a_tampered_record_gives_the_data_before_it_then_the_error_and_none_of_its_own() -> None:
    client, channel = channel_pair()
    client.send(b"first record")  # type: ignore[attr-defined]
    client.send(b"second, tampered")  # type: ignore[attr-defined]
    records = [bytearray(r) for r in split_records(client.data_to_send())]  # type: ignore[attr-defined]
    records[1][6] ^= 0x01
    channel.receive(b"".join(records))
    assert channel.read(1000) == b"first record"
    with pytest.raises(ssl.SSLError, match=r"BAD_RECORD_MAC|bad.record.mac"):
        channel.read(1000)
    assert channel.pending == 0


def test_data_then_close_notify_reads_the_data_then_the_clean_end() -> None:
    client, channel = channel_pair()
    client.send(b"x" * 20000)  # type: ignore[attr-defined]
    client.close()  # type: ignore[attr-defined]
    channel.receive(client.data_to_send())  # type: ignore[attr-defined]
    assert channel.read_all() == b"x" * 20000
    assert channel.read(10) == b""


@pytest.mark.parametrize("limit", [5, 6, 7, 65536])
def test_a_read_of_the_one_record_waiting_gives_it_whole_as_bytes_or_in_part(limit: int) -> None:
    client, channel = channel_pair()
    client.send(b"hello!")  # type: ignore[attr-defined]
    channel.receive(client.data_to_send())  # type: ignore[attr-defined]
    first = channel.read(limit)
    assert type(first) is bytes and first == b"hello!"[:limit]
    if limit < 6:  # the rest of the record
        assert channel.read(65536) == b"hello!"[limit:]
    assert channel.pending == 0 and channel.read(10) is None  # more is needed: not ended


def test_a_failure_or_the_transport_ending_is_seen_by_a_read_after_the_data() -> None:
    client, channel = channel_pair()
    client.send(b"data")  # type: ignore[attr-defined]
    channel.receive(client.data_to_send())  # type: ignore[attr-defined]
    channel.receive(b"")  # the transport ended, without close_notify
    assert channel.read(100) == b"data"
    with pytest.raises(ssl.SSLEOFError):
        channel.read(100)
    client, channel = channel_pair()
    channel.receive(b"\x17\x03\x03\x00\x20" + bytes(32))  # a record that does not open
    with pytest.raises(ssl.SSLError):
        channel.read(100)
