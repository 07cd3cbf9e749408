"""The TLS 1.2 server after the ClientHello picked TLS 1.2 (RFC 5246 §7.3): one class
per state.

Full handshake:
    handle_client_hello -> our flight: ServerHello Certificate [ServerKeyExchange]
       [CertificateRequest] ServerHelloDone
    -> [ExpectClientCertificate] -> ExpectClientKeyExchange -> [ExpectCertificateVerify]
    -> ExpectChangeCipherSpec -> ExpectFinished
    -> ([NewSessionTicket] ChangeCipherSpec Finished) Connected12
Abbreviated (resumed by session id or ticket, RFC 5077 §3.1):
    ServerHello [NewSessionTicket] ChangeCipherSpec Finished
    -> ExpectChangeCipherSpec -> ExpectFinished -> Connected12

Each state holds the frozen values of the steps before it: ``Hello12`` (the
ServerHello's decisions), ``Full12`` (the certificate and key exchange of a full
handshake), ``Keys12`` once the master secret exists.
"""

from __future__ import annotations

from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from .. import trace as t
from ..certs import CertifiedKey, name_der
from ..config import ServerConfig
from ..constants import (
    DOWNGRADE_TLS12,
    TLS12,
    TLS13,
    CipherSuite,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
    SignatureScheme,
    describe,
)
from ..crypto import prf, rsa_kx, signatures
from ..crypto.groups import GROUPS, KeyShare as PrivateShare
from ..crypto.suites import SUITES, Suite
from ..errors import (
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    InappropriateFallback,
)
from ..events import handshake_complete
from ..immutable import frozen
from ..messages.extensions import (
    ALPN,
    Empty,
    Extension,
    RenegotiationInfo,
    U8List,
    U16List,
    UnknownExtension,
    find,
    find_typed,
)
from ..messages.handshake import (
    Certificate12,
    CertificateRequest12,
    CertificateStatus,
    CertificateVerify,
    ClientHello,
    ClientKeyExchangeECDHE,
    ClientKeyExchangeRSA,
    EmptyMessage,
    Finished,
    NewSessionTicket12,
    Serialized,
    ServerHello,
    ServerKeyExchangeECDHE,
    check_finished_length,
)
from ..servernames import same_server_name
from ..session import SessionState, TicketKeys
from . import stapling
from .client_auth import check_client_chain, check_client_signature
from .common import (
    choose_alpn,
    choose_signature_scheme,
    decode_alpn,
    describe_chain,
    left_out_scheme,
    server_name_of,
)
from .engine import Engine, State
from .post12 import (
    Connected12,
    Tls12Keys,
    derive_keys12,
    key_exchange12,
    negotiated12,
    send_finished12,
    verify_finished12,
)

_CURVE_GROUPS = {"secp256r1": NamedGroup.secp256r1, "secp384r1": NamedGroup.secp384r1,
                 "secp521r1": NamedGroup.secp521r1}

# RFC 5246 §7.4.4: ClientCertificateType rsa_sign and ecdsa_sign (RFC 8422 §5.5).
_CERTIFICATE_TYPES = bytes([1, 64])

# RFC 5246 §7.4.5: ServerHelloDone has an empty body; the same bytes every time.
_SERVER_HELLO_DONE = EmptyMessage(H.server_hello_done, bytes([H.server_hello_done, 0, 0, 0]))


@frozen
class Hello12:
    """What the server decided for its ServerHello."""

    config: ServerConfig
    hello: ClientHello
    suite: Suite
    server_random: bytes
    session_id: bytes
    extended_master_secret: bool
    alpn: bytes | None
    server_name: str | None
    # RFC 5077 §3.3: the keys to seal a NewSessionTicket with, when one is sent.
    ticket_keys: TicketKeys | None
    # RFC 6066 §8: the OCSP response sent in CertificateStatus (b"": none, and
    # no status_request in the ServerHello).
    ocsp_response: bytes = b""


@frozen
class Full12:
    """A full handshake's certificate and key exchange (after ServerHelloDone)."""

    certified: CertifiedKey
    # ECDHE: the group, our private share and the scheme that signed it; None for
    # RSA key transport.
    ecdhe: tuple[int, PrivateShare, int] | None


@frozen
class Keys12:
    """The session's keys and what the handshake will report about the client."""

    keys: Tls12Keys
    resumed: bool
    chain: tuple[bytes, ...]  # the client's certificate chain, if it sent one
    verified_chain: tuple[bytes, ...]
    group: int | None
    signature_scheme: int | None


