"""glasstls.SSLContext: the ssl.SSLContext setters and what they do to connections."""

from __future__ import annotations

import queue
import shutil
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from io_helpers import (
    SSL_VERSIONS,
    VERSION_NAMES,
    glass_context,
    python_server_context,
    python_tls_listener,
)

import glasstls
from glasstls import ClientConfig, TLSSocket
from glasstls.constants import TLS12, TLS13
from glasstls.io.ciphers import parse_cipher_string
from glasstls.io.sslobject import TLSObject
from pki import pki


def handshake_with(files: dict[str, Path], context: Any, server: ssl.SSLContext | None = None,
                   server_hostname: str | None = "localhost") -> dict[str, Any]:
    """Connect ``context`` to a Python ssl server; what the client saw."""
    seen: dict[str, Any] = {}

    def serve(tls: ssl.SSLSocket) -> None:
        seen["server cert"] = tls.getpeercert()
        seen["server alpn"] = tls.selected_alpn_protocol()
        tls.sendall(b"ok")

    server_context = server or python_server_context(files)
    with python_tls_listener(files, serve, context=server_context) as port, context.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname=server_hostname
    ) as sock:
        assert isinstance(sock, TLSSocket)
        assert sock.recv(2) == b"ok"
        seen.update(version=sock.version(), cipher=sock.cipher(),
                    alpn=sock.selected_alpn_protocol(), peercert=sock.getpeercert(),
                    der=sock.getpeercert(binary_form=True), reused=sock.session_reused,
                    session=sock.session)
    return seen


def test_is_an_ssl_context_with_client_defaults() -> None:
    context = glasstls.SSLContext()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert isinstance(context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(),
                                       server_hostname="example.com"), TLSObject)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")  # a system CA, not ours
def test_default_trust_is_the_systems_store(files: dict[str, Path]) -> None:
    context = glasstls.SSLContext()
    assert context.client_config().trust is None  # the engine's system store
    system = ClientConfig().trust_store()
    assert len(system) == ssl.create_default_context().cert_store_stats()["x509_ca"]
    # Verification is on: the test CA is not a system CA.
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        handshake_with(files, context)
    assert caught.value.verify_code == 20
    context.load_default_certs()
    assert context.cert_store_stats()["x509_ca"] == len(system)


@pytest.mark.parametrize("source", ["cafile", "capath", "cadata-pem", "cadata-der"])
def test_load_verify_locations(files: dict[str, Path], tmp_path: Path, source: str) -> None:
    context = glasstls.SSLContext()
    ca = pki("ecdsa-p256").ca.certificate
    if source == "cafile":
        context.load_verify_locations(cafile=files["ca"])
    elif source == "capath":
        shutil.copy(files["ca"], tmp_path / "ca.pem")
        context.load_verify_locations(capath=tmp_path)
    elif source == "cadata-pem":
        context.load_verify_locations(cadata=files["ca"].read_text())
    else:
        other = pki("rsa-2048").ca.certificate.public_bytes(serialization.Encoding.DER)
        context.load_verify_locations(
            cadata=other + ca.public_bytes(serialization.Encoding.DER))
    [subject_ca] = [c for c in context.get_ca_certs()
                    if ("commonName", "glasstls test CA (ecdsa-p256)") in
                    [rdn[0] for rdn in c["subject"]]]
    assert subject_ca["version"] == 3
    assert handshake_with(files, context)["version"] == "TLSv1.3"


def test_load_verify_locations_rejects_nonsense() -> None:
    context = glasstls.SSLContext()
    with pytest.raises(TypeError):
        context.load_verify_locations()
    with pytest.raises(ssl.SSLError):
        context.load_verify_locations(cadata="not a certificate")
    with pytest.raises(ssl.SSLError):
        context.load_verify_locations(cadata=b"\x30\x82\xff\xff")


@pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning")
@pytest.mark.parametrize(("settings", "expected"), [
    ({"maximum_version": ssl.TLSVersion.TLSv1_2}, "TLSv1.2"),
    ({"minimum_version": ssl.TLSVersion.TLSv1_3}, "TLSv1.3"),
    ({"options": ssl.OP_NO_TLSv1_3}, "TLSv1.2"),
])
def test_version_settings_choose_the_version(files: dict[str, Path], settings: dict[str, Any],
                                             expected: str) -> None:
    context = glass_context(files)
    for name, value in settings.items():
        if name == "options":
            context.options |= value
        else:
            setattr(context, name, value)
    assert handshake_with(files, context)["version"] == expected


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_a_context_allowing_neither_version_fails_clearly(files: dict[str, Path]) -> None:
    context = glass_context(files)
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match="NO_PROTOCOLS_AVAILABLE"):
        context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")


def test_cipher_strings() -> None:
    def names(spec: str) -> list[str]:
        return [s.openssl_name for s in parse_cipher_string(spec)]

    assert names("ECDHE+AESGCM:!ECDSA") == ["ECDHE-RSA-AES128-GCM-SHA256",
                                            "ECDHE-RSA-AES256-GCM-SHA384"]
    assert names("ECDHE-ECDSA-CHACHA20-POLY1305") == ["ECDHE-ECDSA-CHACHA20-POLY1305"]
    assert names("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == ["ECDHE-RSA-AES128-GCM-SHA256"]
    assert "AES128-GCM-SHA256" not in names("DEFAULT")  # no RSA key transport by default
    assert "AES128-GCM-SHA256" in names("HIGH:!aNULL")
    assert names("ALL:-AES256:+CHACHA20")[-2:] == ["ECDHE-ECDSA-CHACHA20-POLY1305",
                                                   "ECDHE-RSA-CHACHA20-POLY1305"]
    assert names("ECDHE:!aRSA:ECDHE-RSA-AES128-GCM-SHA256") == [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305"]  # ! is for good
    with pytest.raises(ssl.SSLError, match="No cipher can be selected"):
        parse_cipher_string("DHE-RSA-AES128-SHA:RC4")


def test_set_ciphers_picks_the_tls12_suite(files: dict[str, Path]) -> None:
    context = glass_context(files, TLS12)
    context.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    names = [c["name"] for c in context.get_ciphers()]
    assert names[:3] == ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                         "TLS_CHACHA20_POLY1305_SHA256"]
    assert names[3:] == ["ECDHE-ECDSA-AES256-GCM-SHA384"]
    server = python_server_context(files, TLS12)
    assert handshake_with(files, context, server)["cipher"] == (
        "ECDHE-ECDSA-AES256-GCM-SHA384", "TLSv1.2", 256)


def test_alpn_is_negotiated_with_python_ssl(files: dict[str, Path]) -> None:
    context = glass_context(files)
    context.set_alpn_protocols(["h2", "http/1.1"])
    server = python_server_context(files)
    server.set_alpn_protocols(["http/1.1"])
    seen = handshake_with(files, context, server)
    assert seen["alpn"] == "http/1.1"


def test_cert_none_skips_verification_and_getpeercert_is_empty(files: dict[str, Path]) -> None:
    context = glasstls.SSLContext()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    seen = handshake_with(files, context, server_hostname=None)
    assert seen["peercert"] == {}
    assert seen["der"] == pki("ecdsa-p256").certified.chain_der[0]


def test_check_hostname_off_still_verifies_the_chain(files: dict[str, Path]) -> None:
    context = glass_context(files)
    context.check_hostname = False
    assert handshake_with(files, context, server_hostname="other.example")["peercert"]
    untrusted = glasstls.SSLContext()
    untrusted.check_hostname = False
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake_with(files, untrusted, server_hostname="other.example")


def test_check_hostname_needs_a_server_hostname(files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="server_hostname"):
        glass_context(files).wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())


def test_client_certificate_for_a_python_server_that_requires_one(files: dict[str, Path]
                                                                  ) -> None:
    context = glass_context(files)
    context.load_cert_chain(files["client_cert"], files["client_key"])
    server = python_server_context(files)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(files["ca"])
    seen = handshake_with(files, context, server)
    subject = dict(rdn[0] for rdn in seen["server cert"]["subject"])
    assert subject["commonName"] == "glasstls test client"


