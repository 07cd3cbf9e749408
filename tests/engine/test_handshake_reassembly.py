"""Handshake messages however the peer cuts them into records: each message's header
is checked once (its parser and its size), and a message is handled once whole,
whether it ends a record, shares one with others, or spans several."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import given, settings, strategies as st

from glasstls import AlertDescription
from glasstls.constants import TLS12, TLS13
from helpers.pump import (
    CLIENT_TO_SERVER,
    Pair,
    client_config,
    connect,
    exchange,
    fails_with,
    record,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def recut(cuts: list[int]) -> Callable[[str, bytes], bytes]:
    """A hook that joins each transfer's unprotected handshake records and cuts their
    payload again at ``cuts`` (positions taken modulo its length), records of the
    other types left where they were. (TLS 1.2's handshake records after a
    ChangeCipherSpec are protected, and left alone too.)"""
    def change(direction: str, data: bytes) -> bytes:
        out = b""
        pending = b""
        protected = False
        for raw in [*split_records(data), b""]:
            protected = protected or raw[:1] == b"\x14"
            if raw[:1] == b"\x16" and not protected:
                pending += raw[5:]
                continue
            if pending:
                points = sorted({cut % len(pending) for cut in cuts} - {0})
                edges = [0, *points, len(pending)]
                out += b"".join(record(22, pending[start:end])
                                for start, end in itertools.pairwise(edges))
                pending = b""
            out += raw
        return out
    return change


@settings(max_examples=40, deadline=None)
@given(version=st.sampled_from([TLS12, TLS13]),
       cuts=st.lists(st.integers(min_value=1, max_value=5000), max_size=12),
       chunk=st.one_of(st.none(), st.integers(min_value=1, max_value=700)))
def test_a_handshake_cut_into_records_anywhere_completes(
        version: int, cuts: list[int], chunk: int | None) -> None:
    # TLS 1.2's server flight is four messages in the clear: cut anywhere, a record
    # may end mid-header, hold the end of one message and the start of the next,
    # or hold several whole ones.
    pair = Pair(client_config(TEST_PKI, versions=(version,)),
                server_config(TEST_PKI, versions=(version,)),
                hook=recut(cuts), chunk_size=chunk).pump()
    assert pair.complete, (pair.client.error, pair.server.error)
    assert pair.client.negotiated.version == pair.server.negotiated.version == (
        "TLSv1.2" if version == TLS12 else "TLSv1.3")
    exchange(pair)


def test_a_tls12_hello_request_with_a_body_while_negotiating_is_unexpected_message() -> None:
    # RFC 5246 §7.4.1.1: only an empty HelloRequest is ignored while negotiating.
    pair = Pair(client_config(TEST_PKI, versions=(TLS12,)),
                server_config(TEST_PKI, versions=(TLS12,)))
    pair.client.connection.data_to_send()
    pair.deliver(pair.client, record(22, b"\x00\x00\x00\x01\x00"))
    fails_with(pair.client, AlertDescription.unexpected_message, "hello_request")


def test_an_empty_hello_request_between_messages_of_one_record_is_skipped() -> None:
    # Ignored and not hashed: the handshake goes on from the message after it.
    def insert(direction: str, data: bytes) -> bytes:
        records = split_records(data)
        if direction == CLIENT_TO_SERVER or records[0][5] != 2:  # not the ServerHello's
            return data
        first = records[0]
        return record(22, b"\x00\x00\x00\x00" + first[5:]) + b"".join(records[1:])

    pair = connect(client_config(TEST_PKI, versions=(TLS12,)),
                   server_config(TEST_PKI, versions=(TLS12,)), hook=insert)
    assert pair.complete, (pair.client.error, pair.server.error)
    exchange(pair)
