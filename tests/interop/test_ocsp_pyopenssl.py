"""OCSP stapling against pyOpenSSL on the OpenSSL 3.5+ inside ``cryptography``
(OpenSSL 4 here), both ways and both versions, with its default post-quantum group:

- a pyOpenSSL server staples (``set_ocsp_server_callback``) a good or a revoked
  response to a glasstls client, which accepts the first and ends the handshake with
  certificate_revoked on the second;
- a pyOpenSSL client asks (``request_ocsp``) and its ``set_ocsp_client_callback``
  receives exactly the glasstls server's staple.

OpenSSL hands the staple to the application rather than judging it, so the
verdicts are glasstls's; pyOpenSSL's own report of version, suite and group is
checked against glasstls's.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from glasstls import AlertDescription, ClientConfig, ServerConfig
from glasstls.constants import TLS12, TLS13
from glasstls.ocsp import StapleFile
from glasstls.trust import CertificateReason, CertificateRejected
from peers import require_module

from .driver import TIMEOUT, Background, Tracer, echo_once, glass_client, listen
from .staples import TEST_PKI, VERSION_NAMES, VERSIONS, glass_parameters, response, staple_file
from .test_pyopenssl import (
    FROM_GLASS,
    FROM_PYOPENSSL,
    REPLY_PREFIX,
    bounded,
    context,
    peer_view,
    pyopenssl_server,
    read_to_close_notify,
)

pytestmark = pytest.mark.interop

# The one suite pyOpenSSL is given (IANA name, OpenSSL's), and the group OpenSSL 4
# and glasstls settle on by their defaults (TLS 1.3: the post-quantum hybrid).
PINNED = {
    TLS13: ("TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "X25519MLKEM768"),
    TLS12: ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
            "x25519"),
}


@pytest.fixture
def pyopenssl() -> Any:
    """pyOpenSSL's ``OpenSSL.SSL``, on the OpenSSL inside cryptography."""
    return require_module("OpenSSL.SSL")


def _context(pyopenssl: Any, files: dict[str, Path], version: int, server: bool) -> Any:
    """test_pyopenssl's context (certificate, or trust and verification), held to
    ``version`` and its pinned suite."""
    suite = PINNED[version][1]
    ctx = context(pyopenssl, files, server, PINNED[TLS13][1])
    bound = pyopenssl.TLS1_3_VERSION if version == TLS13 else pyopenssl.TLS1_2_VERSION
    ctx.set_min_proto_version(bound)
    ctx.set_max_proto_version(bound)
    if version == TLS12:
        ctx.set_cipher_list(suite.encode())
    return ctx


def _expected(version: int) -> tuple[str, str, str]:
    suite, _, group = PINNED[version]
    return VERSION_NAMES[version], suite, group


def _as_openssl_names(version: int) -> tuple[str, str, str]:
    _, openssl_suite, group = PINNED[version]
    return VERSION_NAMES[version], openssl_suite, group


@pytest.mark.parametrize("version_name", VERSIONS)
@pytest.mark.parametrize("status", ["good", "revoked"])
def test_a_pyopenssl_server_staples_to_a_glasstls_client(
        pyopenssl: Any, pki_files: Any, version_name: str, status: str) -> None:
    version = VERSIONS[version_name]
    ctx = _context(pyopenssl, pki_files("ecdsa"), version, server=True)
    asked: list[bool] = []

    def staple(connection: Any, data: Any) -> bytes:
        asked.append(True)
        return response(status)

    ctx.set_ocsp_server_callback(staple)
    tracer = Tracer()
    config = ClientConfig(trust=TEST_PKI.trust, versions=(version,), ocsp_stapling="request",
                          trace=tracer)
    with listen() as listener:
        peer = Background(pyopenssl_server, pyopenssl, listener, ctx)
        with glass_client(listener.getsockname()[1], config) as glass:
            if status == "good":
                done = glass.handshake()
                glass.send(FROM_GLASS)
                assert glass.receive_until(b"\n") == FROM_PYOPENSSL
                glass.close()
                line, view = peer.join()
            else:
                with pytest.raises(CertificateRejected) as refused:
                    glass.handshake()
                with pytest.raises(pyopenssl.Error) as failed:
                    peer.join()

    assert asked == [True]
    expected = _expected(version)
    if status == "good":
        assert line == FROM_GLASS
        assert (done.version, done.cipher_suite, done.group) == expected
        assert view == _as_openssl_names(version)
        assert (done.ocsp_status, done.ocsp_response) == ("good", response("good"))
        assert glass_parameters(tracer) == expected
        return
    assert refused.value.alert == AlertDescription.certificate_revoked
    assert refused.value.reason is CertificateReason.OCSP_REVOKED
    # OpenSSL names the alert it read from us.
    assert "certificate revoked" in str(failed.value)
    # TLS 1.2: refused at CertificateStatus, before the ServerKeyExchange names the group.
    assert glass_parameters(tracer) == (
        *expected[:2], expected[2] if version == TLS13 else None)


def _pyopenssl_client_asking_for_ocsp(pyopenssl: Any, port: int, ctx: Any
                                      ) -> tuple[bytes, tuple[str, str, str], list[bytes]]:
    """Connect asking for a staple; (reply, pyOpenSSL's view, the staples it was given)."""
    staples: list[bytes] = []

    def received(connection: Any, ocsp_bytes: bytes, data: Any) -> bool:
        staples.append(ocsp_bytes)
        return True

    ctx.set_ocsp_client_callback(received)
    with bounded(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)) as sock:
        tls = pyopenssl.Connection(ctx, sock)
        tls.set_tlsext_host_name(b"localhost")
        tls.request_ocsp()
        tls.set_connect_state()
        tls.do_handshake()
        tls.sendall(FROM_PYOPENSSL)
        reply = read_to_close_notify(pyopenssl, tls)
        return reply, peer_view(tls), staples


@pytest.mark.parametrize("version_name", VERSIONS)
def test_a_pyopenssl_client_receives_the_staple_of_a_glasstls_server(
        pyopenssl: Any, pki_files: Any, start_glass_server: Any, tmp_path: Path,
        version_name: str) -> None:
    version = VERSIONS[version_name]
    tracer = Tracer()
    server = start_glass_server(
        ServerConfig(certificates=(TEST_PKI.certified,), versions=(version,), trace=tracer,
                     ocsp_staple=StapleFile(staple_file(tmp_path, "good"))),
        echo_once(REPLY_PREFIX))
    ctx = _context(pyopenssl, pki_files("ecdsa"), version, server=False)
    reply, view, staples = _pyopenssl_client_asking_for_ocsp(pyopenssl, server.port, ctx)

    assert server.join() == FROM_PYOPENSSL
    assert reply == REPLY_PREFIX + FROM_PYOPENSSL
    assert staples == [response("good")]
    done = server.glass.negotiated
    assert (done.version, done.cipher_suite, done.group) == _expected(version)
    assert view == _as_openssl_names(version)
    assert glass_parameters(tracer) == _expected(version)
    assert done.ocsp_response == response("good")
