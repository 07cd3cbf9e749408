"""The TLS 1.2 server (RFC 5246 §7.3): one class per state.

Full handshake:
    ClientHello (from server13.ExpectClientHello) -> our flight: ServerHello
       Certificate [ServerKeyExchange] [CertificateRequest] ServerHelloDone
    -> [ExpectCertificate] -> ExpectClientKeyExchange -> [ExpectCertificateVerify]
    -> ExpectChangeCipherSpec -> ExpectFinished
    -> ([NewSessionTicket] ChangeCipherSpec Finished) Connected12
Abbreviated (resumed by session id or ticket, RFC 5077 §3.1):
    ServerHello [NewSessionTicket] ChangeCipherSpec Finished
    -> ExpectChangeCipherSpec -> ExpectFinished -> Connected12
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509

from .. import trace as t
from ..certs import CertifiedKey, describe_certificate, name_der
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
from ..errors import AlertDescription, DecodeError, PeerIncompatible, PeerMisbehaved, illegal
from ..events import HandshakeComplete
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
    CertificateVerify,
    ClientHello,
    ClientKeyExchangeECDHE,
    ClientKeyExchangeRSA,
    EmptyMessage,
    Finished,
    NewSessionTicket12,
    ServerHello,
    ServerKeyExchangeECDHE,
    check_finished_length,
)
from ..session import SessionState
from .client_auth import check_client_chain, check_client_signature
from .common import Engine, State, choose_alpn, choose_signature_scheme, decode_alpn
from .post12 import (
    Connected12,
    Tls12Keys,
    finish_handshake12,
    install_tls12_keys,
    verify_finished12,
)
from .server13 import server_name_of

_CURVE_GROUPS = {"secp256r1": NamedGroup.secp256r1, "secp384r1": NamedGroup.secp384r1,
                 "secp521r1": NamedGroup.secp521r1}

# RFC 5246 §7.4.4: ClientCertificateType rsa_sign and ecdsa_sign (RFC 8422 §5.5).
_CERTIFICATE_TYPES = bytes([1, 64])


@dataclass
class Server12:
    config: ServerConfig
    hello: ClientHello
    suite: Suite
    server_random: bytes
    session_id: bytes
    extended_master_secret: bool
    certified: CertifiedKey | None = None
    group: int | None = None
    share: PrivateShare | None = None
    signature_scheme: int | None = None
    alpn: bytes | None = None
    server_name: str | None = None
    issue_ticket: bool = False
    master: bytes = b""
    resumed: bool = False
    peer_chain: tuple[bytes, ...] = ()
    verified_chain: tuple[bytes, ...] = ()
    peer_certificate: x509.Certificate | None = None


def _choose(config: ServerConfig, hello: ClientHello
            ) -> tuple[Suite, CertifiedKey, int | None, int | None]:
    """Suite, certificate, ECDHE group and signature scheme: the first suite (in the
    preferred order) for which we have everything it needs."""
    groups_ext = find_typed(hello.extensions, X.supported_groups, U16List)
    # RFC 8422 §4: without supported_groups, the client is assumed to accept P-256.
    client_groups = groups_ext.values if groups_ext else (NamedGroup.secp256r1,)
    groups = ([g for g in config.groups if g in client_groups and GROUPS[g].tls12]
              if config.server_preference
              else [g for g in client_groups if g in config.groups and GROUPS[g].tls12])
    schemes_ext = find_typed(hello.extensions, X.signature_algorithms, U16List)
    # RFC 5246 §7.4.1.4.1: no extension means SHA-1, which we do not accept.
    client_schemes = schemes_ext.values if schemes_ext else ()
    ours = config.tls12_suites
    order = ([s for s in ours if s in hello.cipher_suites] if config.server_preference
             else [s for s in hello.cipher_suites if s in ours])
    for suite_id in order:
        suite = SUITES[suite_id]
        for certified in config.certificates:
            kind, _, curve = signatures.describe_key(certified.private_key).partition(" ")
            if kind != suite.authentication:
                continue
            if kind == "ECDSA" and groups_ext is not None and _CURVE_GROUPS.get(
                    curve) not in client_groups:
                continue  # RFC 8422 §5.3: an ECDSA key on a curve the client supports
            if suite.key_exchange == "RSA":
                return suite, certified, None, None
            scheme = choose_signature_scheme(certified, client_schemes, config.signature_schemes,
                                             tls13=False)
            if groups and scheme is not None:
                return suite, certified, groups[0], scheme
    rsa_offered = any(s in SUITES and SUITES[s].key_exchange == "RSA"
                      for s in hello.cipher_suites)
    hint = (" (the client offers RSA key exchange, which is disabled here)"
            if rsa_offered and not config.enable_rsa_key_exchange else "")
    raise PeerIncompatible("no TLS 1.2 cipher suite, group and certificate in common" + hint)


def _resumable(engine: Engine, config: ServerConfig, hello: ClientHello, ems: bool
               ) -> tuple[SessionState, bool] | None:
    """A session to resume from the client's ticket or session id, with whether it
    came from a ticket; None for a full handshake."""
    now = config.clock()
    ticket_ext = find(hello.extensions, X.session_ticket)
    state: SessionState | None = None
    from_ticket = False
    if (isinstance(ticket_ext, UnknownExtension) and ticket_ext.data
            and config.ticket_keys is not None):
        opened = config.ticket_keys.open(ticket_ext.data, now)
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
    elif config.client_auth == "required" and not state.peer_certificates:
        reason = "session has no client certificate, which this server requires"
    elif state.extended_master_secret and not ems:
        # RFC 7627 §5.3: the client dropped EMS on resumption of an EMS session.
        raise PeerMisbehaved("resumption without extended master secret of a session "
                             "that used it", AlertDescription.handshake_failure)
    elif ems and not state.extended_master_secret:
        reason = "session did not use extended master secret (RFC 7627 §5.3)"
    if reason:
        if engine.tracing:
            engine.trace(t.SERVER_HELLO, t.LOCAL, {"resumption": f"full handshake: {reason}"})
        return None
    return state, from_ticket


def handle_client_hello12(engine: Engine, config: ServerConfig, hello: ClientHello) -> State:
    if 0 not in hello.legacy_compression_methods:
        raise illegal("ClientHello does not offer null compression")
    suites = hello.cipher_suites
    # RFC 7507: a fallback connection from a client that could do better.
    if CipherSuite.TLS_FALLBACK_SCSV in suites and TLS13 in config.versions:
        raise PeerMisbehaved("the client fell back to TLS 1.2 but we support TLS 1.3",
                             AlertDescription.inappropriate_fallback)
    renegotiation = find_typed(hello.extensions, X.renegotiation_info, RenegotiationInfo)
    if renegotiation is not None and renegotiation.renegotiated_connection:
        raise PeerMisbehaved("non-empty renegotiation_info on an initial handshake",
                             AlertDescription.handshake_failure)
    secure_renegotiation = (renegotiation is not None
                            or CipherSuite.TLS_EMPTY_RENEGOTIATION_INFO_SCSV in suites)
    ems = find(hello.extensions, X.extended_master_secret) is not None
    if not ems and config.require_extended_master_secret:
        raise PeerIncompatible("the client does not offer extended master secret (RFC 7627), "
                               "which this server requires")
    resumable = _resumable(engine, config, hello, ems)
    random = config.rng(32)
    if TLS13 in config.versions:
        # RFC 8446 §4.1.3: tell a TLS 1.3 client that we were asked for TLS 1.2 only.
        random = random[:24] + DOWNGRADE_TLS12
    wants_ticket = find(hello.extensions, X.session_ticket) is not None and (
        config.ticket_keys is not None)
    alpn_ext = find_typed(hello.extensions, X.application_layer_protocol_negotiation, ALPN)
    alpn = choose_alpn(config.alpn_protocols, alpn_ext.protocols if alpn_ext else ())

    if resumable is not None:
        state, from_ticket = resumable
        suite = SUITES[state.cipher_suite]
        # RFC 5077 §3.4: a ticket resumption echoes the client's session id.
        s = Server12(config, hello, suite, random, hello.legacy_session_id, ems,
                     alpn=alpn, server_name=server_name_of(hello), master=state.secret,
                     resumed=True, peer_chain=state.peer_certificates,
                     issue_ticket=wants_ticket and from_ticket)
    else:
        suite, certified, group, scheme = _choose(config, hello)
        session_id = config.rng(32) if config.session_cache is not None else b""
        s = Server12(config, hello, suite, random, session_id, ems, certified=certified,
                     group=group, signature_scheme=scheme, alpn=alpn,
                     server_name=server_name_of(hello), issue_ticket=wants_ticket)
    formats = find_typed(hello.extensions, X.ec_point_formats, U8List)
    if s.group is not None and formats is not None and 0 not in formats.values:
        raise illegal("client does not accept uncompressed EC points")
    engine.transcript.set_hash(suite.hash_name)

    extensions: list[Extension] = []
    if secure_renegotiation:
        extensions.append(RenegotiationInfo(b""))
    if ems:
        extensions.append(Empty(X.extended_master_secret))
    if s.group is not None and formats is not None:
        extensions.append(U8List(X.ec_point_formats, b"\x00"))
    if s.alpn is not None:
        extensions.append(ALPN((s.alpn,)))
    if s.server_name is not None and not s.resumed:
        extensions.append(Empty(X.server_name))
    if s.issue_ticket:
        extensions.append(UnknownExtension(X.session_ticket, b""))
    engine.send_handshake(ServerHello(TLS12, random, s.session_id, suite.id, 0,
                                      tuple(extensions)))
    if engine.tracing:
        engine.trace(t.SERVER_HELLO, t.SENT, {
            "version": "TLS 1.2", "cipher_suite": suite.name, "key_exchange": suite.key_exchange,
            "random": random.hex(), "session_id": s.session_id.hex(), "resumed": s.resumed,
            "extended_master_secret": ems, "downgrade_sentinel": TLS13 in config.versions,
            "extensions": [describe(X, e.type) for e in extensions]})
    if s.resumed:
        return _send_abbreviated_flight(engine, s)
    return _send_full_flight(engine, s)


def _send_full_flight(engine: Engine, s: Server12) -> State:
    config, hello, certified = s.config, s.hello, s.certified
    assert certified is not None
    engine.send_raw_handshake(certified.certificate_message(tls13=False))
    if engine.tracing:
        engine.trace(t.CERTIFICATE, t.SENT, {
            "chain": [describe_certificate(c) for c in certified.chain]})
    if s.group is not None:
        scheme = s.signature_scheme
        assert scheme is not None
        s.share = GROUPS[s.group].generate(config.rng)
        params = ServerKeyExchangeECDHE(s.group, s.share.public, scheme, b"").params
        signature = signatures.sign(certified.private_key, scheme,
                                    hello.random + s.server_random + params)
        engine.send_handshake(ServerKeyExchangeECDHE(s.group, s.share.public, scheme,
                                                     signature))
        if engine.tracing:
            engine.trace(t.SERVER_KEY_EXCHANGE, t.SENT, {
                "group": describe(NamedGroup, s.group), "server_public_bytes": len(s.share.public),
                "signature_scheme": describe(SignatureScheme, scheme),
                "signature_bytes": len(signature)})
    request = config.client_auth != "none"
    if request:
        engine.send_handshake(CertificateRequest12(
            _CERTIFICATE_TYPES, signatures.tls12_schemes(config.signature_schemes),
            tuple(name_der(name) for name in config.client_ca_names)))
        if engine.tracing:
            engine.trace(t.CERTIFICATE_REQUEST, t.SENT, {
                "policy": config.client_auth, "ca_names": len(config.client_ca_names)})
    engine.send_handshake(EmptyMessage(H.server_hello_done))
    if engine.tracing:
        engine.trace(t.SERVER_HELLO_DONE, t.SENT, {})
    return ExpectClientCertificate(s) if request else ExpectClientKeyExchange(s)


def _send_abbreviated_flight(engine: Engine, s: Server12) -> State:
    keys = install_tls12_keys(engine, s.suite, s.master, s.hello.random, s.server_random,
                              is_client=False, extended=s.extended_master_secret)
    _send_finished(engine, s, keys)
    return ExpectChangeCipherSpec(s, keys)


def _send_finished(engine: Engine, s: Server12, keys: Tls12Keys) -> None:
    if s.issue_ticket:
        _send_ticket(engine, s)
    engine.send_change_cipher_spec()
    engine.install_write(keys.server_write)
    verify_data = prf.finished_verify_data(s.suite.hash_name, s.master, False,
                                           engine.transcript.digest())
    engine.send_handshake(Finished(verify_data))
    if engine.tracing:
        engine.trace(t.FINISHED, t.SENT, {"verify_data_bytes": len(verify_data)})


def _session_state(s: Server12) -> SessionState:
    config = s.config
    return SessionState(TLS12, s.suite.id, s.master, int(config.clock() * 1000),
                        config.ticket_lifetime, alpn=s.alpn or b"",
                        server_name=(s.server_name or "").encode(),
                        extended_master_secret=s.extended_master_secret,
                        peer_certificates=s.peer_chain)


def _send_ticket(engine: Engine, s: Server12) -> None:
    """RFC 5077 §3.3: NewSessionTicket, sealed like TLS 1.3 tickets."""
    config = s.config
    assert config.ticket_keys is not None
    ticket = config.ticket_keys.seal(_session_state(s).encode(), config.clock())
    engine.send_handshake(NewSessionTicket12(config.ticket_lifetime, ticket))
    if engine.tracing:
        engine.trace(t.NEW_SESSION_TICKET, t.SENT, {
            "lifetime_hint": config.ticket_lifetime, "ticket_bytes": len(ticket)})


class _Tls12ServerState(State):
    def __init__(self, s: Server12) -> None:
        self.s = s


class ExpectClientCertificate(_Tls12ServerState):
    expects = {H.certificate: Certificate12.parse}

    def handle(self, engine: Engine, message: Certificate12) -> State:
        s = self.s
        checked = check_client_chain(engine, s.config, message.chain, TLS12)
        if checked is not None:
            chain, s.verified_chain = checked
            s.peer_chain, s.peer_certificate = message.chain, chain[0]
        return ExpectClientKeyExchange(s)


class ExpectClientKeyExchange(_Tls12ServerState):
    def __init__(self, s: Server12) -> None:
        super().__init__(s)
        parser = (ClientKeyExchangeRSA.parse if s.suite.key_exchange == "RSA"
                  else ClientKeyExchangeECDHE.parse)
        self.expects = {H.client_key_exchange: parser}

    def handle(self, engine: Engine, message: Any) -> State:
        s = self.s
        suite, config = s.suite, s.config
        certified = s.certified
        assert certified is not None
        if isinstance(message, ClientKeyExchangeRSA):
            # RFC 5246 §7.4.7.1: one path for every outcome; see crypto/rsa_kx.py.
            pre_master_secret = rsa_kx.decrypt_pre_master_secret(
                certified.private_key, message.encrypted_pre_master_secret,
                s.hello.legacy_version, config.rng)
            if engine.tracing:
                engine.trace(t.CLIENT_KEY_EXCHANGE, t.RECEIVED, {
                    "key_exchange": "RSA",
                    "encrypted_pre_master_secret_bytes": len(message.encrypted_pre_master_secret),
                    "encrypted_pre_master_secret": message.encrypted_pre_master_secret.hex(),
                    "server_key": signatures.describe_key(certified.private_key)},
                    {"pre_master_secret": pre_master_secret})
        else:
            assert s.share is not None and s.group is not None
            pre_master_secret = s.share.complete(message.public)
            if engine.tracing:
                engine.trace(t.CLIENT_KEY_EXCHANGE, t.RECEIVED, {
                    "key_exchange": "ECDHE", "group": describe(NamedGroup, s.group),
                    "client_public_bytes": len(message.public)})
            if engine.tracing:
                engine.trace(t.KEY_EXCHANGE, t.LOCAL, {
                    "group": describe(NamedGroup, s.group), "hybrid": False,
                    "client_share_bytes": len(message.public),
                    "server_share_bytes": len(s.share.public),
                    "shared_secret_bytes": len(pre_master_secret)},
                    {"pre_master_secret": pre_master_secret})
        if s.extended_master_secret:
            s.master = prf.extended_master_secret(suite.hash_name, pre_master_secret,
                                                  engine.transcript.digest())
        else:
            s.master = prf.master_secret(suite.hash_name, pre_master_secret, s.hello.random,
                                         s.server_random)
        engine.keylog("CLIENT_RANDOM", s.hello.random, s.master)
        keys = install_tls12_keys(engine, suite, s.master, s.hello.random, s.server_random,
                                  is_client=False, extended=s.extended_master_secret)
        if s.peer_certificate is not None:
            return ExpectCertificateVerify(s, keys)
        return ExpectChangeCipherSpec(s, keys)


class ExpectCertificateVerify(_Tls12ServerState):
    expects = {H.certificate_verify: CertificateVerify.parse}

    def __init__(self, s: Server12, keys: Tls12Keys) -> None:
        super().__init__(s)
        self.keys = keys

    def handle(self, engine: Engine, message: CertificateVerify) -> State:
        s = self.s
        assert s.peer_certificate is not None
        # RFC 5246 §7.4.8: signed over every handshake message before this one.
        signed = engine.transcript.messages()[: -len(message.raw)]
        check_client_signature(engine, s.config, s.peer_certificate, message.algorithm,
                               signed, message.signature, tls13=False)
        return ExpectChangeCipherSpec(s, self.keys)


class ExpectChangeCipherSpec(_Tls12ServerState):
    def __init__(self, s: Server12, keys: Tls12Keys) -> None:
        super().__init__(s)
        self.keys = keys

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        engine.install_read(self.keys.client_write)
        return ExpectFinished(self.s, self.keys)

    def describe(self) -> str:
        return "expecting ChangeCipherSpec"


class ExpectFinished(_Tls12ServerState):
    expects = {H.finished: Finished.parse}

    def __init__(self, s: Server12, keys: Tls12Keys) -> None:
        super().__init__(s)
        self.keys = keys

    def handle(self, engine: Engine, message: Finished) -> State:
        s, config = self.s, self.s.config
        check_finished_length(message, 12)
        verify_finished12(engine, s.suite, s.master, message, from_client=True)
        if not s.resumed:
            _send_finished(engine, s, self.keys)
            if s.session_id and config.session_cache is not None:
                config.session_cache.store(s.session_id, _session_state(s), config.clock())
        connected = Connected12(is_client=False)
        finish_handshake12(engine, connected, s.suite, s.master, s.hello.random,
                           s.server_random, HandshakeComplete(
            version="TLSv1.2", cipher_suite=s.suite.name,
            key_exchange="resumed" if s.resumed else "RSA" if s.suite.key_exchange == "RSA"
            else f"ECDHE {describe(NamedGroup, s.group or 0)}",
            group=describe(NamedGroup, s.group) if s.group is not None else None,
            signature_scheme=describe(SignatureScheme, s.signature_scheme)
            if s.signature_scheme is not None else None,
            alpn_protocol=decode_alpn(s.alpn) if s.alpn else None,
            server_name=s.server_name, peer_certificates=s.peer_chain, resumed=s.resumed,
            extended_master_secret=s.extended_master_secret, verified_chain=s.verified_chain,
        ))
        return connected
