"""Debian's Chromium against ``glasstls server --ocsp-response FILE --trace --json``:
a real browser that verifies the certificate (the test CA in an NSS database, no
flag that ignores certificate errors), asks for an OCSP staple and for brotli
certificate compression, and acts on both.

- TLS 1.3: the server's own trace shows the Certificate message sent brotli-
  compressed with both sizes, the staple inside it (RFC 8446 §4.4.2.1); a good
  staple loads the page, a revoked one is ERR_CERT_REVOKED.
- TLS 1.2: no compression (RFC 8879 is TLS 1.3 only); the staple goes in a
  CertificateStatus message (RFC 6066 §8), with the same outcomes.

Chromium's verifier acts on a stapled response even for a locally trusted CA, where
it does no online revocation checking; the revoked case shows that it read ours.

And ``glasstls serve --ocsp-response``: the page Chromium loads names the staple and
the compression, with the sizes from the server's trace.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import ocsp as make
from interop.processes import PeerProcess
from pki import pki

from .test_chromium_mldsa import chromium_with_home, nss_home
from .webclient import serve_command

pytestmark = pytest.mark.interop

TEST_PKI = pki("ecdsa-p256")
# What Chromium negotiates with a glasstls server (its preferences, glasstls's defaults).
EXPECTED = {
    "TLSv1.3": ("TLS_AES_128_GCM_SHA256", "X25519MLKEM768"),
    "TLSv1.2": ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "x25519"),
}


def _glasstls_server(tmp_path: Path, version: str, staple: Path) -> tuple[PeerProcess, int]:
    files = TEST_PKI.write(tmp_path / "pki")
    server = PeerProcess([
        sys.executable, "-m", "glasstls", "server", "--port", "0",
        "--cert", str(files["cert"]), "--key", str(files["key"]),
        "--tls1.3" if version == "TLSv1.3" else "--tls1.2",
        "--ocsp-response", str(staple), "--trace", "--json"])
    listening = server.wait_for(r'^\{"event": "listening".*"port": (\d+)')
    return server, int(listening.group(1))


def _visit(url: str, home: Path, profile: Path, api: bool = False) -> dict[str, Any]:
    """Chromium (HOME=home, its NSS database) loads ``url``: the status, Chromium's
    TLS details, the page's text and its rows of negotiated values, then (``api``)
    the page server's /api/handshake; or the navigation error."""
    with chromium_with_home(home, profile) as (sync_api, context):
        page = context.new_page()
        try:
            response = page.goto(url)
        except sync_api.Error as error:
            return {"error": str(error).splitlines()[0]}
        assert response is not None
        seen = {"status": response.status, "security": response.security_details(),
                "text": page.inner_text("body"),
                "rows": {row.get_attribute("data-field"): row.locator("td").inner_text()
                         for row in page.locator("#negotiated tr[data-field]").all()}}
        if api:
            answer = page.goto(f"{url}api/handshake")
            assert answer is not None and answer.status == 200
            seen["report"] = json.loads(answer.text())
        return seen


def _trace(server: PeerProcess) -> list[dict[str, Any]]:
    """The server's JSON trace events, of its first connection (Chromium may open more)."""
    events = [json.loads(line) for line in server.stdout.splitlines() if line.startswith("{")]
    steps = [e for e in events if e.get("event") == "trace"]
    first = steps[0]["connection"]
    return [e for e in steps if e["connection"] == first]


def _step(trace: list[dict[str, Any]], name: str, action: str) -> dict[str, Any]:
    [found] = [e for e in trace if e["step"] == name and e["action"] == action]
    return found["details"]  # type: ignore[no-any-return]


