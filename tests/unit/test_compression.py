"""Certificate compression codecs (RFC 8879): round trips, and the hard cap on what
a peer can make us decompress."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.compression import (
    CODECS,
    DEFAULT_ALGORITHMS,
    MAX_UNCOMPRESSED_LENGTH,
    CompressionCache,
    algorithms_by_name,
    check_algorithms,
    choose,
    decompress,
)
from glasstls.constants import CertificateCompressionAlgorithm as A
from glasstls.errors import AlertDescription, BadCertificate, ConfigError
from glasstls.handshake import compressed
from glasstls.messages.handshake import (
    Certificate13,
    CertificateEntry,
    CompressedCertificate,
    serialize,
)

ALGORITHMS = sorted(CODECS)


def test_all_three_codecs_are_installed_for_the_tests() -> None:
    # brotli and zstandard are in the test extras; without them these tests would
    # quietly cover zlib alone.
    assert set(CODECS) == {A.zlib, A.brotli, A.zstd}
    assert (A.brotli, A.zstd, A.zlib) == DEFAULT_ALGORITHMS


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=40, deadline=None)
@given(body=st.binary(max_size=3000))
def test_a_body_round_trips_through_each_codec(algorithm: int, body: bytes) -> None:
    compressed = CODECS[algorithm].compress(body)
    assert decompress(algorithm, compressed, len(body)) == body


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_decompression_bomb_stops_at_the_announced_length(algorithm: int) -> None:
    # 64 MiB of zeros compress to a few kilobytes; a peer announcing 10 kB must not
    # make us produce more than a small multiple of that.
    bomb = CODECS[algorithm].compress(b"\0" * (64 << 20))
    assert len(bomb) < 100_000
    with pytest.raises(BadCertificate) as caught:
        decompress(algorithm, bomb, 10_000)
    assert caught.value.alert == AlertDescription.bad_certificate
    assert "more than" in str(caught.value)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_output_shorter_than_announced_is_bad_certificate(algorithm: int) -> None:
    compressed = CODECS[algorithm].compress(b"certificate" * 100)
    with pytest.raises(BadCertificate) as caught:
        decompress(algorithm, compressed, 1101)
    assert caught.value.alert == AlertDescription.bad_certificate


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_garbage_is_bad_certificate(algorithm: int) -> None:
    with pytest.raises(BadCertificate) as caught:
        decompress(algorithm, b"\xff\x00 not compressed at all \x13\x37" * 3, 100)
    assert caught.value.alert == AlertDescription.bad_certificate


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_truncated_stream_is_bad_certificate(algorithm: int) -> None:
    body = bytes(range(256)) * 20
    compressed = CODECS[algorithm].compress(body)
    with pytest.raises(BadCertificate):
        decompress(algorithm, compressed[: len(compressed) // 2], len(body))


def test_bytes_after_the_zlib_stream_are_bad_certificate() -> None:
    with pytest.raises(BadCertificate):
        decompress(A.zlib, zlib.compress(b"abc") + b"trailing", 3)


def test_an_announced_length_beyond_the_limit_is_refused_before_decompressing() -> None:
    with pytest.raises(BadCertificate) as caught:
        decompress(A.zlib, b"\x00", MAX_UNCOMPRESSED_LENGTH + 1)
    assert "more than the limit" in str(caught.value)
    with pytest.raises(BadCertificate):
        decompress(A.zlib, zlib.compress(b"x" * 200), 200, limit=100)


def test_names_map_to_code_points_and_unknown_names_are_config_errors() -> None:
    assert algorithms_by_name(("zstd", "zlib")) == (3, 1)
    with pytest.raises(ConfigError, match="lz4"):
        algorithms_by_name(("lz4",))


def test_the_cache_compresses_each_body_once_and_stays_bounded() -> None:
    cache = CompressionCache(maximum=2)
    first = cache.compress(A.brotli, b"chain one" * 50)
    assert cache.compress(A.brotli, b"chain one" * 50) is first
    cache.compress(A.zlib, b"chain one" * 50)
    cache.compress(A.zstd, b"chain two" * 50)
    assert len(cache) == 2


def test_the_sender_chooses_by_its_own_preference_among_the_receivers_algorithms() -> None:
    assert choose((A.brotli, A.zlib), (A.zlib, A.zstd, A.brotli)) == A.brotli
    assert choose((A.zstd,), (A.zlib,)) is None
    assert choose((), (A.zlib,)) is None


@pytest.mark.parametrize("algorithms", [(0,), (4,), (A.zlib, A.brotli, A.zlib)])
def test_unknown_or_repeated_algorithms_are_config_errors(algorithms: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError):
        check_algorithms(algorithms)


def test_the_cap_is_the_largest_handshake_message_the_engine_takes() -> None:
    assert MAX_UNCOMPRESSED_LENGTH == 2**18


def _compressed_chain(chain: tuple[bytes, ...]) -> tuple[bytes, CompressedCertificate]:
    message = serialize(Certificate13(b"", tuple(CertificateEntry(der) for der in chain)))
    data = CODECS[A.zlib].compress(message[4:])
    return message, CompressedCertificate(A.zlib, len(message) - 4, data)


def test_a_chain_received_again_compressed_alike_is_decompressed_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(algorithm: int, data: bytes, length: int) -> bytes:
        calls.append(length)
        return decompress(algorithm, data, length)

    monkeypatch.setattr(compressed.compression, "decompress", counted)
    message, first = _compressed_chain((b"leaf " + os.urandom(16), b"issuer"))
    again = CompressedCertificate(first.algorithm, first.uncompressed_length,
                                  bytes(first.compressed_certificate_message))
    received = compressed.received_certificate(first, (A.zlib,))
    assert received.raw == message and received.chain[1] == b"issuer"
    assert compressed.received_certificate(again, (A.zlib,)) is received
    assert len(calls) == 1
    # Another chain is another entry; nothing of the first leaks into it.
    _, other = _compressed_chain((b"other leaf " + os.urandom(16),))
    assert compressed.received_certificate(other, (A.zlib,)).chain[0].startswith(b"other")
    assert len(calls) == 2


def test_a_compressed_certificate_that_fails_is_refused_every_time() -> None:
    _, good = _compressed_chain((b"leaf " + os.urandom(16),))
    # The same bytes announcing one byte more: refused, however often it comes,
    # and the good announcement of those bytes still decompresses.
    wrong = CompressedCertificate(A.zlib, good.uncompressed_length + 1,
                                  good.compressed_certificate_message)
    for _ in range(2):
        with pytest.raises(BadCertificate, match="decompresses to"):
            compressed.received_certificate(wrong, (A.zlib,))
    assert compressed.received_certificate(good, (A.zlib,)).chain[0].startswith(b"leaf")
    garbage = CompressedCertificate(A.zlib, 100, b"not zlib " + os.urandom(8))
    for _ in range(2):
        with pytest.raises(BadCertificate):
            compressed.received_certificate(garbage, (A.zlib,))
