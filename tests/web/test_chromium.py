"""Debian's Chromium visits ``glasstls serve``: a real browser's handshake, shown on
the page it loads.

Chromium runs headless from /usr/bin/chromium (found on PATH; never a downloaded
browser), driven by Playwright from PyPI, with a new empty profile and the flags
below. It trusts the development certificate through its SPKI pin (base64 of the
SHA-256 of the leaf's SubjectPublicKeyInfo, printed by ``glasstls serve``). The
screenshot of the page is saved as test-artifacts/browser-handshake.png.

A missing chromium or playwright skips this test, or fails it under
GLASSTLS_REQUIRE_PEERS=1 (tests/peers.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peers import require_binary, require_module

from .webclient import serve_command

pytestmark = pytest.mark.interop

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
# Chromium's cipher suites, in its order, after a GREASE value (BoringSSL's list,
# the same for years: JA4's b part 8daaf6152771 is this list sorted and hashed).
CHROMIUM_SUITES = [
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
]


def visit(url: str, spki_pin: str, profile: Path, screenshot: Path
          ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Chromium loads the page (and saves its screenshot), then /api/handshake.
    Returns the TLS details Chromium reports, what the page shows, and the JSON."""
    chromium = require_binary("chromium")
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True,
            args=[*CHROMIUM_FLAGS, f"--ignore-certificate-errors-spki-list={spki_pin}"],
            viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            response = page.goto(url)
            assert response is not None and response.status == 200
            security = response.security_details() or {}
            shown = {
                "title": page.title(),
                "negotiated": {
                    row.get_attribute("data-field"): row.locator("td").inner_text()
                    for row in page.locator("#negotiated tr[data-field]").all()},
                "cipher_suites": [item.get_attribute("data-name") for item in
                                  page.locator("#cipher-suites li").all()],
                "key_exchange_card": page.locator(".card", has_text="Key exchange").inner_text(),
            }
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            api = page.goto(f"{url}api/handshake")
            assert api is not None and api.status == 200
            report = json.loads(api.text())
        finally:
            context.close()
    return dict(security), shown, report


def test_chromium_sees_its_own_handshake(tmp_path: Path) -> None:
    with serve_command(tmp_path / "state") as served:  # the banner has the SPKI pin
        security, shown, report = visit(served.url, served.spki_pin, tmp_path / "profile",
                                        ARTIFACTS / "browser-handshake.png")

    # Chromium itself says the page came over TLS 1.3, from the development certificate.
    assert security["protocol"] == "TLS 1.3"
    assert security["subjectName"] == "localhost"
    assert security["issuer"] == "glasstls development CA"

    # The page shows the post-quantum hybrid group negotiated, and Chromium's suites.
    assert shown["title"] == "Your browser\u2019s handshake \u2014 glasstls"
    assert shown["negotiated"]["version"] == "TLSv1.3"
    assert shown["negotiated"]["group"] == "X25519MLKEM768"
    assert "X25519MLKEM768" in shown["key_exchange_card"]
    assert "post-quantum hybrid" in shown["key_exchange_card"]
    assert shown["cipher_suites"][0] == "GREASE"
    assert shown["cipher_suites"][1:] == CHROMIUM_SUITES

    # The JSON (fetched by Chromium too) tells the same, and what Chromium offered.
    hello = report["client_hello"]
    assert [s["name"] for s in hello["cipher_suites"]] == shown["cipher_suites"]
    groups = [g["name"] for g in hello["supported_groups"]]
    assert groups[0] == "GREASE" and groups[1] == "X25519MLKEM768"  # offered first
    shares = {s["group"]["name"]: s["bytes"] for s in hello["key_shares"]}
    assert shares["X25519MLKEM768"] == 1216  # ML-KEM-768 key (1184) + X25519 (32)
    assert hello["alpn"] == ["h2", "http/1.1"]
    assert hello["server_name"] == "localhost"
    assert report["negotiated"]["alpn"] == "http/1.1"  # h2 politely declined
    assert report["negotiated"]["post_quantum"] is True
    assert "Chrome/" in report["request"]["user_agent"]
    # Chromium offers brotli certificate compression (RFC 8879) and OCSP stapling; the
    # server sent its chain compressed, its trace says how small, and the page says so.
    assert hello["compress_certificate"] == ["brotli"] and hello["status_request"]
    [sent] = [e for e in report["timeline"] if e["step"] == "CompressedCertificate"]
    assert sent["action"] == "sent" and sent["details"]["algorithm"] == "brotli"
    sizes = sent["details"]["uncompressed_length"], sent["details"]["compressed_length"]
    assert 0 < sizes[1] < sizes[0]
    assert report["negotiated"]["certificate_compression"] == {
        "algorithm": "brotli", "uncompressed_bytes": sizes[0], "compressed_bytes": sizes[1]}
    assert shown["negotiated"]["certificate_compression"] == (
        f"brotli: {sizes[0]} bytes sent as {sizes[1]}")
    assert shown["negotiated"]["ocsp_staple"] == "none (asked for, but this server has no staple)"
    assert report["ja4"]["ja4"].startswith("t13d15")
    assert report["ja4"]["ja4"].split("_")[1] == "8daaf6152771"
    assert (ARTIFACTS / "browser-handshake.png").stat().st_size > 10_000
