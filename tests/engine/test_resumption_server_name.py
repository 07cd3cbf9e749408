"""A client resumes a session only under the server name it was made for (RFC 8446
§4.6.1, RFC 6066 §3): a resumed handshake checks no certificate, so a session for
``localhost`` offered to ``other.example`` would make an unverified connection pass
for a verified one. This is about the client's own choice, so the tests look at the
ClientHello it sends, whatever the server would have done with the offer."""

from __future__ import annotations

import pytest

from glasstls import ClientConnection
from glasstls.constants import TLS12, TLS13, ExtensionType as X
from glasstls.messages import extensions as ext, handshake as hs
from glasstls.session import ClientSession
from glasstls.trace import TraceEvent
from helpers.pump import CLIENT_TO_SERVER, Pair, client_config, server_config, split_records
from helpers.sessions import connect_pair, latest_session
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def _session(version: int) -> ClientSession:
    first = connect_pair(client_config(TEST_PKI, versions=(version,), session_cache=None),
                         server_config(TEST_PKI, versions=(version,)))
    return latest_session(first)


def _hello(version: int, session: ClientSession, server_name: str,
           trace: list[TraceEvent] | None = None) -> hs.ClientHello:
    config = client_config(TEST_PKI, versions=(version,), session_cache=None,
                           check_hostname=False,
                           trace=None if trace is None else trace.append)
    client = ClientConnection(config, server_name=server_name, session=session)
    pair = Pair(client, server_config(TEST_PKI, versions=(version,)))
    pair.transfer(CLIENT_TO_SERVER)
    return hs.ClientHello.parse(split_records(pair.sent(CLIENT_TO_SERVER))[0][5:])


def _offers(hello: hs.ClientHello, session: ClientSession) -> bool:
    if session.version == TLS13:
        return ext.find(hello.extensions, X.pre_shared_key) is not None
    ticket = ext.find(hello.extensions, X.session_ticket)
    return hello.legacy_session_id == session.session_id or bool(ticket and ticket.data)


@pytest.mark.parametrize("version", [TLS13, TLS12], ids=["TLS13", "TLS12"])
def test_a_session_is_offered_under_its_own_name(version: int) -> None:
    session = _session(version)
    assert session.server_name == "localhost"
    assert _offers(_hello(version, session, "localhost"), session)
    # Names are compared as DNS names: without case and without a final dot.
    assert _offers(_hello(version, session, "LocalHost."), session)


@pytest.mark.parametrize("version", [TLS13, TLS12], ids=["TLS13", "TLS12"])
def test_a_session_is_not_offered_under_another_name(version: int) -> None:
    session = _session(version)
    trace: list[TraceEvent] = []
    hello = _hello(version, session, "other.example", trace)
    assert not _offers(hello, session)
    hello_trace = [event for event in trace if event.step == "ClientHello"]
    assert "made for localhost" in str(hello_trace[0].details["resumption"])

