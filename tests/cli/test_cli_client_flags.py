"""``glasstls client``'s s_client-style flags, each against a real peer: ``openssl
s_server``, an HTTP/2 server on Python's ssl and the h2 package, plain-text servers."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import (
    VERSIONS,
    Result,
    Start,
    run_glasstls,
    s_server,
    start_glasstls_server,
    stop,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pki import pki

pytestmark = pytest.mark.interop


def _saved_session(openssl: str, processes: Start, pem: dict[str, Path], version: str,
                   session: Path) -> tuple[int, Result]:
    """An s_server of ``version``, and a first ``glasstls client --sess-out`` to it."""
    _, port = s_server(openssl, processes, pem, version, "-www")
    first = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                         "--sess-out", str(session), "--http", "/")
    assert first.code == 0, first.describe()
    return port, first


@pytest.mark.parametrize("version", VERSIONS)
def test_sess_out_then_sess_in_resumes_across_two_processes(
        openssl: str, processes: Start, pem: dict[str, Path], version: str,
        tmp_path: Path) -> None:
    session = tmp_path / "s.bin"
    port, first = _saved_session(openssl, processes, pem, version, session)
    assert re.search(r"resumed\s+no", first.stderr) and f"New, {version}" in first.stdout
    assert session.read_bytes().startswith(b"glasstls session\n\x01")
    assert session.stat().st_mode & 0o777 == 0o600  # it holds the resumption secret
    second = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--sess-in", str(session), "--http", "/")
    assert second.code == 0, second.describe()
    assert re.search(r"resumed\s+yes", second.stderr), second.stderr
    assert f"Reused, {version}" in second.stdout  # s_server's own view of it


@pytest.mark.parametrize("version", VERSIONS)
def test_sess_in_is_not_offered_under_another_server_name(
        openssl: str, processes: Start, pem: dict[str, Path], version: str,
        tmp_path: Path) -> None:
    # s_server would resume it; a resumed handshake checks no certificate, so the
    # certificate (not valid for other.example) would have passed as verified.
    session = tmp_path / "s.bin"
    port, _ = _saved_session(openssl, processes, pem, version, session)
    second = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--servername", "other.example", "--sess-in", str(session),
                          "--http", "/")
    assert "was made for localhost, not other.example" in second.stderr, second.describe()
    assert second.code == 5, second.describe()
    assert "not valid for 'other.example'" in second.stderr

def test_a_damaged_session_file_is_a_usage_error(tmp_path: Path) -> None:
    damaged = tmp_path / "s.bin"
    damaged.write_bytes(b"glasstls session\n\x01\x03")
    result = run_glasstls("client", "localhost:1", "--sess-in", str(damaged))
    assert result.code == 2, result.describe()
    assert "is not a usable session file" in result.stderr


@pytest.mark.parametrize(("version", "option", "iana", "openssl_name"), [
    ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
     "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
     "TLS_CHACHA20_POLY1305_SHA256"),
])
def test_suite_by_openssl_or_iana_name_is_what_is_offered(
        openssl: str, processes: Start, pem: dict[str, Path], version: str, option: str,
        iana: str, openssl_name: str) -> None:
    _, port = s_server(openssl, processes, pem, version, "-www")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--cipher", option, "--http", "/")
    assert result.code == 0, result.describe()
    assert f"protocol      {version}, {iana}" in result.stderr
    assert f"Cipher is {openssl_name}" in result.stdout


def test_sigalgs_limits_what_the_server_may_sign_with(
        openssl: str, processes: Start, pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.3", "-www")
    ok = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                      "--sigalgs", "ECDSA+SHA256:rsa_pss_rsae_sha256", "--http", "/")
    assert ok.code == 0 and "signature     ecdsa_secp256r1_sha256" in ok.stderr, ok.describe()
    refused = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                           "--sigalgs", "RSA-PSS+SHA256", "--http", "/")
    assert refused.code == 4, refused.describe()  # an ECDSA server has nothing to sign with
    assert "handshake_failure" in refused.stderr


def test_unknown_sigalg_is_a_usage_error_naming_the_choices() -> None:
    result = run_glasstls("client", "localhost", "--sigalgs", "RSA+MD5")
    assert result.code == 2 and "unknown signature scheme 'RSA+MD5'" in result.stderr


def test_servername_is_sent_instead_of_the_host(openssl: str, processes: Start,
                                                pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.3", "-www", "-servername",
                       "localhost", "-servername_fatal", "-cert2", str(pem["cert"]),
                       "-key2", str(pem["key"]))
    ok = run_glasstls("client", f"127.0.0.1:{port}", "--servername", "localhost",
                      "--cafile", str(pem["ca"]), "--http", "/")
    assert ok.code == 0, ok.describe()
    assert "server name localhost" in ok.stderr and "for the name localhost" in ok.stderr
    other = run_glasstls("client", f"127.0.0.1:{port}", "--servername", "other.example",
                         "--cafile", str(pem["ca"]), "--http", "/")
    assert other.code == 4 and "unrecognized_name" in other.stderr, other.describe()


def test_showcerts_prints_the_chain_as_pem(openssl: str, processes: Start,
                                          pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.3", "-www")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--showcerts", "--http", "/")
    assert result.code == 0, result.describe()
    assert " 0 s:CN=localhost" in result.stderr
    shown = x509.load_pem_x509_certificates(result.stderr.encode())
    assert shown == [x509.load_pem_x509_certificate(pem["cert"].read_bytes())]


@pytest.mark.parametrize("version", VERSIONS)
def test_pass_decrypts_an_encrypted_client_key_and_the_summary_says_it_was_sent(
        openssl: str, processes: Start, pem: dict[str, Path], version: str,
        tmp_path: Path) -> None:
    encrypted = tmp_path / "client-key.pem"
    encrypted.write_bytes(pki("ecdsa-p256").client.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret")))
    _, port = s_server(openssl, processes, pem, version, "-www", "-Verify", "1",
                       "-CAfile", str(pem["ca"]), "-verify_return_error")
    base = ["client", f"localhost:{port}", "--cafile", str(pem["ca"]), "--cert",
            str(pem["client_cert"]), "--key", str(encrypted), "--http", "/"]
    ok = run_glasstls(*base, "--pass", "pass:s3cret")
    assert ok.code == 0, ok.describe()
    assert "client cert   sent: CN=glasstls test client" in ok.stderr
    assert "glasstls test client" in ok.stdout  # s_server saw it
    wrong = run_glasstls(*base, "--pass", "pass:nope")
    assert wrong.code == 2 and "cannot decrypt the key" in wrong.stderr, wrong.describe()
    missing = run_glasstls(*base)
    assert missing.code == 2 and "is encrypted: give its password with --pass" in (
        missing.stderr), missing.describe()


def test_the_summary_says_when_a_certificate_was_asked_for_but_not_sent(
        openssl: str, processes: Start, pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.3", "-www", "-verify", "1")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--http", "/")
    assert result.code == 0, result.describe()
    assert "client cert   none sent: the server asked for one" in result.stderr


def test_http_refuses_a_protocol_it_does_not_speak(openssl: str, processes: Start,
                                                   pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.3", "-alpn", "imap")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--alpn", "imap", "--http", "/")
    assert result.code == 2, result.describe()
    assert "the server chose the ALPN protocol 'imap'; --http speaks only http/1.1 and h2" in (
        result.stderr)


@pytest.fixture
def h2_server(pem: dict[str, Path]) -> Iterator[int]:
    """An HTTP/2 server on Python's ssl and the h2 package (one request per connection)."""
    import h2.config
    import h2.connection
    import h2.events

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem["cert"], pem["key"])
    context.set_alpn_protocols(["h2"])
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_one(raw: socket.socket) -> None:
        with context.wrap_socket(raw, server_side=True) as tls:
            connection = h2.connection.H2Connection(h2.config.H2Configuration(
                client_side=False, header_encoding="utf-8"))
            connection.initiate_connection()
            tls.sendall(connection.data_to_send())
            while data := tls.recv(65536):
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        path = dict(event.headers)[":path"]
                        body = f"h2 says hello to {path}\n".encode()
                        connection.send_headers(event.stream_id, [
                            (":status", "200"), ("content-length", str(len(body))),
                            ("x-served-by", "h2-test")])
                        connection.send_data(event.stream_id, body, end_stream=True)
                tls.sendall(connection.data_to_send())

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(raw,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_http_over_h2_when_alpn_chose_it(h2_server: int, pem: dict[str, Path]) -> None:
    result = run_glasstls("client", f"localhost:{h2_server}", "--cafile", str(pem["ca"]),
                          "--alpn", "h2,http/1.1", "--http", "/hello")
    assert result.code == 0, result.describe()
    assert "ALPN          h2" in result.stderr
    assert result.stdout.startswith("HTTP/2 200\n"), result.describe()  # text mode reads CRLF as LF
    assert "x-served-by: h2-test" in result.stdout
    assert result.stdout.endswith("h2 says hello to /hello\n")


def test_json_response_carries_the_body_and_o_writes_it_to_a_file(
        h2_server: int, pem: dict[str, Path], tmp_path: Path) -> None:
    base = ["client", f"localhost:{h2_server}", "--cafile", str(pem["ca"]), "--alpn", "h2",
            "--http", "/x", "--json"]
    result = run_glasstls(*base)
    assert result.code == 0, result.describe()
    response = [line for line in result.json_lines() if line["event"] == "response"]
    assert response == [{"event": "response", "protocol": "h2", "status": 200, "reason": "",
                         "headers": [["content-length", "20"], ["x-served-by", "h2-test"]],
                         "complete": True, "body_bytes": 20, "body": "h2 says hello to /x\n"}]
    saved = run_glasstls(*base, "-o", str(tmp_path / "body"))
    assert (tmp_path / "body").read_text() == "h2 says hello to /x\n"
    assert json.loads(saved.stdout.splitlines()[-1])["body_file"] == str(tmp_path / "body")


def canned_server(answer: Callable[[socket.socket, bytes], None]
                  ) -> Iterator[tuple[int, list[bytes]]]:
    """A server on 127.0.0.1 calling ``answer(connection, next canned bytes)`` for
    each connection; yields its port and the list to append the answers to."""
    listener = socket.create_server(("127.0.0.1", 0))
    answers: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            with raw, contextlib.suppress(OSError):
                answer(raw, answers.pop(0))

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], answers
    listener.close()


