"""The TLS 1.3 server after the ClientHello picked TLS 1.3 (RFC 8446 §2, §4).

    handle_client_hello -> [HelloRetryRequest: ExpectClientHelloAfterRetry]
    -> (ServerHello, EncryptedExtensions, [CertificateRequest], Certificate,
        CertificateVerify, Finished)
    -> [ExpectEarlyData] -> [ExpectClientCertificate -> ExpectClientCertificateVerify]
    -> ExpectFinished -> ServerConnected13

What the server decided and derived for its flight is one frozen ``Flight13`` that
the states after it share.
"""

from __future__ import annotations

import functools
import hmac

from cryptography import x509

from .. import trace as t
from ..certs import CertifiedKey
from ..config import ServerConfig
from ..constants import (
    HELLO_RETRY_REQUEST_RANDOM,
    TLS12,
    TLS13,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
    SignatureScheme,
    describe,
)
from ..crypto import signatures
from ..crypto.groups import GROUPS
from ..crypto.hkdf import constant_time_equal
from ..crypto.suites import SUITES, Suite
from ..errors import (
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    MissingExtension,
    UnexpectedMessage,
)
from ..events import handshake_complete
from ..immutable import frozen
from ..keyschedule import (
    ApplicationKeys,
    KeySchedule,
    StageKeys,
    handshake_verify_data,
    traffic_keys,
)
from ..limits import early_data_skip_budget
from ..messages.extensions import (
    ALPN,
    Extension,
    KeyShare,
    KeyShareEntry,
    Opaque16,
    RecordSizeLimit,
    SupportedVersions,
    U8List,
    U16List,
    check_allowed,
    find,
    find_typed,
)
from ..messages.handshake import (
    CertificateRequest13,
    CertificateVerify,
    ClientHello,
    EmptyMessage,
    Finished,
    NewSessionTicket13,
    ServerHello,
    check_finished_length,
    parse_empty,
)
from ..record import Tls13Protection
from . import compressed, flight13, stapling
from .client_auth import (
    check_client_chain,
    check_client_signature,
    request_extension_types,
    request_extensions,
)
from .common import (
    CLIENT_CERTIFICATE_VERIFY,
    SERVER_CERTIFICATE_VERIFY,
    certificate_verify_content,
    check_certificate_extensions,
    choose_alpn,
    choose_signature_scheme,
    decode_alpn,
    describe_chain,
    key_exchange13,
    left_out_scheme,
    server_name_of,
)
from .engine import Engine, Negotiated, State
from .post13 import ServerConnected13
from .psk13 import AcceptedPsk, choose_psk, early_data_acceptable, ticket_messages


@frozen
class Retry13:
    """What a HelloRetryRequest settled, for the second ClientHello."""

    first_hello: ClientHello
    group: int
    cookie: bytes | None
    # message_hash(ClientHello1) + HelloRetryRequest: what PSK binders cover first.
    transcript_prefix: bytes
    sent_change_cipher_spec: bool


@frozen
class Flight13:
    """Everything the server decided and derived for its flight."""

    config: ServerConfig
    # What the rest of the handshake needs of the ClientHello answered (the second,
    # after a retry), so that the hello itself need not be kept: whether the client
    # can use tickets (RFC 8446 §4.6.1: it offered a psk_key_exchange_mode) and
    # whether it offered post-handshake authentication (§4.6.2).
    tickets_usable: bool
    offered_post_handshake_auth: bool
    suite: Suite
    schedule: KeySchedule
    handshake: StageKeys
    application: ApplicationKeys
    group: int | None  # None for a PSK-only (psk_ke) resumption
    psk: AcceptedPsk | None
    alpn: bytes | None
    server_name: str | None
    signature_scheme: int | None  # None when resuming
    early_data_accepted: bool
    certificate_compression: int | None  # how our Certificate went (RFC 8879)
    ocsp_response: bytes  # the staple in our leaf's CertificateEntry, or b""


def handle_client_hello(engine: Engine, config: ServerConfig, message: ClientHello) -> State:
    check_allowed(message.extensions, "CH")
    if message.legacy_compression_methods != b"\x00":
        # RFC 8446 §4.1.2: exactly the null compression method.
        raise IllegalParameter("TLS 1.3 ClientHello must offer only null compression")
    suite = _choose_suite(config, message.cipher_suites)
    engine.transcript.set_hash(suite.hash_name)
    return _answer_hello(engine, config, message, suite, None)


