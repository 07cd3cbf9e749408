"""Mutual TLS against the OpenSSL command line tools, both versions: ``s_client -cert
-key`` against a glasstls server with ``client_auth="required"`` (and without a
certificate, or with an untrusted one: the alert s_client reports), and a glasstls
client with a certificate against ``s_server -Verify 1``."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls import ClientConfig, ServerConfig, TLSError
from glasstls.constants import TLS12, TLS13
from glasstls.crypto.devpki import make_ca, make_leaf
from glasstls.events import AlertReceived
from pki import Pki

from .driver import GlassSocket, PeerWentAway, echo_once, glass_client
from .matrix import cert_pki
from .processes import PeerProcess

pytestmark = pytest.mark.interop

CERT = "ecdsa"
REPLY_PREFIX = b"glasstls-server got: "
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
VERSION_FLAGS = {TLS13: "-tls1_3", TLS12: "-tls1_2"}
# What OpenSSL calls the alert a server sends when the client has no certificate:
# RFC 8446 §4.4.2.4 certificate_required; TLS 1.2 handshake_failure.
NO_CERTIFICATE_ALERT = {TLS13: "alert certificate required", TLS12: "alert handshake failure"}



@cache
def untrusted_client_files(directory: Path) -> dict[str, Path]:
    ca = make_ca("glasstls interop untrusted CA")
    return Pki(ca, make_leaf(ca, ("localhost",)),
               make_leaf(ca, ("stranger",), client=True)).write(directory)


def mtls_server_config(version: int) -> ServerConfig:
    test_pki = cert_pki(CERT)
    return ServerConfig(certificates=(test_pki.certified,), versions=(version,),
                        client_auth="required", client_trust=test_pki.trust)


def failing_handler(glass: GlassSocket) -> TLSError | None:
    """A server handler that expects the handshake to fail; returns the error."""
    try:
        glass.handshake()
        glass.receive_until(b"\n")
    except TLSError as error:
        return error
    return None


@pytest.fixture
def run_s_client(openssl, pki_files, start_peer):
    """``run_s_client(port, version, *options)`` -> s_client after it has exited; it
    sends one line and waits for the server to close (or to fail it)."""

    def run(port: int, version: int, *options: str) -> tuple[int, PeerProcess]:
        files = pki_files(CERT)
        client = start_peer([
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", VERSION_FLAGS[version],
            "-CAfile", str(files["ca"]), "-verify_return_error", "-verify_ip", "127.0.0.1",
            "-ign_eof", "-brief", *options,
        ])
        # A refused s_client may be gone before it reads its input.
        with contextlib.suppress(BrokenPipeError):
            client.write(b"hello from s_client\n")
        client.close_stdin()
        return client.wait(), client

    return run


@pytest.mark.parametrize("version_name", VERSIONS)
def test_openssl_s_client_with_a_certificate_authenticates_to_a_glasstls_server(
        run_s_client, pki_files, start_glass_server, version_name: str) -> None:
    version = VERSIONS[version_name]
    files = pki_files(CERT)
    server = start_glass_server(mtls_server_config(version), echo_once(REPLY_PREFIX))
    status, client = run_s_client(server.port, version, "-cert", str(files["client_cert"]),
                                  "-key", str(files["client_key"]))
    assert status == 0, client.describe()
    assert server.join() == b"hello from s_client\n"
    assert (REPLY_PREFIX + b"hello from s_client\n").decode() in client.stdout
    done = server.glass.negotiated
    client_der = cert_pki(CERT).client.certificate.public_bytes(serialization.Encoding.DER)
    # s_client sends the chain it builds from -CAfile: the leaf, then the CA.
    assert done.peer_certificates[0] == client_der
    assert done.verified_chain[0] == client_der


@pytest.mark.parametrize("version_name", VERSIONS)
def test_openssl_s_client_without_a_certificate_is_refused_with_the_versions_alert(
        run_s_client, start_glass_server, version_name: str) -> None:
    version = VERSIONS[version_name]
    server = start_glass_server(mtls_server_config(version), failing_handler)
    status, client = run_s_client(server.port, version)
    error = server.join()
    assert isinstance(error, TLSError)
    assert error.alert.name == ("certificate_required" if version == TLS13
                                else "handshake_failure")
    assert status != 0
    assert NO_CERTIFICATE_ALERT[version] in client.output, client.describe()
    assert "glasstls-server got" not in client.stdout


@pytest.mark.parametrize("version_name", VERSIONS)
def test_openssl_s_client_with_an_untrusted_certificate_is_refused_with_unknown_ca(
        run_s_client, start_glass_server, tmp_path_factory, version_name: str) -> None:
    version = VERSIONS[version_name]
    files = untrusted_client_files(tmp_path_factory.mktemp("untrusted"))
    server = start_glass_server(mtls_server_config(version), failing_handler)
    status, client = run_s_client(server.port, version, "-cert", str(files["client_cert"]),
                                  "-key", str(files["client_key"]))
    error = server.join()
    assert isinstance(error, TLSError) and error.alert.name == "unknown_ca"
    assert status != 0
    assert "alert unknown ca" in client.output, client.describe()


# -- a glasstls client against s_server -Verify 1 ------------------------------------------------


@pytest.fixture
def s_server_verify(openssl, pki_files, start_peer) -> Callable[[int], tuple[PeerProcess, int]]:
    """``s_server_verify(version)`` -> (s_server demanding a client certificate, port)."""

    def start(version: int) -> tuple[PeerProcess, int]:
        files = pki_files(CERT)
        server = start_peer([
            openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
            VERSION_FLAGS[version], "-cert", str(files["cert"]), "-key", str(files["key"]),
            "-Verify", "1", "-CAfile", str(files["ca"]), "-verify_return_error",
        ])
        return server, int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))

    return start


@pytest.mark.parametrize("version_name", VERSIONS)
def test_glasstls_client_with_a_certificate_authenticates_to_s_server_verify(
        s_server_verify, version_name: str) -> None:
    version = VERSIONS[version_name]
    test_pki = cert_pki(CERT)
    server, port = s_server_verify(version)
    config = ClientConfig(trust=test_pki.trust, versions=(version,),
                          certificate=test_pki.client_certified)
    with glass_client(port, config) as glass:
        glass.handshake()
        glass.send(b"hello from a glasstls client\n")
        server.wait_for("hello from a glasstls client")
        server.write(b"hello back\n")
        assert glass.receive_until(b"\n") == b"hello back\n"
        glass.close()
        server.wait_for(r"^DONE$")
    assert server.wait() == 0, server.describe()
    # s_server prints the certificate it verified: the client's, byte for byte.
    printed = re.search(r"^Client certificate\n(-----BEGIN CERTIFICATE-----\n.*?"
                        r"-----END CERTIFICATE-----\n)", server.stdout, re.MULTILINE | re.DOTALL)
    assert printed, server.describe()
    assert printed.group(1).encode() == test_pki.client.certificate_pem()
    assert "CN = glasstls test client" in server.stdout


@pytest.mark.parametrize("version_name", VERSIONS)
def test_glasstls_client_without_a_certificate_is_refused_by_s_server_verify(
        s_server_verify, version_name: str) -> None:
    version = VERSIONS[version_name]
    server, port = s_server_verify(version)
    config = ClientConfig(trust=cert_pki(CERT).trust, versions=(version,))
    with glass_client(port, config) as glass:
        try:
            glass.handshake()  # TLS 1.3: complete on our side before the server decides
            glass.receive_until(b"\n")
        except (TLSError, PeerWentAway):
            pass
    alerts = [e.description.name for e in glass.events if isinstance(e, AlertReceived)]
    assert alerts == ["certificate_required" if version == TLS13 else "handshake_failure"], (
        server.describe())
    server.wait()
