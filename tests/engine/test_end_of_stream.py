"""End of stream in the engine: ``receive_eof()`` (and ``receive_data(b"")``, the
same call) tells a clean close, a truncation, and a peer that hung up during the
handshake apart."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls import ClientConnection, ServerConnection, UsageError
from glasstls.constants import TLS12, TLS13
from glasstls.errors import TLSError, UnexpectedEOF
from glasstls.events import ApplicationData, ConnectionClosed
from glasstls.trace import CLOSE, TraceEvent
from helpers.pump import Pair, client_config, server_config
from helpers.sessions import connect_pair
from pki import pki

TEST_PKI = pki()
VERSIONS = [pytest.param(TLS13, id="TLS1.3"), pytest.param(TLS12, id="TLS1.2")]


def established(version: int, traces: list[TraceEvent] | None = None) -> Pair:
    client = client_config(TEST_PKI, versions=(version,),
                           trace=traces.append if traces is not None else None)
    pair = connect_pair(client, server_config(TEST_PKI, versions=(version,)))
    assert pair.complete
    return pair


@pytest.mark.parametrize("end", ["receive_eof", "receive_data"])
@pytest.mark.parametrize("side", ["client", "server"])
def test_eof_during_the_handshake_fails_without_an_alert(end: str, side: str) -> None:
    traces: list[TraceEvent] = []
    client = ClientConnection(client_config(TEST_PKI, trace=traces.append),
                              server_name="localhost")
    server = ServerConnection(server_config(TEST_PKI, trace=traces.append))
    hello = client.data_to_send()
    if side == "server":
        server.receive_data(hello[:10])  # half a ClientHello, then the client hangs up
    connection = client if side == "client" else server
    with pytest.raises(UnexpectedEOF, match="closed the connection during the handshake"):
        connection.receive_eof() if end == "receive_eof" else connection.receive_data(b"")
    assert connection.data_to_send() == b""  # nobody is left to read an alert
    assert connection.closed and not connection.handshake_complete
    with pytest.raises(UnexpectedEOF):
        connection.receive_data(b"more")
    assert [(e.side, e.details) for e in traces if e.step == CLOSE] == [
        (side, {"transport": "ended during the handshake"})]


@pytest.mark.parametrize("version", VERSIONS)
def test_eof_after_close_notify_is_the_clean_end(version: int) -> None:
    pair = established(version)
    pair.server.connection.send(b"all of it")
    pair.server.connection.close()
    pair.pump()
    assert pair.client.of_type(ConnectionClosed) == [ConnectionClosed(clean=True)]
    assert pair.client.data == b"all of it"
    assert pair.client.connection.receive_eof() == []
    assert pair.client.connection.receive_data(b"") == []  # again: nothing changes


@pytest.mark.parametrize("version", VERSIONS)
def test_eof_without_close_notify_is_an_unclean_close(version: int) -> None:
    traces: list[TraceEvent] = []
    pair = established(version, traces)
    pair.server.connection.send(b"balance: 10")
    pair.pump()
    client = pair.client.connection
    assert client.receive_eof() == [ConnectionClosed(clean=False)]
    assert client.receive_eof() == []
    with pytest.raises(UsageError, match="after the end of the stream"):
        client.receive_data(b"late bytes")
    client.send(b"the write side stays open")  # our own close_notify is still to come
    client.close()
    assert client.closed
    closes = [e for e in traces if e.step == CLOSE and e.action == "received"]
    assert closes[-1].details["transport"] == "ended without close_notify"
    assert "unread" not in closes[-1].details


def test_eof_inside_a_record_says_how_much_was_cut() -> None:
    traces: list[TraceEvent] = []
    pair = established(TLS13, traces)
    pair.server.connection.send(b"x" * 1000)
    record = pair.server.connection.data_to_send()
    events = pair.client.connection.receive_data(record[:600])
    assert not any(isinstance(e, ApplicationData) for e in events)
    assert pair.client.connection.receive_eof() == [ConnectionClosed(clean=False)]
    close = [e for e in traces if e.step == CLOSE and e.action == "received"][-1]
    assert close.details["unread"] == "600 bytes of an unfinished record or message"


def test_a_failed_connection_reports_its_failure_at_eof() -> None:
    pair = established(TLS13)
    with pytest.raises(TLSError) as first:
        pair.client.connection.receive_data(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
    with pytest.raises(TLSError) as again:
        pair.client.connection.receive_eof()
    assert again.value is first.value


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=4000), version=st.sampled_from([TLS13, TLS12]))
def test_eof_anywhere_in_a_handshake_ends_it_cleanly(cut: int, version: int) -> None:
    """Wherever the server's flight is cut, the client ends at EOF: a typed error
    or (once complete) an unclean close; never a hang, never another exception."""
    client = ClientConnection(client_config(TEST_PKI, versions=(version,)),
                              server_name="localhost")
    server = ServerConnection(server_config(TEST_PKI, versions=(version,)))
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    try:
        client.receive_data(flight[:cut])
        events = client.receive_eof()
    except UnexpectedEOF:
        assert not client.handshake_complete
    else:
        assert client.handshake_complete
        assert events[-1] == ConnectionClosed(clean=False)