class ExpectClientHelloAfterRetry(State):
    expects = {H.client_hello: ClientHello.parse}
    ignores_change_cipher_spec = True

    def __init__(self, config: ServerConfig, suite: Suite, retry: Retry13) -> None:
        self.config = config
        self.suite = suite
        self.retry = retry

    def handle(self, engine: Engine, message: ClientHello) -> State:
        _check_second_hello(self.retry, message)
        engine.skip_early_data(0)
        return _answer_hello(engine, self.config, message, self.suite, self.retry)


# RFC 8446 §4.1.2: what the second ClientHello may change after a HelloRetryRequest.
_CHANGED_AFTER_RETRY = frozenset({X.key_share, X.early_data, X.cookie, X.pre_shared_key,
                                  X.padding})


def _check_second_hello(retry: Retry13, second: ClientHello) -> None:
    """RFC 8446 §4.1.2: "the client MUST send the same ClientHello without
    modification, except": one key share for the group asked for (checked when it is
    answered), early_data removed, our cookie added, pre_shared_key updated, padding
    changed. Anything else, in content or in order, is illegal_parameter (the RFC
    names no alert; BoringSSL's and the conformance suites' choice)."""
    first = retry.first_hello
    check_allowed(second.extensions, "CH")
    if (second.legacy_version != first.legacy_version
            or second.random != first.random
            or second.legacy_session_id != first.legacy_session_id
            or second.cipher_suites != first.cipher_suites
            or second.legacy_compression_methods != first.legacy_compression_methods):
        raise IllegalParameter("second ClientHello is inconsistent with the first")
    if [e for e in second.extensions if e.type not in _CHANGED_AFTER_RETRY] != [
            e for e in first.extensions if e.type not in _CHANGED_AFTER_RETRY]:
        raise IllegalParameter("second ClientHello changes or reorders extensions of the "
                               "first")
    if find(second.extensions, X.early_data) is not None:
        raise IllegalParameter("early_data in the second ClientHello")
    if (find(second.extensions, X.pre_shared_key) is not None
            and find(first.extensions, X.pre_shared_key) is None):
        raise IllegalParameter("pre_shared_key added in the second ClientHello")
    if retry.cookie is not None:
        # (A cookie we did not send is ignored, as BoringSSL and OpenSSL do: a server
        # without state could not tell, and RFC 8448's second hello carries one.)
        cookie = find_typed(second.extensions, X.cookie, Opaque16)
        if cookie is None or not hmac.compare_digest(cookie.data, retry.cookie):
            raise IllegalParameter("second ClientHello does not return our cookie")


def _choose_suite(config: ServerConfig, offered: tuple[int, ...]) -> Suite:
    candidates = _in_common(config.tls13_suites, offered, config.server_preference)
    if not candidates:
        raise HandshakeFailure("no TLS 1.3 cipher suite in common")
    return SUITES[candidates[0]]


def _in_common(ours: tuple[int, ...], theirs: tuple[int, ...], server_preference: bool
               ) -> tuple[int, ...]:
    """The values both lists hold, in the preferred side's order. A server meets the
    same few suite and group lists handshake after handshake (clients of one
    library send the same), so each pair of short lists is worked out once; a long
    list (a hostile client may send 32,767 values) is not kept."""
    if len(theirs) > _KEPT_LIST:
        return _common_values(ours, theirs, server_preference)
    return _kept_common_values(ours, theirs, server_preference)


def _common_values(ours: tuple[int, ...], theirs: tuple[int, ...], server_preference: bool
                   ) -> tuple[int, ...]:
    # Set lookups: one pass over each list (issue 12 item 11).
    if server_preference:
        offered = frozenset(theirs)
        return tuple(value for value in ours if value in offered)
    accepted = frozenset(ours)
    return tuple(value for value in theirs if value in accepted)


# At most 256 pairs of lists of at most 64 values each are kept (real clients offer
# 3-40 suites and 2-12 groups).
_KEPT_LIST = 64
_kept_common_values = functools.lru_cache(maxsize=256)(_common_values)


