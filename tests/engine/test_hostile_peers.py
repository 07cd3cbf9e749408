"""Peers that make a connection work or queue without end (issue 12 items 9, 13, 15):
floods of post-handshake messages (KeyUpdate, NewSessionTicket, HelloRequest,
renegotiation, CertificateRequest), KeyUpdate requests that would each queue a
reply for a peer that does not read, and the flight a server built before a fatal
error in the same read."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, limits, trace as t
from glasstls.constants import TLS12, TLS13
from glasstls.events import AlertReceived, CertificateRequested, KeyUpdated
from glasstls.handshake.client_auth import request_extensions
from glasstls.messages.handshake import (
    CertificateRequest13,
    NewSessionTicket13,
    serialize,
)
from glasstls.trace import TraceEvent
from helpers.pump import (
    Pair,
    client_config,
    connect,
    fails_with,
    record,
    sealed,
    server_config,
    split_records,
)
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def established(version: int = TLS13, **client: object) -> Pair:
    pair = connect(client_config(TEST_PKI, versions=(version,), **client),
                   server_config(TEST_PKI, versions=(version,)))
    assert pair.complete
    pair.client.events.clear()
    pair.server.events.clear()
    return pair


def bound(kind: str) -> int:
    return limits.IN_A_ROW[kind]


# -- item 13: post-handshake floods ----------------------------------------------------------


def test_key_updates_are_read_up_to_the_bound_in_a_row() -> None:
    # BoringSSL: kMaxKeyUpdates = 32 in a row; application data resets the count.
    pair = established()
    limit = bound(limits.KEY_UPDATES)
    client = pair.client.connection
    for _ in range(3):
        for _ in range(limit):
            client.key_update(request_peer_update=False)
        client.send(b"data")
        pair.pump()
    assert pair.server.error is None
    assert len(pair.server.of_type(KeyUpdated)) == 3 * limit
    for _ in range(limit + 1):
        client.key_update(request_peer_update=False)
    pair.pump()
    fails_with(pair.server, AlertDescription.unexpected_message,
               f"more than {limit} KeyUpdates in a row")


def test_new_session_tickets_are_read_up_to_the_bound_in_a_row() -> None:
    pair = established()
    limit = bound(limits.NEW_SESSION_TICKETS)
    ticket = serialize(NewSessionTicket13(3600, 7, b"\x00", b"ticket" * 8, ()))
    for _ in range(2):
        # Data first: the handshake's own tickets count too.
        pair.deliver(pair.client, sealed(pair.server, 23, b"data"))
        pair.deliver(pair.client, b"".join(sealed(pair.server, 22, ticket)
                                           for _ in range(limit)))
    assert pair.client.error is None
    pair.deliver(pair.client, sealed(pair.server, 22, ticket))
    fails_with(pair.client, AlertDescription.unexpected_message, "NewSessionTickets in a row")


def test_tls12_hello_requests_while_negotiating_are_ignored_up_to_the_bound() -> None:
    # RFC 5246 §7.4.1.1: ignored while negotiating (and not hashed), but not 10,000.
    limit = bound(limits.RENEGOTIATION_REQUESTS)
    hello_request = record(22, b"\x00\x00\x00\x00")
    pair = Pair(client_config(TEST_PKI, versions=(TLS12,)),
                server_config(TEST_PKI, versions=(TLS12,)))
    pair.client.connection.data_to_send()
    pair.deliver(pair.client, hello_request * limit)
    assert pair.client.error is None
    pair.deliver(pair.client, hello_request * 10_000)
    fails_with(pair.client, AlertDescription.unexpected_message, "renegotiation requests")


def test_tls12_hello_requests_after_the_handshake_are_refused_up_to_the_bound() -> None:
    # Each is answered with a no_renegotiation warning (RFC 5746 §4.2), so a flood
    # would pile warnings up for a peer that does not read.
    pair = established(TLS12)
    limit = bound(limits.RENEGOTIATION_REQUESTS)
    requests = b"".join(sealed(pair.server, 22, b"\x00\x00\x00\x00") for _ in range(limit))
    pair.deliver(pair.client, requests)
    answers = split_records(pair.client.connection.data_to_send())
    assert len(answers) == limit and {r[0] for r in answers} == {21}
    pair.deliver(pair.client, sealed(pair.server, 22, b"\x00\x00\x00\x00"))
    fails_with(pair.client, AlertDescription.unexpected_message, "renegotiation requests")


def test_tls12_renegotiation_client_hellos_are_refused_up_to_the_bound() -> None:
    pair = established(TLS12)
    limit = bound(limits.RENEGOTIATION_REQUESTS)
    hello = split_records(Pair(client_config(TEST_PKI, versions=(TLS12,)), server_config(
        TEST_PKI)).client.connection.data_to_send())[0][5:]
    pair.deliver(pair.server, b"".join(sealed(pair.client, 22, hello) for _ in range(limit)))
    assert pair.server.error is None
    pair.deliver(pair.server, sealed(pair.client, 23, b"data"))  # resets the count
    pair.deliver(pair.server, b"".join(sealed(pair.client, 22, hello)
                                       for _ in range(limit + 1)))
    fails_with(pair.server, AlertDescription.unexpected_message, "renegotiation requests")


def test_a_certificate_request_the_client_did_not_offer_to_answer_is_unexpected_message() -> None:
    pair = established(post_handshake_auth=False)
    request = serialize(CertificateRequest13(b"ctx", ()))
    pair.deliver(pair.client, sealed(pair.server, 22, request))
    fails_with(pair.client, AlertDescription.unexpected_message, "certificate_request")


def test_post_handshake_certificate_requests_are_answered_up_to_the_bound_in_a_row() -> None:
    # Each one makes the client sign; a server asks once per resource it protects.
    pair = established(post_handshake_auth=True, certificate=TEST_PKI.client_certified)
    limit = bound(limits.CERTIFICATE_REQUESTS)
    extensions = request_extensions(pair.server.connection.config)

    def request(index: int) -> bytes:
        message = CertificateRequest13(b"forged" + index.to_bytes(2, "big"), extensions)
        return sealed(pair.server, 22, serialize(message))

    pair.deliver(pair.client, b"".join(request(i) for i in range(limit)))
    assert pair.client.error is None
    assert len(pair.client.of_type(CertificateRequested)) == limit
    pair.deliver(pair.client, request(limit))
    fails_with(pair.client, AlertDescription.unexpected_message, "CertificateRequests in a row")


# -- item 15: replies a peer does not read -----------------------------------------------------


def test_key_update_requests_get_one_reply_while_the_receiver_is_silent() -> None:
    # RFC 8446 §4.6.3: "an implementation which receives multiple KeyUpdates while it
    # is silent [responds] with a single update" (BoringSSL: key_update_pending).
    pair = established()
    limit = bound(limits.KEY_UPDATES)
    client = pair.client.connection
    for _ in range(limit):
        client.key_update(request_peer_update=True)
    pair.deliver(pair.server, client.data_to_send())
    assert pair.server.error is None
    reply = pair.server.connection.data_to_send()
    assert len(split_records(reply)) == 1  # one KeyUpdate, not 32
    assert pair.server.of_type(KeyUpdated).count(KeyUpdated("write", False)) == 1
    pair.deliver(pair.client, reply)
    # Once the server has sent data, the next request gets its own reply.
    pair.server.connection.send(b"data")
    client.send(b"data")  # (and 32 KeyUpdates in a row are the most a peer may send)
    pair.pump()
    client.key_update(request_peer_update=True)
    pair.pump()
    assert pair.server.of_type(KeyUpdated).count(KeyUpdated("write", False)) == 2
    client.send(b"both ways")
    pair.server.connection.send(b"still")
    pair.pump()
    assert pair.server.data.endswith(b"both ways") and pair.client.data.endswith(b"still")


def test_a_peer_that_never_reads_makes_the_server_queue_one_reply() -> None:
    # 500,000 KeyUpdates grew the queue without end before; now the flood ends at
    # the bound, and the queue holds one KeyUpdate (a protected record of 22 bytes).
    pair = established()
    client = pair.client.connection
    for _ in range(1000):
        client.key_update(request_peer_update=True)
    pair.deliver(pair.server, client.data_to_send())
    fails_with(pair.server, AlertDescription.unexpected_message, "KeyUpdates in a row")
    queued = split_records(pair.server.connection.data_to_send())
    # The reply (5 bytes of KeyUpdate, its content type, a 16-byte tag), then the alert.
    assert [len(r) for r in queued] == [5 + 22, 5 + 19]


# -- item 9: the flight built before a fatal error -----------------------------------------------


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_a_server_sends_the_flight_it_built_then_the_alert(version: int) -> None:
    # The ClientHello and a bad record in one read: the flight goes out (it is traced
    # as sent), then the alert, as OpenSSL does.
    events: list[TraceEvent] = []
    pair = Pair(client_config(TEST_PKI, versions=(version,)),
                server_config(TEST_PKI, versions=(version,), trace=events.append))
    pair.deliver(pair.server, pair.client.connection.data_to_send() + b"\x63\x03\x03\x00\x01x")
    fails_with(pair.server, AlertDescription.unexpected_message, "content type 99")
    sent = [e.step for e in events if e.action == t.SENT]
    assert sent[0] == "ServerHello" and sent[-1] == t.ALERT
    out = pair.server.connection.data_to_send()
    assert split_records(out)[0][:1] == b"\x16"  # the ServerHello, first
    # The client reads the whole flight, then the alert.
    pair.deliver(pair.client, out)
    assert pair.client.of_type(AlertReceived) == [
        AlertReceived(AlertDescription.unexpected_message, fatal=True)]