def test_encrypted_key_with_a_password_callback(files: dict[str, Path], tmp_path: Path) -> None:
    key = pki("ecdsa-p256").leaf.key
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"sesame")))
    server = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError):
        server.load_cert_chain(files["cert"], encrypted, password="wrong")
    server.load_cert_chain(files["cert"], encrypted, password=lambda: "sesame")
    assert server.server_config().certificates[0].chain_der == pki(
        "ecdsa-p256").certified.chain_der


def test_server_side_limits_are_explicit(files: dict[str, Path]) -> None:
    client_context = glass_context(files)
    with pytest.raises(ValueError, match="PROTOCOL_TLS_CLIENT"):
        client_context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    server = glass_context(files, server=True)
    server.verify_mode = ssl.CERT_REQUIRED  # but no CA to check client certificates with
    with pytest.raises(ssl.SSLError, match="load_verify_locations"):
        server.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    empty = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError, match="load_cert_chain"):
        empty.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    with pytest.raises(ValueError, match="session can only be specified in client mode"):
        glass_context(files, server=True).wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(),
                                                   server_side=True, session=object())


def test_create_default_context(files: dict[str, Path]) -> None:
    client = glasstls.create_default_context(cafile=files["ca"])
    assert isinstance(client, glasstls.SSLContext)
    assert handshake_with(files, client)["version"] == "TLSv1.3"
    server = glasstls.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER and server.verify_mode == ssl.CERT_NONE


def test_post_handshake_auth_can_be_set_as_http_client_does(files: dict[str, Path]) -> None:
    context = glass_context(files)
    context.post_handshake_auth = True
    assert handshake_with(files, context)["version"] == "TLSv1.3"


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_server_context_serves_python_clients(files: dict[str, Path], version: int) -> None:
    context = glass_context(files, version, server=True)
    listener = socket.create_server(("127.0.0.1", 0))
    client = ssl.create_default_context(cafile=str(files["ca"]))
    client.maximum_version = SSL_VERSIONS[version]
    plain = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()


    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(
        client.wrap_socket(plain, server_hostname="localhost")))
    thread.start()
    with context.wrap_socket(accepted, server_side=True) as server_sock:
        thread.join()
        assert server_sock.version() == result[0].version() == VERSION_NAMES[version]
        assert server_sock.getpeercert() is None
    result[0].close()
    listener.close()


def _python_client(files: dict[str, Path], with_certificate: bool = True,
                   post_handshake_auth: bool = False) -> ssl.SSLContext:
    client = ssl.create_default_context(cafile=str(files["ca"]))
    if with_certificate:
        client.load_cert_chain(files["client_cert"], files["client_key"])
    client.post_handshake_auth = post_handshake_auth
    return client


