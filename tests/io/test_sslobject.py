"""SSLContext.wrap_bio: the ssl.SSLObject behaviour over MemoryBIOs, in memory."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from io_helpers import SSL_VERSIONS, VERSION_NAMES, VERSIONS, BioPair as Pair, glass_context

import glasstls
from pki import pki


@pytest.fixture
def make_pair(files: dict[str, Path]) -> Any:
    def make(version: int | None = None, **kwargs: Any) -> Pair:
        return Pair(glass_context(files, version), glass_context(files, version, server=True),
                    **kwargs)
    return make


@pytest.mark.parametrize("version", VERSIONS)
def test_handshake_and_data_both_ways(make_pair: Any, version: int) -> None:
    pair = make_pair(version)
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read(10)  # nothing from the server yet
    pair.handshake()
    assert pair.client.version() == pair.server.version() == VERSION_NAMES[version]
    assert pair.client.cipher() == pair.server.cipher()
    assert pair.client.getpeercert()["subjectAltName"] == (
        ("DNS", "localhost"), ("IP Address", "127.0.0.1"))
    assert pair.server.getpeercert() is None  # no client certificate
    assert pair.client.write(b"ping") == 4
    pair.carry()
    assert pair.server.read(100) == b"ping"
    pair.server.write(b"pong")
    pair.carry()
    assert pair.client.read(100) == b"pong"
    assert not pair.client.session_reused


def test_getpeercert_before_handshake_is_an_error(make_pair: Any) -> None:
    pair = make_pair()
    with pytest.raises(ValueError, match="handshake not done"):
        pair.client.getpeercert()
    assert pair.client.version() is None and pair.client.cipher() is None


def test_reads_of_any_size_reassemble_the_stream(make_pair: Any) -> None:
    pair = make_pair()
    pair.handshake()
    payload = bytes(range(256)) * 400  # 102400 bytes over several records
    pair.server.write(payload)
    pair.carry()
    received = bytearray()
    sizes = [1, 7, 4096, 16385, 1 << 20]
    buffer = bytearray(3000)
    turn = 0
    while len(received) < len(payload):
        if turn % 3 == 2:
            count = pair.client.read(len(buffer), buffer)
            received += buffer[:count]
        else:
            received += pair.client.read(sizes[turn % len(sizes)])
        turn += 1
    assert bytes(received) == payload
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read(1)


def test_pending_counts_decrypted_unread_bytes(make_pair: Any) -> None:
    pair = make_pair()
    pair.handshake()
    pair.server.write(b"x" * 100)
    pair.carry()
    assert pair.client.read(10) == b"x" * 10
    assert pair.client.pending() == 90


def _records(wire: bytes) -> list[tuple[int, int]]:
    records = []
    offset = 0
    while offset < len(wire):
        length = int.from_bytes(wire[offset + 3:offset + 5], "big")
        records.append((wire[offset], length))
        offset += 5 + length
    assert offset == len(wire)
    return records


@pytest.mark.parametrize("version", VERSIONS)
def test_large_write_is_split_into_records_of_at_most_16k(make_pair: Any, version: int) -> None:
    pair = make_pair(version)
    pair.handshake()
    payload = bytes(1 << 20)
    pair.client.write(payload)
    wire = pair.c_out.read()
    records = _records(wire)
    assert all(content_type == 23 for content_type, _ in records)
    # 2^14 plaintext plus the AEAD tag, the inner type byte (1.3) or the explicit
    # nonce (1.2): never more than RFC 8446 / RFC 5246 allow.
    assert all(length <= 2**14 + 256 for _, length in records)
    assert len(records) == (1 << 20) // 2**14
    pair.s_in.write(wire)
    received = b""
    while len(received) < len(payload):
        received += pair.server.read(1 << 20)
    assert received == payload


def test_close_notify_reads_as_end_of_stream(make_pair: Any) -> None:
    pair = make_pair()
    pair.handshake()
    pair.server.write(b"last words")
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.unwrap()  # our close_notify is out; the client's is awaited
    pair.carry()
    assert pair.client.read(100) == b"last words"
    assert pair.client.read(100) == b""
    assert pair.client.read(10, bytearray(10)) == 0
    pair.client.unwrap()  # the server's close_notify is already here
    pair.carry()
    pair.server.unwrap()
    with pytest.raises(ssl.SSLError, match="PROTOCOL_IS_SHUTDOWN"):
        pair.server.write(b"too late")


def test_transport_eof_without_close_notify_is_a_truncation(make_pair: Any) -> None:
    pair = make_pair()
    pair.handshake()
    pair.server.write(b"partial")
    pair.carry()
    pair.c_in.write_eof()
    assert pair.client.read(100) == b"partial"
    with pytest.raises(ssl.SSLEOFError, match="without close_notify"):
        pair.client.read(100)


def test_eof_during_handshake_is_an_eof_error(make_pair: Any) -> None:
    pair = make_pair()
    pair.c_in.write_eof()
    with pytest.raises(ssl.SSLEOFError, match="during the handshake"):
        pair.client.do_handshake()


def test_unwrap_leaves_bytes_after_close_notify_in_incoming(make_pair: Any) -> None:
    pair = make_pair()
    pair.handshake()
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.unwrap()
    close_notify = pair.s_out.read()
    pair.c_in.write(close_notify + b"PLAINTEXT AFTER TLS")
    pair.client.unwrap()
    assert pair.c_in.read() == b"PLAINTEXT AFTER TLS"


def test_untrusted_server_is_a_certificate_verification_error(files: dict[str, Path]) -> None:
    other_ca = glasstls.SSLContext()
    other_ca.load_verify_locations(cadata=pki("rsa-2048").ca.certificate_pem().decode())
    pair = Pair(other_ca, glass_context(files, server=True))
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        pair.handshake()
    assert caught.value.verify_code == 20  # unable to get local issuer certificate
    assert caught.value.reason == "CERTIFICATE_VERIFY_FAILED"
    assert isinstance(caught.value.__cause__, glasstls.BadCertificate)
    # The alert we sent reaches the server as a fatal alert.
    pair.carry()
    with pytest.raises(ssl.SSLError) as at_server:
        pair.server.do_handshake()
    assert at_server.value.reason == "TLSV1_ALERT_UNKNOWN_CA"


def test_wrong_host_name_is_a_hostname_mismatch(make_pair: Any) -> None:
    pair = make_pair(server_hostname="not-localhost.example")
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        pair.handshake()
    assert caught.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH


def test_python_ssl_object_interoperates_with_tls_object(files: dict[str, Path]) -> None:
    """A glasstls server TLSObject and a Python ssl.SSLObject, BIO to BIO."""
    python_client = ssl.create_default_context(cafile=str(files["ca"]))
    python_client.maximum_version = SSL_VERSIONS[0x0304]
    pair = Pair(python_client, glass_context(files, server=True))
    pair.handshake()
    assert pair.client.version() == pair.server.version() == "TLSv1.3"
    pair.client.write(b"from openssl")
    pair.carry()
    assert pair.server.read(100) == b"from openssl"
