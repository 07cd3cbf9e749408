"""Certificate compression (RFC 8879) through real handshakes, glasstls against itself:
the server's chain and the client's, each codec, preferences, TLS 1.2 left alone,
and the refusals (a bomb, an algorithm not offered, garbage, an unasked-for
CompressedCertificate)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls import CertifiedKey, compression
from glasstls.constants import (
    TLS12,
    TLS13,
    CertificateCompressionAlgorithm as A,
    ExtensionType as X,
)
from glasstls.errors import AlertDescription, ConfigError
from glasstls.events import HandshakeComplete, PeerCertificateVerified
from glasstls.messages.extensions import CompressCertificate, find_typed
from glasstls.trace import CERTIFICATE, COMPRESSED_CERTIFICATE, RECEIVED, SENT, TraceEvent
from helpers.pump import client_config, connect, server_config
from pki import pki

TEST_PKI = pki("ecdsa-p256")
RSA_PKI = pki("rsa-2048")


class Steps(list[TraceEvent]):
    def __call__(self, event: TraceEvent) -> None:
        self.append(event)

    def find(self, step: str, action: str) -> list[TraceEvent]:
        return [e for e in self if e.step == step and e.action == action]


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[compression.CompressionCache]:
    cache = compression.CompressionCache()
    monkeypatch.setattr(compression, "SHARED_CACHE", cache)
    yield cache


# A leaf and its CA: names and extensions repeat, so the chain always compresses.
CHAIN = CertifiedKey((RSA_PKI.leaf.certificate, RSA_PKI.ca.certificate), RSA_PKI.leaf.key)


def test_by_default_the_server_chain_goes_compressed_with_brotli() -> None:
    client_steps, server_steps = Steps(), Steps()
    pair = connect(client_config(RSA_PKI, trace=client_steps),
                   server_config(RSA_PKI, certificates=(CHAIN,), trace=server_steps))
    assert pair.complete
    assert pair.client.negotiated.certificate_compression == "brotli"
    assert pair.server.negotiated.certificate_compression == "brotli"
    [sent] = server_steps.find(COMPRESSED_CERTIFICATE, SENT)
    [received] = client_steps.find(COMPRESSED_CERTIFICATE, RECEIVED)
    assert sent.details["algorithm"] == "brotli" == received.details["algorithm"]
    message = CHAIN.certificate_message(tls13=True)
    assert sent.details["uncompressed_length"] == len(message) - 4
    assert sent.details["compressed_length"] < sent.details["uncompressed_length"]
    assert received.details["chain"][0]["subject"] == sent.details["chain"][0]["subject"]
    assert not client_steps.find(CERTIFICATE, RECEIVED)
    assert pair.client.negotiated.peer_certificates == CHAIN.chain_der


def test_a_chain_that_would_not_get_smaller_goes_as_it_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As a lone RSA leaf can: its key and signature are random bytes.
    monkeypatch.setattr(compression, "compress", lambda algorithm, body: body + b"\x00")
    steps = Steps()
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI, trace=steps))
    assert pair.complete and pair.client.negotiated.certificate_compression is None
    assert steps.find(CERTIFICATE, SENT) and not steps.find(COMPRESSED_CERTIFICATE, SENT)


@pytest.mark.parametrize("algorithm", [A.zlib, A.brotli, A.zstd], ids=lambda a: a.name)
def test_each_codec_carries_the_chain(algorithm: A) -> None:
    pair = connect(client_config(TEST_PKI, certificate_compression=(algorithm,)),
                   server_config(TEST_PKI))
    assert pair.complete
    assert pair.client.negotiated.certificate_compression == algorithm.name


def test_the_server_chooses_by_its_own_preference_among_what_the_client_offers() -> None:
    pair = connect(client_config(TEST_PKI, certificate_compression=(A.zlib, A.zstd)),
                   server_config(TEST_PKI, certificate_compression=(A.brotli, A.zstd, A.zlib)))
    assert pair.client.negotiated.certificate_compression == "zstd"


@pytest.mark.parametrize(("client", "server"), [
    ((), (A.brotli,)),  # the client offers nothing
    ((A.zlib,), (A.brotli,)),  # nothing in common
    ((A.brotli,), ()),  # the server does not compress
])
def test_without_an_algorithm_in_common_the_certificate_goes_plain(
        client: tuple[int, ...], server: tuple[int, ...]) -> None:
    steps = Steps()
    pair = connect(client_config(TEST_PKI, certificate_compression=client, trace=steps),
                   server_config(TEST_PKI, certificate_compression=server))
    assert pair.complete
    assert pair.client.negotiated.certificate_compression is None
    assert steps.find(CERTIFICATE, RECEIVED) and not steps.find(COMPRESSED_CERTIFICATE, RECEIVED)


def test_the_client_hello_offers_compression_only_with_tls13() -> None:
    def offered(versions: tuple[int, ...]) -> CompressCertificate | None:
        pair = connect(client_config(TEST_PKI, versions=versions),
                       server_config(TEST_PKI, keep_client_hello=True))
        hello = pair.server.connection.client_hello
        assert hello is not None
        return find_typed(hello.extensions, X.compress_certificate, CompressCertificate)

    both = offered((TLS13, TLS12))
    assert both is not None and both.algorithms == (A.brotli, A.zstd, A.zlib)
    assert offered((TLS12,)) is None


def test_tls12_never_compresses_even_when_the_client_offered_it() -> None:
    steps = Steps()
    pair = connect(client_config(TEST_PKI, trace=steps),
                   server_config(TEST_PKI, versions=(TLS12,)))
    assert pair.complete and pair.client.negotiated.version == "TLSv1.2"
    assert pair.client.negotiated.certificate_compression is None
    assert steps.find(CERTIFICATE, RECEIVED)


def test_a_server_compresses_its_chain_once_per_codec(
        fresh_cache: compression.CompressionCache) -> None:
    server = server_config(TEST_PKI)
    for _ in range(3):
        assert connect(client_config(TEST_PKI), server).complete
    connect(client_config(TEST_PKI, certificate_compression=(A.zlib,)), server)
    assert len(fresh_cache) == 2


def test_a_client_certificate_goes_compressed_when_the_server_offers_it() -> None:
    client_steps, server_steps = Steps(), Steps()
    pair = connect(client_config(TEST_PKI, certificate=TEST_PKI.client_certified,
                                 certificate_compression=(A.zlib, A.zstd), trace=client_steps),
                   server_config(TEST_PKI, client_auth="required", client_trust=TEST_PKI.trust,
                                 certificate_compression=(A.zstd,), trace=server_steps))
    assert pair.complete
    assert pair.server.negotiated.peer_certificates == TEST_PKI.client_certified.chain_der
    [sent] = client_steps.find(COMPRESSED_CERTIFICATE, SENT)
    [received] = server_steps.find(COMPRESSED_CERTIFICATE, RECEIVED)
    assert sent.details["algorithm"] == received.details["algorithm"] == "zstd"


def test_a_post_handshake_client_certificate_goes_compressed_too() -> None:
    client_steps = Steps()
    pair = connect(client_config(TEST_PKI, certificate=TEST_PKI.client_certified,
                                 post_handshake_auth=True, trace=client_steps),
                   server_config(TEST_PKI, client_trust=TEST_PKI.trust))
    pair.server.connection.request_client_certificate()
    pair.pump()
    [verified] = pair.server.of_type(PeerCertificateVerified)
    assert verified.peer_certificates == TEST_PKI.client_certified.chain_der
    # Only after the handshake: the server did not ask for a certificate during it.
    [sent] = client_steps.find(COMPRESSED_CERTIFICATE, SENT)
    assert sent.details["algorithm"] == "brotli"


def _hostile_server(monkeypatch: pytest.MonkeyPatch, compressed: bytes) -> None:
    """The server's codec gives ``compressed`` whatever the chain (a hostile peer)."""
    monkeypatch.setattr(compression, "compress", lambda algorithm, body: compressed)


