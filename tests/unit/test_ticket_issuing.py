"""The server's TLS 1.3 tickets as ``ticket_messages`` makes them, with its state,
message and sealing key packed once per connection: the same bytes as the code before
that (b571dbb) made from the same randomness, each ticket's fields as RFC 8446 §4.6.1
sets them, and tickets sealed by that code still opening."""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable

import pytest

from glasstls.crypto.suites import SUITES, TLS13_SUITES, Suite
from glasstls.handshake import flight13
from glasstls.handshake.psk13 import ticket_messages
from glasstls.keyschedule import resumption_psk
from glasstls.messages.handshake import NewSessionTicket13
from glasstls.session import TICKET_OVERHEAD, SessionState, TicketKeys

SECRET = bytes(range(32))
NOW = 1_000_000.0
RESUMPTION_SECRET = bytes(range(100, 132))
CHAIN = (b"cert-one", b"c2" * 50)

# What b571dbb's issue_tickets sent with counting_rng() (below) and these arguments:
# two tickets after a full handshake without 0-RTT, then one after a resumption with
# max_early_data_size 16384 and a client certificate chain.
OLD_MESSAGES = [
    bytes.fromhex(
        "0400009000001c20cd266215080000000000000000007bfbab0e3d86dd566c9efad6497bb30ad2cd"
        "04a4754498e06db5a13c5f4ff9554b57b4ff3216c854edc788bdfa28116c163fa745d60b39c73f94"
        "92a8ec9644abcfa0d20285f32828d9fd25dd44c9ad3f60f0a3db1e75b56c9c69ac74d5a8ab39c228"
        "07aaa25129bd1b10fd63ab21445e2c5361bf3ff46453a8653b3e0000"
    ),
    bytes.fromhex(
        "0400009000001c20d5688a52080000000000000001007bfbab0e3d86dd566c9efad6497bb30ad280"
        "05f02d43fa06e7d0585fb6b41c5d32606b605b60aa21d95612f2c6ff5cc6129202c62a63e0b8e876"
        "ac6c11a031fa37e42d65042d713521855933105b516a89ea27442104cb4a7bbde2f7e0c4ddd99346"
        "4e9528176e33bc71f2462062448794c0bb7defb61fc529b150890000"
    ),
    bytes.fromhex(
        "0400010a00001c20cd26621508000000000000000000edfbab0e3d86dd566c9efad6497bb30ad2cd"
        "04a4754498e06db5a13c5f4ff9554b57b4ff3216c854edc788bdfa28116c163fa745d64b39c73f94"
        "92a8ec9636abcfa0d20285f32828d9fd25dd44c9ad3f60f0a3db1e75b56c9c69ac74d5a8ab39c228"
        "07aaa25129bd1b10fd63590f297cd84bf232374040a81a6bb134ee7c4c76d659dc3f2b98a636850d"
        "f2c3dc6c3fbdae3eaaaa8477dbe40274908f7750f9bca5c22c361ebd5cbb3800c6c13bde452be400"
        "2dfa9364b993422af14153531a0dd26dabf40555483eca96f0567e91a8a83ede3e66d0913ca20448"
        "68d286f11b5f074d5536ec1e801644166d4a824d0008002a000400004000"
    ),
]


def counting_rng() -> Callable[[int], bytes]:
    """A deterministic rng: SHA-256 of a counter, as many blocks as asked."""
    counter = 0

    def rng(size: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < size:
            counter += 1
            out += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        return out[:size]
    return rng


def _secret(suite: Suite) -> bytes:
    """The resumption master secret, one hash long (RESUMPTION_SECRET for SHA-256)."""
    return bytes(range(100, 100 + suite.hash_len))


def _issue(max_early: int, resumed: bool, chain: tuple[bytes, ...], tickets: int = 2,
           rng: Callable[[int], bytes] | None = None, suite: Suite = SUITES[0x1301],
           keys: TicketKeys | None = None) -> list[bytes]:
    config = types.SimpleNamespace(
        tickets=tickets, ticket_keys=keys or TicketKeys(secret=SECRET), clock=lambda: NOW,
        ticket_lifetime=7200, max_early_data_size=max_early, rng=rng or counting_rng())
    messages = ticket_messages(config, suite, _secret(suite), b"h2",  # type: ignore[arg-type]
                               "example.com", chain, resumed=resumed, now=config.clock())
    for raw in messages:
        # Each message parses as a NewSessionTicket and is flight13's encoding of it.
        message = NewSessionTicket13.parse(raw)
        assert raw == flight13.new_session_ticket(
            message.ticket_lifetime, message.ticket_age_add, message.ticket_nonce,
            message.ticket, message.max_early_data_size)
    return messages


def test_the_tickets_are_the_bytes_the_code_before_made_from_the_same_randomness() -> None:
    assert _issue(0, False, ()) + _issue(16384, True, CHAIN) == OLD_MESSAGES


@pytest.mark.parametrize("message", OLD_MESSAGES)
def test_a_ticket_sealed_by_the_code_before_opens_to_its_state(message: bytes) -> None:
    ticket = NewSessionTicket13.parse(message)
    opened = TicketKeys(secret=SECRET).open(ticket.ticket, NOW)
    assert opened is not None
    state = SessionState.decode(opened)
    assert state.secret == resumption_psk(SUITES[0x1301], RESUMPTION_SECRET, ticket.ticket_nonce)
    assert state.age_add == ticket.ticket_age_add
    assert (state.server_name, state.alpn, state.lifetime) == (b"example.com", b"h2", 7200)


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize(("tickets", "resumed"), [(1, False), (2, False), (3, False),
                                                  (9, False), (2, True), (0, False)])
def test_each_ticket_has_its_own_nonce_age_add_and_psk_and_opens_to_its_state(
        suite: Suite, tickets: int, resumed: bool) -> None:
    keys = TicketKeys()  # random keys: made by the first ticket, from the rng
    sent = _issue(4096, resumed, CHAIN, tickets, rng=counting_rng(), suite=suite, keys=keys)
    # RFC 8446 §4.6.1 (and OpenSSL): one ticket after a resumption.
    assert len(sent) == (min(tickets, 1) if resumed else tickets)
    messages = [NewSessionTicket13.parse(raw) for raw in sent]
    secret = _secret(suite)
    for index, message in enumerate(messages):
        assert message.ticket_nonce == index.to_bytes(8, "big")
        assert (message.ticket_lifetime, message.max_early_data_size) == (7200, 4096)
        opened = keys.open(message.ticket, NOW)
        assert opened is not None
        assert SessionState.decode(opened) == SessionState(
            0x0304, suite.id, resumption_psk(suite, secret, message.ticket_nonce),
            int(NOW * 1000), 7200, message.ticket_age_add, b"h2", b"example.com", False,
            4096, CHAIN)
    # Fresh randomness per ticket: age_add and the sealing nonce (ticket[16:28]).
    assert len({m.ticket_age_add for m in messages}) == len(messages)
    assert len({m.ticket[16:28] for m in messages}) == len(messages)


def test_a_ticket_too_long_for_its_message_is_refused() -> None:
    with pytest.raises(OverflowError):
        _issue(0, False, (bytes(70_000),))


def test_sealing_gives_what_seal_seals_with() -> None:
    keys = TicketKeys(secret=SECRET)
    name, seal, nonces = keys.sealing(NOW)
    nonce = nonces(12)
    ticket = name + nonce + seal(nonce, b"state", name)
    assert len(ticket) == len(b"state") + TICKET_OVERHEAD
    assert keys.open(ticket, NOW) == b"state"
    assert keys.open(keys.seal(b"state", NOW), NOW) == b"state"
