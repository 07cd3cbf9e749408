"""Ticket keys, both versions, with an injected clock: rotation, retired keys (a full
handshake, never an error), and servers that share a ``TicketKeys`` secret and so
resume each other's tickets."""

from __future__ import annotations

import dataclasses
from unittest import mock

import pytest

from glasstls import ClientConfig, ClientConnection, ConfigError, ServerConfig
from glasstls.constants import TLS12, TLS13
from glasstls.crypto import sealing
from glasstls.session import TicketKeys
from helpers.pump import Pair, client_config, server_config
from helpers.sessions import Clock, connect_pair, latest_session, tickets
from pki import pki

TEST_PKI = pki("ecdsa-p256")
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
ROTATE, ACCEPT = 60.0, 60.0
SECRET = bytes(range(32))


def epoch_start_clock() -> Clock:
    """A clock one second into a rotation period, so that the tests know which
    ticket key is current."""
    clock = Clock()
    clock.now = (clock.now // ROTATE) * ROTATE + 1
    return clock


KEY_KINDS = ("random", "shared-secret")


def ticket_keys(kind: str) -> TicketKeys:
    secret = SECRET if kind == "shared-secret" else None
    return TicketKeys(secret=secret, rotate_after=ROTATE, accept_for=ACCEPT)


def client_for(version: int, clock: Clock) -> ClientConfig:
    # No cache: each test passes the session it means to resume.
    return client_config(TEST_PKI, versions=(version,), clock=clock, session_cache=None)


def server_for(version: int, clock: Clock, keys: TicketKeys) -> ServerConfig:
    # TLS 1.2 without a session cache, so that only the ticket can resume.
    return server_config(TEST_PKI, versions=(version,), clock=clock, ticket_keys=keys,
                         session_cache=None)


def resume(client: ClientConfig, server: ServerConfig, session: object) -> Pair:
    return connect_pair(ClientConnection(client, server_name="localhost",
                                         session=session), server)


def resumed(pair: Pair) -> bool:
    assert pair.complete, (pair.client.error, pair.server.error)
    assert pair.client.alerts_received == [] and pair.server.alerts_received == []
    assert pair.client.negotiated.resumed == pair.server.negotiated.resumed
    return pair.server.negotiated.resumed


def first_ticket(version: int, clock: Clock, keys: TicketKeys):  # type: ignore[no-untyped-def]
    pair = connect_pair(client_for(version, clock), server_for(version, clock, keys))
    assert tickets(pair), "no ticket was issued"
    return latest_session(pair)


# -- rotation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KEY_KINDS)
@pytest.mark.parametrize("version_name", VERSIONS)
def test_ticket_from_the_current_key_resumes(version_name: str, kind: str) -> None:
    version, clock = VERSIONS[version_name], epoch_start_clock()
    keys = ticket_keys(kind)
    session = first_ticket(version, clock, keys)
    clock.advance(30)
    assert resumed(resume(client_for(version, clock), server_for(version, clock, keys), session))


@pytest.mark.parametrize("kind", KEY_KINDS)
@pytest.mark.parametrize("version_name", VERSIONS)
def test_ticket_from_a_retired_key_still_resumes_within_accept_for(
        version_name: str, kind: str) -> None:
    version, clock = VERSIONS[version_name], epoch_start_clock()
    keys = ticket_keys(kind)
    session = first_ticket(version, clock, keys)
    clock.advance(ROTATE + 10)  # a new key is current; the old one retired 11 s ago
    pair = resume(client_for(version, clock), server_for(version, clock, keys), session)
    assert resumed(pair)


DROPPED_KINDS = ["random", "shared-secret"]


@pytest.mark.parametrize("kind", DROPPED_KINDS)
@pytest.mark.parametrize("version_name", VERSIONS)
def test_ticket_from_a_dropped_key_gives_a_full_handshake_not_an_error(
        version_name: str, kind: str) -> None:
    version, clock = VERSIONS[version_name], epoch_start_clock()
    keys = ticket_keys(kind)
    session = first_ticket(version, clock, keys)
    clock.advance(2 * ROTATE + 10)  # retired 70 s ago: past accept_for (60 s)
    assert session.lifetime * 1000 > 2 * ROTATE * 1000 + 10_000  # the ticket itself is valid
    pair = resume(client_for(version, clock), server_for(version, clock, keys), session)
    assert not resumed(pair)
    # The full handshake hands out a ticket under the current key, which resumes.
    again = resume(client_for(version, clock), server_for(version, clock, keys),
                   latest_session(pair))
    assert resumed(again)


@pytest.mark.parametrize("kind", KEY_KINDS)
@pytest.mark.parametrize("version_name", VERSIONS)
def test_tickets_are_sealed_under_a_new_key_after_rotation(version_name: str, kind: str) -> None:
    version, clock = VERSIONS[version_name], epoch_start_clock()
    keys = ticket_keys(kind)
    before = first_ticket(version, clock, keys).ticket
    clock.advance(ROTATE)
    after = first_ticket(version, clock, keys).ticket
    same_period = first_ticket(version, clock, keys).ticket
    # The first 16 bytes name the key (session.py: key_name || nonce || sealed state).
    assert before[:16] != after[:16]
    assert after[:16] == same_period[:16]


# -- servers sharing a secret --------------------------------------------------------------------


@pytest.mark.parametrize("version_name", VERSIONS)
def test_servers_sharing_a_ticket_secret_resume_each_others_tickets(version_name: str) -> None:
    version, clock = VERSIONS[version_name], epoch_start_clock()
    server_a = server_for(version, clock, TicketKeys(secret=SECRET, rotate_after=ROTATE))
    server_b = server_for(version, clock, TicketKeys(secret=SECRET, rotate_after=ROTATE))
    client = client_for(version, clock)
    first = connect_pair(client, server_a)
    at_b = resume(client, server_b, latest_session(first))
    assert resumed(at_b)
    back_at_a = resume(client, server_a, latest_session(at_b))
    assert resumed(back_at_a)


@pytest.mark.parametrize("version_name", VERSIONS)
def test_servers_with_different_ticket_secrets_fall_back_to_a_full_handshake(
        version_name: str) -> None:
    version, clock = VERSIONS[version_name], epoch_start_clock()
    server_a = server_for(version, clock, TicketKeys(secret=SECRET, rotate_after=ROTATE))
    server_b = server_for(version, clock, TicketKeys(secret=bytes(32), rotate_after=ROTATE))
    client = client_for(version, clock)
    first = connect_pair(client, server_a)
    assert not resumed(resume(client, server_b, latest_session(first)))


@pytest.mark.parametrize("version_name", VERSIONS)
def test_server_sharing_the_secret_resumes_a_ticket_from_a_peer_slightly_ahead(
        version_name: str) -> None:
    # Server A is half a second into a new rotation period; B's clock is 0.9 s behind,
    # still in the previous one. (glasstls takes TLS 1.3 tickets issued up to 1 s in
    # its future: psk13._unusable.)
    version = VERSIONS[version_name]
    clock_a = epoch_start_clock()
    clock_a.advance(-0.5)
    clock_b = Clock(clock_a.now - 0.9)
    assert clock_b.now // ROTATE == clock_a.now // ROTATE - 1
    server_a = server_for(version, clock_a, TicketKeys(secret=SECRET, rotate_after=ROTATE))
    server_b = server_for(version, clock_b, TicketKeys(secret=SECRET, rotate_after=ROTATE))
    first = connect_pair(client_for(version, clock_a), server_a)
    assert resumed(resume(client_for(version, clock_b), server_b, latest_session(first)))


@pytest.mark.parametrize("version_name", VERSIONS)
def test_fresh_server_sharing_the_secret_resumes_a_ticket_from_the_previous_period(
        version_name: str) -> None:
    # A peer that was idle (or restarted) during the period the ticket was sealed in.
    version, clock = VERSIONS[version_name], epoch_start_clock()
    server_a = server_for(version, clock, TicketKeys(secret=SECRET, rotate_after=ROTATE,
                                                     accept_for=ACCEPT))
    session = latest_session(connect_pair(client_for(version, clock), server_a))
    clock.advance(ROTATE + 10)  # A's key retired 11 s ago, well within accept_for
    # A itself still takes it ...
    assert resumed(resume(client_for(version, clock), server_a, session))
    # ... and so should a server started now with the same secret.
    server_b = server_for(version, clock, TicketKeys(secret=SECRET, rotate_after=ROTATE,
                                                     accept_for=ACCEPT))
    assert resumed(resume(client_for(version, clock), server_b, session))


# -- TicketKeys itself ----------------------------------------------------------------------------


def test_ticket_keys_open_what_they_seal_and_nothing_else() -> None:
    keys = TicketKeys(rotate_after=ROTATE, accept_for=ACCEPT)
    now = epoch_start_clock()()
    ticket = keys.seal(b"session state", now)
    assert keys.open(ticket, now) == b"session state"
    for index in (0, 16, 30, len(ticket) - 1):  # key name, nonce, ciphertext, tag
        tampered = bytearray(ticket)
        tampered[index] ^= 0x01
        assert keys.open(bytes(tampered), now) is None
    assert keys.open(ticket[:40], now) is None
    assert keys.open(b"", now) is None
    assert TicketKeys().open(ticket, now) is None  # another server's random keys


@pytest.mark.parametrize("kind", KEY_KINDS)
def test_ticket_keys_make_their_aead_once_per_key_not_per_ticket(kind: str) -> None:
    keys = ticket_keys(kind)
    clock = epoch_start_clock()
    with mock.patch.object(sealing, "AESGCM", wraps=sealing.AESGCM) as made:
        assert keys.open(keys.seal(b"first", clock()), clock()) == b"first"
        per_period = made.call_count  # the current key (with a secret: and its window)
        for count in range(20):
            clock.now += 1
            assert keys.open(keys.seal(b"state %d" % count, clock()), clock()) == (
                b"state %d" % count)
        assert made.call_count == per_period
        clock.now += ROTATE  # the next period: a new key, and the old one still opens
        old = keys.seal(b"old", clock() - ROTATE)
        assert keys.open(keys.seal(b"next", clock()), clock()) == b"next"
        assert keys.open(old, clock()) == b"old"
        # (With a secret, opening also accepts one more period ahead: its key too.)
        assert made.call_count == per_period + (1 if kind == "random" else 2)


def test_ticket_keys_refuse_a_short_shared_secret_and_bad_periods() -> None:
    with pytest.raises(ConfigError):
        TicketKeys(secret=bytes(16))
    with pytest.raises(ConfigError):
        TicketKeys(rotate_after=0)
    with pytest.raises(ConfigError):
        TicketKeys(accept_for=-1)


def test_ticket_keys_with_the_same_secret_derive_the_same_keys() -> None:
    now = epoch_start_clock()()
    a, b = TicketKeys(secret=SECRET), TicketKeys(secret=SECRET)
    assert a.seal(b"x", now)[:16] == b.seal(b"y", now)[:16]
    assert b.open(a.seal(b"state", now), now) == b"state"
    assert TicketKeys(secret=bytes(32)).open(a.seal(b"state", now), now) is None


def test_server_configs_made_separately_have_separate_random_ticket_keys() -> None:
    # The default: one TicketKeys per config, random; sharing is explicit.
    clock = epoch_start_clock()
    a = server_config(TEST_PKI, clock=clock)
    b = dataclasses.replace(a)
    assert a.ticket_keys is b.ticket_keys  # a copy of a config shares its keys
    assert server_config(TEST_PKI).ticket_keys is not a.ticket_keys
