"""How events are shown: labels, certificate chains, secrets and fingerprints,
colour only on a terminal, one JSON object per line."""

from __future__ import annotations

import io
import json

import pytest

from glasstls import trace as t
from glasstls.cli.render import (
    JsonView,
    Output,
    Segment,
    TextView,
    event_lines,
    fingerprint,
    key_words,
    open_view,
    redact,
    wants_color,
)
from glasstls.trace import TraceEvent

CERTIFICATE = {"subject": "CN=localhost,O=x", "common_name": "localhost", "issuer": "CN=CA,O=x",
               "key": "RSA 2048", "not_before": "2025-01-01T00:00:00+00:00",
               "not_after": "2027-01-01T00:00:00+00:00", "san": ["localhost", "127.0.0.1"],
               "serial": "1f"}


def plain(lines: list[list[Segment]]) -> list[str]:
    return ["".join(s[0] if isinstance(s, tuple) else str(s) for s in line).rstrip()
            for line in lines]


def test_fingerprints_identify_a_value_without_revealing_it() -> None:
    secret = "ab" * 32
    assert fingerprint(secret) == fingerprint(secret) != fingerprint("ac" * 32)
    assert len(fingerprint(secret)) == 16 and fingerprint(secret) not in secret
    event = TraceEvent(t.KEY_EXCHANGE, "client", t.LOCAL, 1.0, {"group": "x25519"},
                       {"shared_secret": secret})
    shown, prints = redact(event, show_secrets=False)
    assert shown.secrets == {} and prints == {"shared_secret": fingerprint(secret)}
    assert redact(event, show_secrets=True) == (event, {})


def test_certificate_chain_lines_name_subject_issuer_key_size_validity_and_san() -> None:
    text = "\n".join(plain(event_lines(t.CERTIFICATE, {"chain": [CERTIFICATE]}, {}, {})))
    assert "certificate 0           CN=localhost,O=x" in text
    assert "issuer                CN=CA,O=x" in text
    assert "RSA 2048-bit" in text
    assert "2025-01-01 00:00 to 2027-01-01 00:00 UTC" in text
    assert "SAN                   localhost, 127.0.0.1" in text


def test_key_sizes_are_spelled_out() -> None:
    assert key_words("ECDSA secp384r1") == "ECDSA secp384r1 (384-bit)"
    assert key_words("RSA 3072") == "RSA 3072-bit"
    assert key_words("Ed25519") == "Ed25519 (256-bit)"


def test_derived_keys_show_lengths_then_values_or_fingerprints() -> None:
    details = {"stage": "master secret and key block",
               "derived": {"master_secret": 48, "client_write_key": 16}}
    secrets = {"master_secret": "11" * 48, "client_write_key": "22" * 16}
    shown = plain(event_lines(t.KEY_DERIVATION, details, secrets, {}))
    assert any(line.split() == ["master_secret", "48", "bytes", "11" * 48] for line in shown)
    hidden = plain(event_lines(t.KEY_DERIVATION, details, {},
                               {"client_write_key": "0123456789abcdef"}))
    assert any(line.split() == ["client_write_key", "16", "bytes", "fingerprint",
                                "0123456789abcdef"] for line in hidden)
    assert any(line.split() == ["master_secret", "48", "bytes"] for line in hidden)


def test_long_hex_is_folded_and_byte_counts_join_their_value() -> None:
    details = {"encrypted_pre_master_secret_bytes": 256,
               "encrypted_pre_master_secret": "ab" * 256}
    lines = plain(event_lines(t.CLIENT_KEY_EXCHANGE, details, {}, {}))
    assert lines[0] == "encrypted pre master secret (256 bytes)"
    assert len(lines) == 1 + 512 // 64 and all(len(line.strip()) == 64 for line in lines[1:])


def test_client_hello_values_come_in_a_readable_order() -> None:
    details = {"legacy_version": "0x0303", "random": "00" * 32, "cipher_suites": ["A", "B"],
               "supported_versions": ["TLS 1.3"], "key_shares": [{"group": "x25519",
                                                                 "bytes": 32}]}
    labels = [line.split("  ")[0] for line in plain(event_lines(t.CLIENT_HELLO, details, {},
                                                                 {}))]
    assert labels == ["versions", "cipher suites", "key shares", "random", "legacy version"]
    assert "x25519 (32 bytes)" in "\n".join(plain(event_lines(t.CLIENT_HELLO, details, {},
                                                              {})))


def test_text_view_header_has_time_side_action_step_and_direction() -> None:
    stream = io.StringIO()
    view = TextView(Output(stream, color=False), origin=10.0)
    view.event(TraceEvent(t.FINISHED, "server", t.RECEIVED, 10.0025, {"result": "verified"}))
    header, detail = stream.getvalue().splitlines()
    assert header.split() == ["2.500", "ms", "server", "received", "Finished", "client",
                              "->", "server"]
    assert detail.split() == ["result", "verified"]


def test_colour_only_when_asked_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    stream = io.StringIO()
    TextView(Output(stream, color=True)).event(TraceEvent(t.ALERT, "client", t.SENT, 0.0, {
        "level": "fatal", "description": "unknown_ca"}))
    assert "\x1b[" in stream.getvalue() and "→" in stream.getvalue()
    assert wants_color(io.StringIO()) is False  # not a terminal
    monkeypatch.setenv("NO_COLOR", "1")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_color(Terminal()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    assert wants_color(Terminal()) is True


def test_json_view_writes_one_object_per_line() -> None:
    stream = io.StringIO()
    view = open_view(stream, json_lines=True)
    assert isinstance(view, JsonView)
    view.event(TraceEvent(t.CLIENT_HELLO, "client", t.SENT, 5.0, {"random": "00"}),
               label="#1")
    view.exchange(6.0, "client->server", "HTTP request", "GET /")
    view.summary([("version", "TLSv1.3")], {"negotiated": {"version": "TLSv1.3"}})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0] == {"event": "trace", "step": "ClientHello", "side": "client",
                        "action": "sent", "direction": "client->server", "timestamp": 5.0,
                        "details": {"random": "00"}, "connection": 0, "label": "#1"}
    assert lines[1]["event"] == "exchange" and lines[1]["text"] == "GET /"
    assert lines[2] == {"event": "summary", "negotiated": {"version": "TLSv1.3"}}
