"""``glasstls explain`` as people run it: a live connection to a URL (text, JSON,
HTML), ``--server`` explaining the connection it accepts, ``--pcap`` errors, and
``glasstls demo --explain`` (both sides of a local connection, RSA included)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_glasstls, start_glasstls

from explain.loopback import http_responder
from glasstls import CertifiedKey, ServerConfig, TLSServer, serve
from pki import pki

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"


@pytest.fixture
def https_server() -> Iterator[int]:
    key = pki("ecdsa-p256")
    config = ServerConfig(certificates=(CertifiedKey((key.leaf.certificate,), key.leaf.key),))
    server: TLSServer = serve(("127.0.0.1", 0), http_responder(RESPONSE), timeout=30,
                              config=config)
    yield server.address[1]
    server.close(abort_connections=True)


def test_explain_url_prints_every_record_and_the_key_schedule(
        https_server: int, pem: dict[str, Path]) -> None:
    result = run_glasstls("explain", f"https://localhost:{https_server}/index.html",
                          "--cafile", str(pem["ca"]))
    assert result.code == 0, result.describe()
    out = result.stdout
    assert out.startswith(f"== https://localhost:{https_server}/index.html\n")
    assert "glasstls explain: 0x0304 TLS 1.3" in out
    assert re.search(r"^#0  client \u2192 server  handshake", out, re.MULTILINE)
    assert "ClientHello \u2014" in out and "(RFC 8446 §4.1.2)" in out
    assert "GET /index.html HTTP/1.1" in out and "HTTP/1.1 200 OK" in out
    assert "handshake_secret = HKDF-Extract" in out and "matches the key log" in out
    assert "verified: equals HMAC(finished_key, transcript hash)" in out
    assert "sha256:" in out  # fingerprints, not secrets


def test_explain_url_as_json_and_as_one_html_page(https_server: int, pem: dict[str, Path],
                                                  tmp_path: Path) -> None:
    url = f"https://localhost:{https_server}/"
    result = run_glasstls("explain", url, "--cafile", str(pem["ca"]), "--json",
                          "--show-secrets", "--tls1.2")
    assert result.code == 0, result.describe()
    (connection,) = json.loads(result.stdout)["connections"]
    assert connection["summary"]["version"] == "0x0303 TLS 1.2"
    steps = {step["name"]: step for step in connection["key_schedule"]}
    assert len(bytes.fromhex(steps["master_secret"]["output"])) == 48
    assert connection["secrets_shown"] is True
    page = tmp_path / "page.html"
    result = run_glasstls("explain", url, "--cafile", str(pem["ca"]), "--html", str(page))
    assert result.code == 0, result.describe()
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "ServerKeyExchange" not in html
    assert "<script>" in html and not re.search(r"(src|href)=\"https?:", html)


def test_explain_url_shows_a_failed_handshake_up_to_the_alert(https_server: int) -> None:
    # No --cafile: the test CA is not trusted, so the client refuses the certificate.
    result = run_glasstls("explain", f"https://localhost:{https_server}/")
    assert result.code == 5, result.describe()
    assert "certificate rejected" in result.stderr
    out = result.stdout
    assert out.startswith(f"== https://localhost:{https_server}/\n")
    assert re.search(r"^#0  client \u2192 server  handshake", out, re.MULTILINE)
    assert "Certificate" in out
    # Encrypted: a TLS 1.3 client writes with its handshake keys once it has them.
    assert re.search(r"client \u2192 server  alert \(encrypted\), 2 bytes, protected by "
                     r"client_handshake_traffic_secret", out), out[-2000:]
    assert "fatal unknown_ca" in out


def test_explain_url_names_the_server_it_could_not_reach() -> None:
    from interop.processes import free_port

    port = free_port()
    result = run_glasstls("explain", f"https://localhost:{port}/")
    assert result.code == 3, result.describe()
    assert f"connection refused by localhost:{port}" in result.stderr
    assert result.stdout == ""


def test_explain_server_explains_the_connection_it_accepts(pem: dict[str, Path]) -> None:
    from interop.processes import free_port

    port = free_port()
    server = start_glasstls("explain", "--server", "--port", str(port), "--count", "1",
                            "--cert", str(pem["cert"]), "--key", str(pem["key"]), "--brief")
    server.wait_for("explaining connections to")
    client = run_glasstls("client", f"127.0.0.1:{port}", "--servername", "localhost",
                          "--cafile", str(pem["ca"]), "--http", "/explained")
    assert client.code == 0, client.describe()
    assert server.wait(timeout=60) == 0, server.describe()
    out = server.stdout
    assert "recorded by the glasstls server" in out
    assert "GET /explained HTTP/1.1" in out
    assert "shared_secret = given" in out and "[engine]" in out


def test_explain_server_shows_a_connection_whose_handshake_failed(pem: dict[str, Path]) -> None:
    from interop.processes import free_port

    port = free_port()
    server = start_glasstls("explain", "--server", "--port", str(port), "--count", "2",
                            "--cert", str(pem["cert"]), "--key", str(pem["key"]), "--brief")
    server.wait_for("explaining connections to")
    # A client that sends nothing is not a connection to explain (nor counted).
    socket.create_connection(("127.0.0.1", port)).close()
    # A client that does not trust the server's CA refuses it: unknown_ca.
    refused = run_glasstls("client", f"127.0.0.1:{port}", "--servername", "localhost",
                           "--http", "/")
    assert refused.code == 5, refused.describe()
    client = run_glasstls("client", f"127.0.0.1:{port}", "--servername", "localhost",
                          "--cafile", str(pem["ca"]), "--http", "/explained")
    assert client.code == 0, client.describe()
    assert server.wait(timeout=60) == 0, server.describe()
    shown = re.findall(r"^== (.*)$", server.stdout, re.MULTILINE)
    assert len(shown) == 2, shown
    failed, served = server.stdout.split(f"== {shown[1]}")
    assert shown[0].endswith(": the handshake failed")
    assert "alert \u2014 fatal unknown_ca" in failed and "Certificate" in failed
    assert "from 127.0.0.1:" in shown[1] and "GET /explained HTTP/1.1" in served


def test_explain_without_a_source_or_with_a_missing_capture_is_a_usage_error(
        tmp_path: Path) -> None:
    result = run_glasstls("explain")
    assert result.code == 2 and "give a URL, --server or --pcap" in result.stderr
    result = run_glasstls("explain", "--pcap", str(tmp_path / "none.pcap"))
    assert result.code == 2 and "none.pcap" in result.stderr


def test_demo_explain_shows_the_rsa_decryption_by_the_server() -> None:
    result = run_glasstls("demo", "--tls1.2", "--rsa-key-exchange", "--explain")
    assert result.code == 0, result.describe()
    out = result.stdout
    assert "glasstls explain: 0x0303 TLS 1.2, 0x009c TLS_RSA_WITH_AES_128_GCM_SHA256" in out
    assert "EncryptedPreMasterSecret" in out
    assert "pre_master_secret = RSA decryption" in out
    assert "starts with client_version 0303" in out
    assert "recorded different" not in out


def test_demo_without_explain_prints_no_bytes() -> None:
    result = run_glasstls("demo")
    assert result.code == 0 and "glasstls explain:" not in result.stdout


@pytest.mark.parametrize("version", ["--tls1.3", "--tls1.2"])
def test_explain_server_and_url_with_an_ocsp_staple_and_compression(
        pem: dict[str, Path], tmp_path: Path, version: str) -> None:
    # explain --server staples (--ocsp-response) and explain URL asks for it
    # (--ocsp): both explanations show what the staple says; in TLS 1.3 the chain
    # goes compressed with the one codec both allow.
    from helpers import ocsp as make_ocsp
    from interop.processes import free_port

    staple = make_ocsp.write(tmp_path / "leaf.ocsp", make_ocsp.response(
        pki("ecdsa-p256").ca, pki("ecdsa-p256").leaf.certificate))
    port = free_port()
    server = start_glasstls("explain", "--server", "--port", str(port), "--count", "1",
                            "--cert", str(pem["cert"]), "--key", str(pem["key"]), "--brief",
                            "--ocsp-response", str(staple), "--certificate-compression", "zlib")
    server.wait_for("explaining connections to")
    client = run_glasstls("explain", f"https://localhost:{port}/", "--cafile", str(pem["ca"]),
                          "--ocsp", "require", "--certificate-compression", "zstd,zlib",
                          "--brief", version)
    assert client.code == 0, client.describe()
    assert server.wait(timeout=60) == 0, server.describe()
    serial = format(pki("ecdsa-p256").leaf.certificate.serial_number, "x")
    for out in (client.stdout, server.stdout):
        assert f"OCSP response: serial {serial} is good; responder CN=glasstls test CA" in out
        assert ("Certificate compressed with zlib" in out) == (version == "--tls1.3")
