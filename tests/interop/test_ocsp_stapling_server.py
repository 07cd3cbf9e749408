"""A glasstls server's OCSP staple, read by real clients, both versions:

- ``openssl s_client -status`` prints it ("OCSP Response Status: successful",
  "Cert Status: good" or "revoked"); its -trace log dumps the bytes it received;
- ``gnutls-cli`` verifies it (signature by the CA or a delegated responder, status)
  and saves it (``--save-ocsp``); a revoked one ends its handshake;
- ``curl --cert-status`` (OpenSSL 3.0 underneath) verifies it with OpenSSL's
  OCSP_basic_verify and refuses a revoked certificate (exit status 91).

The glasstls server is pinned to a suite and group; each test checks both sides'
reports of them and the application bytes exchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from glasstls import AlertDescription, CertifiedKey, ServerConfig
from glasstls.constants import TLS12, TLS13, CipherSuite, NamedGroup
from glasstls.errors import AlertReceivedError
from glasstls.ocsp import StapleFile
from glasstls.trace import CERTIFICATE_STATUS, CERTIFICATE_STEPS, SENT
from peers import require_binary

from .driver import GlassSocket, PeerWentAway, Tracer, echo_once
from .peer_output import (
    openssl_trace_staples,
)
from .processes import PeerProcess
from .staples import (
    LEAF,
    TEST_PKI,
    VERSION_NAMES,
    VERSIONS,
    Pinned,
    glass_parameters,
    gnutls_parameters,
    must_staple,
    openssl_parameters,
    response,
    staple_file,
)

pytestmark = pytest.mark.interop

REPLY_PREFIX = b"glasstls-server got: "
FROM_PEER = b"hello from the client\n"
PAGE = b"stapled page\n"

# The glasstls server's pins (its ServerConfig's only suite and group).
PINNED = {
    TLS13: Pinned("TLS_AES_256_GCM_SHA384", "x25519", ()),
    TLS12: Pinned("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "secp384r1", ()),
}
VERDICTS = [pytest.param(version, status, signer, id=f"{version}-{status}-{signer}")
            for version in VERSIONS for status in ("good", "revoked")
            for signer in ("ca", "delegated")]


def _server_config(version: int, staple: Path | None, tracer: Tracer,
                   certified: CertifiedKey = TEST_PKI.certified) -> ServerConfig:
    """A glasstls server pinned to PINNED[version], stapling the file ``staple``. It
    hands out even a revoked staple (its source checks only that the response is for
    this certificate and current): the client judges."""
    pinned = PINNED[version]
    return ServerConfig(certificates=(certified,), versions=(version,),
                        cipher_suites=(CipherSuite[pinned.cipher_suite],),
                        groups=(NamedGroup[pinned.group],),
                        ocsp_staple=StapleFile(staple) if staple else None, trace=tracer)


def _expected(version: int) -> tuple[str, str, str]:
    return VERSION_NAMES[version], PINNED[version].cipher_suite, PINNED[version].group


def _stapled(tracer: Tracer, version: int) -> bool:
    """Whether the glasstls server's trace shows a staple sent: TLS 1.2 its own
    CertificateStatus message, TLS 1.3 in the leaf's CertificateEntry."""
    if version == TLS12:
        return tracer.saw(CERTIFICATE_STATUS, SENT)
    return any(e.step in CERTIFICATE_STEPS and e.action == SENT
               and e.details.get("ocsp_staple_bytes") for e in tracer.steps)


# -- openssl s_client -status --------------------------------------------------------------


@pytest.fixture
def s_client_status(openssl: str, pki_files: Any, start_peer: Any, tmp_path: Path
                    ) -> Callable[..., tuple[PeerProcess, Path]]:
    def start(port: int, version: int) -> tuple[PeerProcess, Path]:
        files = pki_files("ecdsa")
        trace = tmp_path / "s_client.trace"
        client = start_peer([
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-status",
            "-tls1_3" if version == TLS13 else "-tls1_2", "-CAfile", str(files["ca"]),
            "-verify_return_error", "-ign_eof", "-trace", "-msgfile", str(trace)])
        return client, trace

    return start


@pytest.mark.parametrize(("version_name", "status"), [
    (version, status) for version in VERSIONS for status in ("good", "revoked", "expired")])