def _certificate_message_length(leaf_der: bytes, staple: bytes) -> int:
    """The TLS 1.3 Certificate message body (RFC 8446 §4.4.2) with one entry that
    carries a status_request extension holding ``staple`` (RFC 8446 §4.4.2.1)."""
    status_extension = 2 + 2 + 1 + 3 + len(staple)  # type, length, status_type, uint24
    entry = 3 + len(leaf_der) + 2 + status_extension
    return 1 + 3 + entry  # empty request context, uint24 list length


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
@pytest.mark.parametrize("status", ["good", "revoked"])
def test_chromium_reads_the_staple_and_takes_the_compressed_chain_of_a_glasstls_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, status: str) -> None:
    monkeypatch.setenv("GLASSTLS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    staple = make.response(TEST_PKI.ca, TEST_PKI.leaf.certificate, status)
    home = nss_home(tmp_path / "home", TEST_PKI.write(tmp_path / "ca")["ca"])
    server, port = _glasstls_server(tmp_path, version, make.write(tmp_path / "leaf.ocsp", staple))
    try:
        seen = _visit(f"https://localhost:{port}/", home, tmp_path / "profile")
        # Chromium has gone: its first connection's trace is complete once the
        # server reports how that connection ended.
        server.wait_for(r'^\{"event": "(?:closed|failed)".*"\[#1 ')
    finally:
        server.kill()
    trace = _trace(server)

    # The ClientHello asked for both; the server's trace names what it did.
    hello = _step(trace, "ClientHello", "received")
    assert "compress_certificate (27)" in hello["extensions"]
    assert "status_request (5)" in hello["extensions"]
    established = [e for e in trace if e["step"] == "Established"]
    suite, group = EXPECTED[version]
    assert _step(trace, "ServerHello", "sent")["cipher_suite"] == suite
    key_exchange = "ServerHello" if version == "TLSv1.3" else "ServerKeyExchange"
    assert _step(trace, key_exchange, "sent")["group"] == group
    leaf_der = TEST_PKI.certified.chain_der[0]
    if version == "TLSv1.3":
        compressed = _step(trace, "CompressedCertificate", "sent")
        assert compressed["algorithm"] == "brotli"
        assert compressed["ocsp_staple_bytes"] == len(staple)
        assert compressed["uncompressed_length"] == _certificate_message_length(leaf_der, staple)
        assert 0 < compressed["compressed_length"] < compressed["uncompressed_length"]
        assert not [e for e in trace if e["step"] == "Certificate"]
        carrier = compressed
    else:
        assert not [e for e in trace if e["step"] == "CompressedCertificate"]
        _step(trace, "Certificate", "sent")
        carrier = _step(trace, "CertificateStatus", "sent")
    # The server's trace says what the staple it sent says.
    assert (carrier["staple_status"], carrier["staple_serial"]) == (
        status, format(TEST_PKI.leaf.certificate.serial_number, "x"))

    if status == "good":
        assert seen.get("status") == 200, seen
        assert seen["security"]["protocol"] == version.replace("TLSv", "TLS ")
        assert seen["security"]["issuer"] == "glasstls test CA (ecdsa-p256)"
        # The page the server answered with, as Chromium shows it.
        assert "Hello from glasstls server." in seen["text"]
        assert "request        GET / HTTP/1.1" in seen["text"]
        assert f"cipher suite   {suite}" in seen["text"]
        assert [(e["details"]["version"], e["details"]["cipher_suite"], e["details"]["group"])
                for e in established] == [(version, suite, group)]
    else:
        assert seen == {"error": f"Page.goto: net::ERR_CERT_REVOKED at https://localhost:{port}/"}
        # Chromium says why with a fatal certificate_unknown (46) before its Finished.
        alert = _step(trace, "Alert", "received")
        assert (alert["level"], alert["description"]) == ("fatal", "certificate_unknown")
        assert not established


def test_the_page_shows_chromium_the_staple_and_the_compressed_chain(
        tmp_path: Path) -> None:
    """``glasstls serve --ocsp-response``: the page Chromium loads (verifying the
    chain and the staple itself) names the staple and the brotli compression, with the
    sizes the server's trace recorded."""
    staple = make.response(TEST_PKI.ca, TEST_PKI.leaf.certificate, "good")
    files = TEST_PKI.write(tmp_path / "pki")
    home = nss_home(tmp_path / "home", files["ca"])
    with serve_command(tmp_path / "state", "--quiet", "--cert", str(files["cert"]),
                       "--key", str(files["key"]), "--ocsp-response",
                       str(make.write(tmp_path / "leaf.ocsp", staple))) as served:
        seen = _visit(served.url, home, tmp_path / "profile", api=True)
    assert seen.get("status") == 200, seen
    assert seen["security"]["protocol"] == "TLS 1.3"
    assert seen["security"]["issuer"] == "glasstls test CA (ecdsa-p256)"
    report, rows = seen["report"], seen["rows"]
    suite, group = EXPECTED["TLSv1.3"]
    assert (rows["version"], rows["group"]) == ("TLSv1.3", group)
    negotiated = report["negotiated"]
    assert (negotiated["version"], negotiated["cipher_suite"], negotiated["group"]) == (
        "TLSv1.3", suite, group)

    # The server's trace (the page's timeline): the chain went brotli-compressed, the
    # staple inside it.
    [sent] = [e for e in report["timeline"] if e["step"] == "CompressedCertificate"]
    details = sent["details"]
    assert (sent["action"], details["algorithm"]) == ("sent", "brotli")
    assert details["uncompressed_length"] == _certificate_message_length(
        TEST_PKI.certified.chain_der[0], staple)
    assert 0 < details["compressed_length"] < details["uncompressed_length"]
    assert (details["staple_status"], details["staple_serial"]) == (
        "good", format(TEST_PKI.leaf.certificate.serial_number, "x"))
    assert negotiated["certificate_compression"] == {
        "algorithm": "brotli", "uncompressed_bytes": details["uncompressed_length"],
        "compressed_bytes": details["compressed_length"]}
    assert rows["certificate_compression"] == (
        f"brotli: {details['uncompressed_length']} bytes sent as "
        f"{details['compressed_length']}")

    # The page says what the staple says.
    assert negotiated["ocsp_staple_bytes"] == len(staple)
    assert negotiated["ocsp_staple"]["status"] == "good"
    assert rows["ocsp_staple"].startswith(
        f"stapled: serial {TEST_PKI.leaf.certificate.serial_number:x} is good; responder ")
    assert rows["ocsp_staple"].endswith(f"({len(staple)} bytes)")
