"""The TLS 1.3 server's flight made with its bytes and partly encoded once
(handshake/flight13.py, the cached CompressedCertificate): through real handshakes,
servers of different configurations in one process each send their own answers
and chain, and both sides trace the same messages."""

from __future__ import annotations

import itertools

import pytest

from glasstls import CertifiedKey, compression
from glasstls.session import SessionCache, TicketKeys
from glasstls.trace import (
    ENCRYPTED_EXTENSIONS,
    FINISHED,
    NEW_SESSION_TICKET,
    RECEIVED,
    SENT,
    SERVER_HELLO,
    TraceEvent,
)
from helpers.pump import client_config, connect, server_config
from helpers.sessions import connect_twice
from pki import pki

ECDSA = pki("ecdsa-p256")
RSA = pki("rsa-2048")
# Leaf and CA: a chain that compresses (RFC 8879), so it goes as CompressedCertificate.
RSA_CHAIN = CertifiedKey((RSA.leaf.certificate, RSA.ca.certificate), RSA.leaf.key)


class Steps(list[TraceEvent]):
    def __call__(self, event: TraceEvent) -> None:
        self.append(event)

    def details(self, step: str, action: str) -> list[dict[str, object]]:
        return [e.details for e in self if e.step == step and e.action == action]


def same_messages(server: Steps, client: Steps, step: str) -> bool:
    """The message's own fields as the server sent them and the client received them
    (the receiver's trace adds what it found, e.g. a Finished's result)."""
    sent, received = server.details(step, SENT), client.details(step, RECEIVED)
    return bool(sent) and len(sent) == len(received) and all(
        {k: r[k] for k in s if k in r} == s for s, r in zip(sent, received, strict=True))


def test_each_server_answers_with_its_own_encrypted_extensions() -> None:
    # Alternating answers in one process: an EncryptedExtensions kept for one answer
    # must never go out for another.
    answers = itertools.product([("h2",), ("http/1.1", "h2"), ()], ["localhost", None],
                                [None, 512])
    for alpn, name, limit in [*answers, *answers]:
        client_steps, server_steps = Steps(), Steps()
        client = client_config(ECDSA, alpn_protocols=("h2", "http/1.1"), record_size_limit=1024,
                               check_hostname=name is not None, trace=client_steps)
        server = server_config(ECDSA, alpn_protocols=alpn, record_size_limit=limit,
                               trace=server_steps)
        pair = connect(client, server, server_name=name)
        assert pair.complete, (pair.client.error, pair.server.error)
        assert pair.client.negotiated.alpn_protocol == (alpn[0] if alpn else None)
        [sent] = server_steps.details(ENCRYPTED_EXTENSIONS, SENT)
        assert same_messages(server_steps, client_steps, ENCRYPTED_EXTENSIONS)
        expected = (["server_name"] if name else []) + (
            ["application_layer_protocol_negotiation"] if alpn else []) + ["record_size_limit"]
        assert [e.split(" ")[0] for e in sent["extensions"]] == expected  # type: ignore[union-attr]
        for step in (SERVER_HELLO, FINISHED):
            assert same_messages(server_steps, client_steps, step)


@pytest.mark.parametrize("compressed", [True, False])
def test_each_server_sends_its_own_chain(compressed: bool) -> None:
    compression.SHARED_CACHE.clear()
    algorithms = compression.DEFAULT_ALGORITHMS if compressed else ()
    for _ in range(2):
        for chain, trust in ((RSA_CHAIN, RSA), (ECDSA.certified, ECDSA)):
            pair = connect(client_config(trust),
                           server_config(trust, certificates=(chain,),
                                         certificate_compression=algorithms))
            assert pair.complete, (pair.client.error, pair.server.error)
            assert pair.client.negotiated.peer_certificates == chain.chain_der
            used = pair.client.negotiated.certificate_compression
            assert used == ("brotli" if compressed else None) or (
                compressed and chain is not RSA_CHAIN and used is None)


@pytest.mark.parametrize("early_data", [0, 4096])
def test_tickets_and_the_resumed_flight_trace_the_same_on_both_sides(early_data: int) -> None:
    client_steps, server_steps = Steps(), Steps()
    client = client_config(ECDSA, session_cache=SessionCache(), trace=client_steps)
    server = server_config(ECDSA, ticket_keys=TicketKeys(), tickets=2,
                           max_early_data_size=early_data, trace=server_steps)
    _, second = connect_twice(client, server)
    assert second.complete and second.client.negotiated.resumed
    sent = server_steps.details(NEW_SESSION_TICKET, SENT)
    # Two after the full handshake, one after the resumption (as OpenSSL's server).
    assert len(sent) == 3 and same_messages(server_steps, client_steps, NEW_SESSION_TICKET)
    assert {d["max_early_data_size"] for d in sent} == {early_data}
    for step in (SERVER_HELLO, ENCRYPTED_EXTENSIONS, FINISHED):
        assert same_messages(server_steps, client_steps, step)
    assert [d["resumed"] for d in server_steps.details(SERVER_HELLO, SENT)] == [False, True]


@pytest.mark.parametrize(("tickets", "after_resumption"), [(0, 0), (1, 1), (4, 1)])
def test_a_resumption_gets_at_most_one_ticket_as_from_openssl(tickets: int,
                                                              after_resumption: int) -> None:
    # OpenSSL's server (SSL_CTX_set_num_tickets(3)): num_tickets after a full
    # handshake, never more than one after a resumption, none if num_tickets is 0.
    first_steps, second_steps = Steps(), Steps()
    client = client_config(ECDSA, session_cache=SessionCache())
    keys = TicketKeys()
    first_server = server_config(ECDSA, ticket_keys=keys, tickets=tickets, trace=first_steps)
    second_server = server_config(ECDSA, ticket_keys=keys, tickets=tickets,
                                  trace=second_steps)
    first = connect(client, first_server)
    assert first.complete
    assert len(first_steps.details(NEW_SESSION_TICKET, SENT)) == tickets
    second = connect(client, second_server)
    assert second.complete and second.client.negotiated.resumed == (tickets > 0)
    assert len(second_steps.details(NEW_SESSION_TICKET, SENT)) == after_resumption