def _choose(config: ServerConfig, hello: ClientHello, candidates: tuple[CertifiedKey, ...]
            ) -> tuple[Suite, CertifiedKey, int | None, int | None]:
    """Suite, certificate, ECDHE group and signature scheme: the first suite (in the
    preferred order) for which we have everything it needs."""
    groups_ext = find_typed(hello.extensions, X.supported_groups, U16List)
    # RFC 8422 §4: without supported_groups, the client is assumed to accept P-256.
    # Set lookups: one pass over each of the client's lists (issue 12 item 11).
    client_groups = frozenset(groups_ext.values if groups_ext else (NamedGroup.secp256r1,))
    our_groups = frozenset(config.groups)
    groups = ([g for g in config.groups if g in client_groups and GROUPS[g].tls12]
              if config.server_preference
              else [g for g in (groups_ext.values if groups_ext else client_groups)
                    if g in our_groups and GROUPS[g].tls12])
    schemes_ext = find_typed(hello.extensions, X.signature_algorithms, U16List)
    # RFC 5246 §7.4.1.4.1: no extension means SHA-1, which we do not accept.
    client_schemes = schemes_ext.values if schemes_ext else ()
    ours, offered = frozenset(config.tls12_suites), frozenset(hello.cipher_suites)
    order = ([s for s in config.tls12_suites if s in offered] if config.server_preference
             else [s for s in hello.cipher_suites if s in ours])
    unsigned: list[CertifiedKey] = []  # suited to an offered suite, but no scheme fits
    for suite_id in order:
        suite = SUITES[suite_id]
        for certified in candidates:
            # RFC 8422 §5.3: an ECDSA or EdDSA key for the ECDHE_ECDSA suites.
            if signatures.tls12_authentication(certified.private_key) != suite.authentication:
                continue
            key = certified.private_key
            if groups_ext is not None and signatures.key_kind(key) == "ec" and _CURVE_GROUPS.get(
                    cast("ec.EllipticCurvePrivateKey", key).curve.name) not in client_groups:
                continue  # RFC 8422 §5.3: an ECDSA key on a curve the client supports
            if suite.key_exchange == "RSA":
                return suite, certified, None, None
            scheme = choose_signature_scheme(certified, client_schemes, config.signature_schemes,
                                             tls13=False)
            if groups and scheme is not None:
                return suite, certified, groups[0], scheme
            unsigned.append(certified)
    rsa_offered = any(s in SUITES and SUITES[s].key_exchange == "RSA"
                      for s in hello.cipher_suites)
    rsa_key = any(signatures.tls12_authentication(c.private_key) == "RSA" for c in candidates)
    # The hint names what this server's own settings left out, where that would help.
    hint = (" (the client offers RSA key exchange, which is disabled here)"
            if rsa_offered and rsa_key and not config.enable_rsa_key_exchange
            else left_out_scheme(unsigned, client_schemes, tls13=False) if groups else "")
    raise HandshakeFailure("no TLS 1.2 cipher suite, group and certificate in common" + hint)


def _resumable(engine: Engine, config: ServerConfig, hello: ClientHello, ems: bool,
               server_name: str | None) -> tuple[SessionState, bool] | None:
    """A session to resume from the client's ticket or session id, with whether it
    came from a ticket; None for a full handshake."""
    now = config.clock()
    ticket_ext = find(hello.extensions, X.session_ticket)
    state: SessionState | None = None
    from_ticket = False
    if (isinstance(ticket_ext, UnknownExtension) and ticket_ext.data
            and config.ticket_keys is not None):
        opened = config.ticket_keys.open(ticket_ext.data, now, config.rng)
        if opened is not None:
            try:
                state, from_ticket = SessionState.decode(opened), True
            except DecodeError:
                state = None
    if state is None and hello.legacy_session_id and config.session_cache is not None:
        state = config.session_cache.get(hello.legacy_session_id, now)
    if state is None:
        return None
    reason = ""
    if state.version != TLS12:
        reason = "session is not a TLS 1.2 session"
    elif state.cipher_suite not in hello.cipher_suites or (
            state.cipher_suite not in config.tls12_suites):
        reason = "session's cipher suite is no longer offered"
    elif now * 1000 - state.issued_ms > state.lifetime * 1000:
        reason = "session has expired"
    elif not same_server_name(state.server_name, server_name):
        # RFC 6066 §3: never resumed under another name; a full handshake instead.
        reason = "session was made for another server name"
    elif config.client_auth == "required" and not state.peer_certificates:
        reason = "session has no client certificate, which this server requires"
    elif state.extended_master_secret and not ems:
        # RFC 7627 §5.3: the client dropped EMS on resumption of an EMS session.
        raise HandshakeFailure("resumption without extended master secret of a session "
                               "that used it")
    elif ems and not state.extended_master_secret:
        reason = "session did not use extended master secret (RFC 7627 §5.3)"
    if reason:
        engine.trace(t.SERVER_HELLO, t.LOCAL, {"resumption": f"full handshake: {reason}"})
        return None
    return state, from_ticket