def _serve_one(context: Any, action: Any) -> tuple[int, queue.Queue[Any]]:
    """A glasstls server context accepting one connection on a thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    outcome: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        plain, _ = listener.accept()
        listener.close()
        try:
            with context.wrap_socket(plain, server_side=True) as tls:
                outcome.put(action(tls))
        except Exception as error:
            outcome.put(error)

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1], outcome


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_server_verify_mode_requires_client_certificates(files: dict[str, Path],
                                                         version: int) -> None:
    server = glass_context(files, version, server=True)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(files["ca"])

    def peer(tls: TLSSocket) -> Any:
        tls.sendall(b"hi")
        return tls.getpeercert()

    port, outcome = _serve_one(server, peer)
    with _python_client(files).wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                           server_hostname="localhost") as client:
        assert client.recv(2) == b"hi"
    cert = outcome.get(timeout=10)
    assert dict(rdn[0] for rdn in cert["subject"])["commonName"] == "glasstls test client"

    port, outcome = _serve_one(server, peer)
    with pytest.raises((ssl.SSLError, ConnectionError)), _python_client(
            files, with_certificate=False).wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
    ) as client:
        client.recv(2)  # TLS 1.3: the server's verdict comes after the client's Finished
    assert isinstance(outcome.get(timeout=10), ssl.SSLError)


def test_verify_client_post_handshake(files: dict[str, Path]) -> None:
    server = glass_context(files, TLS13, server=True)
    server.verify_mode = ssl.CERT_REQUIRED
    server.post_handshake_auth = True  # ask after the handshake, not in it
    server.load_verify_locations(files["ca"])

    def ask_later(tls: TLSSocket) -> Any:
        assert tls.recv(5) == b"hello"
        before = tls.getpeercert()
        tls.verify_client_post_handshake()
        tls.sendall(b"please authenticate")
        assert tls.recv(5) == b"after"  # the client's Certificate came first
        return before, tls.getpeercert()

    port, outcome = _serve_one(server, ask_later)
    client = _python_client(files, post_handshake_auth=True)
    with client.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                            server_hostname="localhost") as tls:
        tls.sendall(b"hello")
        assert tls.recv(19) == b"please authenticate"
        tls.sendall(b"after")
        result = outcome.get(timeout=10)
    assert not isinstance(result, Exception), result
    before, after = result
    assert before is None
    assert dict(rdn[0] for rdn in after["subject"])["commonName"] == "glasstls test client"


def test_client_context_resumes_sessions_with_python_ssl(files: dict[str, Path]) -> None:
    context = glass_context(files)
    server = python_server_context(files)
    first = handshake_with(files, context, server)
    assert first["reused"] is False and first["session"] is not None
    second = handshake_with(files, context, server)
    assert second["reused"] is True
    assert second["peercert"] == first["peercert"]  # the verified chain is remembered


def test_server_context_resumes_python_clients(files: dict[str, Path]) -> None:
    server = glass_context(files, server=True)
    client = ssl.create_default_context(cafile=str(files["ca"]))
    session = None
    reused = []
    for _ in range(2):
        port, outcome = _serve_one(server, lambda tls: tls.sendall(b"x"))
        with client.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                server_hostname="localhost", session=session) as tls:
            assert tls.recv(1) == b"x"  # the tickets came before it
            reused.append(tls.session_reused)
            session = tls.session
        outcome.get(timeout=10)
    assert reused == [False, True]


def test_client_answers_post_handshake_auth_from_python_ssl(files: dict[str, Path]) -> None:
    context = glass_context(files, TLS13)
    context.post_handshake_auth = True
    context.load_cert_chain(files["client_cert"], files["client_key"])
    server = python_server_context(files)
    server.verify_mode = ssl.CERT_REQUIRED
    server.post_handshake_auth = True
    server.load_verify_locations(files["ca"])
    seen: list[Any] = []

    def ask_later(tls: ssl.SSLSocket) -> None:
        seen.append(tls.getpeercert())
        tls.verify_client_post_handshake()
        tls.sendall(b"who are you?")
        assert tls.recv(3) == b"me."
        seen.append(tls.getpeercert())

    with python_tls_listener(files, ask_later, context=server) as port, context.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
    ) as sock:
        assert sock.recv(12) == b"who are you?"  # reading it answered the request
        sock.sendall(b"me.")
    assert seen[0] is None
    assert dict(rdn[0] for rdn in seen[1]["subject"])["commonName"] == "glasstls test client"


def test_curve_shared_ciphers_chains_and_exporter(files: dict[str, Path]) -> None:
    context = glass_context(files)
    context.set_ecdh_curve("prime256v1")
    with pytest.raises(ValueError):
        context.set_ecdh_curve("brainpoolP256r1")

    def server_view(tls: TLSSocket) -> Any:
        tls.sendall(b"x")
        return tls.shared_ciphers(), tls.export_keying_material("EXPORTER-test", b"c", 32)

    port, outcome = _serve_one(glass_context(files, server=True), server_view)
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                             server_hostname="localhost") as sock:
        assert sock.recv(1) == b"x"
        negotiated = sock.negotiated
        assert negotiated is not None and negotiated.group == "secp256r1"
        leaf, ca = pki("ecdsa-p256").certified.chain_der[0], pki("ecdsa-p256").ca.certificate
        assert sock.get_unverified_chain() == [leaf]
        assert sock.get_verified_chain() == [leaf, ca.public_bytes(serialization.Encoding.DER)]
        ours = sock.export_keying_material("EXPORTER-test", b"c", 32)
        assert sock.shared_ciphers() is None  # client side
    shared, theirs = outcome.get(timeout=10)
    assert ours == theirs and len(ours) == 32
    assert ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128) in shared
