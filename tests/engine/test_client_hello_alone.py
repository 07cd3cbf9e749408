"""A server's first read that is its whole ClientHello record is taken without the
record layer's general machinery (``RecordLayer.plain_first``). The server must answer
it with the same bytes, and the same events, as when the same record comes in pieces
(split at every offset) or with more after it, or as a view of a buffer filled again
after the call; one seed makes both servers draw the same randoms (Ed25519 signs
deterministically)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from glasstls import ClientConnection, ServerConnection
from glasstls.constants import NamedGroup
from helpers.pump import (
    KeptRecords,
    client_config,
    cut_into_reads,
    server_config,
)
from helpers.rng import SeededRng
from pki import pki

TEST_PKI = pki("ed25519")
NOW = TEST_PKI.leaf.certificate.not_valid_before_utc.timestamp() + 7200


def _client_hello(seed: str = "c") -> bytes:
    client = ClientConnection(client_config(TEST_PKI, rng=SeededRng(seed),
                                            clock=lambda: NOW,
                                            key_share_groups=(NamedGroup.x25519,)),
                              server_name="localhost")
    return client.data_to_send()


def _answer(reads: list[Any]) -> tuple[bytes, list[str]]:
    """The server's flight and its events for the ClientHello fed as ``reads``."""
    server = ServerConnection(server_config(TEST_PKI, rng=SeededRng("s"), clock=lambda: NOW))
    events: list[str] = []
    for read in reads:
        if isinstance(read, bytearray):  # a transport's buffer, filled again after
            events += [type(e).__name__ for e in server.receive_data(memoryview(read))]
            read[:] = b"\xee" * len(read)
        else:
            events += [type(e).__name__ for e in server.receive_data(read)]
    return server.data_to_send(), events


def test_the_whole_record_is_answered_as_every_split_of_it() -> None:
    hello = _client_hello()
    assert hello[0] == 22 and int.from_bytes(hello[3:5], "big") == len(hello) - 5
    whole = _answer([hello])
    assert whole[0][:1] == b"\x16"  # a ServerHello, then the encrypted flight
    for cut in range(1, len(hello)):
        assert _answer([hello[:cut], hello[cut:]]) == whole, cut
    assert _answer([bytearray(hello)]) == whole


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 2000), max_size=4), seed=st.sampled_from("abc"))
def test_any_reads_of_the_client_hello_give_the_same_answer(cuts: list[int],
                                                            seed: str) -> None:
    hello = _client_hello(seed)
    assert _answer([bytearray(r) for r in cut_into_reads(hello, cuts)]) == _answer([hello])


def test_a_recorded_server_records_the_record_read_whole() -> None:
    # glasstls explain: the recording record layer reads every record through
    # next_record, which records it; a lone ClientHello is no exception.
    hello = _client_hello()
    recorder = KeptRecords()
    server = ServerConnection(server_config(TEST_PKI, rng=SeededRng("s"), clock=lambda: NOW,
                                            recorder=lambda side, number: recorder))
    server.receive_data(hello)
    assert recorder.received == [hello]
    assert server.data_to_send() == _answer([hello])[0]