def handle_client_hello(engine: Engine, config: ServerConfig, hello: ClientHello) -> State:
    """A ClientHello for which TLS 1.2 was negotiated."""
    if 0 not in hello.legacy_compression_methods:
        raise IllegalParameter("ClientHello does not offer null compression")
    suites = hello.cipher_suites
    # RFC 7507: a fallback connection from a client that could do better.
    if CipherSuite.TLS_FALLBACK_SCSV in suites and TLS13 in config.versions:
        raise InappropriateFallback("the client fell back to TLS 1.2 but we support TLS 1.3")
    renegotiation = find_typed(hello.extensions, X.renegotiation_info, RenegotiationInfo)
    if renegotiation is not None and renegotiation.renegotiated_connection:
        raise HandshakeFailure("non-empty renegotiation_info on an initial handshake")
    secure_renegotiation = (renegotiation is not None
                            or CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV in suites)
    ems = find(hello.extensions, X.extended_master_secret) is not None
    if not ems and config.require_extended_master_secret:
        raise HandshakeFailure("the client does not offer extended master secret (RFC 7627), "
                               "which this server requires")
    server_name = server_name_of(hello)
    # The chains for this name, chosen before any resumption (see server13).
    candidates = config.certificates_for(server_name, hello)
    resumable = _resumable(engine, config, hello, ems, server_name)
    random = config.rng(32)
    if TLS13 in config.versions:
        # RFC 8446 §4.1.3: tell a TLS 1.3 client that we were asked for TLS 1.2 only.
        random = random[:24] + DOWNGRADE_TLS12
    wants_ticket = find(hello.extensions, X.session_ticket) is not None
    ticket_keys = config.ticket_keys if wants_ticket else None
    alpn_ext = find_typed(hello.extensions, X.application_layer_protocol_negotiation, ALPN)
    alpn = choose_alpn(config.alpn_protocols, alpn_ext.protocols if alpn_ext else ())

    if resumable is not None:
        state, from_ticket = resumable
        # RFC 5077 §3.4: a ticket resumption echoes the client's session id.
        resumed = Hello12(config, hello, SUITES[state.cipher_suite], random,
                          hello.legacy_session_id, ems, alpn, server_name,
                          ticket_keys if from_ticket else None)
        _send_server_hello(engine, resumed, secure_renegotiation, ecdhe=False, resumed=True)
        return _send_abbreviated_flight(engine, resumed, state)
    suite, certified, group, scheme = _choose(config, hello, candidates)
    session_id = config.rng(32) if config.session_cache is not None else b""
    full = Hello12(config, hello, suite, random, session_id, ems, alpn, server_name,
                   ticket_keys, stapling.staple_for(engine, config, certified, hello))
    _send_server_hello(engine, full, secure_renegotiation, ecdhe=group is not None,
                       resumed=False)
    return _send_full_flight(engine, full, certified, group, scheme)


def _send_server_hello(engine: Engine, s: Hello12, secure_renegotiation: bool, *,
                       ecdhe: bool, resumed: bool) -> None:
    hello = s.hello
    formats = find_typed(hello.extensions, X.ec_point_formats, U8List)
    if ecdhe and formats is not None and 0 not in formats.values:
        raise IllegalParameter("client does not accept uncompressed EC points")
    engine.transcript.set_hash(s.suite.hash_name)
    extensions: list[Extension] = []
    if secure_renegotiation:
        extensions.append(RenegotiationInfo(b""))
    if s.extended_master_secret:
        extensions.append(Empty(X.extended_master_secret))
    if ecdhe and formats is not None:
        extensions.append(U8List(X.ec_point_formats, b"\x00"))
    if s.alpn is not None:
        extensions.append(ALPN((s.alpn,)))
    if s.server_name is not None and not resumed:
        extensions.append(Empty(X.server_name))
    if s.ticket_keys is not None:
        extensions.append(UnknownExtension(X.session_ticket, b""))
    if s.ocsp_response:
        # RFC 6066 §8: an empty status_request; CertificateStatus follows Certificate.
        extensions.append(Empty(X.status_request))
    engine.send(ServerHello(TLS12, s.server_random, s.session_id, s.suite.id, 0,
                            tuple(extensions)))
    engine.note(resumed=resumed)


