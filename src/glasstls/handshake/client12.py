"""The TLS 1.2 client after its ServerHello (RFC 5246 §7.3): one class per state.

Full handshake:
    handle_server_hello -> ExpectCertificate -> ExpectServerKeyExchange (ECDHE)
    -> ExpectCertificateRequestOrDone -> [ExpectServerHelloDone]
    -> our flight: [Certificate] ClientKeyExchange [CertificateVerify] ChangeCipherSpec
       Finished
    -> [ExpectNewSessionTicket] -> ExpectChangeCipherSpec -> ExpectFinished -> Connected12
Abbreviated (resumed) handshake, RFC 5246 §7.3 and RFC 5077 §3.1:
    ServerHello echoing our session id -> [ExpectNewSessionTicket]
    -> ExpectChangeCipherSpec -> ExpectFinished -> our ChangeCipherSpec Finished

Each state holds the frozen values of the steps before it: ``Hello12`` from the
ServerHello, ``ServerCertificate12`` and ``ServerKeyShare12`` from the server's
flight, ``Keys12`` once the master secret exists.
"""

from __future__ import annotations

import dataclasses
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
from ..errors import (
    AlertDescription,
    BadCertificate,
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    UnsupportedExtension,
)
from ..events import handshake_complete, session_ticket_received
from ..immutable import frozen
from ..messages.extensions import ALPN, RenegotiationInfo, U8List, find, find_typed
from ..messages.handshake import (
    Certificate12,
    CertificateRequest12,
    CertificateStatus,
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
from . import stapling
from .client_auth import pick_client_certificate
from .client_hello import ClientOffer
from .common import decode_alpn, describe_chain, verify_server_certificates
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


@frozen
class Hello12:
    """What exists from the ServerHello on."""

    offer: ClientOffer
    suite: Suite
    server_random: bytes
    session_id: bytes
    extended_master_secret: bool
    expect_ticket: bool  # RFC 5077 §3.2: the server will send a NewSessionTicket
    alpn: bytes | None
    status_acknowledged: bool  # RFC 6066 §8: a CertificateStatus may follow Certificate


@frozen
class ServerCertificate12:
    certificate: x509.Certificate
    chain: tuple[bytes, ...]  # as received
    verified_chain: tuple[bytes, ...]
    ocsp_response: bytes = b""  # the stapled response (CertificateStatus), if any
    ocsp_status: str | None = None  # what it says, once checked


@frozen
class ServerKeyShare12:
    """The server's signed ECDHE parameters."""

    group: int
    public: bytes
    signature_scheme: int


@frozen
class Keys12:
    """The session's keys and what the handshake will report about the server."""

    keys: Tls12Keys
    resumed: ClientSession | None  # the session resumed, if it was
    chain: tuple[bytes, ...]
    verified_chain: tuple[bytes, ...]
    group: int | None
    signature_scheme: str | None
    ocsp_response: bytes = b""
    ocsp_status: str | None = None


def handle_server_hello(engine: Engine, offer: ClientOffer, message: ServerHello) -> State:
    """A ServerHello that negotiated TLS 1.2 (the caller checked the version)."""
    config = offer.config
    engine.set_version(TLS12)
    suite = SUITES.get(message.cipher_suite)
    if suite is None or suite.is_tls13 or message.cipher_suite not in config.tls12_suites:
        raise IllegalParameter(f"server selected cipher suite 0x{message.cipher_suite:04x}, "
                               "which was not offered")
    if message.legacy_compression_method != 0:
        raise IllegalParameter("ServerHello selected a compression method")
    for extension in message.extensions:
        if extension.type not in offer.hello.offered_extensions:
            raise UnsupportedExtension(f"server sent extension {describe(X, extension.type)} "
                                       "that was not offered")
    renegotiation = find_typed(message.extensions, X.renegotiation_info, RenegotiationInfo)
    # RFC 5746 §3.4: on an initial handshake the server's renegotiation_info is empty.
    if renegotiation is not None and renegotiation.renegotiated_connection:
        raise HandshakeFailure("non-empty renegotiation_info on an initial handshake")
    ems = find(message.extensions, X.extended_master_secret) is not None
    if not ems and config.require_extended_master_secret:
        raise HandshakeFailure("the server does not support extended master secret "
                               "(RFC 7627), which this client requires")
    formats = find_typed(message.extensions, X.ec_point_formats, U8List)
    if formats is not None and 0 not in formats.values:
        raise IllegalParameter("server does not accept uncompressed EC points")
    alpn = find_typed(message.extensions, X.application_layer_protocol_negotiation, ALPN)
    if alpn is not None and (len(alpn.protocols) != 1 or alpn.protocols[0] not in {
            p.encode() for p in config.alpn_protocols}):
        raise IllegalParameter("server selected an ALPN protocol that was not offered")
    engine.transcript.set_hash(suite.hash_name)
    hello = Hello12(offer, suite, message.random, message.legacy_session_id_echo, ems,
                    find(message.extensions, X.session_ticket) is not None,
                    alpn.protocols[0] if alpn is not None else None,
                    stapling.acknowledged(message.extensions))
    session = offer.session
    echo = message.legacy_session_id_echo
    resumed = (session is not None and session.version == TLS12 and bool(echo)
               and echo == offer.hello.session_id)
    engine.note(resumed=resumed)
    if resumed and session is not None:
        return _resume(engine, hello, session)
    return ExpectCertificate(hello)


def _resume(engine: Engine, hello: Hello12, session: ClientSession) -> State:
    # RFC 5246 §7.4.1.3: the resumed session's suite; RFC 7627 §5.3: and its EMS use.
    if session.cipher_suite != hello.suite.id:
        raise IllegalParameter("resumed session with a different cipher suite")
    if session.extended_master_secret != hello.extended_master_secret:
        raise HandshakeFailure("resumed session's extended master secret use differs")
    # The resumed master secret goes to the key log as a new one does (for captures).
    engine.keylog("CLIENT_RANDOM", hello.offer.hello.random, session.secret)
    keys = derive_keys12(engine, hello.suite, session.secret, hello.extended_master_secret,
                         hello.offer.hello.random, hello.server_random)
    established = Keys12(keys, session, session.peer_certificates, session.verified_chain,
                         None, session.signature_scheme)
    if hello.expect_ticket:
        return ExpectNewSessionTicket(hello, established)
    return ExpectChangeCipherSpec(hello, established, None)


class _Tls12ClientState(State):
    def __init__(self, hello: Hello12) -> None:
        self.hello = hello


class ExpectCertificate(_Tls12ClientState):
    expects = {H.certificate: Certificate12.parse}

    def handle(self, engine: Engine, message: Certificate12) -> State:
        hello = self.hello
        if not message.chain:
            raise DecodeError("the server sent an empty certificate chain")
        chain = certs.parse_chain(message.chain)
        engine.note(chain=lambda: describe_chain(chain))
        key = certs.leaf_public_key(chain[0])
        wanted = hello.suite.authentication
        # RFC 8422 §5.3: ECDHE_ECDSA suites take ECDSA or EdDSA certificates.
        if wanted and signatures.tls12_authentication(key) != wanted:
            kind = signatures.describe_key(key).split()[0]
            raise BadCertificate(f"{hello.suite.name} needs an {wanted} certificate, got {kind}",
                                 AlertDescription.unsupported_certificate)
        offer = hello.offer
        verified = verify_server_certificates(engine, offer.config, offer.server_name, chain,
                                              message.chain)
        server = ServerCertificate12(chain[0], message.chain, verified)
        if hello.status_acknowledged:
            return ExpectCertificateStatus(hello, server, chain)
        stapling.check_server_staple(engine, offer.config, chain, verified, None)
        return _after_certificate(hello, server)


def _after_certificate(hello: Hello12, server: ServerCertificate12) -> State:
    if hello.suite.key_exchange == "RSA":
        return ExpectCertificateRequestOrDone(hello, server, None)
    return ExpectServerKeyExchange(hello, server)


class ExpectCertificateStatus(_Tls12ClientState):
    """RFC 6066 §8: the server acknowledged status_request, so a CertificateStatus
    may follow its Certificate; it may also choose to send none."""

    def __init__(self, hello: Hello12, server: ServerCertificate12,
                 chain: list[x509.Certificate]) -> None:
        super().__init__(hello)
        self.server = server
        self.chain = chain
        self.expects = {H.certificate_status: CertificateStatus.parse,
                        **_after_certificate(hello, server).expects}

    def handle(self, engine: Engine, message: Any) -> State:
        config, server = self.hello.offer.config, self.server
        if not isinstance(message, CertificateStatus):
            stapling.check_server_staple(engine, config, self.chain, server.verified_chain,
                                         None)
            return _after_certificate(self.hello, server).handle(engine, message)
        check = stapling.check_server_staple(engine, config, self.chain,
                                             server.verified_chain, message.ocsp_response)
        return _after_certificate(self.hello, dataclasses.replace(
            server, ocsp_response=message.ocsp_response,
            ocsp_status=check.status if check is not None else None))


class ExpectServerKeyExchange(_Tls12ClientState):
    expects = {H.server_key_exchange: ServerKeyExchangeECDHE.parse}

    def __init__(self, hello: Hello12, server: ServerCertificate12) -> None:
        super().__init__(hello)
        self.server = server

    def handle(self, engine: Engine, message: ServerKeyExchangeECDHE) -> State:
        hello = self.hello
        config = hello.offer.config
        group = GROUPS.get(message.named_group)
        if group is None or not group.tls12 or message.named_group not in config.groups:
            raise IllegalParameter(f"server chose group "
                                   f"{describe(NamedGroup, message.named_group)}, "
                                   "which was not offered")
        certificate = self.server.certificate
        key = certs.leaf_public_key(certificate)
        # RFC 5246 §7.4.1.4.1: a scheme from our signature_algorithms that fits the key.
        if message.algorithm not in config.signature_schemes or not signatures.scheme_fits_key(
            message.algorithm, key, tls13=False, rsa_pss_key=certs.is_rsa_pss_key(certificate),
        ):
            raise IllegalParameter(f"ServerKeyExchange signed with "
                                   f"{describe(SignatureScheme, message.algorithm)}, which was "
                                   "not offered or does not fit the certificate")
        signed = hello.offer.hello.random + hello.server_random + message.params
        signatures.verify(key, message.algorithm, signed, message.signature)
        engine.note(result="signature verified")
        share = ServerKeyShare12(message.named_group, message.public, message.algorithm)
        return ExpectCertificateRequestOrDone(hello, self.server, share)


class ExpectCertificateRequestOrDone(_Tls12ClientState):
    expects = {H.certificate_request: CertificateRequest12.parse,
               H.server_hello_done: parse_empty}

    def __init__(self, hello: Hello12, server: ServerCertificate12,
                 share: ServerKeyShare12 | None) -> None:
        super().__init__(hello)
        self.server = server
        self.share = share  # None with RSA key transport

    def handle(self, engine: Engine, message: Any) -> State:
        if isinstance(message, CertificateRequest12):
            return ExpectServerHelloDone(self.hello, self.server, self.share, message)
        return _send_client_flight(engine, self.hello, self.server, self.share, None)


class ExpectServerHelloDone(_Tls12ClientState):
    expects = {H.server_hello_done: parse_empty}

    def __init__(self, hello: Hello12, server: ServerCertificate12,
                 share: ServerKeyShare12 | None, request: CertificateRequest12) -> None:
        super().__init__(hello)
        self.server = server
        self.share = share
        self.request = request

    def handle(self, engine: Engine, message: Any) -> State:
        return _send_client_flight(engine, self.hello, self.server, self.share, self.request)


def _send_client_flight(engine: Engine, hello: Hello12, server: ServerCertificate12,
                        share: ServerKeyShare12 | None, request: CertificateRequest12 | None
                        ) -> State:
    suite, offer = hello.suite, hello.offer
    config = offer.config
    client_random = offer.hello.random
    client_certificate = (_send_client_certificate(engine, offer, request)
                          if request is not None else None)
    if share is None:  # RSA key transport: the suite has no ServerKeyExchange
        server_key = certs.leaf_public_key(server.certificate)
        pre_master_secret, encrypted = rsa_kx.encrypt_pre_master_secret(
            server_key, offer.hello.hello.legacy_version, config.rng)
        engine.send(ClientKeyExchangeRSA(encrypted))
        engine.note(pre_master_secret_bytes=len(pre_master_secret),
                    server_key=lambda: signatures.describe_key(server_key),
                    secrets={"pre_master_secret": pre_master_secret})
    else:
        own = GROUPS[share.group].generate(config.rng)
        pre_master_secret = own.complete(share.public)
        engine.send(ClientKeyExchangeECDHE(own.public))
        group = describe(NamedGroup, share.group)
        engine.note(group=group)
        engine.trace(t.KEY_EXCHANGE, t.LOCAL, lambda: {
            "group": group, "hybrid": False, "client_share_bytes": len(own.public),
            "server_share_bytes": len(share.public),
            "shared_secret_bytes": len(pre_master_secret)},
            {"pre_master_secret": pre_master_secret})

    if hello.extended_master_secret:
        master = prf.extended_master_secret(suite.hash_name, pre_master_secret,
                                            engine.transcript.digest())
    else:
        master = prf.master_secret(suite.hash_name, pre_master_secret, client_random,
                                   hello.server_random)
    engine.keylog("CLIENT_RANDOM", client_random, master)

    if client_certificate is not None:
        certified, scheme = client_certificate
        # RFC 5246 §7.4.8: the signature covers every handshake message so far.
        signature = signatures.sign(certified.private_key, scheme, engine.transcript.messages())
        engine.send(CertificateVerify(scheme, signature))

    keys = derive_keys12(engine, suite, master, hello.extended_master_secret, client_random,
                         hello.server_random)
    send_finished12(engine, keys, from_client=True)
    established = Keys12(
        keys, None, server.chain, server.verified_chain,
        share.group if share is not None else None,
        describe(SignatureScheme, share.signature_scheme) if share is not None else None,
        server.ocsp_response, server.ocsp_status)
    if hello.expect_ticket:
        return ExpectNewSessionTicket(hello, established)
    return ExpectChangeCipherSpec(hello, established, None)


def _send_client_certificate(engine: Engine, offer: ClientOffer, request: CertificateRequest12
                             ) -> tuple[CertifiedKey, int] | None:
    picked = pick_client_certificate(offer.config, request.certificate_authorities,
                                     request.signature_algorithms, TLS12)
    if picked is None:
        engine.send(Certificate12(()))
        engine.note(chain=[], note="no suitable client certificate")
        return None
    engine.send(Certificate12(picked[0].chain_der))
    engine.note(chain=lambda: describe_chain(picked[0].chain))
    return picked


class ExpectNewSessionTicket(_Tls12ClientState):
    """RFC 5077 §3.3: the server promised a ticket; it comes before its CCS."""

    expects = {H.new_session_ticket: NewSessionTicket12.parse}

    def __init__(self, hello: Hello12, established: Keys12) -> None:
        super().__init__(hello)
        self.established = established

    def handle(self, engine: Engine, message: NewSessionTicket12) -> State:
        return ExpectChangeCipherSpec(self.hello, self.established, message)


class ExpectChangeCipherSpec(_Tls12ClientState):
    def __init__(self, hello: Hello12, established: Keys12,
                 ticket: NewSessionTicket12 | None) -> None:
        super().__init__(hello)
        self.established = established
        self.ticket = ticket

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        engine.install_read(self.established.keys.server_write)
        return ExpectFinished(self.hello, self.established, self.ticket)

    def describe(self) -> str:
        return "expecting ChangeCipherSpec"


class ExpectFinished(_Tls12ClientState):
    expects = {H.finished: Finished.parse}

    def __init__(self, hello: Hello12, established: Keys12,
                 ticket: NewSessionTicket12 | None) -> None:
        super().__init__(hello)
        self.established = established
        self.ticket = ticket

    def handle(self, engine: Engine, message: Finished) -> State:
        hello, established = self.hello, self.established
        keys, suite, offer = established.keys, hello.suite, hello.offer
        check_finished_length(message, 12)
        verify_finished12(engine, keys, message, from_client=False)
        resumed = established.resumed is not None
        if resumed:
            # RFC 5246 §7.3: in an abbreviated handshake the client finishes last.
            send_finished12(engine, keys, from_client=True)
        _remember_session(engine, hello, established, self.ticket)
        group = established.group
        engine.finish(negotiated12(keys, handshake_complete(
            version="TLSv1.2", cipher_suite=suite.name,
            key_exchange=key_exchange12(suite, group, resumed),
            group=describe(NamedGroup, group) if group is not None else None,
            signature_scheme=established.signature_scheme,
            alpn_protocol=decode_alpn(hello.alpn), server_name=offer.server_name,
            peer_certificates=established.chain, resumed=resumed,
            extended_master_secret=hello.extended_master_secret,
            verified_chain=established.verified_chain,
            ocsp_response=established.ocsp_response, ocsp_status=established.ocsp_status,
        )))
        return Connected12(is_client=True)


def _remember_session(engine: Engine, hello: Hello12, established: Keys12,
                      ticket: NewSessionTicket12 | None) -> None:
    """Keep what is needed to resume: the session id and/or the ticket."""
    ticket_bytes = ticket.ticket if ticket is not None else b""
    lifetime = ticket.ticket_lifetime_hint if ticket is not None else 0
    if not hello.session_id and not ticket_bytes:
        return
    offer, previous = hello.offer, established.resumed
    config = offer.config
    session = ClientSession(
        TLS12, hello.suite.id, established.keys.master, int(config.clock() * 1000),
        lifetime or (previous.lifetime if previous is not None else 7200),
        offer.server_name, hello.alpn,
        ticket=ticket_bytes or (previous.ticket if previous is not None else b""),
        session_id=hello.session_id, extended_master_secret=hello.extended_master_secret,
        peer_certificates=established.chain, signature_scheme=established.signature_scheme,
        verified_chain=established.verified_chain)
    engine.new_session(session)
    cache = config.session_cache
    if cache is not None and offer.cache_key is not None:
        cache.store(offer.cache_key, session)
    if ticket_bytes:
        engine.emit(session_ticket_received(lifetime=lifetime, ticket=ticket_bytes,
                                          session=session))
