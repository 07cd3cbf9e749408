"""Mutual TLS and resumption against Python's ``ssl`` module (the system OpenSSL), both
versions: a Python client with a client certificate against a glasstls server that
requires one (and without one: the alert Python reports), a glasstls client with a
certificate against a Python server that requires one, and a Python client that
resumes a glasstls session (``SSLSocket.session_reused``)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls import ClientConfig, ServerConfig, TLSError
from glasstls.constants import TLS12, TLS13
from peers import require_module

from .driver import TIMEOUT, Background, GlassSocket, echo_once, glass_client, listen
from .matrix import cert_pki

pytestmark = pytest.mark.interop

CERT = "ecdsa"
REPLY_PREFIX = b"glasstls-server got: "
FROM_PYTHON = b"hello from python ssl\n"
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
PYTHON_VERSIONS = {TLS13: ssl.TLSVersion.TLSv1_3, TLS12: ssl.TLSVersion.TLSv1_2}
# How OpenSSL (under Python) names the alert a server sends for a missing certificate.
NO_CERTIFICATE_ALERT = {TLS13: "TLSV13_ALERT_CERTIFICATE_REQUIRED",
                        TLS12: "SSLV3_ALERT_HANDSHAKE_FAILURE"}


def python_client_context(files: dict[str, Path], version: int,
                          with_certificate: bool) -> ssl.SSLContext:
    require_module("ssl")
    context = ssl.create_default_context(cafile=str(files["ca"]))
    context.minimum_version = context.maximum_version = PYTHON_VERSIONS[version]
    if with_certificate:
        context.load_cert_chain(files["client_cert"], files["client_key"])
    return context


def read_to_end(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while chunk := tls.recv(4096):
        data += chunk
    return data


def python_client(port: int, context: ssl.SSLContext, session: ssl.SSLSession | None = None
                  ) -> tuple[bytes, ssl.SSLSession | None, bool]:
    """Send a line, read the answer to the server's close; returns it, the session to
    resume and whether this connection resumed ``session``."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
        tls.sendall(FROM_PYTHON)
        reply = read_to_end(tls)  # TLS 1.3: the tickets arrive on the way
        return reply, tls.session, tls.session_reused


def required_server(version: int) -> ServerConfig:
    test_pki = cert_pki(CERT)
    return ServerConfig(certificates=(test_pki.certified,), versions=(version,),
                        client_auth="required", client_trust=test_pki.trust)


def failing_handler(glass: GlassSocket) -> TLSError | None:
    try:
        glass.handshake()
        glass.receive_until(b"\n")
    except TLSError as error:
        return error
    return None


@pytest.mark.parametrize("version_name", VERSIONS)
def test_python_ssl_client_with_a_certificate_authenticates_to_a_glasstls_server(
        pki_files, start_glass_server, version_name: str) -> None:
    version = VERSIONS[version_name]
    context = python_client_context(pki_files(CERT), version, with_certificate=True)
    server = start_glass_server(required_server(version), echo_once(REPLY_PREFIX))
    reply, _, _ = python_client(server.port, context)
    assert server.join() == FROM_PYTHON
    assert reply == REPLY_PREFIX + FROM_PYTHON
    done = server.glass.negotiated
    assert done.version == ("TLSv1.3" if version == TLS13 else "TLSv1.2")
    client_der = cert_pki(CERT).client.certificate.public_bytes(serialization.Encoding.DER)
    assert done.peer_certificates[0] == client_der
    assert done.verified_chain[0] == client_der


@pytest.mark.parametrize("version_name", VERSIONS)
def test_python_ssl_client_without_a_certificate_is_refused_with_the_versions_alert(
        pki_files, start_glass_server, version_name: str) -> None:
    version = VERSIONS[version_name]
    context = python_client_context(pki_files(CERT), version, with_certificate=False)
    server = start_glass_server(required_server(version), failing_handler)
    with pytest.raises(ssl.SSLError) as caught:
        python_client(server.port, context)
    error = server.join()
    assert isinstance(error, TLSError)
    assert caught.value.reason == NO_CERTIFICATE_ALERT[version], caught.value


def python_server_requiring_a_certificate(listener: socket.socket, context: ssl.SSLContext
                                          ) -> tuple[bytes, dict]:
    conn, _ = listener.accept()
    conn.settimeout(TIMEOUT)
    with context.wrap_socket(conn, server_side=True) as tls:
        line = b""
        while not line.endswith(b"\n"):
            chunk = tls.recv(4096)
            if not chunk:
                break
            line += chunk
        tls.sendall(b"python saw your certificate\n")
        peer = tls.getpeercert()
        read_to_end(tls)
        return line, peer


@pytest.mark.parametrize("version_name", VERSIONS)
def test_glasstls_client_with_a_certificate_authenticates_to_a_python_ssl_server(
        pki_files, version_name: str) -> None:
    version = VERSIONS[version_name]
    files = pki_files(CERT)
    require_module("ssl")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["cert"], files["key"])
    context.load_verify_locations(cafile=str(files["ca"]))
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = context.maximum_version = PYTHON_VERSIONS[version]
    test_pki = cert_pki(CERT)
    config = ClientConfig(trust=test_pki.trust, versions=(version,),
                          certificate=test_pki.client_certified)
    with listen() as listener:
        peer = Background(python_server_requiring_a_certificate, listener, context)
        with glass_client(listener.getsockname()[1], config) as glass:
            glass.handshake()
            glass.send(b"hello\n")
            assert glass.receive_until(b"\n") == b"python saw your certificate\n"
            glass.close()
            line, certificate = peer.join()
    assert line == b"hello\n"
    subject = dict(item for rdn in certificate["subject"] for item in rdn)
    assert subject["commonName"] == "glasstls test client"


@pytest.mark.parametrize("version_name", VERSIONS)
def test_python_ssl_client_resumes_a_glasstls_session(
        pki_files, start_glass_server, version_name: str) -> None:
    version = VERSIONS[version_name]
    context = python_client_context(pki_files(CERT), version, with_certificate=False)
    server_config = ServerConfig(certificates=(cert_pki(CERT).certified,), versions=(version,))
    server = start_glass_server(server_config, echo_once(REPLY_PREFIX), connections=2)
    _, session, reused = python_client(server.port, context)
    assert session is not None and not reused
    reply, _, reused = python_client(server.port, context, session=session)
    server.join()
    assert reply == REPLY_PREFIX + FROM_PYTHON
    assert reused
    assert [glass.negotiated.resumed for glass in server.sockets] == [False, True]
