"""Certificates as people make them, against the OpenSSL command line tools:

- ``openssl s_server`` with an ``openssl req -x509`` certificate (basicConstraints
  CA:TRUE) and ``glasstls client --cafile`` that certificate, both versions;
- a glasstls server requiring client certificates and ``openssl s_client -cert``
  with a certificate holding only a common name, both versions;
- Ed25519 (and Ed448) certificates over TLS 1.2 (ECDHE-ECDSA suites, RFC 8422
  §5.3) against ``s_server`` and ``s_client``, both ways.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from glasstls import CertifiedKey, ClientConfig, ServerConfig, TrustStore
from glasstls.constants import TLS12, TLS13, SignatureScheme
from glasstls.crypto.signatures import DEFAULT_SCHEMES

from .driver import echo_once, glass_client

pytestmark = pytest.mark.interop

VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
VERSION_FLAGS = {TLS13: "-tls1_3", TLS12: "-tls1_2"}
VERSION_NAMES = {TLS13: "TLSv1.3", TLS12: "TLSv1.2"}


def _openssl(openssl: str, directory: Path, *argv: str) -> None:
    subprocess.run([openssl, *argv], check=True, capture_output=True, cwd=directory,
                   timeout=60)


def _self_signed(openssl: str, directory: Path, key_type: str) -> tuple[Path, Path]:
    """``openssl req -x509`` as people run it (CA:TRUE, a SAN for localhost)."""
    key_options = (["-newkey", key_type] if key_type.startswith("ed") else
                   ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    _openssl(openssl, directory, "req", "-x509", *key_options, "-nodes", "-keyout",
             f"{key_type}-key.pem", "-out", f"{key_type}.pem", "-days", "30", "-subj",
             "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return directory / f"{key_type}.pem", directory / f"{key_type}-key.pem"


def _s_server(openssl, start_peer, version: int, cert: Path, key: Path,
              *options: str) -> tuple[object, int]:
    server = start_peer([openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
                         VERSION_FLAGS[version], "-cert", str(cert), "-key", str(key),
                         *options])
    return server, int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))


@pytest.mark.parametrize("version_name", VERSIONS)
def test_glasstls_client_cafile_trusts_an_openssl_req_x509_certificate(
        openssl, start_peer, tmp_path: Path, version_name: str) -> None:
    version = VERSIONS[version_name]
    cert, key = _self_signed(openssl, tmp_path, "ec")
    server, port = _s_server(openssl, start_peer, version, cert, key)
    client = subprocess.run(
        [sys.executable, "-m", "glasstls", "client", f"localhost:{port}", "--cafile",
         str(cert), f"--tls{VERSION_NAMES[version][4:]}"],
        input=b"hello s_server\n", capture_output=True, timeout=60)
    server.wait_for("hello s_server")
    assert client.returncode == 0, client.stderr.decode()
    details = client.stderr.decode()
    assert VERSION_NAMES[version] in details
    assert "verified" in details and "yes, against CN=localhost" in details


@pytest.fixture
def cn_only_client(openssl, tmp_path: Path) -> dict[str, Path]:
    """A client CA and a client certificate with only a common name (the usual
    ``openssl x509 -req -extfile`` recipe, extendedKeyUsage=clientAuth)."""
    _openssl(openssl, tmp_path, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             "ca-key.pem", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Client CA")
    _openssl(openssl, tmp_path, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
             "alice-key.pem", "-out", "alice.csr", "-subj", "/CN=alice")
    (tmp_path / "ext").write_text("extendedKeyUsage=clientAuth\n")
    _openssl(openssl, tmp_path, "x509", "-req", "-in", "alice.csr", "-CA", "ca.pem", "-CAkey",
             "ca-key.pem", "-CAcreateserial", "-days", "30", "-out", "alice.pem",
             "-extfile", "ext")
    return {"ca": tmp_path / "ca.pem", "cert": tmp_path / "alice.pem",
            "key": tmp_path / "alice-key.pem"}


@pytest.mark.parametrize("version_name", VERSIONS)
def test_openssl_s_client_with_a_common_name_only_certificate_authenticates(
        openssl, start_peer, start_glass_server, pki_files, cn_only_client: dict[str, Path],
        version_name: str) -> None:
    version = VERSIONS[version_name]
    server_files = pki_files("ecdsa")
    config = ServerConfig(
        certificates=(CertifiedKey.from_files(server_files["cert"], server_files["key"]),),
        versions=(version,), client_auth="required",
        client_trust=TrustStore.from_pem_file(cn_only_client["ca"]))
    server = start_glass_server(config, echo_once())
    client = start_peer([openssl, "s_client", "-connect", f"127.0.0.1:{server.port}",
                         VERSION_FLAGS[version], "-CAfile", str(server_files["ca"]),
                         "-cert", str(cn_only_client["cert"]), "-key",
                         str(cn_only_client["key"]), "-ign_eof", "-brief"])
    with contextlib.suppress(BrokenPipeError):
        client.write(b"hello from alice\n")
    client.close_stdin()
    assert server.join() == b"hello from alice\n"
    assert client.wait() == 0, client.describe()
    negotiated = server.glass.negotiated
    assert negotiated.version == VERSION_NAMES[version]
    alice = x509.load_pem_x509_certificate(cn_only_client["cert"].read_bytes())
    assert negotiated.peer_certificates[0] == alice.public_bytes(serialization.Encoding.DER)
    assert x509.load_der_x509_certificate(negotiated.verified_chain[-1]).subject.rfc4514_string(
    ) == "CN=Client CA"


def test_glasstls_client_verifies_an_ed25519_s_server_over_tls12(
        openssl, start_peer, tmp_path: Path) -> None:
    cert, key = _self_signed(openssl, tmp_path, "ed25519")
    server, port = _s_server(openssl, start_peer, TLS12, cert, key)
    config = ClientConfig(trust=TrustStore.from_pem_file(cert), versions=(TLS12,))
    with glass_client(port, config) as glass:
        negotiated = glass.handshake()
        glass.send(b"hello ed25519\n")
        server.wait_for("hello ed25519")
        glass.close()
    assert negotiated.version == "TLSv1.2"
    assert negotiated.cipher_suite.startswith("TLS_ECDHE_ECDSA_WITH_")
    assert negotiated.signature_scheme == "ed25519"
    assert negotiated.verified_chain  # the certificate is its own trust anchor


@pytest.mark.parametrize("key_type", ["ed25519", "ed448"])
def test_openssl_s_client_verifies_an_eddsa_glasstls_server_over_tls12(
        openssl, start_peer, start_glass_server, tmp_path: Path, key_type: str) -> None:
    cert, key = _self_signed(openssl, tmp_path, key_type)
    # Ed448 is not in glasstls's default schemes: a server with such a key lists it.
    schemes = (*DEFAULT_SCHEMES, SignatureScheme.ed448)
    config = ServerConfig(certificates=(CertifiedKey.from_files(cert, key),), versions=(TLS12,),
                          signature_schemes=schemes)
    server = start_glass_server(config, echo_once())
    client = start_peer([openssl, "s_client", "-connect", f"127.0.0.1:{server.port}",
                         "-tls1_2", "-CAfile", str(cert), "-verify_return_error",
                         "-verify_hostname", "localhost", "-ign_eof"])
    with contextlib.suppress(BrokenPipeError):
        client.write(b"hello from s_client\n")
    client.close_stdin()
    assert server.join() == b"hello from s_client\n"
    assert client.wait() == 0, client.describe()
    assert f"Peer signature type: {key_type}" in client.output, client.describe()
    assert "Verify return code: 0 (ok)" in client.output
    assert server.glass.negotiated.cipher_suite.startswith("TLS_ECDHE_ECDSA_WITH_")
    assert server.glass.negotiated.signature_scheme == key_type


def test_ed25519_client_certificate_over_tls12_to_s_server_verify(
        openssl, start_peer, tmp_path: Path) -> None:
    server_cert, server_key = _self_signed(openssl, tmp_path, "ec")
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    client_cert, client_key = _self_signed(openssl, client_dir, "ed25519")
    server, port = _s_server(openssl, start_peer, TLS12, server_cert, server_key,
                             "-Verify", "1", "-CAfile", str(client_cert),
                             "-verify_return_error")
    config = ClientConfig(trust=TrustStore.from_pem_file(server_cert), versions=(TLS12,),
                          certificate=CertifiedKey.from_files(client_cert, client_key))
    with glass_client(port, config) as glass:
        glass.handshake()
        glass.send(b"hello from an ed25519 client\n")
        server.wait_for("hello from an ed25519 client")
        glass.close()
    server.wait()
    assert "Client certificate" in server.stdout, server.describe()
    assert "Peer signature type: ed25519" in server.output, server.describe()
    assert "CIPHER is ECDHE-ECDSA-" in server.output