def test_openssl_s_client_status_reads_the_staple_of_a_glasstls_server(
        s_client_status: Any, start_glass_server: Any, tmp_path: Path,
        version_name: str, status: str) -> None:
    version = VERSIONS[version_name]
    tracer = Tracer()
    server = start_glass_server(_server_config(version, staple_file(tmp_path, status), tracer),
                                echo_once(REPLY_PREFIX))
    client, trace_path = s_client_status(server.port, version)
    client.write(FROM_PEER)
    assert server.join() == FROM_PEER
    assert client.wait() == 0, client.describe()
    output, trace = client.output, trace_path.read_text(errors="replace")
    assert (REPLY_PREFIX + FROM_PEER).decode() in client.stdout

    assert (server.glass.negotiated.version, server.glass.negotiated.cipher_suite,
            server.glass.negotiated.group) == _expected(version)
    assert glass_parameters(tracer) == _expected(version)
    assert openssl_parameters(version, trace) == _expected(version)

    if status == "expired":
        # A glasstls server never staples a response past its nextUpdate: the
        # handshake goes on without one.
        assert "OCSP response: no response sent" in output
        assert openssl_trace_staples(trace) == []
        assert not _stapled(tracer, version)
        assert server.glass.negotiated.ocsp_response == b""
        return
    assert "OCSP Response Status: successful (0x0)" in output
    assert f"Cert Status: {status}" in output
    # s_client prints the CertID's serial as hex bytes (a leading zero nibble kept).
    serial = LEAF.serial_number
    assert f"Serial Number: {serial.to_bytes((serial.bit_length() + 7) // 8).hex().upper()}" in (
        output)
    # The bytes s_client received are the response the server was given.
    assert openssl_trace_staples(trace) == [response(status)]
    assert server.glass.negotiated.ocsp_response == response(status)
    assert _stapled(tracer, version)


# -- gnutls-cli: verifies the staple --------------------------------------------------------


@pytest.fixture
def gnutls_cli(pki_files: Any, start_peer: Any) -> Callable[..., PeerProcess]:
    binary = require_binary("gnutls-cli")

    def start(port: int, version: int, saved: Path | None = None) -> PeerProcess:
        files = pki_files("ecdsa")
        # The leaf names 127.0.0.1 too: no name lookup (localhost may be ::1 first).
        return start_peer([
            binary, "--port", str(port), "--x509cafile", str(files["ca"]),
            "--priority", f"NORMAL:-VERS-ALL:+VERS-TLS1.{3 if version == TLS13 else 2}",
            *(["--save-ocsp", str(saved)] if saved else []), "127.0.0.1"])

    return start


def _gnutls_cli_trusts(client: PeerProcess, server: Any, version: int) -> None:
    """gnutls-cli trusted the chain: a line to the glasstls server and its answer
    back, then the session GnuTLS describes has the pinned parameters."""
    client.wait_for(r"^- Status: ")
    client.write(FROM_PEER)
    assert server.join() == FROM_PEER
    client.wait_for(REPLY_PREFIX.decode())
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    assert "- Status: The certificate is trusted." in client.output
    assert re.search(r"^- Options: .*OCSP status request", client.output, re.MULTILINE)
    assert gnutls_parameters(version, client.output) == _expected(version)


def _gnutls_cli_refuses(client: PeerProcess, server: Any, *why: str) -> None:
    """gnutls-cli ended its handshake over the staple (it judges it in its certificate
    verification callback), before any application data, saying ``why``. GnuTLS
    answers any failed verification with bad_certificate (42)."""
    assert client.wait() != 0
    for reason in why:
        assert reason in client.output, client.describe()
    with pytest.raises(AlertReceivedError) as ended:
        server.join()
    assert ended.value.alert == AlertDescription.bad_certificate
    assert server.glass.received == b""


def _handshake_then_echo(glass: GlassSocket) -> bytes | None:
    """Echo one line; None if the client left after the handshake (a client that
    judges the staple once its own handshake is done)."""
    glass.handshake()
    try:
        line = glass.receive_until(b"\n")
    except PeerWentAway:
        return None
    glass.send(REPLY_PREFIX + line)
    glass.close()
    return line


@pytest.mark.parametrize(("version_name", "status", "signer"), VERDICTS)
def test_gnutls_cli_verifies_the_staple_of_a_glasstls_server(
        gnutls_cli: Any, start_glass_server: Any, tmp_path: Path,
        version_name: str, status: str, signer: str) -> None:
    version, delegated = VERSIONS[version_name], signer == "delegated"
    tracer = Tracer()
    config = _server_config(version, staple_file(tmp_path, status, delegated), tracer)
    server = start_glass_server(config, _handshake_then_echo)
    saved = tmp_path / "saved.ocsp"
    client = gnutls_cli(server.port, version, saved)
    if status == "good":
        _gnutls_cli_trusts(client, server, version)
    else:
        _gnutls_cli_refuses(client, server, "The certificate chain is revoked",
                            "The certificate was revoked via OCSP")
    assert glass_parameters(tracer) == _expected(version)
    assert _stapled(tracer, version)
    # gnutls-cli saved exactly the staple we sent.
    assert saved.read_bytes() == response(status, delegated)


