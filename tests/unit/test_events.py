"""The handshake events made through their slots (``events.handshake_complete``,
``events.session_ticket_received``) are the events their classes make."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, strategies as st

from glasstls.events import (
    HandshakeComplete,
    SessionTicketReceived,
    handshake_complete,
    session_ticket_received,
)

_text = st.none() | st.text(max_size=12)
_chain = st.lists(st.binary(max_size=8), max_size=3).map(tuple)

handshake_fields = st.fixed_dictionaries(
    {"version": st.sampled_from(["TLSv1.3", "TLSv1.2"]), "cipher_suite": st.text(max_size=30),
     "key_exchange": st.text(max_size=20), "group": _text, "signature_scheme": _text,
     "alpn_protocol": _text, "server_name": _text, "peer_certificates": _chain},
    optional={"resumed": st.booleans(), "early_data_accepted": st.booleans(),
              "extended_master_secret": st.none() | st.booleans(), "verified_chain": _chain,
              "certificate_compression": _text, "ocsp_response": st.binary(max_size=8),
              "ocsp_status": _text})

ticket_fields = st.fixed_dictionaries(
    {"lifetime": st.integers(0, 604800), "ticket": st.binary(max_size=16)},
    optional={"age_add": st.integers(0, 2**32 - 1), "nonce": st.binary(max_size=8),
              "max_early_data_size": st.integers(0, 2**32 - 1),
              "session": st.none() | st.just(object())})


def _same_event(fast: Any, ordinary: Any) -> None:
    assert type(fast) is type(ordinary)
    assert fast == ordinary
    assert hash(fast) == hash(ordinary)
    assert repr(fast) == repr(ordinary)
    for field in dataclasses.fields(ordinary):
        assert getattr(fast, field.name) is getattr(ordinary, field.name)


@given(handshake_fields)
def test_handshake_complete_is_the_class_s_event(values: dict[str, Any]) -> None:
    _same_event(handshake_complete(**values), HandshakeComplete(**values))


@given(ticket_fields)
def test_session_ticket_received_is_the_class_s_event(values: dict[str, Any]) -> None:
    _same_event(session_ticket_received(**values), SessionTicketReceived(**values))


@pytest.mark.parametrize(("build", "cls"), [(handshake_complete, HandshakeComplete),
                                            (session_ticket_received, SessionTicketReceived)])
def test_takes_the_class_s_fields_and_defaults(build: Callable[..., Any], cls: type) -> None:
    # A field added to the class (or a default changed) must be added here too.
    parameters = inspect.signature(build).parameters
    fields = dataclasses.fields(cls)
    assert list(parameters) == [field.name for field in fields]
    for field in fields:
        parameter = parameters[field.name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        expected = (inspect.Parameter.empty if field.default is dataclasses.MISSING
                    else field.default)
        assert parameter.default == expected, field.name


def test_fast_events_stay_frozen_and_pickle() -> None:
    event = handshake_complete(version="TLSv1.3", cipher_suite="TLS_AES_128_GCM_SHA256",
                               key_exchange="ECDHE x25519", group="x25519",
                               signature_scheme=None, alpn_protocol=None, server_name=None,
                               peer_certificates=(b"leaf",), resumed=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.resumed = False  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(event)) == event
    ticket = session_ticket_received(lifetime=7200, ticket=b"t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ticket.lifetime = 0  # type: ignore[misc]
    assert ticket == SessionTicketReceived(7200, b"t")
