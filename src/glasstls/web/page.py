"""The HTML page, rendered on the server from the ``/api/handshake`` report.

Self-contained: one document with its style inline, no script, no font, no image,
nothing fetched from anywhere, so that it works offline. Every value that came
from the visitor (server name, ALPN strings, User-Agent...) or from the trace
passes through ``_e`` (HTML escaping, quotes included) before it is written.
"""

from __future__ import annotations

import html
from typing import Any

from ..ocsp import summary_of
from .explain import SECTIONS, post_quantum_note

_STYLE = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#dde2ea; --bg:#f6f7f9; --card:#fff;
  --accent:#1f5fbf; --pq:#0b7a4b; --pq-bg:#e3f6ec; --grease:#8a5a00; --grease-bg:#fff3d6;
  --chosen-bg:#e6efff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 28px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
section, header { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 18px 20px; margin: 0 0 18px; }
p.explain { color: var(--muted); margin: 0 0 12px; max-width: 860px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 10px;
  margin-top: 14px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-weight: 600; word-break: break-word; }
.card.wide { grid-column: span 2; }
table.facts th { width: 30%; }
.badge { display: inline-block; font-size: 11px; font-weight: 600; padding: 1px 6px;
  border-radius: 9px; margin-left: 6px; vertical-align: 1px; }
