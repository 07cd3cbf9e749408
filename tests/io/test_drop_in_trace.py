"""The trace through the ssl drop-in: ``SSLContext(trace=...)`` gets the events
the native API gets, and ``GLASSTLS_TRACE=1`` shows the handshakes of an
unchanged program on stderr, in the CLI's format."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    BioPair,
    client_config,
    glass_context,
    python_https_server,
    server_config,
)

import glasstls
from glasstls.trace import TraceEvent

URLLIB_SCRIPT = textwrap.dedent("""\
    import sys, urllib.request, glasstls

    context = glasstls.SSLContext()
    context.load_verify_locations(sys.argv[2])
    with urllib.request.urlopen(sys.argv[1], context=context, timeout=10) as response:
        print(response.status, response.read()[:5].decode())
""")


def run_script(url: str, files: dict[str, Path], trace: str | None
               ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLASSTLS_TRACE", "NO_COLOR")}
    if trace is not None:
        env["GLASSTLS_TRACE"] = trace
    return subprocess.run([sys.executable, "-c", URLLIB_SCRIPT, url, str(files["ca"])],
                          capture_output=True, text=True, timeout=60, env=env, check=True)


def test_glasstls_trace_shows_an_unchanged_urllib_script(files: dict[str, Path]) -> None:
    with python_https_server(files) as port:
        url = f"https://localhost:{port}/hello"
        quiet = run_script(url, files, None)
        traced = run_script(url, files, "1")
    assert quiet.stdout == traced.stdout == "200 path=\n"
    assert quiet.stderr == ""
    lines = traced.stderr.splitlines()
    # The CLI's layout: label, elapsed time, side, action, step, arrow.
    header = re.compile(r"^\[#(\d+)\] +[\d.]+ ms  client  (sent|received|local) +(\w+)")
    steps = [(m.group(2), m.group(3)) for m in map(header.match, lines) if m]
    assert steps[0] == ("sent", "ClientHello")
    for expected in [("received", "ServerHello"), ("local", "CertificateVerification"),
                     ("received", "Finished"), ("local", "Established")]:
        assert expected in steps, f"{expected} missing from the trace:\n{traced.stderr}"
    assert len({m.group(1) for m in map(header.match, lines) if m}) == 1  # one connection
    assert any("host name checked" in line and "localhost" in line for line in lines)


def test_glasstls_trace_json_lines(files: dict[str, Path]) -> None:
    with python_https_server(files) as port:
        traced = run_script(f"https://localhost:{port}/", files, "json")
    events = [json.loads(line) for line in traced.stderr.splitlines()]
    assert events[0]["event"] == "trace"
    assert events[0]["step"] == "ClientHello" and events[0]["side"] == "client"
    assert "Established" in [event["step"] for event in events]


def until_closing(events: list[TraceEvent]) -> list[TraceEvent]:
    """The events before the first alert: how the two sides' close_notify cross
    depends on timing."""
    steps = [e.step for e in events]
    end = min((steps.index(s) for s in ("Close", "Alert") if s in steps), default=len(steps))
    return events[:end]


def steps_of(events: list[TraceEvent]) -> list[tuple[str, str, str]]:
    return [(e.step, e.side, e.action) for e in events]


@pytest.mark.parametrize("tls12", [False, True])
def test_context_trace_gives_the_native_api_s_events(files: dict[str, Path],
                                                     tls12: bool) -> None:
    """The same server, reached by glasstls.connect(config with trace=) and by
    SSLContext(trace=).wrap_socket: the same steps, the same details."""
    native: list[TraceEvent] = []
    drop_in: list[TraceEvent] = []

    def echo(sock: glasstls.TLSSocket, address: Any) -> None:
        sock.sendall(sock.recv(100))

    version = glasstls.ProtocolVersion.TLS12 if tls12 else None
    with glasstls.serve(("127.0.0.1", 0), echo, config=server_config(tickets=0)) as server:
        config = client_config(version, trace=native.append, session_cache=None)
        with glasstls.connect(server.address, config=config, server_hostname="localhost") as a:
            a.sendall(b"x")
            assert a.recv(1) == b"x"
        context = glasstls.SSLContext(trace=drop_in.append)
        context.load_verify_locations(files["ca"])
        if tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        with context.wrap_socket(socket.create_connection(server.address),
                                 server_hostname="localhost") as b:
            b.sendall(b"x")
            assert b.recv(1) == b"x"
    native, drop_in = until_closing(native), until_closing(drop_in)
    assert steps_of(native) == steps_of(drop_in)
    assert ("ApplicationData", "client", "received") in steps_of(drop_in)
    assert len({e.connection for e in drop_in}) == 1
    volatile = {"random", "key_shares", "session_id", "client_share", "server_share",
                "extensions", "session_id_echo", "ticket", "signature_bytes"}  # DER ECDSA varies
    for ours, theirs in zip(native, drop_in, strict=True):
        assert {k: v for k, v in ours.details.items() if k not in volatile} == {
            k: v for k, v in theirs.details.items() if k not in volatile}, ours.step


def test_trace_is_an_attribute_and_reaches_server_connections(files: dict[str, Path]) -> None:
    server_events: list[TraceEvent] = []
    server = glass_context(files, server=True)
    assert server.trace is None
    server.trace = server_events.append
    with pytest.raises(TypeError):
        server.trace = "not callable"  # type: ignore[assignment]
    pair = BioPair(glass_context(files), server)
    pair.handshake()
    assert pair.server.version() == "TLSv1.3"
    assert [e.side for e in server_events] == ["server"] * len(server_events)
    assert "Established" in [e.step for e in server_events]
