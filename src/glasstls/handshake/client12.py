"""The TLS 1.2 client (RFC 5246 §7.3): one class per state.

Full handshake:
    ServerHello (from client13.ExpectServerHello) -> ExpectCertificate
    -> ExpectServerKeyExchange (ECDHE) -> ExpectCertificateRequestOrDone
    -> [ExpectServerHelloDone] -> our flight: [Certificate] ClientKeyExchange
       [CertificateVerify] ChangeCipherSpec Finished
    -> [ExpectNewSessionTicket] -> ExpectChangeCipherSpec -> ExpectFinished -> Connected12
Abbreviated (resumed) handshake, RFC 5246 §7.3 and RFC 5077 §3.1:
    ServerHello echoing our session id -> [ExpectNewSessionTicket]
    -> ExpectChangeCipherSpec -> ExpectFinished -> our ChangeCipherSpec Finished
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509

from .. import certs, trace as t
from ..certs import CertifiedKey
from ..constants import (
    TLS12,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
    SignatureScheme,
    describe,
)
from ..crypto import prf, rsa_kx, signatures
from ..crypto.groups import GROUPS
from ..crypto.suites import SUITES, Suite
from ..errors import AlertDescription, PeerIncompatible, PeerMisbehaved, illegal
from ..events import HandshakeComplete, SessionTicketReceived
from ..messages.extensions import ALPN, RenegotiationInfo, U8List, find, find_typed
from ..messages.handshake import (
    Certificate12,
    CertificateRequest12,
    CertificateVerify,
    ClientKeyExchangeECDHE,
    ClientKeyExchangeRSA,
    Finished,
    NewSessionTicket12,
    ServerHello,
    ServerKeyExchangeECDHE,
    check_finished_length,
    parse_empty,
)
from ..session import ClientSession
from .client13 import ClientHandshake, session_cache_key, verify_server_certificates
from .client_auth import pick_client_certificate
from .common import Engine, State, decode_alpn
from .post12 import (
    Connected12,
    Tls12Keys,
    finish_handshake12,
    install_tls12_keys,
    verify_finished12,
)


@dataclass
class Client12:
    """TLS 1.2 state carried from the ServerHello onwards."""

    hs: ClientHandshake
    suite: Suite
    server_random: bytes
    session_id: bytes
    extended_master_secret: bool
    expect_ticket: bool
    certificate: x509.Certificate | None = None
    peer_chain: tuple[bytes, ...] = ()
    verified_chain: tuple[bytes, ...] = ()
    group: int | None = None
    server_public: bytes = b""
    signature_scheme: int | None = None
    certificate_request: CertificateRequest12 | None = None
    master: bytes = b""
    resumed: bool = False
    ticket: bytes = b""
    ticket_lifetime: int = 0


def handle_server_hello12(engine: Engine, hs: ClientHandshake, message: ServerHello) -> State:
    config = hs.config
    engine.set_version(TLS12)
    suite = SUITES.get(message.cipher_suite)
    if suite is None or suite.is_tls13 or message.cipher_suite not in config.tls12_suites:
        raise illegal(f"server selected cipher suite 0x{message.cipher_suite:04x}, "
                      "which was not offered")
    if message.legacy_compression_method != 0:
        raise illegal("ServerHello selected a compression method")
    for extension in message.extensions:
        if extension.type not in hs.hello.offered_extensions:
            raise PeerMisbehaved(f"server sent extension {describe(X, extension.type)} that "
                                 "was not offered", AlertDescription.unsupported_extension)
    renegotiation = find_typed(message.extensions, X.renegotiation_info, RenegotiationInfo)
    # RFC 5746 §3.4: on an initial handshake the server's renegotiation_info is empty.
    if renegotiation is not None and renegotiation.renegotiated_connection:
        raise PeerMisbehaved("non-empty renegotiation_info on an initial handshake",
                             AlertDescription.handshake_failure)
    ems = find(message.extensions, X.extended_master_secret) is not None
    if not ems and config.require_extended_master_secret:
        raise PeerIncompatible("the server does not support extended master secret "
                               "(RFC 7627), which this client requires")
    formats = find_typed(message.extensions, X.ec_point_formats, U8List)
    if formats is not None and 0 not in formats.values:
        raise illegal("server does not accept uncompressed EC points")
    alpn = find_typed(message.extensions, X.application_layer_protocol_negotiation, ALPN)
    if alpn is not None:
        if len(alpn.protocols) != 1 or alpn.protocols[0] not in {
            p.encode() for p in config.alpn_protocols
        }:
            raise illegal("server selected an ALPN protocol that was not offered")
        hs.alpn = alpn.protocols[0]
    engine.transcript.set_hash(suite.hash_name)
    hs.suite = suite
    expect_ticket = find(message.extensions, X.session_ticket) is not None
    c = Client12(hs, suite, message.random, message.legacy_session_id_echo, ems, expect_ticket)
    session = hs.session
    echo = message.legacy_session_id_echo
    resumed = (session is not None and session.version == TLS12 and bool(echo)
               and echo == hs.hello.session_id)
    if engine.tracing:
        engine.trace(t.SERVER_HELLO, t.RECEIVED, {
            "version": "TLS 1.2", "cipher_suite": suite.name, "key_exchange": suite.key_exchange,
            "random": message.random.hex(), "session_id": message.legacy_session_id_echo.hex(),
            "extended_master_secret": ems, "resumed": resumed,
            "secure_renegotiation": renegotiation is not None,
            "extensions": [describe(X, e.type) for e in message.extensions],
        })
    if resumed and session is not None:
        return _resume(engine, c, session)
    return ExpectCertificate(c)


def _resume(engine: Engine, c: Client12, session: ClientSession) -> State:
    # RFC 5246 §7.4.1.3: the resumed session's suite; RFC 7627 §5.3: and its EMS use.
    if session.cipher_suite != c.suite.id:
        raise illegal("resumed session with a different cipher suite")
    if session.extended_master_secret != c.extended_master_secret:
        raise PeerMisbehaved("resumed session's extended master secret use differs",
                             AlertDescription.handshake_failure)
    c.resumed = True
    c.master = session.secret
    c.peer_chain = session.peer_certificates
    c.verified_chain = session.verified_chain
    keys = install_tls12_keys(engine, c.suite, c.master, c.hs.hello.random, c.server_random,
                              is_client=True, extended=c.extended_master_secret)
    if c.expect_ticket:
        return ExpectNewSessionTicket(c, keys)
    return ExpectChangeCipherSpec(c, keys)


class _Tls12ClientState(State):
    def __init__(self, c: Client12) -> None:
        self.c = c


class ExpectCertificate(_Tls12ClientState):
    expects = {H.certificate: Certificate12.parse}

    def handle(self, engine: Engine, message: Certificate12) -> State:
        c = self.c
        if not message.chain:
            raise PeerMisbehaved("the server sent an empty certificate chain",
                                 AlertDescription.decode_error)
        chain = certs.parse_chain(message.chain)
        c.certificate, c.peer_chain = chain[0], message.chain
        key = certs.leaf_public_key(chain[0])
        wanted = c.suite.authentication
        # RFC 8422 §5.3: ECDHE_ECDSA suites take ECDSA or EdDSA certificates.
        if wanted and signatures.tls12_authentication(key) != wanted:
            kind = signatures.describe_key(key).split()[0]
            raise PeerMisbehaved(f"{c.suite.name} needs an {wanted} certificate, got {kind}",
                                 AlertDescription.unsupported_certificate)
        if engine.tracing:
            engine.trace(t.CERTIFICATE, t.RECEIVED, {
                "chain": [certs.describe_certificate(cert) for cert in chain]})
        c.verified_chain = verify_server_certificates(engine, c.hs.config, c.hs.server_name,
                                                      chain, message.chain[0])
        if c.suite.key_exchange == "RSA":
            return ExpectCertificateRequestOrDone(c)
        return ExpectServerKeyExchange(c)


class ExpectServerKeyExchange(_Tls12ClientState):
    expects = {H.server_key_exchange: ServerKeyExchangeECDHE.parse}

    def handle(self, engine: Engine, message: ServerKeyExchangeECDHE) -> State:
        c = self.c
        config = c.hs.config
        group = GROUPS.get(message.named_group)
        if group is None or not group.tls12 or message.named_group not in config.groups:
            raise illegal(f"server chose group {describe(NamedGroup, message.named_group)}, "
                          "which was not offered")
        assert c.certificate is not None
        key = certs.leaf_public_key(c.certificate)
        # RFC 5246 §7.4.1.4.1: a scheme from our signature_algorithms that fits the key.
        if message.algorithm not in config.signature_schemes or not signatures.scheme_fits_key(
            message.algorithm, key, tls13=False,
            rsa_pss_key=certs.is_rsa_pss_key(c.certificate),
        ):
            raise illegal(f"ServerKeyExchange signed with "
                          f"{describe(SignatureScheme, message.algorithm)}, which was not "
                          "offered or does not fit the certificate")
        signed = c.hs.hello.random + c.server_random + message.params
        signatures.verify(key, message.algorithm, signed, message.signature)
        c.group, c.server_public, c.signature_scheme = (
            message.named_group, message.public, message.algorithm)
        if engine.tracing:
            engine.trace(t.SERVER_KEY_EXCHANGE, t.RECEIVED, {
                "group": group.name, "server_public_bytes": len(message.public),
                "signature_scheme": describe(SignatureScheme, message.algorithm),
                "result": "signature verified"})
        return ExpectCertificateRequestOrDone(c)


class ExpectCertificateRequestOrDone(_Tls12ClientState):
    expects = {H.certificate_request: CertificateRequest12.parse,
               H.server_hello_done: parse_empty}

    def handle(self, engine: Engine, message: Any) -> State:
        if isinstance(message, CertificateRequest12):
            self.c.certificate_request = message
            if engine.tracing:
                engine.trace(t.CERTIFICATE_REQUEST, t.RECEIVED, {
                    "signature_algorithms": [describe(SignatureScheme, s)
                                             for s in message.signature_algorithms],
                    "certificate_authorities": len(message.certificate_authorities)})
            return ExpectServerHelloDone(self.c)
        return _send_client_flight(engine, self.c)


class ExpectServerHelloDone(_Tls12ClientState):
    expects = {H.server_hello_done: parse_empty}

    def handle(self, engine: Engine, message: Any) -> State:
        return _send_client_flight(engine, self.c)


def _send_client_flight(engine: Engine, c: Client12) -> State:
    hs, suite = c.hs, c.suite
    config = hs.config
    if engine.tracing:
        engine.trace(t.SERVER_HELLO_DONE, t.RECEIVED, {})
    client_certificate = None
    if c.certificate_request is not None:
        client_certificate = _send_client_certificate(engine, c, c.certificate_request)

    assert c.certificate is not None
    if suite.key_exchange == "RSA":
        server_key = certs.leaf_public_key(c.certificate)
        pre_master_secret, encrypted = rsa_kx.encrypt_pre_master_secret(
            server_key, hs.hello.hello.legacy_version, config.rng)
        engine.send_handshake(ClientKeyExchangeRSA(encrypted))
        if engine.tracing:
            engine.trace(t.CLIENT_KEY_EXCHANGE, t.SENT, {
                "key_exchange": "RSA", "pre_master_secret_bytes": len(pre_master_secret),
                "encrypted_pre_master_secret_bytes": len(encrypted),
                "encrypted_pre_master_secret": encrypted.hex(),
                "server_key": signatures.describe_key(server_key),
            }, {"pre_master_secret": pre_master_secret})
    else:
        assert c.group is not None
        share = GROUPS[c.group].generate(config.rng)
        pre_master_secret = share.complete(c.server_public)
        engine.send_handshake(ClientKeyExchangeECDHE(share.public))
        if engine.tracing:
            engine.trace(t.CLIENT_KEY_EXCHANGE, t.SENT, {
                "key_exchange": "ECDHE", "group": describe(NamedGroup, c.group),
                "client_public_bytes": len(share.public)})
        if engine.tracing:
            engine.trace(t.KEY_EXCHANGE, t.LOCAL, {
                "group": describe(NamedGroup, c.group), "hybrid": False,
                "client_share_bytes": len(share.public), "server_share_bytes": len(c.server_public),
                "shared_secret_bytes": len(pre_master_secret)},
                {"pre_master_secret": pre_master_secret})

    if c.extended_master_secret:
        master = prf.extended_master_secret(suite.hash_name, pre_master_secret,
                                            engine.transcript.digest())
    else:
        master = prf.master_secret(suite.hash_name, pre_master_secret, hs.hello.random,
                                   c.server_random)
    c.master = master
    engine.keylog("CLIENT_RANDOM", hs.hello.random, master)

    if client_certificate is not None:
        certified, scheme = client_certificate
        # RFC 5246 §7.4.8: the signature covers every handshake message so far.
        signature = signatures.sign(certified.private_key, scheme, engine.transcript.messages())
        engine.send_handshake(CertificateVerify(scheme, signature))
        if engine.tracing:
            engine.trace(t.CERTIFICATE_VERIFY, t.SENT, {
                "signature_scheme": describe(SignatureScheme, scheme),
                "signature_bytes": len(signature)})

    keys = install_tls12_keys(engine, suite, master, hs.hello.random, c.server_random,
                              is_client=True, extended=c.extended_master_secret)
    _send_finished(engine, c, keys)
    if c.expect_ticket:
        return ExpectNewSessionTicket(c, keys)
    return ExpectChangeCipherSpec(c, keys)


def _send_finished(engine: Engine, c: Client12, keys: Tls12Keys) -> None:
    engine.send_change_cipher_spec()
    engine.install_write(keys.client_write)
    verify_data = prf.finished_verify_data(c.suite.hash_name, c.master, True,
                                           engine.transcript.digest())
    engine.send_handshake(Finished(verify_data))
    if engine.tracing:
        engine.trace(t.FINISHED, t.SENT, {"verify_data_bytes": len(verify_data)})


def _send_client_certificate(engine: Engine, c: Client12, request: CertificateRequest12
                             ) -> tuple[CertifiedKey, int] | None:
    picked = pick_client_certificate(c.hs.config, request.certificate_authorities,
                                     request.signature_algorithms, TLS12)
    if picked is None:
        engine.send_handshake(Certificate12(()))
        if engine.tracing:
            engine.trace(t.CERTIFICATE, t.SENT, {
                "chain": [], "note": "no suitable client certificate"})
        return None
    engine.send_handshake(Certificate12(picked[0].chain_der))
    if engine.tracing:
        engine.trace(t.CERTIFICATE, t.SENT, {
            "chain": [certs.describe_certificate(cert) for cert in picked[0].chain]})
    return picked


class ExpectNewSessionTicket(_Tls12ClientState):
    """RFC 5077 §3.3: the server promised a ticket; it comes before its CCS."""

    expects = {H.new_session_ticket: NewSessionTicket12.parse}

    def __init__(self, c: Client12, keys: Tls12Keys) -> None:
        super().__init__(c)
        self.keys = keys

    def handle(self, engine: Engine, message: NewSessionTicket12) -> State:
        self.c.ticket = message.ticket
        self.c.ticket_lifetime = message.ticket_lifetime_hint
        if engine.tracing:
            engine.trace(t.NEW_SESSION_TICKET, t.RECEIVED, {
                "lifetime_hint": message.ticket_lifetime_hint, "ticket_bytes": len(message.ticket)})
        return ExpectChangeCipherSpec(self.c, self.keys)


class ExpectChangeCipherSpec(_Tls12ClientState):
    def __init__(self, c: Client12, keys: Tls12Keys) -> None:
        super().__init__(c)
        self.keys = keys

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        engine.install_read(self.keys.server_write)
        return ExpectFinished(self.c, self.keys)

    def describe(self) -> str:
        return "expecting ChangeCipherSpec"


class ExpectFinished(_Tls12ClientState):
    expects = {H.finished: Finished.parse}

    def __init__(self, c: Client12, keys: Tls12Keys) -> None:
        super().__init__(c)
        self.keys = keys

    def handle(self, engine: Engine, message: Finished) -> State:
        c, hs = self.c, self.c.hs
        check_finished_length(message, 12)
        verify_finished12(engine, c.suite, c.master, message, from_client=False)
        if c.resumed:
            # RFC 5246 §7.3: in an abbreviated handshake the client finishes last.
            _send_finished(engine, c, self.keys)
        connected = Connected12(is_client=True)
        session = hs.session if c.resumed else None
        scheme = (session.signature_scheme if session is not None
                  else describe(SignatureScheme, c.signature_scheme)
                  if c.signature_scheme is not None else None)
        _remember_session(engine, c, scheme)
        finish_handshake12(engine, connected, c.suite, c.master, hs.hello.random,
                           c.server_random, HandshakeComplete(
            version="TLSv1.2", cipher_suite=c.suite.name,
            key_exchange="resumed" if c.resumed else "RSA" if c.suite.key_exchange == "RSA"
            else f"ECDHE {describe(NamedGroup, c.group or 0)}",
            group=describe(NamedGroup, c.group) if c.group is not None else None,
            signature_scheme=scheme,
            alpn_protocol=decode_alpn(hs.alpn) if hs.alpn else None,
            server_name=hs.server_name, peer_certificates=c.peer_chain,
            resumed=c.resumed, extended_master_secret=c.extended_master_secret,
            verified_chain=c.verified_chain,
        ))
        return connected


def _remember_session(engine: Engine, c: Client12, scheme: str | None) -> None:
    """Keep what is needed to resume: the session id and/or the ticket."""
    hs = c.hs
    if not c.session_id and not c.ticket:
        return
    config = hs.config
    previous = hs.session if c.resumed else None
    session = ClientSession(
        TLS12, c.suite.id, c.master, int(config.clock() * 1000),
        c.ticket_lifetime or (previous.lifetime if previous else 7200),
        hs.server_name, hs.alpn, ticket=c.ticket or (previous.ticket if previous else b""),
        session_id=c.session_id, extended_master_secret=c.extended_master_secret,
        peer_certificates=c.peer_chain, signature_scheme=scheme,
        verified_chain=c.verified_chain)
    cache_key = (session_cache_key(config, hs.server_name)
                 if config.session_cache is not None and hs.server_name else None)
    engine.new_session(session, cache_key)
    if c.ticket:
        engine.emit(SessionTicketReceived(lifetime=c.ticket_lifetime, ticket=c.ticket,
                                          session=session))