@pytest.fixture
def plain_server() -> Iterator[tuple[int, list[bytes]]]:
    """Answers each connection with the next canned bytes, in plain text."""
    def answer(raw: socket.socket, data: bytes) -> None:
        raw.sendall(data)
        raw.settimeout(2)
        raw.recv(65536)

    yield from canned_server(answer)


@pytest.mark.parametrize(("sent", "shown"), [
    (b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n\x00\x00\x04\x1c", "'SSH-2.0-OpenSSH_9.6p1 Debian-4'"),
    (b"<!DOCTYPE HTML>\n<html><head>", "'<!DOCTYPE HTML>'"),
])
def test_a_plain_text_peer_is_named_as_such(plain_server: tuple[int, list[bytes]],
                                            sent: bytes, shown: str) -> None:
    port, answers = plain_server
    answers.append(sent)
    result = run_glasstls("client", f"127.0.0.1:{port}", "--insecure")
    assert result.code == 4, result.describe()
    assert f"the server sent plain text ({shown}): not TLS" in result.stderr
    assert "unknown content type" not in result.stderr


def test_glasstls_server_names_a_plain_http_client(processes: Start,
                                                    pem: dict[str, Path]) -> None:
    server, port = start_glasstls_server(processes, "--cert", str(pem["cert"]), "--key",
                                         str(pem["key"]))
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.settimeout(5)
        raw.recv(100)
    server.wait_for(r"the client sent plain text \('GET / HTTP/1\.1'\): not TLS")
    stop(server)


@pytest.fixture
def cut_server(pem: dict[str, Path]) -> Iterator[tuple[int, list[bytes]]]:
    """Python's ssl answering one request with the next canned bytes, then ending
    the TCP connection without close_notify."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem["cert"], pem["key"])

    def answer(raw: socket.socket, data: bytes) -> None:
        with context.wrap_socket(raw, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request:
                request += tls.recv(4096)
            tls.sendall(data)
            tls.shutdown(socket.SHUT_RDWR)  # ssl's shutdown sends no close_notify

    yield from canned_server(answer)


@pytest.mark.parametrize(("answer", "code", "shown"), [
    (b"HTTP/1.0 200 OK\r\n\r\nthe whole body\n", 0, "the whole body\n"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, "hello"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this", 3, "only this"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0,
     "hello"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 3, "hello"),
])
def test_an_end_without_close_notify_warns_and_only_a_cut_response_fails(
        cut_server: tuple[int, list[bytes]], pem: dict[str, Path], answer: bytes, code: int,
        shown: str) -> None:
    port, answers = cut_server
    answers.append(answer)
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--http", "/")
    assert result.code == code, result.describe()
    assert result.stdout.endswith(shown), result.describe()
    assert "the server closed without close_notify (the response may be truncated)" in (
        result.stderr)
    assert ("the response is incomplete" in result.stderr) == (code == 3)