def test_a_decompression_bomb_is_cut_at_the_announced_length(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 MiB of zeros in a few kilobytes of brotli, announced as the real chain's size.
    _hostile_server(monkeypatch, compression.CODECS[A.brotli].compress(b"\0" * (64 << 20)))
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    assert pair.client.alert_sent == AlertDescription.bad_certificate
    assert not pair.client.of_type(HandshakeComplete)
    announced = len(TEST_PKI.certified.certificate_message(tls13=True)) - 4
    produced = int(str(pair.client.error).split("more than ")[1].split()[0])
    # Decompression stopped within one of brotli's output blocks of the announcement.
    assert announced < produced <= announced + (1 << 17)


def test_an_announced_length_beyond_the_cap_is_refused_before_decompressing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    steps = Steps()
    _hostile_server(monkeypatch, b"\x00" * 16)
    oversized = compression.MAX_UNCOMPRESSED_LENGTH + 1
    message = b"\x0b" + oversized.to_bytes(3, "big") + bytes(oversized)
    monkeypatch.setattr(type(TEST_PKI.certified), "certificate_message",
                        lambda self, tls13, ocsp_response=b"": message)
    pair = connect(client_config(TEST_PKI, trace=steps), server_config(TEST_PKI))
    assert pair.client.alert_sent == AlertDescription.bad_certificate
    assert "more than the limit" in str(pair.client.error)


def test_a_stream_that_does_not_decompress_is_bad_certificate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _hostile_server(monkeypatch, b"\x1b\xff\xff not brotli at all")
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    assert pair.client.alert_sent == AlertDescription.bad_certificate
    assert "does not decompress" in str(pair.client.error)


def test_an_algorithm_the_client_did_not_offer_is_illegal_parameter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The server ignores the client's list and uses zlib anyway.
    monkeypatch.setattr(compression, "choose", lambda ours, theirs: A.zlib)
    pair = connect(client_config(TEST_PKI, certificate_compression=(A.brotli,)),
                   server_config(TEST_PKI))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter
    assert "zlib, which was not offered" in str(pair.client.error)


def test_a_compressed_certificate_nobody_asked_for_is_unexpected_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "choose", lambda ours, theirs: A.zlib)
    pair = connect(client_config(TEST_PKI, certificate_compression=()),
                   server_config(TEST_PKI))
    assert pair.client.alert_sent == AlertDescription.unexpected_message


