"""The pieces a server issues TLS 1.3 tickets with: each ticket's nonce and PSK
(RFC 8446 §4.6.1), and its state's bytes packed around the fields that differ
between a connection's tickets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.crypto.hkdf import hmac_digest
from glasstls.crypto.suites import TLS13_SUITES, Suite
from glasstls.handshake.psk13 import _ticket_inputs, _unusable
from glasstls.keyschedule import resumption_psk
from glasstls.session import SessionState


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("count", [1, 2, 8, 9, 12])
def test_ticket_psks_are_hkdf_expand_label_of_the_resumption_secret_with_the_nonce(
        suite: Suite, count: int) -> None:
    secret = bytes(range(suite.hash_len))
    inputs = _ticket_inputs(suite.hash_len, count)
    # Each nonce the ticket's counter, 8 bytes: unique within the connection.
    assert [nonce for nonce, _ in inputs] == [n.to_bytes(8, "big") for n in range(count)]
    for nonce, psk_input in inputs:
        assert hmac_digest(suite.hash_name, secret, psk_input) == resumption_psk(
            suite, secret, nonce)


u = st.integers
states = st.builds(
    lambda suite, *fields: (suite, *fields),
    st.sampled_from(TLS13_SUITES), u(0, 2**64 - 1), u(0, 2**32 - 1), u(0, 2**32 - 1),
    st.binary(max_size=255), st.binary(max_size=300), st.booleans(), u(0, 2**32 - 1),
    st.lists(st.binary(max_size=600), max_size=3).map(tuple), st.binary(min_size=1, max_size=64))


@settings(max_examples=200, deadline=None)
@given(states)
def test_states_packed_around_secret_and_age_add_are_encode_fields(state: tuple) -> None:  # type: ignore[type-arg]
    (suite, issued_ms, lifetime, age_add, alpn, name, ems, max_early, chain, secret) = state
    head, middle, tail = SessionState.encode_around(
        0x0304, suite.id, len(secret), issued_ms, lifetime, alpn, name, ems, max_early, chain)
    packed = head + age_add.to_bytes(4, "big") + middle + secret + tail
    assert packed == SessionState.encode_fields(0x0304, suite.id, secret, issued_ms, lifetime,
                                                age_add, alpn, name, ems, max_early, chain)
    assert SessionState.decode(packed) == SessionState(
        0x0304, suite.id, secret, issued_ms, lifetime, age_add, alpn, name, ems, max_early,
        chain)


def test_a_state_field_out_of_range_is_refused_when_packed_around() -> None:
    with pytest.raises(ValueError, match="out of range"):
        SessionState.encode_around(0x0304, 0x1301, 32, 2**64, 7200, b"", b"", False, 0, ())
    with pytest.raises(ValueError, match="out of range"):
        SessionState.encode_around(0x0304, 0x1301, 32, 0, 7200, b"x" * 256, b"", False, 0, ())


def _state(**changes: object) -> SessionState:
    fields: dict[str, object] = dict(
        version=0x0304, cipher_suite=0x1301, secret=bytes(32), issued_ms=1_000_000,
        lifetime=100, server_name=b"example.com")
    fields.update(changes)
    return SessionState(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("state", "now_ms", "server_name", "client_auth", "reason"), [
    (_state(), 1_000_000, "example.com", "none", ""),
    (_state(), 1_100_000, "example.com.", "required", "no client certificate"),
    (_state(peer_certificates=(b"c",)), 1_100_000, "EXAMPLE.com", "required", ""),
    (_state(version=0x0303), 1_000_000, "example.com", "none", "not for TLS 1.3"),
    (_state(cipher_suite=0x1302), 1_000_000, "example.com", "none", "hash differs"),
    (_state(cipher_suite=0x00FF), 1_000_000, "example.com", "none", "hash differs"),
    (_state(cipher_suite=0x1303), 1_000_000, "example.com", "none", ""),
    (_state(), 1_100_001, "example.com", "none", "expired"),
    (_state(), 990_000, "example.com", "none", ""),
    (_state(), 989_999, "example.com", "none", "in the future"),
    (_state(), 1_000_000, "example.org", "none", "another server name"),
    (_state(), 1_000_000, None, "none", "another server name"),
    (_state(server_name=b""), 1_000_000, None, "none", ""),
])
def test_a_ticket_is_unusable_for_each_reason_and_usable_otherwise(
        state: SessionState, now_ms: int, server_name: str | None, client_auth: str,
        reason: str) -> None:
    found = _unusable(state, "sha256", now_ms, server_name, client_auth)
    assert (reason in found and bool(found) == bool(reason)), found
