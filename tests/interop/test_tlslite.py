"""Certificate compression (RFC 8879) against tlslite-ng, an independent TLS 1.3
implementation run as a process of its own (tests/interop/tlslite_peer.py): each
codec both ways, for the server's certificate and for client certificates.

Debian's GnuTLS 3.7.9 and the OpenSSL inside ``cryptography`` are built without
certificate compression; tlslite-ng compresses with zlib, brotli and zstd.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from glasstls import ClientConfig, KeyLogFile, ServerConfig
from glasstls.compression import algorithms_by_name
from glasstls.constants import TLS13, CertificateCompressionAlgorithm
from glasstls.trace import (
    CERTIFICATE,
    COMPRESSED_CERTIFICATE,
    HELLO_RETRY_REQUEST,
    RECEIVED,
    SENT,
)
from helpers.capture import capture
from peers import require_binary, require_module
from pki import pki

from .driver import Tracer, echo_once, glass_client
from .processes import PeerProcess

pytestmark = pytest.mark.interop

PEER = Path(__file__).with_name("tlslite_peer.py")
CODECS = ("zlib", "brotli", "zstd")
TEST_PKI = pki("ecdsa-p256")
FROM_GLASS = b"hello from the glasstls client\n"
FROM_TLSLITE = b"hello from tlslite\n"
REPLY_PREFIX = b"glasstls-server got: "


# Each codec's test pins tlslite to another suite and group (tlslite's name, IANA's);
# a glasstls client shares only X25519MLKEM768 and x25519 at first, so the NIST
# curves come after a HelloRetryRequest.
PINS = {
    "zlib": ("aes256gcm", "TLS_AES_256_GCM_SHA384", "secp256r1"),
    "brotli": ("chacha20-poly1305", "TLS_CHACHA20_POLY1305_SHA256", "x25519"),
    "zstd": ("aes128gcm", "TLS_AES_128_GCM_SHA256", "secp384r1"),
}


def _pin(codec: str) -> tuple[str, ...]:
    cipher, _, group = PINS[codec]
    return ("--cipher", cipher, "--group", group)


def _agree(done: Any, seen: dict[str, Any], codec: str | None = None) -> None:
    """glasstls and tlslite report the same version, suite and group (the pinned ones)."""
    assert (done.version, seen["version"]) == ("TLSv1.3", "TLS 1.3")
    assert (done.cipher_suite, done.group) == (seen["cipher_suite"], seen["group"])
    if codec is not None:
        assert (done.cipher_suite, done.group) == PINS[codec][1:]


def _compressed(tracer: Tracer, action: str) -> list[Any]:
    """The CompressedCertificate steps: a codec actually used, and smaller than the
    Certificate message it stands for."""
    steps = [e for e in tracer.steps if e.step == COMPRESSED_CERTIFICATE and e.action == action]
    for step in steps:
        assert 0 < step.details["compressed_length"] < step.details["uncompressed_length"]
    return steps


def _sha256(chain: tuple[bytes, ...]) -> list[str]:
    return [hashlib.sha256(der).hexdigest() for der in chain]


@pytest.fixture
def tlslite(start_peer: Any, pki_files: Any) -> Any:
    """``tlslite(role, *options)`` -> the peer process (tlslite-ng must import)."""
    with warnings.catch_warnings():
        # tlslite-ng 0.8 imports asyncore (deprecated) for an integration we do not use.
        warnings.simplefilter("ignore", DeprecationWarning)
        require_module("tlslite")
    files = pki_files("ecdsa")

    def start(role: str, *options: str, certificate: bool = False) -> PeerProcess:
        argv = [sys.executable, str(PEER), role, *options]
        if certificate:
            prefix = "" if role == "server" else "client_"
            argv += ["--cert", str(files[f"{prefix}cert"]), "--key", str(files[f"{prefix}key"])]
        return start_peer(argv)

    return start


def _summary(peer: PeerProcess) -> dict[str, Any]:
    assert peer.wait() == 0, peer.describe()
    return json.loads(peer.stdout.strip().splitlines()[-1])


def _to_tlslite_server(peer: PeerProcess, config: ClientConfig) -> tuple[Any, dict[str, Any]]:
    port = int(peer.wait_for(r"^listening (\d+)").group(1))
    with glass_client(port, config) as glass:
        done = glass.handshake()
        glass.send(FROM_GLASS)
        assert glass.receive_until(b"\n") == b"tlslite got: " + FROM_GLASS
    return done, _summary(peer)


@pytest.mark.parametrize("codec", CODECS)
def test_a_tlslite_server_compresses_its_certificate_for_a_glasstls_client(
        tlslite: Any, codec: str) -> None:
    tracer = Tracer()
    config = ClientConfig(trust=TEST_PKI.trust, versions=(TLS13,), trace=tracer,
                          certificate_compression=algorithms_by_name((codec,)))
    peer = tlslite("server", "--send", ",".join(CODECS), *_pin(codec), certificate=True)
    done, seen = _to_tlslite_server(peer, config)
    _agree(done, seen, codec)
    assert tracer.saw(HELLO_RETRY_REQUEST, RECEIVED) == (PINS[codec][2] != "x25519")
    assert done.certificate_compression == codec
    assert seen["server_cert_compression"] == codec
    assert done.peer_certificates == TEST_PKI.certified.chain_der and done.verified_chain
    [received] = _compressed(tracer, RECEIVED)
    assert received.details["algorithm"] == codec
    assert not tracer.saw(CERTIFICATE, RECEIVED)


@pytest.mark.parametrize("codec", CODECS)
def test_a_glasstls_server_compresses_its_certificate_for_a_tlslite_client(
        tlslite: Any, start_glass_server: Any, codec: str) -> None:
    tracer = Tracer()
    server = start_glass_server(ServerConfig(certificates=(TEST_PKI.certified,), trace=tracer),
                                echo_once(REPLY_PREFIX))
    peer = tlslite("client", "--port", str(server.port), "--receive", codec, *_pin(codec))
    seen = _summary(peer)
    assert server.join() == FROM_TLSLITE
    assert seen["received"] == (REPLY_PREFIX + FROM_TLSLITE).decode()
    _agree(server.glass.negotiated, seen, codec)
    assert not tracer.saw(HELLO_RETRY_REQUEST, SENT)  # tlslite shared the pinned group
    assert seen["server_cert_compression"] == codec
    # tlslite decompressed exactly our chain.
    assert seen["peer_chain_sha256"] == _sha256(TEST_PKI.certified.chain_der)
    assert server.glass.negotiated.certificate_compression == codec
    [sent] = _compressed(tracer, SENT)
    assert sent.details["algorithm"] == codec
    assert not tracer.saw(CERTIFICATE, SENT)


def test_a_glasstls_client_certificate_goes_compressed_to_a_tlslite_server(
        tlslite: Any) -> None:
    tracer = Tracer()
    config = ClientConfig(trust=TEST_PKI.trust, versions=(TLS13,), trace=tracer,
                          certificate=TEST_PKI.client_certified)
    peer = tlslite("server", "--reqcert", "--receive", "zlib", "--send", "brotli",
                   certificate=True)
    done, seen = _to_tlslite_server(peer, config)
    _agree(done, seen)
    assert seen["client_cert_compression"] == "zlib"
    assert seen["peer_chain_sha256"] == _sha256(TEST_PKI.client_certified.chain_der)
    assert done.certificate_compression == "brotli"
    assert [e.details["algorithm"] for e in _compressed(tracer, SENT)] == ["zlib"]
    assert [e.details["algorithm"] for e in _compressed(tracer, RECEIVED)] == ["brotli"]


def test_a_tlslite_client_certificate_goes_compressed_to_a_glasstls_server(
        tlslite: Any, start_glass_server: Any) -> None:
    tracer = Tracer()
    config = ServerConfig(certificates=(TEST_PKI.certified,), client_auth="required",
                          client_trust=TEST_PKI.trust, trace=tracer)
    server = start_glass_server(config, echo_once(REPLY_PREFIX))
    # tlslite-ng 0.8 picks the algorithm for its handshake client certificate from its
    # own ClientHello's list rather than from our CertificateRequest's (which offers
    # all three), so both its lists name the one it is to use.
    peer = tlslite("client", "--port", str(server.port), "--receive", "zstd",
                   "--send", "zstd", certificate=True)
    seen = _summary(peer)
    assert server.join() == FROM_TLSLITE
    assert seen["received"] == (REPLY_PREFIX + FROM_TLSLITE).decode()
    assert seen["client_cert_compression"] == seen["server_cert_compression"] == "zstd"
    negotiated = server.glass.negotiated
    _agree(negotiated, seen)
    assert negotiated.peer_certificates == TEST_PKI.client_certified.chain_der
    assert [e.details["algorithm"] for e in _compressed(tracer, RECEIVED)] == ["zstd"]
    assert [e.details["algorithm"] for e in _compressed(tracer, SENT)] == ["zstd"]


def _tshark_compressed_certificates(pcap: Path, keys: Path, ports: tuple[int, ...]
                                    ) -> list[tuple[int, int, int, int]]:
    """Every CompressedCertificate tshark finds in the capture, decrypted with the key
    log: (sending port, algorithm, uncompressed_length, compressed length)."""
    tshark = require_binary("tshark")
    decode_as = [option for port in ports for option in ("-d", f"tcp.port=={port},tls")]
    shown = subprocess.run(
        [tshark, "-r", str(pcap), *decode_as, "-o", f"tls.keylog_file:{keys}",
         "-Y", "tls.handshake.type == 25", "-T", "fields", "-e", "tcp.srcport",
         "-e", "tls.compress_certificate.algorithm",
         "-e", "tls.compress_certificate.uncompressed_length",
         "-e", "tls.compress_certificate.compressed_certificate_message.length"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    return [tuple(int(field, 0) for field in line.split("\t"))  # type: ignore[misc]
            for line in shown.splitlines()]


def test_tshark_sees_each_certificate_go_compressed_on_the_wire(
        tlslite: Any, start_glass_server: Any, tmp_path: Path) -> None:
    """Wireshark's dissector, an independent reader of RFC 8879, decrypts a capture of
    both directions with the glasstls key log and finds the CompressedCertificate
    (handshake type 25) that each side's report names, with the same lengths."""
    keys, pcap = tmp_path / "keys.log", tmp_path / "compressed.pcapng"
    client_tracer, server_tracer = Tracer(), Tracer()
    tlslite_server = tlslite("server", "--send", "brotli", certificate=True)
    tlslite_port = int(tlslite_server.wait_for(r"^listening (\d+)").group(1))
    glass_server = start_glass_server(
        ServerConfig(certificates=(TEST_PKI.certified,), trace=server_tracer,
                     keylog=KeyLogFile(keys)), echo_once(REPLY_PREFIX))
    client_config = ClientConfig(trust=TEST_PKI.trust, versions=(TLS13,), trace=client_tracer,
                                 keylog=KeyLogFile(keys))
    with capture((tlslite_port, glass_server.port), pcap):
        done, seen = _to_tlslite_server(tlslite_server, client_config)
        tlslite_client = _summary(tlslite("client", "--port", str(glass_server.port),
                                          "--receive", "zstd"))
        assert glass_server.join() == FROM_TLSLITE
    assert done.certificate_compression == seen["server_cert_compression"] == "brotli"
    assert tlslite_client["server_cert_compression"] == "zstd"
    assert tlslite_client["received"] == (REPLY_PREFIX + FROM_TLSLITE).decode()
    _agree(done, seen)
    _agree(glass_server.glass.negotiated, tlslite_client)

    [received] = _compressed(client_tracer, RECEIVED)
    [sent] = _compressed(server_tracer, SENT)
    on_the_wire = _tshark_compressed_certificates(pcap, keys, (tlslite_port, glass_server.port))
    assert sorted(on_the_wire) == sorted([
        (tlslite_port, int(CertificateCompressionAlgorithm.brotli),
         received.details["uncompressed_length"], received.details["compressed_length"]),
        (glass_server.port, int(CertificateCompressionAlgorithm.zstd),
         sent.details["uncompressed_length"], sent.details["compressed_length"]),
    ])
