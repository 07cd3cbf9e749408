"""Client and server fed random bytes and mutated valid flights: only a TLSError ever
escapes receive_data, with its alert queued, and nothing hangs."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from .targets import client_receives, feed_flight, flight, flight_names, server_receives

# A deadline per example catches hangs and runaway loops. GLASSTLS_FUZZ_EXAMPLES=20000
# runs a longer campaign.
EXAMPLES = int(os.environ.get("GLASSTLS_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=2),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HANDSHAKE_TYPES = [1, 2, 4, 5, 8, 11, 12, 13, 14, 15, 16, 20, 24, 254, 0xFF]


def handshake_record(msg_type: int, body: bytes, record_type: int = 22) -> bytes:
    message = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
    return bytes([record_type, 3, 3]) + len(message).to_bytes(2, "big") + message


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few random edits: bit flips, byte changes, insertions,
    deletions, truncation and duplicated slices."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "repeat"]))
        position = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[position] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and out:
            out[position] = draw(st.integers(0, 255))
        elif op == "insert":
            out[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del out[position:position + draw(st.integers(1, 16))]
        elif op == "truncate":
            del out[position:]
        elif op == "repeat":
            out[position:position] = out[position:position + draw(st.integers(1, 64))]
    return bytes(out)


FLIGHTS = flight_names()


@pytest.mark.parametrize("name", FLIGHTS)
def test_recorded_flight_is_accepted_when_replayed_unchanged(name: str) -> None:
    # The control for the mutation tests: each transfer, unchanged, is accepted by a
    # fresh connection brought to the state that expects it.
    assert feed_flight(name, flight(name)) is None


@FUZZ
@given(data=st.binary(max_size=3000))
def test_server_fed_random_bytes_raises_only_tls_errors(data: bytes) -> None:
    server_receives(data)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_tls13_only_server_fed_random_bytes_raises_only_tls_errors(data: bytes) -> None:
    server_receives(data, tls13_only=True)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_client_fed_random_bytes_raises_only_tls_errors(data: bytes) -> None:
    client_receives(data)


@FUZZ
@given(msg_type=st.sampled_from(HANDSHAKE_TYPES), body=st.binary(max_size=600))
def test_server_fed_a_random_handshake_message_raises_only_tls_errors(
        msg_type: int, body: bytes) -> None:
    # A well-framed record gets past the record layer into the handshake parsers.
    server_receives(handshake_record(msg_type, body))


@FUZZ
@given(msg_type=st.sampled_from(HANDSHAKE_TYPES), body=st.binary(max_size=600))
def test_client_fed_a_random_handshake_message_raises_only_tls_errors(
        msg_type: int, body: bytes) -> None:
    client_receives(handshake_record(msg_type, body))


@pytest.mark.parametrize("name", FLIGHTS)
@FUZZ
@given(data=st.data())
def test_mutated_flight_raises_only_tls_errors(name: str, data: st.DataObject) -> None:
    damaged = data.draw(mutated(flight(name)))
    cuts = data.draw(st.lists(st.integers(0, 10_000), max_size=4))
    feed_flight(name, damaged, cuts, ahead=data.draw(st.booleans()))


@pytest.mark.parametrize("name", FLIGHTS)
@settings(FUZZ, max_examples=max(EXAMPLES // 6, 50))
@given(cuts=st.lists(st.integers(0, 10_000), max_size=6), ahead=st.booleans())
def test_valid_flight_split_anywhere_is_accepted(name: str, cuts: list[int], ahead: bool
                                                 ) -> None:
    # Record boundaries in the byte stream are the transport's business, not TLS's;
    # so is when it lets the engine work ahead.
    assert feed_flight(name, flight(name), cuts, ahead) is None
