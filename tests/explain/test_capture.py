"""Reading captures: the TCP reassembler on its own (in order, out of order,
retransmitted, overlapping, across the 2^32 wrap), pcap files with segments out of
order and repeated, and the dissector fed arbitrary bytes (never an exception,
the bytes still tiled)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.explain.capture import CaptureError, TcpStream, tls_connections
from glasstls.explain.dissect import WireRecord, dissect
from glasstls.explain.keys import KeyLogError, KeyMaterial
from glasstls.explain.recorder import Recorder
from helpers.pump import client_config, server_config
from pki import pki

from .checks import exchange, tiling_problems
from .pcaps import write_capture


def test_stream_in_order_out_of_order_retransmitted_and_overlapping() -> None:
    stream = TcpStream()
    stream.syn(99)
    assert stream.segment(100, b"abc") == b"abc"
    assert stream.segment(106, b"ghi") == b""  # early: waits for 103..106
    assert stream.segment(100, b"abc") == b""  # a retransmission
    assert stream.segment(102, b"cdef") == b"defghi"  # overlaps, fills the gap, releases
    assert stream.segment(106, b"ghi") == b""  # delivered already
    assert stream.segment(109, b"j") == b"j"


def test_early_segment_is_released_when_the_gap_fills() -> None:
    stream = TcpStream()
    stream.syn(0)
    assert stream.segment(4, b"defg") == b""
    assert stream.segment(1, b"abc") == b"abcdefg"


def test_stream_survives_the_sequence_number_wrapping() -> None:
    stream = TcpStream()
    stream.syn(2**32 - 3)
    assert stream.segment(2**32 - 2, b"ab") == b"ab"
    assert stream.segment(1, b"d") == b""
    assert stream.segment(0, b"c") == b"cd"


def test_stream_without_a_syn_starts_at_the_first_segment() -> None:
    stream = TcpStream()
    assert stream.segment(5000, b"hello") == b"hello"


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.lists(st.integers(0, 299), max_size=12),
       st.randoms())
def test_any_delivery_order_reassembles_the_same_bytes(data: bytes, cuts: list[int],
                                                        rng: object) -> None:
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    segments = [(points[i], data[points[i] : points[i + 1]]) for i in range(len(points) - 1)]
    shuffled = segments + segments[: len(segments) // 2]  # some retransmitted
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    stream = TcpStream()
    stream.syn(41)
    out = b"".join(stream.segment(42 + offset, chunk) for offset, chunk in shuffled)
    assert out == data


def _recorded_flights() -> tuple[list[tuple[str, bytes]], KeyMaterial]:
    recorder, key = Recorder(), pki("ecdsa-p256")
    lines: list[str] = []
    exchange(client_config(key, recorder=recorder, keylog=lines.append),
             server_config(key, recorder=recorder), recorder)
    records = recorder.recordings[0].records
    return [(r.sender, r.data) for r in records], KeyMaterial.from_keylog("\n".join(lines))


@pytest.mark.parametrize("reorder", [False, True], ids=["in-order", "reordered"])
def test_a_capture_gives_back_the_records_and_decrypts_them(tmp_path: Path,
                                                             reorder: bool) -> None:
    flights, keys = _recorded_flights()
    capture = write_capture(tmp_path / "c.pcap", flights, segment_size=300, reorder=reorder)
    (connection,) = tls_connections(capture)
    assert connection.client == ("10.0.0.1", 50000) and connection.server[1] == 443
    assert [(r.sender, r.data) for r in connection.records] == flights
    explained = dissect(connection.records, keys)
    assert tiling_problems(explained) == []
    assert [r.note for r in explained.records if r.note] == []
    assert tls_connections(capture, port=8443) == []


def test_a_file_that_is_not_a_capture_is_a_capture_error(tmp_path: Path) -> None:
    path = tmp_path / "not.pcap"
    path.write_bytes(b"hello, this is not a capture file at all")
    with pytest.raises(CaptureError):
        tls_connections(path)


def test_a_pcapng_cut_short_gives_what_came_before_and_says_so(tmp_path: Path) -> None:
    flights, keys = _recorded_flights()
    whole = write_capture(tmp_path / "c.pcapng", flights, segment_size=300, pcapng=True)
    data = whole.read_bytes()
    (complete,) = tls_connections(whole)
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) * 2 // 3])  # the capture stopped mid-packet
    notes: list[str] = []
    (connection,) = tls_connections(cut, notes=notes)
    assert notes == [f"{cut} ends in the middle of a packet: read up to there"]
    assert 0 < len(connection.records) < len(complete.records)
    assert [r.data for r in connection.records] == [
        r.data for r in complete.records[: len(connection.records)]]
    assert tiling_problems(dissect(connection.records, keys)) == []
    for length in range(0, 200, 3):  # cut in the header blocks or the first packets
        cut.write_bytes(data[:length])
        try:
            assert tls_connections(cut) == []
        except CaptureError as refused:
            assert not str(refused).endswith("()"), length  # it says what is wrong
    with pytest.raises(CaptureError, match="cannot read"):
        tls_connections(tmp_path / "missing.pcapng")


def test_key_log_lines_are_parsed_and_bad_ones_are_named() -> None:
    random = "11" * 32
    keys = KeyMaterial.from_keylog(f"# comment\n\nCLIENT_RANDOM {random} {'22' * 48}\n"
                                   f"RSA {'33' * 8} {'44' * 48}\n")
    assert keys.secrets(bytes.fromhex(random)).logged["CLIENT_RANDOM"] == b"\x22" * 48
    with pytest.raises(KeyLogError, match="line 1"):
        KeyMaterial.from_keylog("CLIENT_RANDOM zz 00")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["client", "server"]),
                          st.integers(20, 24), st.binary(max_size=80)), max_size=8))
def test_arbitrary_records_are_dissected_without_error_and_tiled(
        records: list[tuple[str, int, bytes]]) -> None:
    wire = [WireRecord(sender, bytes([kind, 3, 3]) + len(body).to_bytes(2, "big") + body)
            for sender, kind, body in records]
    explained = dissect(wire)
    assert tiling_problems(explained) == []


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_a_mangled_client_hello_is_shown_as_undecodable_not_raised(body: bytes) -> None:
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    record = WireRecord("client", b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message)
    explained = dissect([record])
    assert tiling_problems(explained) == []
    assert explained.messages[0].name == "ClientHello"
