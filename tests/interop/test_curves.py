"""The curves OpenSSL 3.0 accepts by default, against real peers, both directions:

- Ed448 and P-521 certificates made with ``openssl req -x509``, glasstls with its
  default configuration against ``s_server`` / ``s_client`` in TLS 1.3 and TLS 1.2
  (Ed448 in TLS 1.2 with the ECDHE_ECDSA suites, RFC 8422 §5.3);
- the secp521r1 and x448 groups when OpenSSL (``-groups``) or GnuTLS (``--priority``)
  allows only them, in both versions;
- a P-521 ``gnutls-serv``.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from glasstls import CertifiedKey, ClientConfig, ServerConfig, TrustStore
from glasstls.constants import TLS12, TLS13
from peers import require_binary

from .driver import echo_once, glass_client
from .processes import free_port

pytestmark = pytest.mark.interop

VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
VERSION_NAMES = {TLS13: "TLSv1.3", TLS12: "TLSv1.2"}
OPENSSL_FLAGS = {TLS13: "-tls1_3", TLS12: "-tls1_2"}
GNUTLS_VERSIONS = {TLS13: "VERS-TLS1.3", TLS12: "VERS-TLS1.2"}
# How ``openssl req -newkey`` makes each key.
KEY_OPTIONS = {"ed448": ["-newkey", "ed448"],
               "p521": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"]}
# The scheme each certificate signs with in TLS 1.3 (RFC 8446 §4.2.3 binds the curve).
TLS13_SCHEMES = {"ed448": "ed448", "p521": "ecdsa_secp521r1_sha512"}
# glasstls group -> (OpenSSL -groups name, s_client's "Server Temp Key", GnuTLS keyword).
GROUPS = {"secp521r1": ("P-521", "ECDH, secp521r1, 521 bits", "SECP521R1"),
          "x448": ("X448", "X448, 448 bits", "X448")}

FROM_GLASS = b"hello from the glasstls client\n"
FROM_PEER = b"hello from the peer\n"


def _self_signed(openssl: str, directory: Path, kind: str) -> tuple[Path, Path]:
    cert, key = directory / f"{kind}.pem", directory / f"{kind}-key.pem"
    subprocess.run([openssl, "req", "-x509", *KEY_OPTIONS[kind], "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "30", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _expected_scheme(kind: str, version: int, signer: str) -> str:
    # In TLS 1.2 an ECDSA scheme does not name the curve: OpenSSL signs with the first
    # of the client's list that fits, ecdsa_secp256r1_sha256; glasstls prefers the one
    # made for its key's curve.
    if kind == "p521" and version == TLS12 and signer == "openssl":
        return "ecdsa_secp256r1_sha256"
    return TLS13_SCHEMES[kind]


def _talk_to(port: int, config: ClientConfig, server) -> object:
    """Handshake, one line each way, close; the glasstls client's HandshakeComplete."""
    with glass_client(port, config) as glass:
        negotiated = glass.handshake()
        glass.send(FROM_GLASS)
        server.wait_for(FROM_GLASS.decode().strip())
        server.write(FROM_PEER)
        assert glass.receive_until(b"\n") == FROM_PEER
        glass.close()
    return negotiated


def _s_server(openssl: str, start_peer, version: int, cert: Path, key: Path, *options: str):
    server = start_peer([openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
                         OPENSSL_FLAGS[version], "-cert", str(cert), "-key", str(key),
                         *options])
    return server, int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))


def _s_client(openssl: str, start_peer, port: int, version: int, cafile: Path,
              *options: str):
    """``s_client -brief`` that says one line and waits for the reply; returns it done."""
    client = start_peer([openssl, "s_client", "-connect", f"127.0.0.1:{port}",
                         OPENSSL_FLAGS[version], "-CAfile", str(cafile),
                         "-verify_return_error", "-verify_hostname", "localhost", "-brief",
                         "-ign_eof", *options])
    with contextlib.suppress(BrokenPipeError):
        client.write(FROM_PEER)
    client.close_stdin()
    return client


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("kind", KEY_OPTIONS)
def test_glasstls_client_verifies_an_s_server_certificate(
        openssl, start_peer, tmp_path: Path, kind: str, version_name: str) -> None:
    version = VERSIONS[version_name]
    cert, key = _self_signed(openssl, tmp_path, kind)
    server, port = _s_server(openssl, start_peer, version, cert, key)
    negotiated = _talk_to(port, ClientConfig(trust=TrustStore.from_pem_file(cert),
                                             versions=(version,)), server)
    assert negotiated.version == VERSION_NAMES[version]
    assert negotiated.signature_scheme == _expected_scheme(kind, version, "openssl")
    # OpenSSL 3.0 does not know X25519MLKEM768: it takes glasstls's x25519 share.
    assert negotiated.group == "x25519"
    if version == TLS12:
        assert negotiated.cipher_suite.startswith("TLS_ECDHE_ECDSA_WITH_")
    assert negotiated.verified_chain


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("kind", KEY_OPTIONS)
def test_s_client_verifies_a_glasstls_server_certificate(
        openssl, start_peer, start_glass_server, tmp_path: Path, kind: str,
        version_name: str) -> None:
    version = VERSIONS[version_name]
    cert, key = _self_signed(openssl, tmp_path, kind)
    server = start_glass_server(ServerConfig(certificates=(CertifiedKey.from_files(cert, key),),
                                             versions=(version,)), echo_once())
    client = _s_client(openssl, start_peer, server.port, version, cert)
    assert server.join() == FROM_PEER
    assert client.wait() == 0, client.describe()
    assert f"Protocol version: {VERSION_NAMES[version]}" in client.output
    assert "Verification: OK" in client.output
    assert (f"Signature type: {'ed448' if kind == 'ed448' else 'ECDSA'}" in client.output), (
        client.describe())
    negotiated = server.glass.negotiated
    assert negotiated.version == VERSION_NAMES[version]
    assert negotiated.signature_scheme == _expected_scheme(kind, version, "glasstls")
    if kind == "p521":
        assert "Hash used: SHA512" in client.output
    assert negotiated.group == "x25519"
    if version == TLS12:
        assert negotiated.cipher_suite.startswith("TLS_ECDHE_ECDSA_WITH_")
        assert "Ciphersuite: ECDHE-ECDSA-" in client.output


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("group", GROUPS)
def test_glasstls_client_to_s_server_allowing_only_the_group(
        openssl, start_peer, pki_files, group: str, version_name: str) -> None:
    version = VERSIONS[version_name]
    files = pki_files("ecdsa")
    server, port = _s_server(openssl, start_peer, version, files["cert"], files["key"],
                             "-groups", GROUPS[group][0])
    # The default client: the group is offered in supported_groups without a key share,
    # so in TLS 1.3 s_server asks for it with a HelloRetryRequest.
    negotiated = _talk_to(port, ClientConfig(trust=TrustStore.from_pem_file(files["ca"]),
                                             versions=(version,)), server)
    assert (negotiated.version, negotiated.group) == (VERSION_NAMES[version], group)


