"""``work_ahead()``: a TLS 1.3 server makes the client's Finished it expects and the
session tickets that answer it while the client works on the server's flight
(RFC 8446 §4.6.1, the note on computing the rest of the transcript). Nothing on the
wire changes: the tickets go once the Finished checks out, and never if it does not."""

from __future__ import annotations

from typing import Any

import pytest

from glasstls import AlertDescription, ClientConnection, ServerConnection
from glasstls.constants import TLS13, CipherSuite, ContentType, HandshakeType, NamedGroup
from glasstls.crypto.suites import SUITES
from glasstls.events import SessionTicketReceived
from glasstls.session import SessionState, TicketKeys
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    KeyLog,
    Pair,
    client_config,
    reseal,
    server_config,
    split_records,
)
from helpers.rng import SeededRng
from helpers.sessions import Clock
from pki import pki

ED25519 = pki("ed25519")  # deterministic signatures: one seed gives the same bytes
ECDSA = pki("ecdsa-p256")
AES128 = CipherSuite.TLS_AES_128_GCM_SHA256
NOW = ED25519.leaf.certificate.not_valid_before_utc.timestamp() + 7200


class CountingRng(SeededRng):
    def __init__(self, seed: str) -> None:
        super().__init__(seed)
        self.draws = 0

    def __call__(self, n: int) -> bytes:
        self.draws += 1
        return super().__call__(n)


def _configs(seed: str, clock: Clock, **server_options: Any) -> tuple[Any, Any]:
    client = client_config(ED25519, versions=(TLS13,), rng=SeededRng(seed + "/c"),
                           clock=clock, key_share_groups=(NamedGroup.x25519,),
                           verify_certificates=False)
    server = server_config(ED25519, versions=(TLS13,), rng=CountingRng(seed + "/s"),
                           clock=clock, **server_options)
    return client, server


def _run(pair: Pair, ahead: bool) -> None:
    """Pump the pair; with ``ahead``, both sides work ahead after every transfer (in
    every state: where there is nothing to know ahead it does nothing)."""
    for _ in range(16):
        moved = pair.transfer(CLIENT_TO_SERVER)
        moved = pair.transfer(SERVER_TO_CLIENT) or moved
        if ahead:
            for side in (pair.client, pair.server):
                if side.error is None:
                    side.connection.work_ahead()
        if not moved:
            return
    raise AssertionError("still exchanging bytes")


def _wire(ahead: bool) -> list[tuple[str, bytes]]:
    """A full handshake, then a resumption with its ticket, each with an echo."""
    clock = Clock(NOW)
    client, server = _configs("seed", clock, ticket_keys=TicketKeys(secret=bytes(32)))
    wire: list[tuple[str, bytes]] = []
    session = None
    for _ in range(2):
        pair = Pair(ClientConnection(client, server_name="localhost", session=session),
                    server)
        _run(pair, ahead)
        assert pair.complete, (pair.client.error, pair.server.error)
        pair.client.connection.send(b"ping")
        _run(pair, ahead)
        pair.server.connection.send(b"pong")
        _run(pair, ahead)
        wire += pair.wire
        assert isinstance(pair.client.connection, ClientConnection)
        session = pair.client.connection.session
    return wire


def test_working_ahead_sends_the_same_bytes() -> None:
    plain, ahead = _wire(False), _wire(True)
    assert ahead == plain
    # Both connections had tickets: a resumption that sent them too.
    tickets = [raw for direction, data in plain if direction == SERVER_TO_CLIENT
               for raw in split_records(data) if raw[0] == ContentType.application_data]
    assert len(tickets) > 4


def _after_flight(clock: Clock, **server_options: Any) -> tuple[Pair, CountingRng]:
    client, server = _configs("one", clock, **server_options)
    pair = Pair(client, server)
    pair.transfer(CLIENT_TO_SERVER)
    pair.transfer(SERVER_TO_CLIENT)  # the flight; the client's Finished waits
    assert isinstance(server.rng, CountingRng)
    return pair, server.rng


def test_the_tickets_are_made_while_the_client_works_and_sent_after_its_finished() -> None:
    pair, rng = _after_flight(Clock(NOW))
    before = rng.draws
    pair.server.connection.work_ahead()
    made = rng.draws
    assert made > before  # the tickets' age_add and nonces were drawn
    assert not pair.server.connection.data_to_send()  # and nothing was sent
    pair.server.connection.work_ahead()  # once only
    assert rng.draws == made
    pair.pump()
    assert pair.complete
    assert rng.draws == made  # the Finished took the tickets made ahead
    assert len(pair.client.of_type(SessionTicketReceived)) == 2


@pytest.mark.parametrize(("later", "issued_at"), [(0.5, 0.0), (1.5, 1.5)])
def test_tickets_made_ahead_go_only_while_fresh(later: float, issued_at: float) -> None:
    # Their issue time is in them: a Finished that comes later than a second gets
    # tickets issued when it comes (psk13's 0-RTT age check reads that time).
    clock = Clock(NOW)
    keys = TicketKeys(secret=bytes(32))
    pair, _ = _after_flight(clock, ticket_keys=keys)
    pair.server.connection.work_ahead()
    clock.advance(later)
    pair.pump()
    received = pair.client.of_type(SessionTicketReceived)
    assert len(received) == 2
    for ticket in received:
        opened = keys.open(ticket.ticket, clock())
        assert opened is not None
        assert SessionState.decode(opened).issued_ms == int((NOW + issued_at) * 1000)


def _finished_edited(pair: Pair, keylog: KeyLog) -> bytes:
    """The client's last flight, its Finished's verify_data changed by one bit."""
    def edit(content_type: int, plaintext: bytes) -> tuple[int, bytes]:
        assert plaintext[0] == HandshakeType.finished
        return content_type, plaintext[:-2] + bytes([plaintext[-2] ^ 1]) + plaintext[-1:]

    return reseal(pair.client.connection.data_to_send(), SUITES[AES128],
                  keylog.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], edit)


def test_a_finished_that_does_not_verify_gets_no_ticket_made_ahead() -> None:
    keylog = KeyLog()
    client = client_config(ECDSA, versions=(TLS13,), keylog=keylog,
                           cipher_suites=(AES128,))
    pair = Pair(client, server_config(ECDSA, versions=(TLS13,)))
    pair.transfer(CLIENT_TO_SERVER)
    pair.transfer(SERVER_TO_CLIENT)
    server = pair.server.connection
    assert isinstance(server, ServerConnection)
    server.work_ahead()
    pair.deliver(pair.server, _finished_edited(pair, keylog))
    assert pair.server.alert_sent == AlertDescription.decrypt_error
    # All it sends is its alert: one record, two bytes and a content type sealed.
    records = split_records(server.data_to_send())
    assert [len(r) for r in records] == [5 + 2 + 1 + 16]
