"""What a ticket's sealed state may be, end to end: a TLS 1.3 or 1.2 ticket whose state
is in format 1 (the codec's layout, sealed before format 2) still resumes, and a ticket
the server's own keys open but whose state is damaged anywhere gives a full handshake
(or, for a state that still decodes to a usable TLS 1.3 session, the binder's alert),
never an exception."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls import ClientConnection
from glasstls.constants import TLS12, TLS13
from glasstls.session import ClientSession, SessionState, TicketKeys
from helpers.pump import client_config, server_config
from helpers.sessions import Clock, connect_pair, latest_session
from pki import pki
from unit.test_session_state import _codec_encoding

TEST_PKI = pki("ecdsa-p256")
SECRET = bytes(range(32))


def _configs(version: int, clock: Clock, keys: TicketKeys):  # type: ignore[no-untyped-def]
    client = client_config(TEST_PKI, versions=(version,), clock=clock, session_cache=None)
    server = server_config(TEST_PKI, versions=(version,), clock=clock, ticket_keys=keys,
                           session_cache=None)
    return client, server


def _resealed(session: ClientSession, keys: TicketKeys, now: float, state: bytes
              ) -> ClientSession:
    """The session with its ticket sealed again, by the same keys, around ``state``."""
    return dataclasses.replace(session, ticket=keys.seal(state, now))


def _first_session(version: int) -> tuple[Clock, TicketKeys, ClientSession, SessionState]:
    clock, keys = Clock(), TicketKeys(secret=SECRET)
    client, server = _configs(version, clock, keys)
    session = latest_session(connect_pair(client, server))
    opened = keys.open(session.ticket, clock.now)
    assert opened is not None and opened[0] == 2  # what the server seals: format 2
    return clock, keys, session, SessionState.decode(opened)


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_a_ticket_with_a_format_1_state_still_resumes(version: int) -> None:
    clock, keys, session, state = _first_session(version)
    old = _resealed(session, keys, clock.now, _codec_encoding(state))
    client, server = _configs(version, clock, keys)
    pair = connect_pair(ClientConnection(client, server_name="localhost", session=old),
                        server)
    assert pair.complete and pair.server.negotiated.resumed


_SESSIONS = {version: _first_session(version) for version in (TLS13, TLS12)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([TLS13, TLS12]), st.data())
def test_a_ticket_with_a_damaged_state_gives_a_full_handshake(version: int,
                                                              data: st.DataObject) -> None:
    clock, keys, session, state = _SESSIONS[version]
    damaged = bytearray(state.encode())
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255).filter(lambda b: b != damaged[at]))
    else:
        damaged = damaged[:data.draw(st.integers(0, len(damaged) - 1))]
    client, server = _configs(version, clock, keys)
    pair = connect_pair(ClientConnection(
        client, server_name="localhost",
        session=_resealed(session, keys, clock.now, bytes(damaged))), server)
    if pair.complete:
        # The state did not decode, or is not one to resume with (another version,
        # suite, lifetime or name...), or is TLS 1.2's, whose other fields only the
        # server reads: a full handshake, or a resumption with the state's own secret.
        assert pair.client.alerts_received == [] and pair.server.alerts_received == []
        return
    # Otherwise the server resumed with a PSK the client does not hold (the secret's
    # bytes changed): the binder (TLS 1.3) or the Finished (TLS 1.2) says so with an
    # alert, as for any wrong key.
    assert pair.server.error is not None or pair.client.error is not None