def _choose_group(config: ServerConfig, client_groups: tuple[int, ...],
                  shares: tuple[KeyShareEntry, ...]) -> tuple[int, KeyShareEntry | None]:
    """A group with a key share if there is one we like, else one to ask for (HRR)."""
    mutual = _in_common(config.groups, client_groups, config.server_preference)
    if not mutual:
        raise HandshakeFailure("no key exchange group in common")
    # The shares searched for each group rather than put in a dict by group: a client
    # sends one or two (at most MAX_KEY_SHARES, no two for one group: the reader
    # refuses that), the server likes a few groups.
    for group in mutual:
        for entry in shares:
            if entry.group == group:
                return group, entry
    return mutual[0], None


def _choose_certificate(config: ServerConfig, candidates: tuple[CertifiedKey, ...],
                        offered_schemes: tuple[int, ...]) -> tuple[CertifiedKey, int]:
    for certified in candidates:
        scheme = choose_signature_scheme(certified, offered_schemes, config.signature_schemes,
                                         tls13=True)
        if scheme is not None:
            return certified, scheme
    raise HandshakeFailure("no certificate and signature scheme the client accepts"
                           + left_out_scheme(candidates, offered_schemes, tls13=True))


def _answer_hello(engine: Engine, config: ServerConfig, hello: ClientHello, suite: Suite,
                  retry: Retry13 | None) -> State:
    groups_ext = find_typed(hello.extensions, X.supported_groups, U16List)
    shares_ext = find_typed(hello.extensions, X.key_share, KeyShare)
    schemes_ext = find_typed(hello.extensions, X.signature_algorithms, U16List)
    # RFC 8446 §9.2: without PSK, these are mandatory.
    if groups_ext is None or shares_ext is None:
        raise MissingExtension("TLS 1.3 ClientHello without supported_groups and key_share")
    if schemes_ext is None and find(hello.extensions, X.pre_shared_key) is None:
        raise MissingExtension("TLS 1.3 ClientHello without signature_algorithms")
    offered_groups = frozenset(groups_ext.values)
    for entry in shares_ext.entries:
        # RFC 8446 §4.2.8: shares only for groups in supported_groups.
        if entry.group not in offered_groups:
            raise IllegalParameter("key share for a group not in supported_groups")
    group, chosen = _choose_group(config, groups_ext.values, shares_ext.entries)
    if chosen is None:
        if retry is not None:
            raise IllegalParameter("second ClientHello lacks the key share we asked for")
        return _send_hello_retry(engine, config, hello, suite, group)
    if retry is not None and (len(shares_ext.entries) != 1 or group != retry.group):
        raise IllegalParameter("second ClientHello must carry exactly the requested key share")
    alpn_ext = find_typed(hello.extensions, X.application_layer_protocol_negotiation, ALPN)
    alpn = choose_alpn(config.alpn_protocols, alpn_ext.protocols if alpn_ext else ())
    server_name = server_name_of(hello)
    # The chains for this name, chosen before any resumption, as OpenSSL runs its
    # servername callback: a name the server refuses ends the handshake either way.
    candidates = config.certificates_for(server_name, hello)
    psk = choose_psk(engine, config, hello, suite,
                     retry.transcript_prefix if retry is not None else b"", can_dhe=True,
                     server_name=server_name)
    certified: CertifiedKey | None = None
    scheme: int | None = None
    staple = b""
    if psk is None:
        if schemes_ext is None:
            raise MissingExtension("TLS 1.3 ClientHello without signature_algorithms")
        certified, scheme = _choose_certificate(config, candidates, schemes_ext.values)
        staple = stapling.staple_for(engine, config, certified, hello)
    elif not psk.dhe:
        chosen = None
    return _send_server_flight(engine, config, hello, suite, retry, chosen, psk, alpn,
                               server_name, certified, scheme, staple)