.badge.pq { background: var(--pq-bg); color: var(--pq); }
.badge.grease { background: var(--grease-bg); color: var(--grease); }
.badge.chosen { background: var(--accent); color: #fff; }
.badge.other { background: #eceff4; color: var(--muted); }
li.grease, tr.grease td { color: var(--grease); }
li.chosen, tr.chosen td { background: var(--chosen-bg); }
li.pq, tr.pq td { background: var(--pq-bg); }
ol.codes { margin: 0; padding-left: 2.4em; columns: 2 420px; }
ol.codes li { padding: 1px 4px; break-inside: avoid; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 13px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
.fingerprint { font-size: 22px; font-weight: 700; letter-spacing: .02em; }
.timeline td.time { white-space: nowrap; text-align: right; color: var(--muted); }
.timeline td.arrow { white-space: nowrap; font-weight: 600; }
.timeline td.explain { color: var(--muted); width: 42%; }
.timeline .summary { color: var(--muted); font-size: 13px; word-break: break-word; }
details pre { white-space: pre-wrap; word-break: break-all; font-size: 12px; }
footer { color: var(--muted); font-size: 13px; text-align: center; }
.pqnote { border-left: 4px solid var(--pq); background: var(--pq-bg); padding: 8px 12px;
  border-radius: 4px; margin: 10px 0 0; }
"""

_ARROWS = {"client->server": "browser \u2192 server", "server->client": "server \u2192 browser",
           "": "on the server"}


def _e(value: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def _badges(entry: dict[str, Any], chosen: str | None = None) -> str:
    out = ""
    if entry.get("grease"):
        out += '<span class="badge grease">GREASE</span>'
    if entry.get("hybrid"):
        out += '<span class="badge pq">post-quantum hybrid</span>'
    elif entry.get("post_quantum"):
        out += '<span class="badge pq">post-quantum</span>'
    if chosen is not None and entry.get("name") == chosen:
        out += '<span class="badge chosen">chosen</span>'
    return out


def _row_class(entry: dict[str, Any], chosen: str | None = None) -> str:
    classes = []
    if entry.get("grease"):
        classes.append("grease")
    if chosen is not None and entry.get("name") == chosen:
        classes.append("chosen")
    elif entry.get("post_quantum"):
        classes.append("pq")
    return f' class="{" ".join(classes)}"' if classes else ""


def _code_list(entries: list[dict[str, Any]] | None, chosen: str | None = None,
               what: str = "", list_id: str = "") -> str:
    if not entries:
        return f"<p>No {_e(what)} offered.</p>"
    items = "".join(
        f'<li{_row_class(entry, chosen)} data-name="{_e(entry["name"])}">{_e(entry["name"])} '
        f"<code>{_e(entry['hex'])}</code>{_badges(entry, chosen)}</li>"
        for entry in entries)
    return f'<ol class="codes" id="{_e(list_id)}">{items}</ol>'


def _card(label: str, value: str, badge: str = "", wide: bool = False) -> str:
    return (f'<div class="card{" wide" if wide else ""}"><div class="label">{_e(label)}</div>'
            f'<div class="value">{value}{badge}</div></div>')


def _or_none(value: object) -> str:
    return _e(value) if value not in (None, "", []) else "<em>none</em>"


def _summary(report: dict[str, Any]) -> str:
    negotiated = report.get("negotiated") or {}
    fingerprint = (report.get("ja4") or {}).get("ja4", "")
    pq = '<span class="badge pq">post-quantum hybrid</span>' if negotiated.get(
        "post_quantum") else ""
    cards = "".join([
        _card("Protocol", _or_none(negotiated.get("version"))),
        _card("Cipher suite", _or_none(negotiated.get("cipher_suite"))),
        _card("Key exchange", _or_none(negotiated.get("group")), pq),
        _card("Server signature", _or_none(negotiated.get("signature_scheme"))),
        _card("Application protocol", _or_none(negotiated.get("alpn"))),
        _card("Session", "resumed" if negotiated.get("resumed") else "new (full handshake)"),
        _card("JA4 fingerprint", f'<span class="mono">{_e(fingerprint)}</span>', wide=True),
    ])
    return (f"<header><h1>Your browser\u2019s handshake</h1>"
            f'<p class="explain">{_e(SECTIONS["summary"])}</p>'
            f'<div class="cards">{cards}</div></header>')


def _negotiated(report: dict[str, Any]) -> str:
    negotiated = report.get("negotiated")
    if not negotiated:
        return ""
    rows = [
        ("version", "Version", negotiated["version"]),
        ("cipher_suite", "Cipher suite", negotiated["cipher_suite"]),
        ("key_exchange", "Key exchange", negotiated["key_exchange"]),
        ("group", "Group", negotiated["group"]),
        ("signature_scheme", "Server signature scheme", negotiated["signature_scheme"]),
        ("alpn", "ALPN", negotiated["alpn"]),
        ("server_name", "Server name (SNI)", negotiated["server_name"]),
        ("resumed", "Resumed", "yes" if negotiated["resumed"] else "no"),
    ]
    if negotiated.get("extended_master_secret") is not None:
        rows.append(("extended_master_secret", "Extended master secret",
                     "yes" if negotiated["extended_master_secret"] else "no"))
    hello = report.get("client_hello") or {}
    rows.append(("certificate_compression", "Certificate compression",
                 _compression_words(negotiated, hello)))
    rows.append(("ocsp_staple", "OCSP staple", _ocsp_words(negotiated, hello)))
    body = "".join(f'<tr data-field="{field}"><th>{_e(label)}</th><td>{_or_none(value)}</td></tr>'
                   for field, label, value in rows)
    note = ""
    if negotiated.get("post_quantum"):
        note = f'<p class="pqnote">{_e(post_quantum_note(str(negotiated.get("group"))))}</p>'
    if negotiated.get("certificate_compression"):
        note += f'<p class="explain">{_e(SECTIONS["compression"])}</p>'
    if negotiated.get("ocsp_staple_bytes"):
        note += f'<p class="explain">{_e(SECTIONS["ocsp"])}</p>'
    alpn_note = ""
    if "h2" in (hello.get("alpn") or []) and negotiated.get("alpn") != "h2":
        alpn_note = ('<p class="explain">Your browser offered HTTP/2 (<code>h2</code>); this '
                     "server speaks only HTTP/1.1, so it picked <code>http/1.1</code> from "
                     "your list and politely left h2 aside.</p>")
    resumed = (f'<p class="explain">{_e(SECTIONS["resumed"])}</p>'
               if negotiated.get("resumed") else "")
    return (f'<section id="negotiated"><h2>What was negotiated</h2>'
            f'<p class="explain">{_e(SECTIONS["negotiated"])}</p>'
            f'<table class="facts">{body}</table>{note}{alpn_note}{resumed}</section>')


def _compression_words(negotiated: dict[str, Any], hello: dict[str, Any]) -> str:
    used = negotiated.get("certificate_compression")
    if used:
        return (f"{used['algorithm']}: {used['uncompressed_bytes']} bytes sent as "
                f"{used['compressed_bytes']}")
    offered = hello.get("compress_certificate")
    if negotiated.get("resumed"):
        return "none (no certificate was sent)"
    if offered:
        return f"none (your browser offered {', '.join(offered)})"
    return "none (your browser did not offer it)"


def _ocsp_words(negotiated: dict[str, Any], hello: dict[str, Any]) -> str:
    staple = negotiated.get("ocsp_staple")
    if staple:
        return "stapled: " + summary_of(staple)
    if not hello.get("status_request"):
        return "none (your browser did not ask)"
    return "none (asked for, but this server has no staple)"


def _client_hello(report: dict[str, Any]) -> str:
    hello = report.get("client_hello")
    if not hello:
        return ""
    negotiated = report.get("negotiated") or {}
    versions = hello.get("supported_versions")
    version_text = ", ".join(
        f"{v['name']} ({v['hex']})" for v in versions) if versions else "not sent"
    facts = [
        ("Size", f"{hello['bytes']} bytes"),
        ("Legacy version", f"{hello['legacy_version']['name']} "
                           f"({hello['legacy_version']['hex']})"),
        ("Supported versions", version_text),
        ("Server name (SNI)", hello.get("server_name") or "not sent"),
        ("ALPN", ", ".join(hello["alpn"]) if hello.get("alpn") else "not sent"),
        ("Session id", f"{len(hello['legacy_session_id']) // 2} bytes"),
        ("PSK identities (resumption)",
         str(hello["pre_shared_key_identities"])
         if hello.get("pre_shared_key_identities") is not None else "none"),
    ]
    fact_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    shares = hello.get("key_shares")
    share_rows = "".join(
        f"<tr{_row_class(s['group'], negotiated.get('group'))}><td>{_e(s['group']['name'])} "
        f"<code>{_e(s['group']['hex'])}</code>{_badges(s['group'], negotiated.get('group'))}"
        f"</td><td>{_e(s['bytes'])} bytes</td></tr>" for s in shares or [])
    share_html = (f"<table><tr><th>Group</th><th>Public key share</th></tr>{share_rows}</table>"
                  if shares else "<p>No key shares (a TLS 1.2 client).</p>")
    extension_rows = "".join(
        f"<tr{_row_class(x)}><td>{i}</td><td>{_e(x['name'])}{_badges(x)}</td>"
        f"<td><code>{_e(x['value'])}</code></td><td><code>{_e(x['hex'])}</code></td>"
        f"<td>{_e(x['bytes'])}</td></tr>"
        for i, x in enumerate(hello["extensions"], 1))
    cert_schemes = hello.get("signature_algorithms_cert")
    cert_schemes_html = (
        f"<h3>Signature algorithms for certificates "
        f"({len(cert_schemes)})</h3>{_code_list(cert_schemes, list_id='certificate-schemes')}"
        if cert_schemes else "")
    suites = hello["cipher_suites"]
    suites_html = _code_list(suites, negotiated.get("cipher_suite"), "cipher suites",
                             "cipher-suites")
    groups_html = _code_list(hello.get("supported_groups"), negotiated.get("group"), "groups",
                             "supported-groups")
    schemes_html = _code_list(hello.get("signature_algorithms"),
                              negotiated.get("signature_scheme"), "signature algorithms",
                              "signature-algorithms")
    return (
        f'<section id="client-hello"><h2>Your ClientHello, as received</h2>'
        f'<p class="explain">{_e(SECTIONS["client_hello"])}</p>'
        f'<dl class="facts">{fact_html}</dl>'
        f"<h3>Cipher suites ({len(suites)}, in your order)</h3>"
        f'<p class="explain">{_e(SECTIONS["grease"])}</p>'
        f"{suites_html}"
        f"<h3>Supported groups ({len(hello.get('supported_groups') or [])})</h3>"
        f"{groups_html}"
        f"<h3>Key shares</h3>{share_html}"
        f"<h3>Signature algorithms ({len(hello.get('signature_algorithms') or [])})</h3>"
        f"{schemes_html}"
        f"{cert_schemes_html}"
        f"<h3>Extensions ({len(hello['extensions'])}, in order)</h3>"
        f"<table><tr><th>#</th><th>Extension</th><th>Number</th><th>Hex</th><th>Bytes</th>"
        f"</tr>{extension_rows}</table>"
        f"<details><summary>The ClientHello\u2019s bytes (hex)</summary>"
        f'<pre class="mono">{_e(hello["hex"])}</pre></details></section>')


def _fingerprint(report: dict[str, Any]) -> str:
    fingerprint = report.get("ja4")
    if not fingerprint:
        return ""
    parts = fingerprint["parts"]
    sni = "server name sent (a domain)" if parts["sni"] == "d" else "no server name (an IP)"
    alpn = "no ALPN" if parts["alpn"] == "00" else f"first ALPN value \u2192 {parts['alpn']}"
    rows = [
        ("a", fingerprint["ja4"].split("_")[0],
         f"{parts['transport']} = TLS over TCP, {parts['version']} = highest version, "
         f"{parts['sni']} = {sni}, {parts['cipher_count']:02d} suites, "
         f"{parts['extension_count']:02d} extensions, {alpn} (GREASE not counted)"),
        ("b", fingerprint["ja4"].split("_")[1],
         "SHA-256 of the cipher suites, sorted (first 12 hex digits)"),
        ("c", fingerprint["ja4"].split("_")[2],
         "SHA-256 of the extensions, sorted, without SNI and ALPN, then the signature "
         "algorithms in order"),
    ]
    body = "".join(f"<tr><td>{_e(n)}</td><td><code>{_e(v)}</code></td><td>{_e(d)}</td></tr>"
                   for n, v, d in rows)
    return (f'<section id="fingerprint"><h2>Fingerprint (JA4)</h2>'
            f'<p class="explain">{_e(SECTIONS["fingerprint"])}</p>'
            f'<p class="fingerprint mono">{_e(fingerprint["ja4"])}</p>'
            f"<table>{body}</table>"
            f"<details><summary>Raw forms (JA4_r, JA4_o, JA4_ro)</summary>"
            f'<pre class="mono">JA4_r  = {_e(fingerprint["ja4_r"])}\n'
            f'JA4_o  = {_e(fingerprint["ja4_o"])}\n'
            f'JA4_ro = {_e(fingerprint["ja4_ro"])}</pre></details></section>')


def _timeline(report: dict[str, Any]) -> str:
    steps = report.get("timeline") or []
    rows = "".join(
        f"<tr><td class=\"time\">{step['time_ms']:.3f} ms</td>"
        f'<td class="arrow">{_e(_ARROWS.get(step["direction"], step["direction"]))}</td>'
        f"<td><strong>{_e(step['step'])}</strong>"
        f'<div class="summary">{_e(step["summary"])}</div></td>'
        f'<td class="explain">{_e(step["explanation"])}</td></tr>'
        for step in steps)
    dropped = report.get("trace_events_not_kept") or 0
    more = f"<p>{_e(dropped)} later events not kept.</p>" if dropped else ""
    return (f'<section id="timeline"><h2>The handshake, step by step</h2>'
            f'<p class="explain">{_e(SECTIONS["timeline"])} '
            '<a id="bytes-link" href="/bytes">See every byte of this connection</a>, '
            "decrypted by the server and explained field by field.</p>"
            f'<table class="timeline"><tr><th>Time</th><th>Where</th><th>Step</th>'
            f"<th>What it means</th></tr>{rows}</table>{more}</section>")


def _certificates(report: dict[str, Any]) -> str:
    chain = report.get("certificate_chain") or []
    negotiated = report.get("negotiated") or {}
    if not chain:
        text = SECTIONS["resumed"] if negotiated.get("resumed") else "No certificate was sent."
        return (f'<section id="certificates"><h2>Certificate chain sent by the server</h2>'
                f'<p class="explain">{_e(text)}</p></section>')
    cards = ""
    for index, certificate in enumerate(chain):
        role = "the server\u2019s own certificate" if index == 0 else "issuer"
        facts = [
            ("Subject", certificate.get("subject")),
            ("Issuer", certificate.get("issuer")),
            ("Public key", certificate.get("key")),
            ("Valid", f"{certificate.get('not_before')} to {certificate.get('not_after')}"),
            ("Names (SAN)", ", ".join(str(n) for n in certificate.get("san") or []) or None),
            ("Serial", certificate.get("serial")),
            ("SHA-256", certificate.get("sha256")),
            ("SPKI pin (sha256, base64)", certificate.get("spki_sha256_base64")),
        ]
        fact_html = "".join(f"<dt>{_e(k)}</dt><dd>{_or_none(v)}</dd>" for k, v in facts)
        cards += (f"<h3>{index + 1}. {_e(role)}</h3>"
                  f'<dl class="facts">{fact_html}</dl>')
    return (f'<section id="certificates"><h2>Certificate chain sent by the server</h2>'
            f'<p class="explain">{_e(SECTIONS["certificates"])}</p>{cards}</section>')


def render_page(report: dict[str, Any]) -> str:
    """The whole HTML document for one connection's report."""
    connection = report.get("connection") or {}
    request = report.get("request") or {}
    agent = request.get("user_agent")
    footer = (
        f"Connection from {_e(connection.get('client_address', '?'))}, request "
        f"{_e(connection.get('request_number', 1))} on it"
        f"{f' (User-Agent: {_e(agent)})' if agent else ''}"
        f". Nothing is stored: this page describes only the connection that carried it. "
        f'The same as JSON: <a href="/api/handshake">/api/handshake</a>.'
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Your browser\u2019s handshake \u2014 glasstls</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{_STYLE}</style></head><body><main>"
        f"{_summary(report)}{_negotiated(report)}{_client_hello(report)}"
        f"{_fingerprint(report)}{_timeline(report)}{_certificates(report)}"
        f"<footer><p>{footer}</p><p>Served by glasstls.</p></footer>"
        "</main></body></html>\n"
    )


__all__ = ["render_page"]
