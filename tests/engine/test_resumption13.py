"""TLS 1.3 resumption in memory (RFC 8446 §2.2, §4.2.9, §4.2.11, §4.6.1): tickets,
the client's session cache, suites of another hash, psk_ke only when enabled,
tampered tickets and binders, expiry, and sessions across versions."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest

from glasstls import (
    AlertDescription,
    ClientConfig,
    ClientConnection,
    ServerConfig,
    ServerConnection,
    TLSError,
    keyschedule,
    trace as t,
)
from glasstls.constants import TLS12, TLS13, CipherSuite, ExtensionType as X, PskKeyExchangeMode
from glasstls.crypto import hkdf
from glasstls.crypto.suites import SUITES
from glasstls.events import HandshakeComplete
from glasstls.handshake.psk13 import with_binder
from glasstls.messages import extensions as ext, handshake as hs
from glasstls.session import SessionCache, TicketKeys
from glasstls.trace import TraceEvent
from helpers.pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    Pair,
    client_config,
    record,
    server_config,
    split_records,
)
from helpers.sessions import Clock, connect_pair, connect_twice, latest_session, tickets
from pki import pki

TEST_PKI = pki("ecdsa-p256")
AES128 = CipherSuite.TLS_AES_128_GCM_SHA256
AES256 = CipherSuite.TLS_AES_256_GCM_SHA384
CHACHA20 = CipherSuite.TLS_CHACHA20_POLY1305_SHA256


def client13(**overrides: object) -> ClientConfig:
    return client_config(TEST_PKI, **{"versions": (TLS13,), **overrides})


def server13(**overrides: object) -> ServerConfig:
    return server_config(TEST_PKI, **{"versions": (TLS13,), **overrides})


def client_hello_sent(pair: Pair) -> hs.ClientHello:
    first_record = split_records(pair.sent(CLIENT_TO_SERVER))[0]
    return hs.ClientHello.parse(first_record[5:])


def offered_identities(pair: Pair) -> tuple[ext.PskIdentity, ...]:
    psk = ext.find_typed(client_hello_sent(pair).extensions, X.pre_shared_key, ext.PreSharedKey)
    return psk.identities if psk is not None else ()


# -- tickets and the resumed handshake ---------------------------------------------------------


def test_tls13_second_connection_resumes_with_a_ticket_from_the_first() -> None:
    client, server = client13(), server13()
    first, second = connect_twice(client, server)
    assert not first.client.negotiated.resumed and not first.server.negotiated.resumed
    assert second.client.negotiated.resumed and second.server.negotiated.resumed
    assert second.client.negotiated.resumed and second.server.negotiated.resumed
    offered = [i.identity for i in offered_identities(second)]
    assert len(offered) == 1 and offered[0] in [e.ticket for e in tickets(first)]
    for side in (second.client, second.server):
        assert side.negotiated.key_exchange.startswith("PSK + (EC)DHE")
        assert not side.negotiated.early_data_accepted
    # The server's identity comes from the session: the same chain as the first time.
    assert second.client.negotiated.peer_certificates == (
        first.client.negotiated.peer_certificates)
    second.client.connection.send(b"again")
    second.pump()
    assert second.server.data == b"again"


def test_tls13_resumed_handshake_sends_no_certificate_and_no_signature() -> None:
    steps: list[TraceEvent] = []
    client, server = client13(), server13(trace=steps.append)
    first = connect_pair(client, server)
    full = [(e.step, e.action) for e in steps]
    steps.clear()
    connect_pair(client, server)
    resumed = [(e.step, e.action) for e in steps]
    # The server's certificate goes compressed (RFC 8879): the client offers brotli.
    for step in (t.COMPRESSED_CERTIFICATE, t.CERTIFICATE_VERIFY):
        assert (step, t.SENT) in full
        assert (step, t.SENT) not in resumed
    assert first.complete


def test_tls13_server_sends_two_tickets_by_default_and_the_client_keeps_them() -> None:
    clock = Clock()
    cache = SessionCache()
    pair = connect_pair(client13(session_cache=cache, clock=clock), server13(clock=clock))
    events = tickets(pair)
    assert len(events) == 2
    assert all(e.lifetime == 7200 and e.session is not None for e in events)
    assert events[0].ticket != events[1].ticket
    assert events[0].nonce != events[1].nonce
    assert len(cache) == 2
    assert pair.client.connection.session is events[-1].session


@pytest.mark.parametrize("count", [1, 3])
def test_tls13_tickets_setting_is_the_number_of_tickets_sent(count: int) -> None:
    pair = connect_pair(client13(), server13(tickets=count, ticket_lifetime=600))
    assert [e.lifetime for e in tickets(pair)] == [600] * count


@pytest.mark.parametrize("setting", [{"tickets": 0}, {"ticket_keys": None}])
def test_tls13_server_without_tickets_sends_none_and_the_next_handshake_is_full(
        setting: dict[str, object]) -> None:
    client, server = client13(), server13(**setting)
    first, second = connect_twice(client, server)
    assert tickets(first) == []
    assert second.complete and not second.server.negotiated.resumed
    assert offered_identities(second) == ()


def test_tls13_client_uses_each_ticket_once() -> None:
    client, server = client13(), server13(tickets=1)
    first = connect_pair(client, server)
    offered = []
    for _ in range(3):
        pair = connect_pair(client, server)
        assert pair.server.negotiated.resumed
        offered.append(offered_identities(pair)[0].identity)
    assert len(set(offered)) == 3
    assert offered[0] == tickets(first)[0].ticket


def test_tls13_client_without_a_session_cache_resumes_only_an_explicit_session() -> None:
    client, server = client13(session_cache=None), server13()
    first, second = connect_twice(client, server)
    assert not second.server.negotiated.resumed
    session = latest_session(first)
    explicit = connect_pair(ClientConnection(client, server_name="localhost", session=session),
                            server)
    assert explicit.server.negotiated.resumed and explicit.client.negotiated.resumed


def test_tls13_sessions_are_kept_per_server_name() -> None:
    client, server = client13(check_hostname=False), server13()
    connect_pair(client, server, server_name="localhost")
    other = connect_pair(client, server, server_name="other.example")
    assert not other.server.negotiated.resumed
    same = connect_pair(client, server, server_name="localhost")
    assert same.server.negotiated.resumed


def test_tls13_session_passed_explicitly_must_be_a_client_session() -> None:
    with pytest.raises(TypeError):
        ClientConnection(client13(), server_name="localhost", session=b"ticket")


# -- suites ------------------------------------------------------------------------------------


def test_tls13_resumption_with_a_suite_of_the_same_hash_resumes() -> None:
    # RFC 8446 §4.2.11: a PSK may be used with any suite of the same hash.
    client, keys = client13(cipher_suites=(AES128, CHACHA20)), TicketKeys()
    first, second = connect_twice(
        client, server13(cipher_suites=(AES128,), ticket_keys=keys),
        second_server=server13(cipher_suites=(CHACHA20,), ticket_keys=keys))
    assert first.server.negotiated.cipher_suite == "TLS_AES_128_GCM_SHA256"
    assert second.server.negotiated.resumed
    assert second.client.negotiated.cipher_suite == "TLS_CHACHA20_POLY1305_SHA256"


def test_tls13_client_extracts_a_ticket_s_early_secret_once_per_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The binder's key schedule, at the PSK's early secret, is the one the handshake
    # goes on from: nothing is extracted from the PSK again at the ServerHello; and
    # the session keeps what its PSK alone gives, so resuming it again extracts nothing.
    client, server = client13(), server13()
    first = connect_pair(client, server)
    session = latest_session(first)
    made: list[bytes] = []
    original = keyschedule.EarlySecrets.__init__

    def counting(self: keyschedule.EarlySecrets, hash_name: str, psk: bytes) -> None:
        made.append(psk)
        original(self, hash_name, psk)

    monkeypatch.setattr(keyschedule.EarlySecrets, "__init__", counting)
    client_made: list[bytes] = []
    for _ in range(2):
        connection = ClientConnection(client, server_name="localhost", session=session)
        hello = connection.data_to_send()
        client_made += made
        made.clear()
        responder = ServerConnection(server)
        responder.receive_data(hello)
        # The server works out the ticket's early secrets once, for the binder and
        # the handshake that follows it.
        assert made == [session.secret]
        made.clear()
        connection.receive_data(responder.data_to_send())
        assert connection.handshake_complete and connection.negotiated.resumed
        assert made == []
    assert client_made == [session.secret]  # the first hello's, and only it


def test_tls13_session_s_kept_early_secrets_follow_its_psk() -> None:
    # A session whose PSK is replaced (or a copy made with another) offers binders
    # of that PSK, not of the early secrets kept from the one before: with a key
    # the server did not issue, the binder fails (RFC 8446 §4.2.11.2).
    client, server = client13(session_cache=None), server13()
    session = latest_session(connect_pair(client, server))
    resumed = connect_pair(ClientConnection(client, server_name="localhost", session=session),
                           server)
    assert resumed.complete and resumed.client.negotiated.resumed
    assert session.early_secrets is not None
    copy = dataclasses.replace(session)
    assert copy.early_secrets is None and copy == session
    session.secret = bytes(len(session.secret))
    pair = connect_pair(ClientConnection(client, server_name="localhost", session=session),
                        server)
    assert pair.server.alert_sent == AlertDescription.decrypt_error


def test_tls13_binder_from_kept_early_secrets_is_the_binder_of_the_psk() -> None:
    # RFC 8446 §4.2.11.2, the binder written out from the PSK with the module's
    # HKDF functions, against the one the kept early secrets give.
    suite = SUITES[AES128]
    psk, transcript_hash = bytes(range(32)), bytes(range(100, 132))
    early = keyschedule.EarlySecrets(suite.hash_name, psk)
    early_secret = hkdf.extract(suite.hash_name, bytes(32), psk)
    empty_hash = hashlib.sha256(b"").digest()
    binder_key = hkdf.expand_label(suite.hash_name, early_secret, b"res binder", empty_hash,
                                   32, 32)
    finished_key = hkdf.expand_label(suite.hash_name, binder_key, b"finished", b"", 32, 32)
    expected = hmac.new(finished_key, transcript_hash, "sha256").digest()
    assert keyschedule.KeySchedule(suite, early=early).resumption_binder(
        transcript_hash) == expected
    assert keyschedule.KeySchedule(suite, psk).resumption_binder(transcript_hash) == expected
    with_early = keyschedule.KeySchedule(suite, early=early)
    with_psk = keyschedule.KeySchedule(suite, psk)
    for schedule in (with_early, with_psk):
        schedule.enter_handshake(bytes(range(32)))
    assert with_early.secret == with_psk.secret
    assert with_early.handshake_keys(transcript_hash) == with_psk.handshake_keys(
        transcript_hash)


@pytest.mark.parametrize(("first_suite", "second_suite"), [(AES256, AES128), (AES128, AES256)])
def test_tls13_resumption_across_suites_with_different_hashes_falls_back_to_a_full_handshake(
        first_suite: int, second_suite: int) -> None:
    client, keys = client13(cipher_suites=(AES128, AES256)), TicketKeys()
    first, second = connect_twice(
        client, server13(cipher_suites=(first_suite,), ticket_keys=keys),
        second_server=server13(cipher_suites=(second_suite,), ticket_keys=keys))
    assert first.server.negotiated.cipher_suite == CipherSuite(first_suite).name
    assert offered_identities(second)  # the ticket was offered ...
    assert second.complete, (second.client.error, second.server.error)
    assert not second.server.negotiated.resumed  # ... and not taken
    assert not second.client.negotiated.resumed
    assert second.client.negotiated.peer_certificates  # a full, certificate-based handshake


# -- psk_ke and psk_dhe_ke (RFC 8446 §4.2.9) ---------------------------------------------------


def modes_offered(pair: Pair) -> bytes:
    modes = ext.find_typed(client_hello_sent(pair).extensions, X.psk_key_exchange_modes,
                           ext.U8List)
    assert modes is not None
    return modes.values


def test_tls13_client_offers_psk_ke_only_when_enabled() -> None:
    plain = connect_pair(client13(), server13())
    assert modes_offered(plain) == bytes([PskKeyExchangeMode.psk_dhe_ke])
    enabled = connect_pair(client13(allow_psk_ke=True), server13())
    assert modes_offered(enabled) == bytes([PskKeyExchangeMode.psk_dhe_ke,
                                            PskKeyExchangeMode.psk_ke])


def test_tls13_psk_dhe_ke_is_chosen_even_when_both_sides_allow_psk_ke() -> None:
    # Forward secrecy is preferred whenever the client offers psk_dhe_ke.
    client, server = client13(allow_psk_ke=True), server13(allow_psk_ke=True)
    _, second = connect_twice(client, server)
    assert second.server.negotiated.resumed
    assert second.server.negotiated.group is not None
    assert second.server.negotiated.key_exchange.startswith("PSK + (EC)DHE")


def psk_ke_only_offer(server_cfg: ServerConfig, allow_psk_ke: bool
                      ) -> tuple[ClientConnection, bytes]:
    """A client resuming a ticket of ``server_cfg``, and its ClientHello record
    rewritten to offer psk_ke alone (the binder recomputed with the session's PSK,
    as only a client holding the PSK could)."""
    session = latest_session(connect_pair(client13(), server_cfg))
    client = ClientConnection(client13(allow_psk_ke=allow_psk_ke, session_cache=None),
                              server_name="localhost", session=session)
    hello = hs.ClientHello.parse(split_records(client.data_to_send())[0][5:])
    psk_ke_only = ext.U8List(X.psk_key_exchange_modes, bytes([PskKeyExchangeMode.psk_ke]))
    extensions = tuple(psk_ke_only if e.type == X.psk_key_exchange_modes else e
                       for e in hello.extensions)
    rewritten = hs.ClientHello.parse(hs.serialize(dataclasses.replace(hello,
                                                                     extensions=extensions)))
    return client, record(22, with_binder(rewritten, session, b"").raw)


def server_hello_for(server_cfg: ServerConfig, client_hello_record: bytes) -> bytes:
    server = ServerConnection(server_cfg)
    server.receive_data(client_hello_record)
    return split_records(server.data_to_send())[0]


@pytest.mark.parametrize("server_allows", [True, False])
def test_tls13_server_takes_a_psk_ke_only_offer_only_when_allowed(server_allows: bool) -> None:
    server_cfg = server13(allow_psk_ke=server_allows)
    _, offer = psk_ke_only_offer(server_cfg, allow_psk_ke=True)
    server_hello = hs.ServerHello.parse(server_hello_for(server_cfg, offer)[5:])
    chose_psk = ext.find(server_hello.extensions, X.pre_shared_key) is not None
    has_share = ext.find(server_hello.extensions, X.key_share) is not None
    if server_allows:
        # psk_ke: the PSK alone, no (EC)DHE share (RFC 8446 §4.2.9).
        assert (chose_psk, has_share) == (True, False)
    else:
        # Not allowed: a full handshake, with a key share.
        assert (chose_psk, has_share) == (False, True)


def test_tls13_client_that_did_not_allow_psk_ke_refuses_a_server_hello_without_key_share(
) -> None:
    server_cfg = server13(allow_psk_ke=True)
    client, offer = psk_ke_only_offer(server_cfg, allow_psk_ke=False)
    with pytest.raises(TLSError) as caught:
        client.receive_data(server_hello_for(server_cfg, offer))
    assert caught.value.alert == AlertDescription.missing_extension


# -- tickets that cannot be used ---------------------------------------------------------------


def test_tls13_tampered_ticket_gives_a_full_handshake_not_an_error() -> None:
    client, server = client13(session_cache=None), server13()
    first = connect_pair(client, server)
    session = latest_session(first)
    ticket = bytearray(session.ticket)
    ticket[len(ticket) // 2] ^= 0x01
    tampered = dataclasses.replace(session, ticket=bytes(ticket))
    pair = connect_pair(ClientConnection(client, server_name="localhost", session=tampered),
                        server)
    assert pair.complete, (pair.client.error, pair.server.error)
    assert not pair.server.negotiated.resumed and not pair.client.negotiated.resumed
    assert pair.client.alerts_received == [] and pair.server.alerts_received == []


def test_tls13_ticket_with_a_wrong_binder_is_decrypt_error() -> None:
    # The ticket opens, so the server knows the PSK; a binder made with another
    # key proves the client does not hold it (RFC 8446 §4.2.11.2).
    client, server = client13(session_cache=None), server13()
    session = latest_session(connect_pair(client, server))
    forged = dataclasses.replace(session, secret=bytes(len(session.secret)))
    pair = connect_pair(ClientConnection(client, server_name="localhost", session=forged),
                        server)
    assert pair.server.alert_sent == AlertDescription.decrypt_error
    assert AlertDescription.decrypt_error in pair.client.alerts_received


def test_tls13_ticket_past_its_lifetime_is_not_offered() -> None:
    clock = Clock()
    client, server = client13(clock=clock), server13(clock=clock, ticket_lifetime=60)
    connect_pair(client, server)
    clock.advance(61)
    pair = connect_pair(client, server)
    assert offered_identities(pair) == ()
    assert pair.complete and not pair.server.negotiated.resumed


def test_tls13_ticket_the_server_considers_expired_gives_a_full_handshake() -> None:
    # The client's clock lags: it still offers the ticket, the server refuses it.
    client_clock, server_clock = Clock(), Clock()
    client, server = client13(clock=client_clock), server13(clock=server_clock,
                                                            ticket_lifetime=60)
    connect_pair(client, server)
    server_clock.advance(120)
    pair = connect_pair(client, server)
    assert offered_identities(pair)
    assert pair.complete, (pair.client.error, pair.server.error)
    assert not pair.server.negotiated.resumed


def test_tls13_ticket_from_another_server_gives_a_full_handshake() -> None:
    # Two servers with their own (random) ticket keys.
    client = client13()
    _, second = connect_twice(client, server13(), second_server=server13())
    assert offered_identities(second)
    assert second.complete and not second.server.negotiated.resumed


# -- sessions across versions ------------------------------------------------------------------


def test_tls12_session_offered_to_a_tls13_server_gives_a_full_tls13_handshake() -> None:
    client = client_config(TEST_PKI)  # both versions
    first, second = connect_twice(client, server_config(TEST_PKI, versions=(TLS12,)),
                                  second_server=server_config(TEST_PKI))
    assert first.client.negotiated.version == "TLSv1.2"
    assert latest_session(first).version == TLS12
    done = second.client.negotiated
    assert (done.version, done.resumed) == ("TLSv1.3", False)
    assert second.server.negotiated.version == "TLSv1.3"


def test_tls13_ticket_is_not_offered_by_a_client_limited_to_tls12() -> None:
    client = client_config(TEST_PKI)
    first, second = connect_twice(
        client, server_config(TEST_PKI),
        second_client=dataclasses.replace(client, versions=(TLS12,)))
    assert latest_session(first).version == TLS13
    assert second.complete
    assert (second.client.negotiated.version, second.client.negotiated.resumed) == (
        "TLSv1.2", False)


def test_tls13_resumed_handshake_complete_event_is_emitted_once_per_side() -> None:
    _, second = connect_twice(client13(), server13())
    assert len(second.client.of_type(HandshakeComplete)) == 1
    assert len(second.server.of_type(HandshakeComplete)) == 1


# -- the client's checks of the server's PSK choice (RFC 8446 §4.2.11) ---------------------------


def rewrite_server_hello(edit):  # type: ignore[no-untyped-def]
    """A hook that rewrites the first ServerHello (unprotected) with ``edit``."""
    done: list[bool] = []

    def hook(direction: str, data: bytes) -> bytes:
        if direction != SERVER_TO_CLIENT or done:
            return data
        done.append(True)
        records = split_records(data)
        server_hello = hs.ServerHello.parse(records[0][5:])
        return record(22, hs.serialize(edit(server_hello))) + b"".join(records[1:])

    return hook


def with_extensions(server_hello: hs.ServerHello, *extensions: object) -> hs.ServerHello:
    return dataclasses.replace(server_hello, extensions=extensions)


def test_tls13_client_refuses_a_psk_identity_it_did_not_offer() -> None:
    client, server = client13(), server13()
    connect_pair(client, server)

    def second_identity(server_hello: hs.ServerHello) -> hs.ServerHello:
        return with_extensions(server_hello, *[
            ext.PreSharedKey(selected_identity=1) if e.type == X.pre_shared_key else e
            for e in server_hello.extensions])

    pair = connect_pair(client, server, hook=rewrite_server_hello(second_identity))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter


def test_tls13_client_refuses_a_pre_shared_key_when_it_offered_none() -> None:
    def add_psk(server_hello: hs.ServerHello) -> hs.ServerHello:
        return with_extensions(server_hello, *server_hello.extensions,
                               ext.PreSharedKey(selected_identity=0))

    pair = connect_pair(client13(), server13(), hook=rewrite_server_hello(add_psk))
    assert pair.client.alert_sent in (AlertDescription.illegal_parameter,
                                      AlertDescription.unsupported_extension)
    assert not pair.client.connection.handshake_complete


def test_tls13_client_refuses_a_resumption_with_a_suite_of_another_hash() -> None:
    # The ticket is for a SHA-256 suite; a ServerHello naming a SHA-384 suite (also
    # offered) with the PSK is illegal_parameter.
    client = client13(cipher_suites=(AES128, AES256))
    server = server13(cipher_suites=(AES128,))
    connect_pair(client, server)
    pair = connect_pair(client, server, hook=rewrite_server_hello(
        lambda server_hello: dataclasses.replace(server_hello, cipher_suite=AES256)))
    assert pair.client.alert_sent == AlertDescription.illegal_parameter