def _send_hello_retry(engine: Engine, config: ServerConfig, hello: ClientHello, suite: Suite,
                      group: int) -> State:
    extensions: list[Extension] = [
        SupportedVersions((TLS13,), selected=True),
        KeyShare(selected_group=group, where="HRR"),
    ]
    engine.transcript.restart_after_hello_retry()
    cookie = None
    if config.hello_retry_cookie:
        # The cookie binds the retry to this first ClientHello (RFC 8446 §4.2.2).
        secret = config.cookie_secret if config.cookie_secret is not None else config.rng(32)
        cookie = hmac.digest(secret, engine.transcript.digest(), "sha256")
        extensions.append(Opaque16(X.cookie, cookie))
    engine.send(ServerHello(TLS12, HELLO_RETRY_REQUEST_RANDOM, hello.legacy_session_id,
                            suite.id, 0, tuple(extensions)))
    prefix = engine.transcript.messages()
    if find(hello.extensions, X.early_data) is not None:
        # RFC 8446 §4.2.10: skip the client's 0-RTT records until its second hello.
        engine.skip_early_data(_skip_budget(config))
    if hello.legacy_session_id:
        # RFC 8446 Appendix D.4: our CCS follows our first handshake message.
        engine.send_change_cipher_spec()
    return ExpectClientHelloAfterRetry(config, suite, Retry13(
        hello, group, cookie, prefix, bool(hello.legacy_session_id)))


def _skip_budget(config: ServerConfig) -> int:
    # RFC 8446 §4.2.10: rejected early data is skipped up to max_early_data_size (at
    # least BoringSSL's 16 KiB, since a ticket from another configuration may allow some).
    return early_data_skip_budget(config.max_early_data_size)


def _send_server_flight(engine: Engine, config: ServerConfig, hello: ClientHello, suite: Suite,
                        retry: Retry13 | None, entry: KeyShareEntry | None,
                        psk: AcceptedPsk | None, alpn: bytes | None, server_name: str | None,
                        certified: CertifiedKey | None, scheme: int | None, staple: bytes
                        ) -> State:
    """The ClientHello's answer, as ``_answer_hello`` chose it (passed as it is, each
    value read once or twice here): ``entry`` the client share to answer (None:
    psk_ke), ``certified`` and ``scheme`` the chain and signature scheme (None when
    resuming), ``staple`` the OCSP response for the leaf (RFC 8446 §4.4.2.1) or b"".
    """
    # A keylog callback, or a recorder (which makes the engine trace): without either,
    # the keylog, trace_keys and note calls below would each return at once, and
    # a full handshake makes some fifteen of them.
    tracing = engine.tracing
    logging = tracing or config.keylog is not None
    shared_secret: bytes | None = None
    share: tuple[int, bytes] | None = None  # the ServerHello's key share, as its bytes
    if entry is not None:
        group = GROUPS[entry.group]
        server_share, shared_secret = group.respond(entry.key_exchange, config.rng)
        share = entry.group, server_share
    # The hash through the ClientHello, which a client early traffic secret covers:
    # taken before the ServerHello is added when 0-RTT may be accepted (a PSK, and
    # early_data offered), so that the transcript keeps no copy of its state after
    # every ServerHello for it.
    early_data_offered = find(hello.extensions, X.early_data) is not None
    hello_hash = engine.transcript.digest() if psk is not None and early_data_offered else b""
    engine.send_encoded(flight13.server_hello(config.rng(32), hello.legacy_session_id, suite.id,
                                              share, psk.index if psk is not None else None),
                        ServerHello.parse)
    if entry is not None and shared_secret is not None and tracing:
        engine.trace(t.KEY_EXCHANGE, t.LOCAL, lambda: {
            "group": group.name, "hybrid": group.hybrid,
            "client_share_bytes": len(entry.key_exchange),
            "server_share_bytes": len(server_share),
            "shared_secret_bytes": len(shared_secret)}, {"shared_secret": shared_secret})
    if hello.legacy_session_id and not (retry is not None and retry.sent_change_cipher_spec):
        engine.send_change_cipher_spec()

    schedule = psk.schedule if psk is not None else KeySchedule(suite)
    early_data = psk is not None and early_data_offered and early_data_acceptable(
        engine, config, hello, psk, suite, alpn, retry is not None)
    early_secret = b""
    if early_data:
        early_secret = schedule.client_early_traffic_secret(hello_hash)
        engine.keylog("CLIENT_EARLY_TRAFFIC_SECRET", hello.random, early_secret)
    elif early_data_offered:
        engine.skip_early_data(_skip_budget(config))
    schedule.enter_handshake(shared_secret)
    handshake = schedule.handshake_keys(engine.transcript.digest())
    if logging:
        engine.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hello.random, handshake.client.secret)
        engine.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", hello.random, handshake.server.secret)
    engine.install_write(Tls13Protection(suite, handshake.server.key, handshake.server.iv))
    if early_data:
        engine.install_read(Tls13Protection(suite, *traffic_keys(suite, early_secret)))
    else:
        engine.install_read(Tls13Protection(suite, handshake.client.key, handshake.client.iv))
    if tracing:
        engine.trace_keys(handshake, psk=psk is not None)

    _send_encrypted_extensions(engine, config, hello, server_name, alpn, early_data)
    request_certificate = config.client_auth != "none" and psk is None
    if request_certificate:
        engine.send(CertificateRequest13(b"", request_extensions(config)))
        engine.note(policy=config.client_auth, ca_names=len(config.client_ca_names))
    compression = None
    if certified is not None and scheme is not None:
        compression = _send_certificate(engine, config, hello, certified, scheme, staple)
    engine.send_encoded(flight13.finished(handshake_verify_data(suite, handshake.server,
                                                                engine.transcript.digest())),
                        Finished.parse)

    schedule.enter_master()
    application = schedule.application_keys(engine.transcript.digest())
    if logging:
        engine.keylog("CLIENT_TRAFFIC_SECRET_0", hello.random, application.client.secret)
        engine.keylog("SERVER_TRAFFIC_SECRET_0", hello.random, application.server.secret)
    if config.keylog is not None:
        engine.keylog("EXPORTER_SECRET", hello.random, application.exporter.value)
    engine.install_write(Tls13Protection(suite, application.server.key,
                                         application.server.iv))
    if tracing:
        engine.trace_keys(application)
    modes = find_typed(hello.extensions, X.psk_key_exchange_modes, U8List)
    flight = Flight13(config, modes is not None and bool(modes.values),
                      find(hello.extensions, X.post_handshake_auth) is not None,
                      suite, schedule, handshake, application,
                      entry.group if entry is not None else None, psk, alpn, server_name,
                      scheme, early_data, compression, staple)
    # A connection waiting for the client's last flight holds no hello (every object
    # it holds until then is traversed by the cyclic GC's young collections).
    engine.hello_answered()
    if psk is not None and early_data:
        budget = min(config.max_early_data_size, psk.state.max_early_data_size)
        return ExpectEarlyData(flight, request_certificate, budget)
    return ExpectClientCertificate(flight) if request_certificate else (
        ExpectFinished(flight, (), ()))


