"""The report behind the page and /api/handshake, and the page rendered from it,
built from handshakes run in memory (no sockets)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import html
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls import ClientConnection, ServerConnection, TLSError
from glasstls.constants import TLS12, CertificateCompressionAlgorithm as A
from glasstls.messages.extensions import ALPN, ServerNameList, UnknownExtension
from glasstls.messages.handshake import ClientHello, serialize
from glasstls.ocsp import StapleCallback
from glasstls.trace import TraceEvent
from glasstls.web.explain import SECTIONS
from glasstls.web.page import render_page
from glasstls.web.report import HandshakeRecorder, describe_hello, handshake_report
from glasstls.web.server import web_config
from helpers import ocsp as make_ocsp
from pki import pki

from .webclient import client_config, server_config

HELLOS = json.loads((Path(__file__).parent / "data" / "client_hellos.json").read_text())
CHROMIUM = next(h for h in HELLOS["hellos"] if h["name"] == "chromium-150")


def handshake(server_options: dict[str, object] | None = None, **client: object
              ) -> tuple[ServerConnection, HandshakeRecorder, bytes]:
    """A glasstls client and a page-server connection joined in memory; returns the
    server side, its recorder and the ClientHello message exactly as the client sent it."""
    recorder = HandshakeRecorder()
    server = ServerConnection(dataclasses.replace(
        web_config(server_config(**(server_options or {}))), trace=recorder))
    connection = ClientConnection(client_config(**client), server_name="localhost")
    first_flight = connection.data_to_send()
    assert first_flight[0] == 22  # one handshake record holding the ClientHello
    sent_hello = first_flight[5:5 + int.from_bytes(first_flight[3:5], "big")]
    server.receive_data(first_flight)
    for _ in range(4):
        connection.receive_data(server.data_to_send())
        server.receive_data(connection.data_to_send())
    assert server.negotiated is not None
    return server, recorder, sent_hello


def test_report_is_the_clienthello_as_sent() -> None:
    server, recorder, sent_hello = handshake(alpn_protocols=("h2", "http/1.1"), grease=True)
    report = handshake_report(server, recorder)
    hello = report["client_hello"]
    assert bytes.fromhex(hello["hex"]) == sent_hello
    parsed = ClientHello.parse(sent_hello)
    assert [s["value"] for s in hello["cipher_suites"]] == list(parsed.cipher_suites)
    assert [e["value"] for e in hello["extensions"]] == [e.type for e in parsed.extensions]
    assert hello["cipher_suites"][0]["grease"] is True  # glasstls puts GREASE first
    assert hello["extensions"][0]["name"] == "GREASE"
    assert hello["alpn"] == ["h2", "http/1.1"]
    assert hello["server_name"] == "localhost"
    shares = {s["group"]["name"]: s["bytes"] for s in hello["key_shares"]}
    assert shares["X25519MLKEM768"] == 1216 and shares["x25519"] == 32
    assert report["negotiated"]["alpn"] == "http/1.1"  # h2 declined
    assert report["negotiated"]["group"] == "X25519MLKEM768"
    assert report["negotiated"]["post_quantum"] is True
    assert report["ja4"]["ja4"].startswith("t13d")
    json.dumps(report)  # all of it is JSON


def test_timeline_is_the_trace_in_order_with_explanations() -> None:
    server, recorder, _ = handshake()
    timeline = handshake_report(server, recorder)["timeline"]
    steps = [(s["step"], s["action"]) for s in timeline]
    assert steps[0] == ("ClientHello", "received")
    assert ("ServerHello", "sent") in steps and ("Finished", "received") in steps
    assert ("Established", "local") in steps
    assert timeline[0]["time_ms"] == 0
    times = [s["time_ms"] for s in timeline]
    assert times == sorted(times)
    for step in timeline:
        if step["action"] != "local" or step["step"] in ("KeyExchange", "KeyDerivation"):
            assert step["explanation"], step
    key_exchange = next(s for s in timeline if s["step"] == "KeyExchange")
    assert "ML-KEM" in key_exchange["explanation"]


def test_certificate_chain_with_fingerprints_and_spki_pin() -> None:
    server, recorder, _ = handshake()
    chain = handshake_report(server, recorder)["certificate_chain"]
    leaf = pki().leaf.certificate
    spki = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    assert len(chain) == 1
    assert chain[0]["common_name"] == "localhost"
    assert chain[0]["sha256"] == hashlib.sha256(
        leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert chain[0]["spki_sha256_base64"] == base64.b64encode(
        hashlib.sha256(spki).digest()).decode()


def test_tls12_report() -> None:
    server, recorder, _ = handshake(versions=(TLS12,))
    report = handshake_report(server, recorder)
    assert report["negotiated"]["version"] == "TLSv1.2"
    assert report["negotiated"]["extended_master_secret"] is True
    assert report["client_hello"]["supported_versions"] is None
    assert report["ja4"]["ja4"].startswith("t12d")
    steps = [s["step"] for s in report["timeline"]]
    assert "ServerKeyExchange" in steps and "ClientKeyExchange" in steps
    explained = {(s["step"], s["action"]): s["explanation"] for s in report["timeline"]}
    assert "PRF" in explained[("KeyDerivation", "local")]
    assert "relic" not in explained[("ChangeCipherSpec", "sent")]
    assert "TLS 1.2" in render_page(report)


def test_chromium_hello_is_described_by_name() -> None:
    hello = describe_hello(ClientHello.parse(bytes.fromhex(CHROMIUM["hex"])))
    names = [e["name"] for e in hello["extensions"]]
    assert "unknown" not in names
    assert names[0] == "GREASE" and names[-1] == "GREASE"
    assert {"encrypted_client_hello", "application_settings", "key_share"} <= set(names)
    groups = {g["name"]: g for g in hello["supported_groups"]}
    assert groups["X25519MLKEM768"]["hybrid"] is True
    assert [s["group"]["name"] for s in hello["key_shares"]] == [
        "GREASE", "X25519MLKEM768", "x25519"]
    assert hello["alpn"] == ["h2", "http/1.1"]
    suites = [s["name"] for s in hello["cipher_suites"]]
    assert suites[0] == "GREASE" and "unknown" not in suites
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in suites  # named though glasstls lacks it
    schemes = {s["name"]: s for s in hello["signature_algorithms"]}
    assert schemes["mldsa65"]["post_quantum"] is True


def test_recorder_keeps_a_bounded_handshake() -> None:
    recorder = HandshakeRecorder(limit=10)
    for index in range(1000):
        recorder(TraceEvent("ApplicationData", "server", "sent", float(index)))
        recorder(TraceEvent("KeyUpdate", "server", "sent", float(index)))
    assert len(recorder.events) == 10
    assert recorder.dropped == 990
    assert recorder.application_records == 1000


HOSTILE_NAME = b'<script>alert("sni")</script>'
HOSTILE_ALPN = b'"><img src=x onerror=alert(1)>'


def hostile_server(sni: bytes | None = None) -> tuple[ServerConnection, HandshakeRecorder]:
    """A server fed a ClientHello whose ALPN (and ``sni``, if given) are markup."""
    template = ClientHello.parse(bytes.fromhex(CHROMIUM["hex"]))
    extensions = tuple(
        ServerNameList(sni) if e.type == 0 and sni is not None else
        ALPN((HOSTILE_ALPN, b"http/1.1")) if e.type == 16 else
        UnknownExtension(0x4242, b"</pre><b>") if e.type == 0x44CD else e
        for e in template.extensions)
    hostile = dataclasses.replace(template, extensions=extensions)
    recorder = HandshakeRecorder()
    server = ServerConnection(dataclasses.replace(web_config(server_config()), trace=recorder))
    # Whatever the engine thinks of it, the page must show it safely.
    with contextlib.suppress(TLSError):
        server.receive_data(b"\x16\x03\x01" + len(serialize(hostile)).to_bytes(2, "big")
                            + serialize(hostile))
    return server, recorder


def test_page_escapes_what_the_client_sent() -> None:
    server, recorder = hostile_server()
    assert server.client_hello is not None
    page = render_page(handshake_report(server, recorder,
                                        {"request": {"user_agent": "<b>agent</b>"}}))
    assert "<img" not in page and "<b>" not in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;agent&lt;/b&gt;" in page
    assert "3c2f7072653e3c623e" in page  # the unknown extension, as hex


def test_a_server_name_that_is_markup_never_reaches_the_page() -> None:
    # RFC 6066 §3 host names only (issue 12 item 5): the hello is refused with
    # illegal_parameter before anything of it is kept.
    server, _ = hostile_server(HOSTILE_NAME)
    assert server.client_hello is None
    assert server.data_to_send() == bytes([21, 3, 3, 0, 2, 2, 47])


def test_page_is_self_contained() -> None:
    server, recorder, _ = handshake(alpn_protocols=("h2", "http/1.1"), grease=True)
    page = render_page(handshake_report(server, recorder))
    # Nothing fetched from anywhere: no script, no external reference of any kind.
    assert "<script" not in page.lower()
    assert not re.search(r"\b(src|srcset)=", page)
    assert not re.search(r"https?://", page)
    assert "url(" not in page and "@import" not in page
    assert set(re.findall(r'href="([^"]*)"', page)) == {"data:,", "/api/handshake", "/bytes"}


@pytest.mark.parametrize("section", [
    "What was negotiated", "Your ClientHello, as received", "Fingerprint (JA4)",
    "The handshake, step by step", "Certificate chain sent by the server",
])
def test_page_has_every_section(section: str) -> None:
    server, recorder, _ = handshake(alpn_protocols=("h2", "http/1.1"), grease=True)
    report = handshake_report(server, recorder)
    page = render_page(report)
    assert f">{section}</h2>" in page
    assert report["ja4"]["ja4"] in page
    for suite in report["client_hello"]["cipher_suites"]:
        assert suite["hex"] in page
    assert "post-quantum hybrid" in page
    assert "politely" in page  # h2 was offered and declined


def _row(page: str, field: str) -> str:
    match = re.search(rf'<tr data-field="{field}"><th>[^<]*</th><td>(.*?)</td></tr>', page)
    assert match is not None, field
    return match.group(1)


def test_the_page_says_what_the_ocsp_staple_says() -> None:
    # RFC 6066 §8 / RFC 8446 §4.4.2.1: the staple the server sent, by status, serial,
    # responder and dates, with the section that explains stapling.
    test_pki = pki()
    der = make_ocsp.response(test_pki.ca, test_pki.leaf.certificate)
    server, recorder, _ = handshake({"ocsp_staple": StapleCallback(lambda leaf: der)},
                                    ocsp_stapling="require")
    report = handshake_report(server, recorder)
    staple = report["negotiated"]["ocsp_staple"]
    assert staple["status"] == "good" and staple["response_bytes"] == len(der)
    assert staple["serial"] == format(test_pki.leaf.certificate.serial_number, "x")
    assert staple["responder"] == test_pki.ca.certificate.subject.rfc4514_string()
    page = render_page(report)
    words = _row(page, "ocsp_staple")
    assert words.startswith(f"stapled: serial {staple['serial']} is good; responder CN=")
    assert f"next update {staple['next_update'][:10]}" in words
    assert html.escape(SECTIONS["ocsp"]) in page


def test_the_page_says_when_no_staple_was_asked_for_or_sent() -> None:
    server, recorder, _ = handshake()
    report = handshake_report(server, recorder)
    assert report["negotiated"]["ocsp_staple"] is None
    assert _row(render_page(report), "ocsp_staple") == "none (your browser did not ask)"
    server, recorder, _ = handshake(ocsp_stapling="request")
    assert _row(render_page(handshake_report(server, recorder)), "ocsp_staple") == (
        "none (asked for, but this server has no staple)")


def test_the_page_gives_the_certificate_compression_and_both_sizes() -> None:
    server, recorder, _ = handshake(certificate_compression=(A.zstd, A.zlib))
    report = handshake_report(server, recorder)
    used = report["negotiated"]["certificate_compression"]
    assert used["algorithm"] == "zstd"  # the server's first choice the client offered
    assert 0 < used["compressed_bytes"] < used["uncompressed_bytes"]
    page = render_page(report)
    assert _row(page, "certificate_compression") == (
        f"zstd: {used['uncompressed_bytes']} bytes sent as {used['compressed_bytes']}")
    assert html.escape(SECTIONS["compression"]) in page
    server, recorder, _ = handshake(certificate_compression=())
    report = handshake_report(server, recorder)
    assert report["negotiated"]["certificate_compression"] is None
    assert _row(render_page(report), "certificate_compression") == (
        "none (your browser did not offer it)")
    server, recorder, _ = handshake(versions=(TLS12,))  # RFC 8879 is TLS 1.3 only
    assert handshake_report(server, recorder)["negotiated"]["certificate_compression"] is None
