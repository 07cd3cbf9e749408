"""The ClientHello's bytes: padded (RFC 7685) and bound to its PSK (RFC 8446
§4.2.11.2) without being serialized again, yet exactly what serializing it gives."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings, strategies as st

from glasstls import ClientConfig
from glasstls.constants import TLS13, CipherSuite, ExtensionType as X, NamedGroup
from glasstls.crypto.suites import SUITES
from glasstls.handshake.client_hello import build_client_hello
from glasstls.handshake.psk13 import binder
from glasstls.keyschedule import KeySchedule
from glasstls.messages.extensions import PreSharedKey
from glasstls.messages.handshake import ClientHello, serialize
from glasstls.session import ClientSession

AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
AES256 = SUITES[CipherSuite.TLS_AES_256_GCM_SHA384]


def _session(suite_id: int, ticket: bytes) -> ClientSession:
    suite = SUITES[suite_id]
    return ClientSession(TLS13, suite_id, bytes(range(suite.hash_len)), received_ms=0,
                         lifetime=7200, server_name=None, alpn=None, ticket=ticket)


@settings(max_examples=60, deadline=None)
@given(name_length=st.integers(1, 240), ticket_length=st.one_of(st.none(), st.integers(1, 300)),
       suite=st.sampled_from([AES128.id, AES256.id]), versions=st.sampled_from(
           [(TLS13,), (TLS13, 0x0303)]))
def test_a_built_hello_is_exactly_its_serialization(name_length: int, ticket_length: int | None,
                                                    suite: int, versions: tuple[int, ...]
                                                    ) -> None:
    # One small key share, so that many hellos fall in RFC 7685's 256..511 bytes.
    config = ClientConfig(versions=versions, key_share_groups=(NamedGroup.x25519,),
                          clock=lambda: 1.0)
    session = None if ticket_length is None else _session(suite, bytes(ticket_length))
    # Labels of at most 63 bytes (RFC 1035 §2.3.4).
    name = ".".join("a" * min(63, name_length - start) for start in range(0, name_length, 63))
    sent = build_client_hello(config, name + ".example", session=session)
    hello = sent.hello
    assert hello.raw == serialize(hello)
    parsed = ClientHello.parse(hello.raw)
    assert parsed.extensions == hello.extensions
    types = [e.type for e in hello.extensions]
    if X.padding in types:
        # RFC 7685: padded to 512 bytes (a few more when even an empty padding
        # extension would overshoot), before pre_shared_key.
        assert 0x200 <= len(hello.raw) < 0x200 + 5
        if session is not None:
            assert types[-2:] == [X.padding, X.pre_shared_key]
        else:
            assert types[-1] == X.padding
    else:
        assert not 0xFF < len(hello.raw) < 0x200
    if session is not None:
        psk = hello.extensions[-1]
        assert isinstance(psk, PreSharedKey) and types[-1] == X.pre_shared_key
        row = SUITES[suite]
        transcript_hash = hashlib.new(row.hash_name, hello.truncated_for_binders()).digest()
        assert psk.binders == (binder(KeySchedule(row, session.secret), transcript_hash),)


def test_hellos_of_256_to_511_bytes_are_padded_with_and_without_a_psk() -> None:
    config = ClientConfig(versions=(TLS13,), key_share_groups=(NamedGroup.x25519,),
                          clock=lambda: 1.0)
    for session in (None, _session(AES128.id, bytes(100))):
        hello = build_client_hello(config, "a" * 40 + ".example.com", session=session).hello
        assert len(hello.raw) == 512 and hello.raw == serialize(hello)
        assert X.padding in [e.type for e in hello.extensions]