def _send_encrypted_extensions(engine: Engine, config: ServerConfig, hello: ClientHello,
                               server_name: str | None, alpn: bytes | None, early_data: bool
                               ) -> None:
    """EncryptedExtensions: answers to what the client asked for."""
    our_limit = None
    limit_ext = find_typed(hello.extensions, X.record_size_limit, RecordSizeLimit)
    if limit_ext is not None:
        # RFC 8449 §4: TLS 1.3 limits count the content type byte.
        engine.limit_records(limit_ext.limit - 1, config.record_size_limit)
        our_limit = config.record_size_limit or 2**14 + 1
    engine.send(flight13.encrypted_extensions(server_name is not None, alpn,
                                              our_limit, early_data))


def _send_certificate(engine: Engine, config: ServerConfig, hello: ClientHello,
                      certified: CertifiedKey, scheme: int, staple: bytes) -> int | None:
    """Certificate (compressed when the client can take it: RFC 8879) and
    CertificateVerify; returns the compression algorithm used, if any."""
    algorithm = compressed.send_certificate(
        engine, certified.certificate_message(tls13=True, ocsp_response=staple),
        compressed.peer_algorithms(hello.extensions), config.certificate_compression)
    tracing = engine.tracing  # notes go only to a trace
    if tracing:
        engine.note(chain=lambda: describe_chain(certified.chain))
    if staple and tracing:
        engine.note(ocsp_staple_bytes=len(staple))
        stapling.note_staple(engine, staple)
    content = certificate_verify_content(SERVER_CERTIFICATE_VERIFY, engine.transcript.digest())
    engine.send_encoded(flight13.certificate_verify(
        scheme, signatures.sign(certified.private_key, scheme, content)), CertificateVerify.parse)
    if tracing:
        engine.note(key=lambda: signatures.describe_key(certified.private_key))
    return algorithm


