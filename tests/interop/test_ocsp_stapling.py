"""OCSP stapling against real peers, both versions: ``openssl s_server -status_file``
and ``gnutls-serv --ocsp-response`` staple good, revoked and expired responses to a
glasstls client; ``openssl s_client -status`` reads the staple of a glasstls server.

The responses are made with cryptography's OCSP builder, signed by the test CA
(tests/helpers/ocsp.py), and given to the peers as DER files.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from glasstls import AlertDescription, ClientConfig, ServerConfig, TLSError
from glasstls.constants import TLS12, TLS13
from glasstls.ocsp import StapleFile
from glasstls.trace import CERTIFICATE_STATUS, OCSP_STATUS, RECEIVED, SENT
from glasstls.trust import CertificateReason, CertificateRejected
from helpers import ocsp as make
from peers import require_binary
from pki import pki

from .driver import Tracer, echo_once, glass_client
from .processes import PeerProcess, start_gnutls_serv

pytestmark = pytest.mark.interop

TEST_PKI = pki("ecdsa-p256")
LEAF = TEST_PKI.leaf.certificate
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
FROM_GLASS = b"hello from the glasstls client\n"
NOW = dt.datetime.now(dt.UTC)


@functools.cache
def _response(status: str) -> bytes:
    if status == "expired":
        return make.response(TEST_PKI.ca, LEAF, this_update=NOW - dt.timedelta(days=3),
                             next_update=NOW - dt.timedelta(hours=2))
    return make.response(TEST_PKI.ca, LEAF, status)


# What the glasstls client makes of each staple: its status, or the alert it sends.
OUTCOMES: dict[str, tuple[str | None, AlertDescription | None, CertificateReason | None]] = {
    "good": ("good", None, None),
    "revoked": (None, AlertDescription.certificate_revoked, CertificateReason.OCSP_REVOKED),
    "expired": (None, AlertDescription.bad_certificate_status_response,
                CertificateReason.OCSP_BAD_RESPONSE),
}
CASES = [(version, status) for version in VERSIONS for status in OUTCOMES]


def _client(version: int, tracer: Tracer, mode: str = "request") -> ClientConfig:
    return ClientConfig(trust=TEST_PKI.trust, versions=(version,), ocsp_stapling=mode,
                        trace=tracer)


def _handshake(port: int, config: ClientConfig) -> tuple[Any, TLSError | None]:
    """The client's negotiated parameters (None if it failed) and its error."""
    with glass_client(port, config) as glass:
        try:
            done = glass.handshake()
        except TLSError as error:
            return None, error
        glass.send(FROM_GLASS)
        glass.close()
    return done, None


def _check(tracer: Tracer, status: str, done: Any, error: TLSError | None) -> None:
    expected_status, alert, reason = OUTCOMES[status]
    [check] = [e for e in tracer.steps if e.step == OCSP_STATUS]
    if alert is None:
        assert error is None, error
        assert done.ocsp_status == expected_status and done.ocsp_response == _response(status)
        assert check.details["result"] == "ok" and check.details["status"] == "good"
        return
    assert isinstance(error, CertificateRejected), error
    assert (error.alert, error.reason) == (alert, reason)
    assert check.details["result"] == "failed"


@pytest.fixture
def staple_file(tmp_path: Path) -> Callable[[str], Path]:
    return lambda status: make.write(tmp_path / f"{status}.ocsp", _response(status))


@pytest.fixture
def s_server(openssl: str, pki_files: Any, start_peer: Any) -> Callable[..., tuple[PeerProcess,
                                                                               int]]:
    def start(version: int, *options: str) -> tuple[PeerProcess, int]:
        files = pki_files("ecdsa")
        server = start_peer([
            openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1",
            "-tls1_3" if version == TLS13 else "-tls1_2",
            "-cert", str(files["cert"]), "-key", str(files["key"]), *options])
        return server, int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))

    return start


