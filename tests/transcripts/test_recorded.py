"""Recorded transcripts replayed one side at a time (see recording.py): each step of
the live side must produce exactly the recorded bytes, events, errors, trace events
and key log lines. The recordings change only through tests/transcripts/record.py."""

from __future__ import annotations

import dataclasses

import pytest

from glasstls.constants import HandshakeType

from .recording import (
    FLOWS,
    Flow,
    Run,
    Transcript,
    TranscriptMismatch,
    load,
    load_pki,
    replay,
)

PKI = load_pki()


@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("flow", FLOWS, ids=[flow.name for flow in FLOWS])
def test_recorded_flow_replays_byte_for_byte(flow: Flow, side: str) -> None:
    replay(flow, PKI, side)


def _flight(transcript: Transcript, side: str) -> list[int]:
    """The first handshake type of each unencrypted handshake record a side sent."""
    types = []
    for entry in transcript.entries:
        data = entry.out if entry.side == side else b""
        while len(data) >= 5:
            if data[0] == 22:
                types.append(data[5])
            data = data[5 + int.from_bytes(data[3:5], "big"):]
    return types


def test_recordings_cover_the_flows_they_are_named_for() -> None:
    by_name = {flow.name: load(flow) for flow in FLOWS}
    retry = by_name["tls13-hello-retry-request"]
    assert _flight(retry, "client") == [HandshakeType.client_hello] * 2
    text = {name: transcript.text() for name, transcript in by_name.items()}
    early = '"early": true, "type": "ApplicationData"'
    assert early in text["tls13-early-data-accepted"]
    assert early not in text["tls13-early-data-rejected"]
    assert '"resumed": true' in text["tls13-psk-resumption"]
    assert text["tls13-key-update"].count('"type": "KeyUpdated"') == 4
    assert '"type": "PeerCertificateVerified"' in text["tls13-post-handshake-auth"]
    for name in ("tls12-session-id-resumption", "tls12-ticket-resumption"):
        assert '"resumed": true' in text[name]
    assert '"alert": "unknown_ca"' in text["tls13-unknown-ca"]
    assert "random encrypt" in text["tls12-rsa-key-transport"]
    assert "random encapsulate" in text["tls13-aes128-x25519mlkem768"]


def test_a_changed_byte_is_reported_with_the_step_that_differs() -> None:
    flow = FLOWS[0]
    recorded = load(flow)
    entry = next(e for e in recorded.entries if e.side == "server" and "out" in
                 " ".join(e.lines))
    index = next(i for i, line in enumerate(entry.lines) if line.startswith("out "))
    line = entry.lines[index]
    flipped = line[:-1] + ("0" if line[-1] != "0" else "1")
    edited = Transcript(flow, [dataclasses.replace(e, lines=list(e.lines))
                               for e in recorded.entries])
    edited.entries[recorded.entries.index(entry)].lines[index] = flipped
    with pytest.raises(TranscriptMismatch, match=r"server receive .* differs"):
        Run(flow, PKI, ("server",), edited).run()
