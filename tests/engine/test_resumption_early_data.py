"""TLS 1.3 0-RTT in memory (RFC 8446 §2.3, §4.2.10, §8): early data accepted and
flagged, counted against max_early_data_size, rejected (server limit 0, a
HelloRetryRequest, another ALPN or suite, a ticket age that is off) with the
handshake completing anyway, and replays refused through the shared anti-replay
store."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, ClientConfig, ClientConnection, ServerConfig, UsageError
from glasstls.constants import TLS13, CipherSuite, ExtensionType as X, HandshakeType, NamedGroup
from glasstls.crypto.suites import SUITES
from glasstls.events import ApplicationData, HandshakeComplete
from glasstls.keyschedule import traffic_keys
from glasstls.messages import extensions as ext, handshake as hs
from glasstls.record import Tls13Protection
from glasstls.session import AntiReplay, ClientSession, TicketKeys
from helpers.pump import (
    CLIENT_TO_SERVER,
    KeyLog,
    Pair,
    client_config,
    server_config,
    split_records,
)
from helpers.sessions import Clock, RepeatableRng, connect_pair, latest_session, tickets
from pki import pki

TEST_PKI = pki("ecdsa-p256")
AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
LIMIT = 1024
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"


def client0(**overrides: object) -> ClientConfig:
    return client_config(TEST_PKI, **{"versions": (TLS13,), "enable_early_data": True,
                                      "session_cache": None, **overrides})


def server0(**overrides: object) -> ServerConfig:
    return server_config(TEST_PKI, **{"versions": (TLS13,), "max_early_data_size": LIMIT,
                                      **overrides})


def ticket_from(server: ServerConfig, client: ClientConfig | None = None) -> ClientSession:
    pair = connect_pair(client or client0(), server)
    assert tickets(pair)
    return latest_session(pair)


def early_connection(client: ClientConfig, server: ServerConfig, session: ClientSession,
                     early: bytes = REQUEST) -> Pair:
    """A resuming connection that sends ``early`` as 0-RTT data with its hello."""
    connection = ClientConnection(client, server_name="localhost", session=session)
    assert connection.send_early_data(early) == len(early)
    return Pair(connection, server).pump()


def early_data_received(pair: Pair) -> bytes:
    return b"".join(e.data for e in pair.server.of_type(ApplicationData) if e.early)


def completed_without_early_data(pair: Pair) -> None:
    """0-RTT rejected: skipped by the server, and the handshake completed anyway."""
    assert pair.complete, (pair.client.error, pair.server.error)
    assert early_data_received(pair) == b""
    assert not pair.client.negotiated.early_data_accepted
    assert not pair.server.negotiated.early_data_accepted
    pair.client.connection.send(b"sent again, after the handshake")
    pair.pump()
    assert pair.server.data == b"sent again, after the handshake"


# -- accepted ----------------------------------------------------------------------------------


def test_ticket_carries_the_servers_max_early_data_size() -> None:
    pair = connect_pair(client0(), server0())
    assert [e.max_early_data_size for e in tickets(pair)] == [LIMIT, LIMIT]
    assert latest_session(pair).max_early_data_size == LIMIT


def test_accepted_early_data_arrives_flagged_early_before_the_handshake_completes() -> None:
    server = server0()
    pair = early_connection(client0(), server, ticket_from(server))
    assert pair.complete
    events = pair.server.events
    early = [e for e in events if isinstance(e, ApplicationData)]
    assert early == [ApplicationData(REQUEST, early=True)]
    assert events.index(early[0]) < events.index(pair.server.negotiated)
    for side in (pair.client, pair.server):
        assert side.negotiated.resumed and side.negotiated.early_data_accepted


def test_data_after_the_handshake_is_not_flagged_early() -> None:
    server = server0()
    pair = early_connection(client0(), server, ticket_from(server))
    pair.client.connection.send(b"1-RTT")
    pair.pump()
    assert pair.server.of_type(ApplicationData)[-1] == ApplicationData(b"1-RTT", early=False)


def test_client_offers_early_data_and_ends_it_with_end_of_early_data() -> None:
    # RFC 8446 §4.5: after the server's Finished the client closes 0-RTT with an
    # EndOfEarlyData under the early traffic keys (its second record under them).
    server = server0()
    keys = KeyLog()
    pair = early_connection(client0(keylog=keys, cipher_suites=(AES128.id,)), server,
                            ticket_from(server))
    hello = hs.ClientHello.parse(split_records(pair.sent(CLIENT_TO_SERVER))[0][5:])
    assert ext.find(hello.extensions, X.early_data) is not None
    client_flights = [data for direction, data in pair.wire if direction == CLIENT_TO_SERVER]
    second_flight = [r for r in split_records(client_flights[1]) if r[0] == 23]
    opener = Tls13Protection(AES128, *traffic_keys(
        AES128, keys.secrets["CLIENT_EARLY_TRAFFIC_SECRET"]))
    opener.sequence = 1  # after the one 0-RTT record
    assert opener.open(second_flight[0][:5], second_flight[0][5:]) == (
        22, bytes([HandshakeType.end_of_early_data, 0, 0, 0]))


def test_client_sends_at_most_the_tickets_max_early_data_size() -> None:
    server = server0(max_early_data_size=16)
    connection = ClientConnection(client0(), server_name="localhost",
                                  session=ticket_from(server))
    assert connection.send_early_data(b"x" * 40) == 16
    with pytest.raises(UsageError):
        connection.send_early_data(b"more")
    pair = Pair(connection, server).pump()
    assert early_data_received(pair) == b"x" * 16
    assert pair.server.negotiated.early_data_accepted


def test_early_data_exactly_at_the_servers_limit_is_accepted() -> None:
    keys = TicketKeys()
    session = ticket_from(server0(ticket_keys=keys))
    strict = server0(ticket_keys=keys, max_early_data_size=len(REQUEST))
    pair = early_connection(client0(), strict, session)
    assert early_data_received(pair) == REQUEST


def test_early_data_over_the_servers_max_early_data_size_is_unexpected_message() -> None:
    # The ticket came from a server allowing 1024 bytes; this one (sharing its ticket
    # keys) allows 16, and counts what arrives (RFC 8446 §4.2.10).
    keys = TicketKeys()
    session = ticket_from(server0(ticket_keys=keys))
    assert session.max_early_data_size == LIMIT
    pair = early_connection(client0(), server0(ticket_keys=keys, max_early_data_size=16),
                            session, early=b"y" * 100)
    assert pair.server.alert_sent == AlertDescription.unexpected_message
    assert AlertDescription.unexpected_message in pair.client.alerts_received
    assert not pair.server.of_type(HandshakeComplete)


# -- when 0-RTT is not possible -----------------------------------------------------------------


def test_server_with_max_early_data_size_zero_issues_tickets_without_early_data() -> None:
    session = ticket_from(server0(max_early_data_size=0))
    assert session.max_early_data_size == 0
    connection = ClientConnection(client0(), server_name="localhost", session=session)
    with pytest.raises(UsageError):
        connection.send_early_data(b"no")
    hello = hs.ClientHello.parse(split_records(connection.data_to_send())[0][5:])
    assert ext.find(hello.extensions, X.early_data) is None


def test_client_without_enable_early_data_does_not_offer_it() -> None:
    session = ticket_from(server0())
    connection = ClientConnection(client0(enable_early_data=False), server_name="localhost",
                                  session=session)
    with pytest.raises(UsageError):
        connection.send_early_data(b"no")


def test_send_early_data_after_the_handshake_is_a_usage_error() -> None:
    server = server0()
    pair = early_connection(client0(), server, ticket_from(server), early=b"a")
    with pytest.raises(UsageError):
        pair.client.connection.send_early_data(b"late")  # type: ignore[union-attr]


def test_early_data_rejected_by_a_server_with_limit_zero_is_skipped() -> None:
    keys = TicketKeys()
    session = ticket_from(server0(ticket_keys=keys))
    pair = early_connection(client0(), server0(ticket_keys=keys, max_early_data_size=0),
                            session)
    completed_without_early_data(pair)
    assert pair.server.negotiated.resumed  # the PSK is still good; only 0-RTT is refused


def test_early_data_with_a_ticket_the_server_cannot_open_is_skipped_in_a_full_handshake(
) -> None:
    session = ticket_from(server0())
    stranger = server0()  # its own ticket keys
    pair = early_connection(client0(), stranger, session)
    completed_without_early_data(pair)
    assert not pair.server.negotiated.resumed and not pair.client.negotiated.resumed


def test_early_data_rejected_after_a_hello_retry_request_is_skipped() -> None:
    # The second server only takes secp384r1, for which the client sent no share.
    keys = TicketKeys()
    session = ticket_from(server0(ticket_keys=keys))
    retrying = server0(ticket_keys=keys, groups=(NamedGroup.secp384r1,))
    pair = early_connection(client0(), retrying, session)
    completed_without_early_data(pair)
    assert pair.client.negotiated.group == "secp384r1"


def test_early_data_rejected_when_the_alpn_protocol_differs_from_the_tickets() -> None:
    keys = TicketKeys()
    client = client0(alpn_protocols=("h2", "http/1.1"))
    session = ticket_from(server0(ticket_keys=keys, alpn_protocols=("h2",)), client)
    other = server0(ticket_keys=keys, alpn_protocols=("http/1.1", "h2"))
    pair = early_connection(client, other, session)
    completed_without_early_data(pair)
    assert pair.server.negotiated.alpn_protocol == "http/1.1"


def test_early_data_with_the_same_alpn_protocol_is_accepted() -> None:
    keys = TicketKeys()
    client = client0(alpn_protocols=("h2",))
    session = ticket_from(server0(ticket_keys=keys, alpn_protocols=("h2",)), client)
    pair = early_connection(client, server0(ticket_keys=keys, alpn_protocols=("h2",)), session)
    assert early_data_received(pair) == REQUEST


def test_early_data_rejected_when_the_suite_differs_from_the_tickets() -> None:
    keys = TicketKeys()
    client = client0(cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,
                                    CipherSuite.TLS_CHACHA20_POLY1305_SHA256))
    session = ticket_from(server0(ticket_keys=keys,
                                  cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)), client)
    other = server0(ticket_keys=keys, cipher_suites=(CipherSuite.TLS_CHACHA20_POLY1305_SHA256,))
    pair = early_connection(client, other, session)
    completed_without_early_data(pair)
    assert pair.server.negotiated.resumed


def test_early_data_rejected_when_the_ticket_age_is_off() -> None:
    # The client's clock runs a minute ahead: its ticket age does not match the
    # server's view, a sign of replay (RFC 8446 §8.3).
    server_clock = Clock()
    server = server0(clock=server_clock)
    session = ticket_from(server, client0(clock=server_clock))
    pair = early_connection(client0(clock=Clock(server_clock.now + 60)), server, session)
    completed_without_early_data(pair)


# -- replays (RFC 8446 §8) ---------------------------------------------------------------------


def test_replayed_client_hello_to_a_second_server_sharing_anti_replay_gets_no_early_data(
) -> None:
    """Two client connections with the same seed send the same ClientHello and 0-RTT
    bytes; the first server takes the early data, the second (sharing ticket keys and
    the anti-replay store) refuses it, and the handshake still completes."""
    keys, anti_replay = TicketKeys(), AntiReplay()
    server_a = server0(ticket_keys=keys, anti_replay=anti_replay)
    server_b = server0(ticket_keys=keys, anti_replay=anti_replay)
    session = ticket_from(server_a)
    clock = Clock()  # the same time too, so the same obfuscated ticket age
    first = early_connection(client0(rng=RepeatableRng(7), clock=clock), server_a, session)
    second = early_connection(client0(rng=RepeatableRng(7), clock=clock), server_b, session)
    assert first.wire[0] == second.wire[0]  # byte-identical first flights
    assert early_data_received(first) == REQUEST
    assert first.server.negotiated.early_data_accepted
    completed_without_early_data(second)
    assert second.server.negotiated.resumed


def test_replayed_first_flight_to_the_same_server_delivers_no_early_data() -> None:
    server = server0()
    pair = early_connection(client0(), server, ticket_from(server))
    assert early_data_received(pair) == REQUEST
    replay = Pair(client0(), server)  # a fresh server connection; the client is unused
    replay.deliver(replay.server, pair.wire[0][1])
    assert replay.server.error is None
    assert replay.server.of_type(ApplicationData) == []


def test_servers_with_separate_anti_replay_stores_both_accept_a_replay() -> None:
    # Control for the replay tests: the refusal comes from the shared store.
    keys = TicketKeys()
    server_a, server_b = server0(ticket_keys=keys), server0(ticket_keys=keys)
    session = ticket_from(server_a)
    clock = Clock()
    first = early_connection(client0(rng=RepeatableRng(9), clock=clock), server_a, session)
    second = early_connection(client0(rng=RepeatableRng(9), clock=clock), server_b, session)
    assert first.wire[0] == second.wire[0]
    assert early_data_received(first) == early_data_received(second) == REQUEST


def test_anti_replay_store_that_is_full_refuses_early_data() -> None:
    # Rather than forget live entries, a full store refuses 0-RTT (the safe answer).
    keys = TicketKeys()
    session = ticket_from(server0(ticket_keys=keys))
    full = AntiReplay(max_entries=0)
    pair = early_connection(client0(), server0(ticket_keys=keys, anti_replay=full), session)
    completed_without_early_data(pair)




@pytest.mark.parametrize("middlebox", [
    pytest.param(True, id="middlebox-compatibility"),
    pytest.param(False, id="no-middlebox-compatibility"),
])
def test_records_after_the_client_hello_carry_legacy_record_version_0x0303(
        middlebox: bool) -> None:
    session = ticket_from(server0())
    connection = ClientConnection(client0(middlebox_compatibility=middlebox),
                                  server_name="localhost", session=session)
    connection.send_early_data(REQUEST)
    records = split_records(connection.data_to_send())
    assert records[0][:3] == b"\x16\x03\x01"  # the initial ClientHello may say 0x0301
    assert len(records) == (3 if middlebox else 2)  # [CCS] and the 0-RTT record
    assert [r[1:3] for r in records[1:]] == [b"\x03\x03"] * (len(records) - 1)