def _send_full_flight(engine: Engine, s: Hello12, certified: CertifiedKey, group: int | None,
                      scheme: int | None) -> State:
    config = s.config
    engine.send(Serialized(certified.certificate_message(tls13=False)))
    engine.note(chain=lambda: describe_chain(certified.chain))
    if s.ocsp_response:
        engine.send(CertificateStatus(s.ocsp_response))
        stapling.note_staple(engine, s.ocsp_response)
    ecdhe = None
    if group is not None and scheme is not None:
        share = GROUPS[group].generate(config.rng)
        params = ServerKeyExchangeECDHE(group, share.public, scheme, b"").params
        signature = signatures.sign(certified.private_key, scheme,
                                    s.hello.random + s.server_random + params)
        engine.send(ServerKeyExchangeECDHE(group, share.public, scheme, signature))
        ecdhe = (group, share, scheme)
    request = config.client_auth != "none"
    if request:
        engine.send(CertificateRequest12(
            _CERTIFICATE_TYPES, signatures.tls12_schemes(config.signature_schemes),
            tuple(name_der(name) for name in config.client_ca_names)))
        engine.note(policy=config.client_auth, ca_names=len(config.client_ca_names))
    engine.send(_SERVER_HELLO_DONE)
    full = Full12(certified, ecdhe)
    return ExpectClientCertificate(s, full) if request else (
        ExpectClientKeyExchange(s, full, None))


def _send_abbreviated_flight(engine: Engine, s: Hello12, state: SessionState) -> State:
    # The resumed master secret goes to the key log as a new one does: a capture of
    # this connection is decrypted with it (the client random is this hello's).
    engine.keylog("CLIENT_RANDOM", s.hello.random, state.secret)
    keys = derive_keys12(engine, s.suite, state.secret, s.extended_master_secret,
                         s.hello.random, s.server_random)
    established = Keys12(keys, True, state.peer_certificates, (), None, None)
    _send_finished(engine, s, established)
    return ExpectChangeCipherSpec(s, established)


def _send_finished(engine: Engine, s: Hello12, established: Keys12,
                   state: SessionState | None = None) -> None:
    """[NewSessionTicket] ChangeCipherSpec Finished; ``state``: the session, when the
    caller made it already."""
    if s.ticket_keys is not None:
        # RFC 5077 §3.3: NewSessionTicket, sealed like TLS 1.3 tickets.
        config = s.config
        state = state or _session_state(s, established)
        ticket = s.ticket_keys.seal(state.encode(), config.clock(), config.rng)
        engine.send(NewSessionTicket12(config.ticket_lifetime, ticket))
    send_finished12(engine, established.keys, from_client=False)


def _session_state(s: Hello12, established: Keys12) -> SessionState:
    config = s.config
    return SessionState(TLS12, s.suite.id, established.keys.master,
                        int(config.clock() * 1000), config.ticket_lifetime, alpn=s.alpn or b"",
                        server_name=(s.server_name or "").encode(),
                        extended_master_secret=s.extended_master_secret,
                        peer_certificates=established.chain)


class _Tls12ServerState(State):
    def __init__(self, s: Hello12) -> None:
        self.s = s


class ExpectClientCertificate(_Tls12ServerState):
    expects = {H.certificate: Certificate12.parse}

    def __init__(self, s: Hello12, full: Full12) -> None:
        super().__init__(s)
        self.full = full

    def handle(self, engine: Engine, message: Certificate12) -> State:
        checked = check_client_chain(engine, self.s.config, message.chain, TLS12)
        if checked is None:
            return ExpectClientKeyExchange(self.s, self.full, None)
        chain, verified = checked
        return ExpectClientKeyExchange(self.s, self.full, (chain[0], message.chain, verified))