class _ServerState(State):
    ignores_change_cipher_spec = True

    def __init__(self, flight: Flight13) -> None:
        self.flight = flight


class ExpectEarlyData(_ServerState):
    """0-RTT data accepted: application data (marked early) until EndOfEarlyData."""

    expects = {H.end_of_early_data: parse_empty}
    accepts_application_data = True
    early_data = True

    def __init__(self, flight: Flight13, request_certificate: bool, budget: int) -> None:
        super().__init__(flight)
        self.request_certificate = request_certificate
        self.budget = budget

    def account_early_data(self, length: int) -> None:
        self.budget -= length
        if self.budget < 0:
            # RFC 8446 §4.2.10: more than max_early_data_size is unexpected_message.
            raise UnexpectedMessage("more early data than max_early_data_size")

    def handle(self, engine: Engine, message: EmptyMessage) -> State:
        flight = self.flight
        client = flight.handshake.client
        engine.install_read(Tls13Protection(flight.suite, client.key, client.iv))
        engine.trace(t.KEY_DERIVATION, t.LOCAL, {"stage": "end of early data",
                                                  "note": "client handshake keys installed"})
        return ExpectClientCertificate(flight) if self.request_certificate else (
            ExpectFinished(flight, (), ()))


class ExpectClientCertificate(_ServerState):
    def __init__(self, flight: Flight13) -> None:
        super().__init__(flight)
        # RFC 8879 §3: our CertificateRequest offered to decompress these.
        self.expects = compressed.certificate_parsers(flight.config.certificate_compression)

    def handle(self, engine: Engine, received: compressed.ReceivedCertificate) -> State:
        flight = self.flight
        message = compressed.received_certificate(received,
                                                  flight.config.certificate_compression)
        check_certificate_extensions(message, request_extension_types(flight.config))
        if message.certificate_request_context:
            raise IllegalParameter("client Certificate has a request context during the "
                                   "handshake")
        checked = check_client_chain(engine, flight.config, message.chain, TLS13)
        if checked is None:
            return ExpectFinished(flight, (), ())
        chain, verified = checked
        return ExpectClientCertificateVerify(flight, chain[0], message.chain, verified)


class ExpectClientCertificateVerify(_ServerState):
    expects = {H.certificate_verify: CertificateVerify.parse}

    def __init__(self, flight: Flight13, certificate: x509.Certificate,
                 chain: tuple[bytes, ...], verified_chain: tuple[bytes, ...]) -> None:
        super().__init__(flight)
        self.certificate = certificate
        self.chain = chain
        self.verified_chain = verified_chain

    def handle(self, engine: Engine, message: CertificateVerify) -> State:
        content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY,
                                             engine.transcript.digest_before_last())
        check_client_signature(engine, self.flight.config, self.certificate, message.algorithm,
                               content, message.signature, tls13=True)
        return ExpectFinished(self.flight, self.chain, self.verified_chain)


# How long the tickets made ahead of the client's Finished (ExpectFinished.work_ahead)
# stay good to send: they carry their issue time, against which a server checks the
# age a client gives for 0-RTT (psk13.TICKET_AGE_TOLERANCE_MS, 10 s). A Finished that
# comes later than this gets tickets issued when it comes.
_AHEAD_FOR = 1.0  # seconds


@frozen
class _Ahead:
    """What the server worked out for the client's Finished before it came."""

    verify_data: bytes  # the Finished the client must send
    read: Tls13Protection  # the client's application traffic, to read after it
    tickets: tuple[bytes, ...]  # the NewSessionTickets to send once it has come
    made: float  # config.clock() when the tickets were issued