@pytest.mark.parametrize(("version_name", "status"), CASES)
def test_openssl_s_server_staples_to_a_glasstls_client(
        s_server: Any, staple_file: Any, version_name: str, status: str) -> None:
    version = VERSIONS[version_name]
    server, port = s_server(version, "-status_file", str(staple_file(status)))
    tracer = Tracer()
    done, error = _handshake(port, _client(version, tracer))
    _check(tracer, status, done, error)
    if error is None:
        server.wait_for(FROM_GLASS.decode().strip())
        assert done.version == ("TLSv1.3" if version == TLS13 else "TLSv1.2")
        # TLS 1.2: the staple came in its own message (RFC 6066 §8).
        assert tracer.saw(CERTIFICATE_STATUS, RECEIVED) == (version == TLS12)
    else:
        # s_server reads our alert (44 certificate_revoked, 113 bad_certificate_status_response).
        server.wait_for(rf"SSL alert number {int(OUTCOMES[status][1] or 0)}$")


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_glasstls_client_requiring_a_staple_refuses_an_openssl_server_without_one(
        s_server: Any, version_name: str) -> None:
    version = VERSIONS[version_name]
    server, port = s_server(version)
    tracer = Tracer()
    done, error = _handshake(port, _client(version, tracer, "require"))
    assert done is None and isinstance(error, CertificateRejected)
    assert error.reason is CertificateReason.OCSP_MISSING
    assert error.alert == AlertDescription.bad_certificate_status_response
    server.wait_for(r"SSL alert number 113$")


@pytest.fixture
def gnutls_serv(pki_files: Any, start_peer: Any) -> Callable[..., tuple[PeerProcess, int]]:
    binary = require_binary("gnutls-serv")

    def start(version: int, staple: Path, *options: str) -> tuple[PeerProcess, int]:
        files = pki_files("ecdsa")
        priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3" if version == TLS13 else (
            "NORMAL:-VERS-ALL:+VERS-TLS1.2")
        return start_gnutls_serv(start_peer, binary, "--priority", priority,
                                 "--x509certfile", str(files["cert"]),
                                 "--x509keyfile", str(files["key"]),
                                 "--ocsp-response", str(staple), *options)

    return start


@pytest.mark.parametrize(("version_name", "status"), CASES)
def test_gnutls_serv_staples_to_a_glasstls_client(
        gnutls_serv: Any, staple_file: Any, version_name: str, status: str) -> None:
    version = VERSIONS[version_name]
    # GnuTLS checks its own staple when it loads it: a revoked or expired one it
    # would not send without this flag (a careless server, for the client to catch).
    options = () if status == "good" else ("--ignore-ocsp-response-errors",)
    server, port = gnutls_serv(version, staple_file(status), *options)
    tracer = Tracer()
    done, error = _handshake(port, _client(version, tracer))
    _check(tracer, status, done, error)
    if error is None:
        version_line = server.wait_for(r"^- Version: (TLS1\.[23])$")
        assert version_line.group(1) == done.version.replace("TLSv", "TLS")
    else:
        # GnuTLS decrypts our alert (sent under the client handshake keys) and stops.
        server.wait_for(r"Error in handshake: A TLS fatal alert has been received")


@pytest.fixture
def s_client_status(openssl: str, pki_files: Any, start_peer: Any) -> Callable[..., PeerProcess]:
    def start(port: int, version: int) -> PeerProcess:
        files = pki_files("ecdsa")
        return start_peer([
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-status",
            "-tls1_3" if version == TLS13 else "-tls1_2", "-CAfile", str(files["ca"]),
            "-verify_return_error", "-ign_eof"])

    return start


@pytest.mark.parametrize(("version_name", "status"), [
    ("TLS13", "good"), ("TLS12", "good"), ("TLS13", "revoked"), ("TLS12", "revoked")])
def test_openssl_s_client_status_reads_the_staple_of_a_glasstls_server(
        s_client_status: Any, start_glass_server: Any, staple_file: Any,
        version_name: str, status: str) -> None:
    version = VERSIONS[version_name]
    tracer = Tracer()
    # A glasstls server hands out even a revoked staple (its source checks only that
    # the response is for this certificate and current): the client judges.
    config = ServerConfig(certificates=(TEST_PKI.certified,), versions=(version,),
                          ocsp_staple=StapleFile(staple_file(status)), trace=tracer)
    server = start_glass_server(config, echo_once())
    client = s_client_status(server.port, version)
    client.write(b"hello from openssl s_client\n")
    assert server.join() == b"hello from openssl s_client\n"
    assert client.wait() == 0, client.describe()
    output = client.output
    assert "OCSP Response Status: successful (0x0)" in output
    assert f"Cert Status: {status}" in output
    # s_client prints the CertID's serial in hex.
    assert f"Serial Number: {LEAF.serial_number:X}" in output
    assert server.glass.negotiated.ocsp_response == _response(status)
    if version == TLS12:
        assert tracer.saw(CERTIFICATE_STATUS, SENT)
    else:
        assert any(e.action == SENT and e.details.get("ocsp_staple_bytes") for e in tracer.steps)