def _rsa_glass_server(start_glass_server, pki_files, version: int):
    """A default glasstls server with an RSA certificate: in TLS 1.2 an ECDSA one would
    need the client to list its curve too (RFC 8422 §5.1), and the server would take it."""
    files = pki_files("rsa")
    server = start_glass_server(ServerConfig(
        certificates=(CertifiedKey.from_files(files["cert"], files["key"]),),
        versions=(version,)), echo_once())
    return server, files


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("group", GROUPS)
def test_s_client_allowing_only_the_group_to_glasstls_server(
        openssl, start_peer, start_glass_server, pki_files, group: str,
        version_name: str) -> None:
    version = VERSIONS[version_name]
    server, files = _rsa_glass_server(start_glass_server, pki_files, version)
    client = _s_client(openssl, start_peer, server.port, version, files["ca"],
                       "-groups", GROUPS[group][0])
    assert server.join() == FROM_PEER
    assert client.wait() == 0, client.describe()
    assert f"Server Temp Key: {GROUPS[group][1]}" in client.output, client.describe()
    negotiated = server.glass.negotiated
    assert (negotiated.version, negotiated.group) == (VERSION_NAMES[version], group)


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("group", GROUPS)
def test_gnutls_cli_allowing_only_the_group_to_glasstls_server(
        start_peer, start_glass_server, pki_files, group: str, version_name: str) -> None:
    binary = require_binary("gnutls-cli")
    version = VERSIONS[version_name]
    server, files = _rsa_glass_server(start_glass_server, pki_files, version)
    client = start_peer([
        binary, "--port", str(server.port), "--x509cafile", str(files["ca"]),
        "--priority", f"NORMAL:-VERS-ALL:+{GNUTLS_VERSIONS[version]}:-GROUP-ALL"
        f":+GROUP-{GROUPS[group][2]}", "127.0.0.1"])
    client.write(FROM_PEER)
    assert server.join() == FROM_PEER
    assert client.wait() == 0, client.describe()
    assert "- Status: The certificate is trusted." in client.stdout
    assert f"-(ECDHE-{GROUPS[group][2]})-" in client.stdout, client.describe()
    negotiated = server.glass.negotiated
    assert (negotiated.version, negotiated.group) == (VERSION_NAMES[version], group)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_glasstls_client_to_a_p521_gnutls_serv(
        openssl, start_peer, tmp_path: Path, version_name: str) -> None:
    binary = require_binary("gnutls-serv")
    version = VERSIONS[version_name]
    cert, key = _self_signed(openssl, tmp_path, "p521")
    port = free_port()
    server = start_peer([binary, "--echo", "--port", str(port), "--priority",
                         f"NORMAL:-VERS-ALL:+{GNUTLS_VERSIONS[version]}:-GROUP-ALL"
                         ":+GROUP-SECP521R1", "--x509certfile", str(cert),
                         "--x509keyfile", str(key)])
    server.wait_for(rf"listening on IPv4 .* port {port}\.\.\.done")
    config = ClientConfig(trust=TrustStore.from_pem_file(cert), versions=(version,))
    with glass_client(port, config) as glass:
        negotiated = glass.handshake()
        glass.send(FROM_GLASS)
        assert glass.receive_until(b"\n") == FROM_GLASS  # echoed: decrypted, re-encrypted
        glass.close()
        description = server.wait_for(r"^- Description: (.*)$").group(1)
    assert (negotiated.version, negotiated.group) == (VERSION_NAMES[version], "secp521r1")
    assert negotiated.signature_scheme.startswith("ecdsa_")
    if version == TLS13:
        assert negotiated.signature_scheme == "ecdsa_secp521r1_sha512"
    assert "(ECDHE-SECP521R1)" in description
    assert "ECDSA-SECP521R1" in description or version == TLS12