class ExpectFinished(_ServerState):
    expects = {H.finished: Finished.parse}

    def __init__(self, flight: Flight13, chain: tuple[bytes, ...],
                 verified_chain: tuple[bytes, ...]) -> None:
        self.flight = flight  # (_ServerState's __init__, written out: every handshake's)
        self.chain = chain  # the client's, when it sent one
        self.verified_chain = verified_chain
        self.ahead: _Ahead | None = None

    def work_ahead(self, engine: Engine) -> None:
        """RFC 8446 §4.6.1 (a note): the rest of the transcript is the client's
        Finished, which the server can compute, and so can its resumption master
        secret and session tickets. Made while the client works on our flight, they
        go as soon as its Finished checks out (not before it: OpenSSL's order), and
        are dropped if it does not."""
        if self.ahead is not None:
            return
        flight = self.flight
        suite, config = flight.suite, flight.config
        transcript = engine.transcript
        verify_data = handshake_verify_data(suite, flight.handshake.client, transcript.digest())
        client = flight.application.client
        now = config.clock()
        tickets = self._tickets(transcript.digest_with(flight13.finished(verify_data)), now)
        self.ahead = _Ahead(verify_data, Tls13Protection(suite, client.key, client.iv),
                            tickets, now)

    def _tickets(self, transcript_hash: bytes, now: float) -> tuple[bytes, ...]:
        """The tickets (RFC 8446 §4.6.1: only for clients that can use them), from the
        transcript hash through the client's Finished."""
        flight = self.flight
        if not flight.tickets_usable:
            return ()
        psk = flight.psk
        return tuple(ticket_messages(
            flight.config, flight.suite,
            flight.schedule.resumption_master_secret(transcript_hash), flight.alpn,
            flight.server_name, self._peer_chain(), resumed=psk is not None, now=now))

    def _peer_chain(self) -> tuple[bytes, ...]:
        psk = self.flight.psk
        return psk.state.peer_certificates if psk is not None else self.chain

    def handle(self, engine: Engine, message: Finished) -> State:
        flight = self.flight
        suite, config, psk = flight.suite, flight.config, flight.psk
        check_finished_length(message, suite.hash_len)
        ahead = self.ahead
        expected = ahead.verify_data if ahead is not None else handshake_verify_data(
            suite, flight.handshake.client, engine.transcript.digest_before_last())
        if not constant_time_equal(expected, message.verify_data):
            raise DecryptError("client Finished does not verify")
        if engine.tracing:
            engine.note(result="verified")
        client = flight.application.client
        engine.install_read(ahead.read if ahead is not None else
                            Tls13Protection(suite, client.key, client.iv))
        if ahead is not None and (not ahead.tickets
                                  or 0 <= config.clock() - ahead.made <= _AHEAD_FOR):
            tickets = ahead.tickets
        else:
            tickets = self._tickets(engine.transcript.digest(), config.clock())
        connected = ServerConnected13(
            suite, flight.application, config=config,
            transcript=engine.transcript.fork() if flight.offered_post_handshake_auth
            else None)
        peer_chain = self._peer_chain()
        key_exchange, group, scheme, compression = _summary_names(
            flight.group, psk is not None, flight.signature_scheme,
            flight.certificate_compression)
        engine.finish(Negotiated(TLS13, suite, handshake_complete(
            version="TLSv1.3", cipher_suite=suite.name, key_exchange=key_exchange,
            group=group, signature_scheme=scheme,
            alpn_protocol=decode_alpn(flight.alpn), server_name=flight.server_name,
            peer_certificates=peer_chain, resumed=psk is not None,
            early_data_accepted=flight.early_data_accepted,
            verified_chain=self.verified_chain, certificate_compression=compression,
            ocsp_response=flight.ocsp_response,
        ), flight.application.exporter))
        for raw in tickets:
            engine.send_post_handshake_encoded(raw, NewSessionTicket13.parse)
        return connected


@functools.lru_cache(maxsize=64)
def _summary_names(group: int | None, resumed: bool, scheme: int | None,
                   compression: int | None) -> tuple[str, str | None, str | None, str | None]:
    """HandshakeComplete's key exchange, group, signature scheme and compression
    names: the same few code points in every handshake (the server's own choices),
    each looked up in its enum once rather than per connection."""
    group_name = describe(NamedGroup, group) if group is not None else None
    return (key_exchange13(group_name, resumed), group_name,
            describe(SignatureScheme, scheme) if scheme is not None else None,
            compressed.algorithm_name(compression))