def test_a_server_refuses_a_compressed_client_certificate_it_did_not_offer_to_take(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "choose", lambda ours, theirs: ours[0] if ours else None)
    pair = connect(client_config(TEST_PKI, certificate=TEST_PKI.client_certified),
                   server_config(TEST_PKI, client_auth="required", client_trust=TEST_PKI.trust,
                                 certificate_compression=()))
    assert pair.server.alert_sent == AlertDescription.unexpected_message


@pytest.mark.parametrize("value", [(9,), (A.zlib, A.zlib)])
def test_a_bad_algorithm_list_is_a_config_error(value: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError):
        client_config(TEST_PKI, certificate_compression=value)
    with pytest.raises(ConfigError):
        server_config(TEST_PKI, certificate_compression=value)


def test_an_uninstalled_codec_is_a_config_error_naming_the_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    codecs = dict(compression.CODECS)
    del codecs[A.zstd]
    monkeypatch.setattr(compression, "CODECS", codecs)
    with pytest.raises(ConfigError, match="zstandard"):
        client_config(TEST_PKI, certificate_compression=(A.zstd,))


# A hostile server's CompressedCertificate, as property tests: whatever the compressed
# bytes, or whatever the Certificate body inside a well-formed stream, the client ends
# the handshake with a TLS alert of its own choosing; never internal_error (which
# glasstls sends for an exception it did not expect), never a completed handshake.
HOSTILE = settings(max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])
REAL_BODY = TEST_PKI.certified.certificate_message(tls13=True)[4:]


def _refused_cleanly(pair) -> AlertDescription:  # type: ignore[no-untyped-def]
    alert = pair.client.alert_sent
    assert alert is not None and alert != AlertDescription.internal_error, pair.client.error
    assert not pair.client.of_type(HandshakeComplete)
    return alert  # type: ignore[no-any-return]


@HOSTILE
@given(algorithm=st.sampled_from(sorted(compression.CODECS)),
       stream=st.binary(min_size=1, max_size=600))
def test_any_compressed_bytes_are_refused_cleanly(
        monkeypatch: pytest.MonkeyPatch, algorithm: int, stream: bytes) -> None:
    monkeypatch.setattr(compression, "choose", lambda ours, theirs: algorithm)
    _hostile_server(monkeypatch, stream)
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    assert _refused_cleanly(pair) == AlertDescription.bad_certificate


@HOSTILE
@given(data=st.data(), algorithm=st.sampled_from(sorted(compression.CODECS)))
def test_any_certificate_inside_a_good_stream_is_refused_cleanly(
        monkeypatch: pytest.MonkeyPatch, data: st.DataObject, algorithm: int) -> None:
    # The body: arbitrary bytes (repeated, so that they compress and the server sends
    # them compressed), or the real chain with bytes changed. It decompresses to
    # exactly its announced length, so the Certificate parser and the checks after it
    # are what meet the damage.
    body = data.draw(st.one_of(
        st.binary(min_size=8, max_size=100).map(lambda chunk: chunk * 4),
        st.lists(st.tuples(st.integers(0, len(REAL_BODY) - 1), st.integers(1, 255)),
                 min_size=1, max_size=4, unique_by=lambda flip: flip[0]).map(_damaged)),
        label="body")
    message = b"\x0b" + len(body).to_bytes(3, "big") + body
    monkeypatch.setattr(compression, "choose", lambda ours, theirs: algorithm)
    monkeypatch.setattr(type(TEST_PKI.certified), "certificate_message",
                        lambda self, tls13, ocsp_response=b"": message)
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    _refused_cleanly(pair)


def _damaged(flips: list[tuple[int, int]]) -> bytes:
    body = bytearray(REAL_BODY)
    for index, flip in flips:
        body[index] ^= flip
    return bytes(body)
