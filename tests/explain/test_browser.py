"""The explain page in a real browser, and a real browser's connection explained.

1. The HTML page opens in headless Chromium (Debian's /usr/bin/chromium driven by
   Playwright) with nothing fetched; hovering a field highlights exactly its
   bytes, hovering a byte highlights its field, hovering a key highlights the
   records it protects. The screenshot goes to test-artifacts/explain-page.png
   (docs/screenshot-explain.png is one of these).
2. Chromium visits ``glasstls serve`` (and its /bytes view) while dumpcap captures
   the loopback; ``glasstls explain --pcap`` with the server's key log decrypts
   every record of every connection Chromium made.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from glasstls.cli.main import main
from glasstls.explain.html import render_html
from glasstls.explain.recorder import Recorder
from helpers.pump import client_config, server_config
from peers import require_binary, require_module
from pki import pki

from .checks import exchange
from .loopback import capture, free_port

pytestmark = pytest.mark.interop

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")


@contextlib.contextmanager
def chromium(*flags: str) -> Any:
    executable = require_binary("chromium")
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=[*CHROMIUM_FLAGS, *flags])
        try:
            yield browser
        finally:
            browser.close()


def test_hovering_a_field_highlights_its_bytes_and_a_byte_its_field(tmp_path: Path) -> None:
    recorder, key = Recorder(), pki("ecdsa-p256")
    exchange(client_config(key, recorder=recorder), server_config(key, recorder=recorder),
             recorder)
    explained = recorder.recordings[0].explain()
    page_path = tmp_path / "explain.html"
    page_path.write_text(render_html([("glasstls client \u2192 glasstls server", explained)]))
    hello = next(m for m in explained.messages if m.name == "ClientHello")
    random = hello.tree.find("random")
    assert random is not None

    requested: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(page_path.as_uri())
        # Hover the ClientHello's random in the tree: its 32 bytes, and only they, light up.
        page.locator(f'li[data-id="c0-{random.id}"] > div').hover()
        lit = page.locator(".b.hl")
        assert lit.count() == 32
        assert "".join(lit.all_inner_texts()) == hello.raw[6:38].hex()
        assert page.locator(f'#c0-record-0 .b[data-f="c0-{random.id}"].hl').count() == 32
        page.screenshot(path=str(ARTIFACTS / "explain-page.png"))
        # Hover one byte of the ClientHello's cipher suites: its field lights up.
        suite = hello.tree.find("cipher_suite")
        assert suite is not None
        page.locator(f'.b[data-f="c0-{suite.id}"]').first.hover()
        lit_fields = page.locator(".tree li > div.hl")
        assert lit_fields.count() == 1
        assert lit_fields.first.inner_text().startswith("cipher_suite")
        # Hover the key that protects the server's flight: that record lights up.
        page.locator('.step[data-name="c0-server_handshake_traffic_secret: key"]').hover()
        protected = explained.steps.get("server_handshake_traffic_secret: key")
        assert protected is not None and protected.protects
        record = page.locator(f"#c0-record-{protected.protects[0]} .b")
        assert record.count() > 0 and record.count() == page.locator(".b.hl").count()
    assert [url for url in requested if not url.startswith("file://")] == []
    assert (ARTIFACTS / "explain-page.png").stat().st_size > 20_000


def test_explain_pcap_decrypts_chromiums_whole_connection_to_glasstls_serve(
        tmp_path: Path) -> None:
    from web.webclient import ServeProcess, serve_argv, serve_environment

    port = free_port()
    keylog = tmp_path / "server-keys.log"
    env = serve_environment(tmp_path / "state")
    env["SSLKEYLOGFILE"] = str(keylog)  # the server logs every connection's secrets
    with capture(tmp_path / "chromium.pcapng", port) as path:
        process = subprocess.Popen(serve_argv("--port", str(port)),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=env)
        served = ServeProcess(process, tmp_path / "state")
        try:
            served.banner  # noqa: B018 - waits until the server listens
            with chromium(f"--ignore-certificate-errors-spki-list={served.spki_pin}") as browser:
                page = browser.new_page()
                response = page.goto(f"https://localhost:{port}/")
                assert response is not None and response.status == 200
                page.click("#bytes-link")
                page.wait_for_load_state()
                assert "Your connection, byte by byte" in page.content()
                assert page.locator(".tree li", has_text="ClientHello").count() >= 1
        finally:
            served.stop()

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["explain", "--pcap", str(path), "--keylog", str(keylog),
                       "--port", str(port), "--json"])
    assert status == 0
    connections = json.loads(stdout.getvalue())["connections"]
    assert connections
    requests = b""
    for connection in connections:
        summary = connection["summary"]
        assert summary["undecrypted_records"] == 0, connection["records"]
        records = connection["records"]
        protected = [r for r in records if r["protection"]]
        assert protected and all(r["plaintext"] is not None for r in protected)
        requests += b"".join(bytes.fromhex(r["plaintext"]) for r in records
                             if r["sender"] == "client" and r["content_type"] == 23)
        hello = next(m for m in connection["messages"] if m["name"] == "ClientHello")
        assert '"grease": true' in json.dumps(hello["fields"])  # Chromium sends GREASE
        assert summary["version"] == "0x0304 TLS 1.3"
        assert "X25519MLKEM768" in summary["group"]
    assert b"GET / HTTP/1.1" in requests and b"GET /bytes HTTP/1.1" in requests
    assert b"Chrome/" in requests