class ExpectClientKeyExchange(_Tls12ServerState):
    def __init__(self, s: Hello12, full: Full12,
                 client: tuple[x509.Certificate, tuple[bytes, ...], tuple[bytes, ...]] | None
                 ) -> None:
        super().__init__(s)
        self.full = full
        # The client's certificate, chain and verified path, if it sent one.
        self.client = client
        parser = (ClientKeyExchangeRSA.parse if full.ecdhe is None
                  else ClientKeyExchangeECDHE.parse)
        self.expects = {H.client_key_exchange: parser}

    def handle(self, engine: Engine, message: Any) -> State:
        s, full = self.s, self.full
        suite, config = s.suite, s.config
        ecdhe = full.ecdhe
        if ecdhe is None:
            # RFC 5246 §7.4.7.1: one path for every outcome; see crypto/rsa_kx.py.
            pre_master_secret = rsa_kx.decrypt_pre_master_secret(
                full.certified.private_key, message.encrypted_pre_master_secret,
                s.hello.legacy_version, config.rng)
            engine.note(server_key=lambda: signatures.describe_key(full.certified.private_key),
                        secrets={"pre_master_secret": pre_master_secret})
            group = scheme = None
        else:
            group, share, scheme = ecdhe
            pre_master_secret = share.complete(message.public)
            engine.note(group=describe(NamedGroup, group))
            engine.trace(t.KEY_EXCHANGE, t.LOCAL, lambda: {
                "group": describe(NamedGroup, group), "hybrid": False,
                "client_share_bytes": len(message.public),
                "server_share_bytes": len(share.public),
                "shared_secret_bytes": len(pre_master_secret)},
                {"pre_master_secret": pre_master_secret})
        if s.extended_master_secret:
            master = prf.extended_master_secret(suite.hash_name, pre_master_secret,
                                                engine.transcript.digest())
        else:
            master = prf.master_secret(suite.hash_name, pre_master_secret, s.hello.random,
                                       s.server_random)
        engine.keylog("CLIENT_RANDOM", s.hello.random, master)
        keys = derive_keys12(engine, suite, master, s.extended_master_secret, s.hello.random,
                             s.server_random)
        if self.client is None:
            return ExpectChangeCipherSpec(s, Keys12(keys, False, (), (), group, scheme))
        certificate, chain, verified = self.client
        return ExpectCertificateVerify(s, Keys12(keys, False, chain, verified, group, scheme),
                                       certificate)


class ExpectCertificateVerify(_Tls12ServerState):
    expects = {H.certificate_verify: CertificateVerify.parse}

    def __init__(self, s: Hello12, established: Keys12, certificate: x509.Certificate) -> None:
        super().__init__(s)
        self.established = established
        self.certificate = certificate

    def handle(self, engine: Engine, message: CertificateVerify) -> State:
        # RFC 5246 §7.4.8: signed over every handshake message before this one.
        signed = engine.transcript.messages()[: -len(message.raw)]
        check_client_signature(engine, self.s.config, self.certificate, message.algorithm,
                               signed, message.signature, tls13=False)
        return ExpectChangeCipherSpec(self.s, self.established)


class ExpectChangeCipherSpec(_Tls12ServerState):
    def __init__(self, s: Hello12, established: Keys12) -> None:
        super().__init__(s)
        self.established = established

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        engine.install_read(self.established.keys.client_write)
        return ExpectFinished(self.s, self.established)

    def describe(self) -> str:
        return "expecting ChangeCipherSpec"


class ExpectFinished(_Tls12ServerState):
    expects = {H.finished: Finished.parse}

    def __init__(self, s: Hello12, established: Keys12) -> None:
        super().__init__(s)
        self.established = established

    def handle(self, engine: Engine, message: Finished) -> State:
        s, established = self.s, self.established
        config, suite = s.config, s.suite
        check_finished_length(message, 12)
        verify_finished12(engine, established.keys, message, from_client=True)
        if not established.resumed:
            # One session for the ticket and the cache (s.session_id: a cache is set).
            state = (_session_state(s, established)
                     if s.session_id or s.ticket_keys is not None else None)
            _send_finished(engine, s, established, state)
            if state is not None and s.session_id and config.session_cache is not None:
                config.session_cache.store(s.session_id, state, config.clock())
        group, scheme = established.group, established.signature_scheme
        engine.finish(negotiated12(established.keys, handshake_complete(
            version="TLSv1.2", cipher_suite=suite.name,
            key_exchange=key_exchange12(suite, group, established.resumed),
            group=describe(NamedGroup, group) if group is not None else None,
            signature_scheme=describe(SignatureScheme, scheme) if scheme is not None else None,
            alpn_protocol=decode_alpn(s.alpn), server_name=s.server_name,
            peer_certificates=established.chain, resumed=established.resumed,
            extended_master_secret=s.extended_master_secret,
            verified_chain=established.verified_chain, ocsp_response=s.ocsp_response,
        )))
        return Connected12(is_client=False)