# -- curl --cert-status: OpenSSL's OCSP_basic_verify -----------------------------------------


def _answer_one_request(glass: GlassSocket) -> bytes | None:
    """One HTTP request answered with PAGE; None if the client left after the handshake."""
    glass.handshake()
    try:
        request = glass.receive_until(b"\r\n\r\n")
    except PeerWentAway:
        return None
    glass.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
               + str(len(PAGE)).encode() + b"\r\nConnection: close\r\n\r\n" + PAGE)
    glass.close()
    return request


# What curl offers: the pinned group, and for TLS 1.2 also the curve of the ECDSA
# certificate, without which the P-256 key could not sign for it (RFC 8422 §5.3).
CURL_CURVES = {TLS13: "X25519", TLS12: "P-384:P-256"}


@pytest.mark.parametrize(("version_name", "status", "signer"), VERDICTS)
def test_curl_cert_status_verifies_the_staple_of_a_glasstls_server(
        pki_files: Any, start_peer: Any, start_glass_server: Any, tmp_path: Path,
        version_name: str, status: str, signer: str) -> None:
    curl = require_binary("curl")
    version, delegated = VERSIONS[version_name], signer == "delegated"
    tracer = Tracer()
    # curl computes the OCSP CertID from the issuer in the chain the server sent (it
    # fails with "Error computing OCSP ID" otherwise), as a real server's chain with
    # its intermediate would have it: the chain goes with the CA certificate.
    chain = CertifiedKey((TEST_PKI.leaf.certificate, TEST_PKI.ca.certificate), TEST_PKI.leaf.key)
    server = start_glass_server(
        _server_config(version, staple_file(tmp_path, status, delegated), tracer, chain),
        _answer_one_request)
    tls = f"1.{3 if version == TLS13 else 2}"
    client = start_peer([
        curl, "--silent", "--show-error", "--verbose", "--cert-status",
        "--cacert", str(pki_files("ecdsa")["ca"]), f"--tlsv{tls}", "--tls-max", tls,
        "--curves", CURL_CURVES[version],
        f"https://127.0.0.1:{server.port}/stapled"])
    code = client.wait()
    request = server.join()

    assert glass_parameters(tracer) == _expected(version)
    assert _stapled(tracer, version)
    assert server.glass.negotiated.ocsp_response == response(status, delegated)
    connection = re.search(r"SSL connection using (TLSv1\.[23]) / (\S+)", client.stderr)
    assert connection, client.describe()
    # curl names the TLS 1.2 suite the OpenSSL way.
    openssl_names = {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256":
                     "ECDHE-ECDSA-CHACHA20-POLY1305"}
    suite = PINNED[version].cipher_suite
    assert connection.groups() == (VERSION_NAMES[version], openssl_names.get(suite, suite))
    if status == "good":
        assert code == 0, client.describe()
        assert "SSL certificate status: good (0)" in client.stderr
        assert request is not None and request.startswith(b"GET /stapled HTTP/1.1\r\n")
        assert client.stdout == PAGE.decode()
    else:
        # curl checks the staple once OpenSSL's handshake is done, and hangs up.
        assert code == 91, client.describe()  # CURLE_SSL_INVALIDCERTSTATUS
        assert "SSL certificate status: revoked (1)" in client.stderr
        assert request is None and client.stdout == ""


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("stapled", [True, False], ids=["stapled", "no-staple"])
def test_gnutls_cli_holds_a_glasstls_server_to_its_must_staple_certificate(
        gnutls_cli: Any, start_glass_server: Any, tmp_path: Path,
        version_name: str, stapled: bool) -> None:
    """RFC 7633: GnuTLS refuses a certificate with the TLS feature status_request
    that comes without a staple; with the glasstls server's staple it trusts it."""
    version = VERSIONS[version_name]
    certificate = must_staple()
    files = certificate.write(tmp_path / "must-staple")
    tracer = Tracer()
    config = _server_config(
        version, files["ocsp"] if stapled else None, tracer,
        CertifiedKey((certificate.leaf.certificate,), certificate.leaf.key))
    server = start_glass_server(config, _handshake_then_echo)
    client = gnutls_cli(server.port, version)
    if stapled:
        _gnutls_cli_trusts(client, server, version)
        assert server.glass.negotiated.ocsp_response == certificate.response
    else:
        _gnutls_cli_refuses(client, server, "The certificate requires the server to include "
                            "an OCSP status in its response, but the OCSP status is missing.")
    assert glass_parameters(tracer) == _expected(version)
    assert _stapled(tracer, version) == stapled
