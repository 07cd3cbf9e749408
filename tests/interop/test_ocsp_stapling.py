"""OCSP stapling to a glasstls client, from real servers, both versions:
``openssl s_server -status_file`` (OpenSSL 3.0) and ``gnutls-serv --ocsp-response``
staple good, revoked and expired responses, signed by the test CA or by a delegated
responder (tests/interop/staples.py).

Each peer is pinned to a suite and group; the test checks that both sides report
them, that the staple the peer's own trace shows on the wire is the response it was
given, and the application bytes each way (or, when the client refuses the staple,
the alert the peer reads). Also: a must-staple certificate (RFC 7633) from s_server
with and without its staple, and gnutls-serv stapling for its intermediate too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from glasstls import AlertDescription, ClientConfig, TLSError
from glasstls.constants import TLS12, TLS13
from glasstls.events import HandshakeComplete
from glasstls.trace import CERTIFICATE_STATUS, HELLO_RETRY_REQUEST, OCSP_STATUS, RECEIVED
from glasstls.trust import CertificateReason, CertificateRejected
from peers import require_binary

from .driver import Tracer, glass_client
from .peer_output import (
    openssl_trace_staples,
)
from .processes import PeerProcess, start_gnutls_serv
from .staples import (
    STATUSES,
    TEST_PKI,
    VERSION_NAMES,
    VERSIONS,
    Pinned,
    glass_parameters,
    gnutls_parameters,
    intermediate_chain,
    must_staple,
    openssl_parameters,
    response,
    staple_file,
)
from .test_openssl import OpenSSLPeer, talk_to_s_server

pytestmark = pytest.mark.interop

FROM_GLASS = b"hello from the glasstls client\n"

# What the glasstls client makes of each staple: its status, or the alert it sends.
OUTCOMES: dict[str, tuple[str | None, AlertDescription | None, CertificateReason | None]] = {
    "good": ("good", None, None),
    "revoked": (None, AlertDescription.certificate_revoked, CertificateReason.OCSP_REVOKED),
    "expired": (None, AlertDescription.bad_certificate_status_response,
                CertificateReason.OCSP_BAD_RESPONSE),
}
CASES = [pytest.param(version, status, signer, id=f"{version}-{status}-{signer}")
         for version in VERSIONS for status in STATUSES for signer in ("ca", "delegated")]

# Not glasstls's first choices, so that the pin is what decides.
OPENSSL_PINNED = {
    TLS13: Pinned("TLS_AES_256_GCM_SHA384", "x25519",
                  ("-ciphersuites", "TLS_AES_256_GCM_SHA384", "-groups", "X25519")),
    TLS12: Pinned("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "secp256r1",
                  ("-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305", "-groups", "P-256")),
}
# GnuTLS's TLS 1.3 group is one the glasstls client does not share at first: the
# status_request must survive the HelloRetryRequest into the second ClientHello.
GNUTLS_PINNED = {
    TLS13: Pinned("TLS_CHACHA20_POLY1305_SHA256", "secp384r1", (
        "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"
        ":-GROUP-ALL:+GROUP-SECP384R1")),
    TLS12: Pinned("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "secp384r1", (
        "--priority",
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:-GROUP-ALL:+GROUP-SECP384R1")),
}


def _client(version: int, tracer: Tracer, mode: str = "request") -> ClientConfig:
    return ClientConfig(trust=TEST_PKI.trust, versions=(version,), ocsp_stapling=mode,
                        trace=tracer)


def _check_staple(tracer: Tracer, expected: bytes, status: str, done: HandshakeComplete | None,
                  error: TLSError | None) -> None:
    """The client's verdict on the staple: accepted with its status, or refused with
    the right alert and reason; the OCSPStatus trace step agrees."""
    expected_status, alert, reason = OUTCOMES[status]
    [check] = [e for e in tracer.steps if e.step == OCSP_STATUS]
    if alert is None:
        assert error is None, error
        assert done is not None
        assert (done.ocsp_status, done.ocsp_response) == (expected_status, expected)
        assert check.details["result"] == "ok" and check.details["status"] == "good"
        return
    assert done is None and isinstance(error, CertificateRejected), error
    assert (error.alert, error.reason) == (alert, reason)
    assert check.details["result"] == "failed"


def _as_the_client_saw(expected: tuple[str, str, str], version: int,
                       error: TLSError | None) -> tuple[str, str, str | None]:
    """A TLS 1.2 client that refuses the server's CertificateStatus (or, when it
    requires one, its absence) stops before the ServerKeyExchange that names the group."""
    refused_before_the_group = version == TLS12 and error is not None
    return (*expected[:2], None if refused_before_the_group else expected[2])


# -- openssl s_server -status_file ---------------------------------------------------------


@pytest.fixture
def s_server(openssl: str, pki_files: Any, start_peer: Any, tmp_path: Path
             ) -> Callable[..., OpenSSLPeer]:
    """``s_server(version, *options, files=None, connections=1)`` -> an s_server
    pinned to OPENSSL_PINNED[version], its -trace log in a file."""

    def start(version: int, *options: str, files: dict[str, Path] | None = None,
              connections: int = 1) -> OpenSSLPeer:
        files = files or pki_files("ecdsa")
        trace = tmp_path / "s_server.trace"
        server = start_peer([
            openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", str(connections),
            "-tls1_3" if version == TLS13 else "-tls1_2",
            "-cert", str(files["cert"]), "-key", str(files["key"]),
            *OPENSSL_PINNED[version].options, "-trace", "-msgfile", str(trace), *options])
        port = int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
        return OpenSSLPeer(server, trace, port)

    return start


def _refused(peer: OpenSSLPeer, config: ClientConfig) -> CertificateRejected:
    """The glasstls client's refusal of s_server's certificate or staple, once
    s_server has read our alert and exited (its -trace log then complete)."""
    with glass_client(peer.port, config) as glass, \
            pytest.raises(CertificateRejected) as refused:
        glass.handshake()
    # 44 certificate_revoked, 113 bad_certificate_status_response.
    peer.process.wait_for(rf"SSL alert number {int(refused.value.alert)}$")
    peer.process.close_stdin()
    peer.process.wait()
    return refused.value


def _pinned_openssl(version: int) -> tuple[str, str, str]:
    pinned = OPENSSL_PINNED[version]
    return VERSION_NAMES[version], pinned.cipher_suite, pinned.group


@pytest.mark.parametrize(("version_name", "status", "signer"), CASES)
def test_openssl_s_server_staples_to_a_glasstls_client(
        s_server: Any, tmp_path: Path, version_name: str, status: str, signer: str) -> None:
    version, delegated = VERSIONS[version_name], signer == "delegated"
    peer = s_server(version, "-status_file", str(staple_file(tmp_path, status, delegated)))
    tracer = Tracer()
    config = _client(version, tracer)
    # A good staple: a line each way and close_notify; otherwise our alert.
    done = talk_to_s_server(peer, config).negotiated if status == "good" else None
    error = None if status == "good" else _refused(peer, config)
    _check_staple(tracer, response(status, delegated), status, done, error)

    trace = peer.trace
    expected = _pinned_openssl(version)
    assert glass_parameters(tracer) == _as_the_client_saw(expected, version, error)
    assert openssl_parameters(version, trace) == expected
    # The staple on the wire, as s_server's own trace dumps it, is the response given.
    assert openssl_trace_staples(trace) == [response(status, delegated)]
    # TLS 1.2: the staple came in its own message (RFC 6066 §8); TLS 1.3: in the
    # leaf's CertificateEntry (RFC 8446 §4.4.2.1).
    assert tracer.saw(CERTIFICATE_STATUS, RECEIVED) == (version == TLS12)
    assert ("CertificateStatus, Length=" in trace) == (version == TLS12)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_glasstls_client_requiring_a_staple_refuses_an_openssl_server_without_one(
        s_server: Any, version_name: str) -> None:
    version = VERSIONS[version_name]
    peer = s_server(version)
    tracer = Tracer()
    refused = _refused(peer, _client(version, tracer, "require"))
    assert refused.reason is CertificateReason.OCSP_MISSING
    assert refused.alert == AlertDescription.bad_certificate_status_response
    expected = _pinned_openssl(version)
    assert glass_parameters(tracer) == _as_the_client_saw(expected, version, refused)
    assert openssl_parameters(version, peer.trace) == expected
    assert openssl_trace_staples(peer.trace) == []


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("case", ["off", "request-without-staple", "request-with-staple"])
def test_a_must_staple_certificate_from_openssl_s_server(
        s_server: Any, tmp_path: Path, version_name: str, case: str) -> None:
    """RFC 7633: a certificate with the TLS feature status_request must come with a
    staple whenever the client asks for one; a client that does not ask ("off", as
    ssl) does not look."""
    version, mode = VERSIONS[version_name], case.split("-")[0]
    files = must_staple().write(tmp_path / "must-staple")
    options = ("-status_file", str(files["ocsp"])) if case.endswith("with-staple") else ()
    peer = s_server(version, *options, files=files)
    tracer = Tracer()
    config = _client(version, tracer, mode)
    error: CertificateRejected | None = None
    if case == "request-without-staple":
        error = _refused(peer, config)
        assert error.reason is CertificateReason.OCSP_MISSING
        assert error.alert == AlertDescription.bad_certificate_status_response
    else:
        done = talk_to_s_server(peer, config).negotiated
        assert (done.ocsp_status, done.ocsp_response) == (
            ("good", must_staple().response) if mode == "request" else (None, b""))
    expected = _pinned_openssl(version)
    assert openssl_parameters(version, peer.trace) == expected
    assert glass_parameters(tracer) == _as_the_client_saw(expected, version, error)
    # "off" sends no status_request, so s_server staples nothing even when it has one.
    assert openssl_trace_staples(peer.trace) == (
        [must_staple().response] if case == "request-with-staple" else [])


@pytest.mark.parametrize("case", ["TLS13-ticket", "TLS12-ticket", "TLS12-session-id"])
def test_a_glasstls_client_requiring_a_staple_resumes_without_one(
        s_server: Any, tmp_path: Path, case: str) -> None:
    """A resumed session has no Certificate, so no staple (RFC 6066 §8: the server
    sends none on resumption): the staple was checked when the session was made, and
    a client requiring one still resumes."""
    version = VERSIONS[case[:5]]
    options = ("-no_ticket",) if case.endswith("session-id") else ()
    peer = s_server(version, "-status_file", str(staple_file(tmp_path, "good")), *options,
                    connections=2)
    config = _client(version, Tracer(), "require")  # one session cache for both
    done = []
    for number in range(2):
        line = f"hello from the glasstls client {number}\n".encode()
        with glass_client(peer.port, config) as glass:
            done.append(glass.handshake())
            glass.send(line)
            peer.process.wait_for(line.decode().strip())
            peer.process.write(b"resumed?\n")
            assert glass.receive_until(b"\n") == b"resumed?\n"
            glass.close()
            peer.process.wait_for(rf"(?:^DONE$[\s\S]*){{{number + 1}}}")  # our close_notify
    assert peer.process.wait() == 0, peer.process.describe()
    assert [(d.resumed, d.ocsp_status) for d in done] == [(False, "good"), (True, None)]
    assert (done[0].ocsp_response, done[1].ocsp_response) == (response("good"), b"")
    assert [(d.version, d.cipher_suite) for d in done] == [_pinned_openssl(version)[:2]] * 2
    assert done[0].group == _pinned_openssl(version)[2]
    # s_server's own account: the second connection reused the session, and only the
    # first carried a staple.
    assert "Reused session-id" in peer.process.stdout.split("CONNECTION CLOSED")[1]
    assert openssl_trace_staples(peer.trace) == [response("good")]


# -- gnutls-serv --ocsp-response -----------------------------------------------------------


@pytest.fixture
def gnutls_serv(pki_files: Any, start_peer: Any) -> Callable[..., tuple[PeerProcess, int]]:
    binary = require_binary("gnutls-serv")

    def start(version: int, staple: Path, *options: str) -> tuple[PeerProcess, int]:
        files = pki_files("ecdsa")
        return start_gnutls_serv(start_peer, binary, *GNUTLS_PINNED[version].options,
                                 "--x509certfile", str(files["cert"]),
                                 "--x509keyfile", str(files["key"]),
                                 "--ocsp-response", str(staple), *options)

    return start


@pytest.mark.parametrize(("version_name", "status", "signer"), CASES)
def test_gnutls_serv_staples_to_a_glasstls_client(
        gnutls_serv: Any, tmp_path: Path, version_name: str, status: str, signer: str) -> None:
    version, delegated = VERSIONS[version_name], signer == "delegated"
    pinned = GNUTLS_PINNED[version]
    # GnuTLS checks its own staple when it loads it: a revoked or expired one it
    # would not send without this flag (a careless server, for the client to catch).
    options = () if status == "good" else ("--ignore-ocsp-response-errors",)
    server, port = gnutls_serv(version, staple_file(tmp_path, status, delegated), *options)
    tracer = Tracer()
    done: HandshakeComplete | None = None
    error: TLSError | None = None
    with glass_client(port, _client(version, tracer)) as glass:
        try:
            done = glass.handshake()
        except TLSError as refused:
            error = refused
        else:
            glass.send(FROM_GLASS)
            assert glass.receive_until(b"\n") == FROM_GLASS  # gnutls-serv --echo
            glass.close()
    _check_staple(tracer, response(status, delegated), status, done, error)

    expected = (VERSION_NAMES[version], pinned.cipher_suite, pinned.group)
    assert glass_parameters(tracer) == _as_the_client_saw(expected, version, error)
    assert tracer.saw(HELLO_RETRY_REQUEST, RECEIVED) == (version == TLS13)
    assert tracer.saw(CERTIFICATE_STATUS, RECEIVED) == (version == TLS12)
    if error is None:
        server.wait_for(r"^- Description: ")
        assert gnutls_parameters(version, server.output) == expected
    else:
        # GnuTLS decrypts our alert (sent under the client handshake keys) and stops.
        server.wait_for(r"Error in handshake: A TLS fatal alert has been received")


def test_gnutls_serv_staples_the_intermediate_too_and_a_glasstls_client_takes_the_chain(
        start_peer: Any, tmp_path: Path) -> None:
    """RFC 8446 §4.4.2.1: a TLS 1.3 server may staple a response for every certificate
    of its chain, in each CertificateEntry. GnuTLS matches its --ocsp-response files to
    the chain and sends both; the glasstls client checks the leaf's and takes the rest
    (as OpenSSL does, it does not check an intermediate's staple)."""
    binary = require_binary("gnutls-serv")
    chain = intermediate_chain()
    files = chain.write(tmp_path)
    server, port = start_gnutls_serv(
        start_peer, binary, *GNUTLS_PINNED[TLS13].options,
        "--x509certfile", str(files["chain"]), "--x509keyfile", str(files["key"]),
        "--ocsp-response", str(files["leaf_ocsp"]),
        "--ocsp-response", str(files["intermediate_ocsp"]))
    # GnuTLS's own client first: it saves every staple it was sent.
    saved = tmp_path / "saved.pem"
    control = start_peer([
        require_binary("gnutls-cli"), "--port", str(port), "--x509cafile",
        str(TEST_PKI.write(tmp_path / "ca")["ca"]), "--save-ocsp-multi", str(saved),
        "127.0.0.1"])
    control.close_stdin()
    assert control.wait() == 0, control.describe()
    assert saved.read_text().count("-----BEGIN OCSP RESPONSE-----") == 2

    tracer = Tracer()
    with glass_client(port, _client(TLS13, tracer, "require")) as glass:
        done = glass.handshake()
        glass.send(FROM_GLASS)
        assert glass.receive_until(b"\n") == FROM_GLASS
        glass.close()
    assert (done.ocsp_status, done.ocsp_response) == ("good", chain.leaf_response)
    assert done.peer_certificates == (chain.leaf.certificate.public_bytes(Encoding.DER),
                                      chain.intermediate.certificate.public_bytes(Encoding.DER))
    pinned = GNUTLS_PINNED[TLS13]
    expected = ("TLSv1.3", pinned.cipher_suite, pinned.group)
    assert glass_parameters(tracer) == expected
    # gnutls-serv's summary of the second connection, ours.
    server.wait_for(r"(?s)^\* Accepted connection.*^\* Accepted connection.*^- Description: ")
    assert gnutls_parameters(TLS13, server.output.split("* Accepted connection")[2]) == expected
