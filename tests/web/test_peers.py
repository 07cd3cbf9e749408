"""curl and openssl s_client fetch /api/handshake from ``glasstls serve``, and the
JSON describes exactly the ClientHello each of them says it sent (curl's --trace,
s_client's -msg), for TLS 1.3 and TLS 1.2.

A missing curl or openssl skips these tests, or fails them under
GLASSTLS_REQUIRE_PEERS=1 (tests/peers.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peers import require_binary

from .webclient import PATIENCE, ServeProcess, serve_command

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One ``glasstls serve`` with the development certificate for the module."""
    with serve_command(tmp_path_factory.mktemp("serve-state"), "--quiet") as process:
        yield process


def curl_client_hello(trace: str) -> bytes:
    """The ClientHello message in ``curl --trace`` output: the first "Send SSL data"
    block after curl's "Client hello (1)" line. Each dump line is "OFFS: " and 16
    three-character byte columns, then the ASCII column."""
    lines = trace.splitlines()
    start = next(i for i, line in enumerate(lines) if "Client hello (1)" in line)
    assert lines[start + 1].startswith("=> Send SSL data"), lines[start + 1]
    data = bytearray()
    for line in lines[start + 2:]:
        if not re.match(r"^[0-9a-f]{4}: ", line):
            break
        data += bytes.fromhex(line[6:6 + 48])
    return bytes(data)


def openssl_client_hello(messages: str) -> bytes:
    """The ClientHello in ``openssl s_client -msg`` output: the hex lines under its
    ">>> ... Handshake [length ...], ClientHello" line."""
    lines = messages.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(">>>") and line.endswith("], ClientHello"))
    data = bytearray()
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        data += bytes.fromhex(line)
    return bytes(data)


def run(argv: list[str], stdin: bytes = b"") -> bytes:
    result = subprocess.run(argv, input=stdin, capture_output=True, timeout=PATIENCE,
                            check=False)
    assert result.returncode == 0, (argv, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def fetch_with_curl(served: ServeProcess, tmp_path: Path, *options: str
                    ) -> tuple[dict[str, Any], bytes]:
    curl = require_binary("curl")
    trace = tmp_path / "curl.trace"
    body = run([curl, "--silent", "--show-error", "--cacert", str(served.ca),
                "--trace", str(trace), *options, f"{served.url}api/handshake"])
    return json.loads(body), curl_client_hello(trace.read_text(errors="replace"))


def fetch_with_openssl(served: ServeProcess, tmp_path: Path, *options: str
                       ) -> tuple[dict[str, Any], bytes]:
    openssl = require_binary("openssl")
    messages = tmp_path / "openssl.msg"
    request = b"GET /api/handshake HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    output = run([openssl, "s_client", "-connect", f"127.0.0.1:{served.port}",
                  "-servername", "localhost", "-CAfile", str(served.ca), "-verify_return_error",
                  "-quiet", "-msg", "-msgfile", str(messages), *options], request)
    head, _, body = output.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return json.loads(body), openssl_client_hello(messages.read_text())


def names(entries: list[dict[str, Any]] | None) -> list[str]:
    return [entry["name"] for entry in entries or []]


def test_curl_tls13(served: ServeProcess, tmp_path: Path) -> None:
    # curl's default ALPN offers h2 first: the server picks http/1.1 and curl
    # speaks HTTP/1.1.
    report, sent = fetch_with_curl(
        served, tmp_path, "--tlsv1.3",
        "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
        "--curves", "X25519:P-256")
    hello = report["client_hello"]
    assert bytes.fromhex(hello["hex"]) == sent
    tls13_suites = [s["name"] for s in hello["cipher_suites"] if s["value"] >> 8 == 0x13]
    assert tls13_suites == ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"]
    assert names(hello["supported_groups"]) == ["x25519", "secp256r1"]
    assert names(hello["supported_versions"])[0] == "TLS 1.3"
    assert hello["alpn"] == ["h2", "http/1.1"]
    assert hello["server_name"] == "localhost"
    negotiated = report["negotiated"]
    assert negotiated["version"] == "TLSv1.3"
    assert negotiated["cipher_suite"] in tls13_suites
    assert negotiated["group"] == "x25519"
    assert negotiated["alpn"] == "http/1.1"
    assert report["request"]["user_agent"].startswith("curl/")


def test_curl_tls12(served: ServeProcess, tmp_path: Path) -> None:
    report, sent = fetch_with_curl(
        served, tmp_path, "--tlsv1.2", "--tls-max", "1.2", "--http1.1",
        "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384")
    hello = report["client_hello"]
    assert bytes.fromhex(hello["hex"]) == sent
    assert names(hello["cipher_suites"]) == [
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
    assert hello["supported_versions"] is None  # a TLS 1.2 hello
    assert hello["alpn"] == ["http/1.1"]
    negotiated = report["negotiated"]
    assert negotiated["version"] == "TLSv1.2"
    assert negotiated["cipher_suite"] in names(hello["cipher_suites"])
    assert negotiated["extended_master_secret"] is True
    assert report["ja4"]["ja4"].startswith("t12d0")


def test_openssl_tls13(served: ServeProcess, tmp_path: Path) -> None:
    report, sent = fetch_with_openssl(
        served, tmp_path, "-tls1_3", "-ciphersuites",
        "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256", "-groups", "P-256:X25519",
        "-alpn", "http/1.1")
    hello = report["client_hello"]
    assert bytes.fromhex(hello["hex"]) == sent
    assert names(hello["cipher_suites"]) == ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
                                             "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
    assert names(hello["supported_groups"]) == ["secp256r1", "x25519"]
    assert [s["group"]["name"] for s in hello["key_shares"]] == ["secp256r1"]
    assert names(hello["supported_versions"]) == ["TLS 1.3"]
    assert hello["alpn"] == ["http/1.1"]
    negotiated = report["negotiated"]
    assert negotiated["version"] == "TLSv1.3"
    assert negotiated["group"] == "secp256r1"
    assert negotiated["signature_scheme"] == "ecdsa_secp256r1_sha256"
    assert report["ja4"]["ja4"].startswith("t13d0")


def test_openssl_tls12(served: ServeProcess, tmp_path: Path) -> None:
    report, sent = fetch_with_openssl(
        served, tmp_path, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
        "-sigalgs", "ECDSA+SHA384:ECDSA+SHA256", "-curves", "X25519:P-256")
    hello = report["client_hello"]
    assert bytes.fromhex(hello["hex"]) == sent
    assert names(hello["cipher_suites"]) == ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                             "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
    assert names(hello["signature_algorithms"]) == ["ecdsa_secp384r1_sha384",
                                                   "ecdsa_secp256r1_sha256"]
    # P-256 is needed too: in TLS 1.2 the client's groups also govern the curve of
    # the server's ECDSA certificate (RFC 8422 §5.1), and OpenSSL checks that.
    assert names(hello["supported_groups"]) == ["x25519", "secp256r1"]
    assert hello["alpn"] is None
    negotiated = report["negotiated"]
    assert negotiated["version"] == "TLSv1.2"
    assert negotiated["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    assert negotiated["group"] == "x25519"
    assert negotiated["alpn"] is None
    assert report["ja4"]["ja4"].startswith("t12d0")
    assert "00_" in report["ja4"]["ja4"]  # no ALPN
