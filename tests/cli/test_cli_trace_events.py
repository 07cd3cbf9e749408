"""The trace at the engine level: both sides of one handshake describe each message
with the same values, whichever side observed it, and the renderers show those
values the same way."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from glasstls import trace as t
from glasstls.cli.demo import compare_secrets
from glasstls.cli.render import JsonView, Output, TextView, event_lines, redact
from glasstls.constants import TLS12, NamedGroup
from glasstls.crypto.suites import RSA_KEY_TRANSPORT_SUITES
from glasstls.trace import TraceEvent
from helpers.pump import Pair, client_config, server_config
from pki import pki

# Values the receiver adds to what the sender traced (the outcome of its checks).
RECEIVER_ONLY = {"result", "secure_renegotiation", "early"}
# Values each side computes for itself.
SIDE_ONLY = {"pre_master_secret_bytes", "downgrade_sentinel", "psk", "policy", "ca_names",
             "extensions", "certificate_authorities", "signature_algorithms", "key",
             "bytes", "signature_bytes"}

Options = dict[str, Any]
CASES: dict[str, tuple[str, Options, Options]] = {
    "tls13": ("ecdsa-p256", {}, {}),
    "tls13-retry": ("ecdsa-p256", {}, {"groups": (NamedGroup.secp384r1,)}),
    "tls13-mutual": ("ecdsa-p256", {"certificate": "client"},
                     {"client_auth": "required", "client_trust": "trust"}),
    "tls12": ("ecdsa-p256", {"versions": (TLS12,)}, {"versions": (TLS12,)}),
    "tls12-rsa": ("rsa-2048", {"versions": (TLS12,), "enable_rsa_key_exchange": True,
                               "cipher_suites": RSA_KEY_TRANSPORT_SUITES},
                  {"versions": (TLS12,), "enable_rsa_key_exchange": True}),
    "tls12-mutual": ("rsa-2048", {"versions": (TLS12,), "certificate": "client"},
                     {"versions": (TLS12,), "client_auth": "required",
                      "client_trust": "trust"}),
}


def handshake(case: str, secrets: bool = False, clock: Callable[[], float] | None = None
              ) -> tuple[list[TraceEvent], Pair]:
    key_type, client_options, server_options = CASES[case]
    test_pki = pki(key_type)
    events: list[TraceEvent] = []
    resolve = {"client": test_pki.client_certified, "trust": test_pki.trust}
    common: Options = {"trace": events.append, "trace_secrets": secrets}
    if clock is not None:
        common["monotonic"] = clock
    client = client_config(test_pki, **common, **{
        k: resolve.get(v, v) if isinstance(v, str) else v for k, v in client_options.items()})
    server = server_config(test_pki, **common, **{
        k: resolve.get(v, v) if isinstance(v, str) else v for k, v in server_options.items()})
    pair = Pair(client, server).pump()
    assert pair.complete, (pair.client.error, pair.server.error)
    pair.client.connection.send(b"ping")
    pair.pump()
    pair.server.connection.send(b"pong")
    pair.client.connection.close()
    pair.pump()
    return events, pair


def messages(events: list[TraceEvent], side: str, action: str) -> list[TraceEvent]:
    tls13 = any(e.step == t.ENCRYPTED_EXTENSIONS for e in events)
    skipped = {t.ALERT} | ({t.CHANGE_CIPHER_SPEC} if tls13 else set())
    return [e for e in events if e.side == side and e.action == action
            and e.step not in skipped]


@pytest.mark.parametrize("case", list(CASES))
def test_each_message_is_traced_by_sender_and_receiver_with_the_same_values(case: str) -> None:
    events, _ = handshake(case)
    for sender, receiver in (("client", "server"), ("server", "client")):
        sent = messages(events, sender, t.SENT)
        received = messages(events, receiver, t.RECEIVED)
        assert [e.step for e in sent] == [e.step for e in received], (sender, case)
        for out, into in zip(sent, received, strict=True):
            assert out.direction == into.direction == f"{sender}->{receiver}"
            shared = set(out.details) & set(into.details) - SIDE_ONLY
            assert {k: out.details[k] for k in shared} == {k: into.details[k] for k in shared}
            assert set(into.details) - set(out.details) <= RECEIVER_ONLY | SIDE_ONLY, (
                out.step, set(into.details) - set(out.details))
            # So the renderer shows the shared values identically for either side.
            assert (event_lines(out.step, {k: out.details[k] for k in shared}, {}, {})
                    == event_lines(into.step, {k: into.details[k] for k in shared}, {}, {}))


@pytest.mark.parametrize("case", list(CASES))
def test_both_sides_agree_on_what_was_negotiated(case: str) -> None:
    events, pair = handshake(case)
    established = {e.side: e.details for e in events if e.step == t.ESTABLISHED}
    assert established["client"] == established["server"]
    negotiated = pair.client.negotiated
    assert established["client"]["version"] == negotiated.version
    assert established["client"]["cipher_suite"] == negotiated.cipher_suite
    assert established["client"]["group"] == negotiated.group
    assert [e.step for e in events if e.step == t.HELLO_RETRY_REQUEST] == (
        [t.HELLO_RETRY_REQUEST] * 2 if case == "tls13-retry" else [])


@pytest.mark.parametrize("case", list(CASES))
def test_secret_values_only_when_asked_and_then_equal_on_both_sides(case: str) -> None:
    hidden, _ = handshake(case)
    assert all(not e.secrets for e in hidden)
    shown, _ = handshake(case, secrets=True)
    compared = compare_secrets(shown)
    assert compared and all(same for _, same in compared), compared
    names = {name for name, _ in compared}
    expected = ({"master_secret", "client_write_key", "server_write_key"} if "tls12" in case
                else {"client_handshake_traffic_secret", "server_application_traffic_secret"})
    assert expected <= names


def test_rsa_key_transport_traces_the_encrypted_pre_master_secret() -> None:
    events, _ = handshake("tls12-rsa", secrets=True)
    sent = next(e for e in events if e.step == t.CLIENT_KEY_EXCHANGE and e.action == t.SENT)
    received = next(e for e in events
                    if e.step == t.CLIENT_KEY_EXCHANGE and e.action == t.RECEIVED)
    assert sent.details["key_exchange"] == "RSA"
    assert sent.details["server_key"] == "RSA 2048"
    assert sent.details["encrypted_pre_master_secret_bytes"] == 256
    assert len(bytes.fromhex(sent.details["encrypted_pre_master_secret"])) == 256
    assert sent.details["encrypted_pre_master_secret"] == received.details[
        "encrypted_pre_master_secret"]
    assert sent.secrets["pre_master_secret"] == received.secrets["pre_master_secret"]
    assert bytes.fromhex(sent.secrets["pre_master_secret"])[:2] == b"\x03\x03"


def test_timestamps_come_from_the_configured_clock_in_order() -> None:
    ticks = iter(range(1000))
    events, _ = handshake("tls13", clock=lambda: float(next(ticks)))
    for side in ("client", "server"):
        stamps = [e.timestamp for e in events if e.side == side]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_json_lines_carry_each_event_whole() -> None:
    events, _ = handshake("tls12", secrets=True)
    stream = io.StringIO()
    view = JsonView(stream)
    for event in events:
        shown, prints = redact(event, show_secrets=False)
        view.event(shown, prints)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["side"], x["action"], x["step"]) for x in lines] == [
        (e.side, e.action, e.step) for e in events]
    for line, event in zip(lines, events, strict=True):
        assert line["direction"] == event.direction and line["details"] == json.loads(
            json.dumps(event.details))
        assert "secrets" not in line
        assert set(line.get("fingerprints", {})) == set(event.secrets)


def test_text_rendering_of_a_two_sided_trace_shows_received_values_once() -> None:
    events, _ = handshake("tls13")
    stream = io.StringIO()
    view = TextView(Output(stream, color=False))
    for event in sorted(events, key=lambda e: e.timestamp):
        view.event(event)
    text = stream.getvalue()
    assert text.count("client random") == 0 and text.count("random") == 2  # Client/ServerHello
    assert text.count("(the values shown where it was sent)") >= 3
    assert "server  received  ClientHello" in text and "client  sent      ClientHello" in text
    assert "client -> server" in text and "server -> client" in text
