"""The TLS 1.3 client after its ServerHello (RFC 8446 §2, §4): one class per state.

    handle_server_hello -> ExpectEncryptedExtensions -> ExpectCertificateOrRequest
    -> [ExpectCertificate] -> ExpectCertificateVerify -> ExpectFinished -> Connected13

With a pre-shared key, EncryptedExtensions is followed by Finished. Each state holds
the frozen values of the steps before it: ``Handshake13`` from the ServerHello,
``Extensions13`` from EncryptedExtensions, ``ServerIdentity`` once the server's
certificate is checked.
"""

from __future__ import annotations

import functools

from cryptography import x509

from .. import certs, trace as t
from ..constants import (
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
    DecodeError,
    DecryptError,
    IllegalParameter,
    MissingExtension,
    UnsupportedExtension,
)
from ..events import handshake_complete
from ..immutable import frozen
from ..keyschedule import KeySchedule, StageKeys, handshake_verify_data
from ..messages.extensions import (
    ALPN,
    KeyShare,
    PreSharedKey,
    RecordSizeLimit,
    check_allowed,
    find,
    find_typed,
)
from ..messages.handshake import (
    CertificateRequest13,
    CertificateVerify,
    CompressedCertificate,
    EmptyMessage,
    EncryptedExtensions,
    Finished,
    ServerHello,
    check_finished_length,
)
from ..ocsp import StapleCheck
from ..record import Tls13Protection
from ..session import ClientSession
from . import compressed, stapling
from .client_auth import send_client_certificate13
from .client_hello import ClientOffer
from .common import (
    SERVER_CERTIFICATE_VERIFY,
    certificate_verify_content,
    check_certificate_extensions,
    decode_alpn,
    describe_chain,
    key_exchange13,
    verify_server_certificates,
)
from .engine import Engine, Negotiated, State
from .post13 import ClientConnected13


@frozen
class Handshake13:
    """What exists from the ServerHello on."""

    offer: ClientOffer
    suite: Suite
    schedule: KeySchedule
    keys: StageKeys  # the handshake traffic keys, both directions
    group: int | None  # None for a PSK-only (psk_ke) resumption
    resumed: ClientSession | None  # the session whose PSK the server accepted
    # Our handshake write keys are in place from the ServerHello on, unless 0-RTT data
    # may still be going out under the early keys (then they follow EndOfEarlyData).
    writing_handshake_keys: bool


@frozen
class Extensions13:
    """What EncryptedExtensions settled."""

    alpn: bytes | None
    early_data_accepted: bool


@frozen
class ServerIdentity:
    """The server's certificate chain: as sent, the verified path, and the scheme
    of the signature that proved the key (from the ticket when resuming); how the
    chain came (compressed?) and what its OCSP staple said."""

    chain: tuple[bytes, ...]
    verified_chain: tuple[bytes, ...]
    signature_scheme: str | None
    compression: int | None = None
    ocsp_response: bytes = b""
    ocsp: StapleCheck | None = None

    def proved_by(self, signature_scheme: str) -> ServerIdentity:
        """This identity with the scheme of the signature that proved it (written
        out: dataclasses.replace costs ten times more, once per handshake)."""
        return ServerIdentity(self.chain, self.verified_chain, signature_scheme,
                              self.compression, self.ocsp_response, self.ocsp)


def handle_server_hello(engine: Engine, offer: ClientOffer, message: ServerHello,
                        suite: Suite) -> State:
    """RFC 8446 §4.1.3 (checked by the caller) to §7.1: key exchange, handshake keys."""
    resumed = _accepted_psk(offer, message, suite)
    binder_hash = offer.hello.binder_hash
    if binder_hash is not None:
        # The binder's hash covered the hello up to its binders: the transcript goes
        # on from it (whether or not the server took the PSK: the hello is the same).
        hash_name, state, covered = binder_hash
        engine.transcript.seed(hash_name, state, offer.hello.hello.raw, covered)
    key_share = find_typed(message.extensions, X.key_share, KeyShare)
    shared_secret: bytes | None = None
    group: int | None = None
    if key_share is None:
        if resumed is None or not offer.config.allow_psk_ke:
            raise MissingExtension("ServerHello without key_share")
    else:
        entry = key_share.entries[0]
        share = offer.hello.key_shares.get(entry.group)
        if share is None:
            raise IllegalParameter(f"server key share for {describe(NamedGroup, entry.group)}, "
                                   "which we did not send")
        shared_secret = share.complete(entry.key_exchange)
        group = entry.group
        if engine.tracing:
            engine.trace(t.KEY_EXCHANGE, t.LOCAL, {
                "group": describe(NamedGroup, group), "hybrid": GROUPS[group].hybrid,
                "client_share_bytes": len(share.public),
                "server_share_bytes": len(entry.key_exchange),
                "shared_secret_bytes": len(shared_secret),
            }, {"shared_secret": shared_secret})
    schedule = offer.hello.psk_schedule
    if resumed is None or schedule is None or schedule.suite.id != suite.id:
        # (A server may resume with another suite of the ticket's hash: its keys
        # have their own lengths.)
        schedule = KeySchedule(suite, resumed.secret if resumed is not None else None)
    schedule.enter_handshake(shared_secret)
    keys = schedule.handshake_keys(engine.transcript.digest())
    random = offer.hello.random
    engine.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", random, keys.client.secret)
    engine.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", random, keys.server.secret)
    engine.install_read(Tls13Protection(suite, keys.server.key, keys.server.iv))
    early_data = offer.early_data and not offer.retried
    if not early_data:
        # RFC 8446 §2: what we send from now on, a fatal alert included, is protected
        # with the client handshake keys, which the server now reads with.
        engine.install_write(Tls13Protection(suite, keys.client.key, keys.client.iv))
    engine.trace_keys(keys, psk=resumed is not None)
    return ExpectEncryptedExtensions(Handshake13(offer, suite, schedule, keys, group, resumed,
                                                 writing_handshake_keys=not early_data))


def _accepted_psk(offer: ClientOffer, message: ServerHello, suite: Suite
                  ) -> ClientSession | None:
    selected = find_typed(message.extensions, X.pre_shared_key, PreSharedKey)
    if selected is None:
        return None
    session = offer.session
    # RFC 8446 §4.2.11: the one identity we offered, with a suite of the same hash.
    if session is None or session.version != TLS13 or selected.selected_identity != 0:
        raise IllegalParameter("server selected a pre-shared key we did not offer")
    if SUITES[session.cipher_suite].hash_name != suite.hash_name:
        raise IllegalParameter("server resumed with a suite whose hash differs from the "
                               "ticket's")
    return session


class _Tls13ClientState(State):
    ignores_change_cipher_spec = True

    def __init__(self, hs: Handshake13) -> None:
        self.hs = hs


class ExpectEncryptedExtensions(_Tls13ClientState):
    expects = {H.encrypted_extensions: EncryptedExtensions.parse}

    def handle(self, engine: Engine, message: EncryptedExtensions) -> State:
        hs = self.hs
        offer, config = hs.offer, hs.offer.config
        check_allowed(message.extensions, "EE")
        for extension in message.extensions:
            if extension.type not in offer.hello.offered_extensions and (
                extension.type != X.supported_groups
            ):
                raise UnsupportedExtension(f"server sent extension {describe(X, extension.type)} "
                                           "that was not offered")
        alpn = find_typed(message.extensions, X.application_layer_protocol_negotiation, ALPN)
        if alpn is not None and (len(alpn.protocols) != 1 or alpn.protocols[0] not in {
                p.encode() for p in config.alpn_protocols}):
            # RFC 7301 §3.1: exactly one protocol, one that we offered.
            raise IllegalParameter("server selected an ALPN protocol that was not offered")
        limit = find_typed(message.extensions, X.record_size_limit, RecordSizeLimit)
        if limit is not None:
            # RFC 8449 §4: in TLS 1.3 the limit counts the content type byte. The
            # server understood ours, so it is now bound by it.
            engine.limit_records(limit.limit - 1, config.record_size_limit)
        early_data_accepted = find(message.extensions, X.early_data) is not None
        if early_data_accepted and (not offer.early_data or offer.retried):
            raise UnsupportedExtension("early_data accepted but none was offered")
        if offer.early_data and not early_data_accepted:
            engine.note(early_data="rejected")
        extensions = Extensions13(alpn.protocols[0] if alpn is not None else None,
                                  early_data_accepted)
        if hs.resumed is not None:
            session = hs.resumed
            return ExpectFinished(hs, extensions, None, ServerIdentity(
                session.peer_certificates, session.verified_chain, session.signature_scheme))
        return ExpectCertificateOrRequest(hs, extensions)


class ExpectCertificateOrRequest(_Tls13ClientState):
    def __init__(self, hs: Handshake13, extensions: Extensions13) -> None:
        super().__init__(hs)
        self.extensions = extensions
        self.expects = {**compressed.certificate_parsers(hs.offer.config.certificate_compression),
                        H.certificate_request: CertificateRequest13.parse}

    def handle(self, engine: Engine,
               message: compressed.ReceivedCertificate | CertificateRequest13) -> State:
        if not isinstance(message, CertificateRequest13):
            return _server_certificate(engine, self.hs, self.extensions, None, message)
        check_allowed(message.extensions, "CR")
        # RFC 8446 §4.3.2: empty context in the handshake; signature_algorithms required.
        if message.certificate_request_context:
            raise IllegalParameter("CertificateRequest context must be empty during the "
                                   "handshake")
        if find(message.extensions, X.signature_algorithms) is None:
            raise MissingExtension("CertificateRequest without signature_algorithms")
        return ExpectCertificate(self.hs, self.extensions, message)


class ExpectCertificate(_Tls13ClientState):
    def __init__(self, hs: Handshake13, extensions: Extensions13,
                 request: CertificateRequest13) -> None:
        super().__init__(hs)
        self.extensions = extensions
        self.request = request
        self.expects = compressed.certificate_parsers(hs.offer.config.certificate_compression)

    def handle(self, engine: Engine, message: compressed.ReceivedCertificate) -> State:
        return _server_certificate(engine, self.hs, self.extensions, self.request, message)


def _server_certificate(engine: Engine, hs: Handshake13, extensions: Extensions13,
                        request: CertificateRequest13 | None,
                        received: compressed.ReceivedCertificate) -> State:
    offer = hs.offer
    config = offer.config
    message = compressed.received_certificate(received, config.certificate_compression)
    if message.certificate_request_context:
        raise IllegalParameter("server Certificate has a request context")
    if not message.certificate_list:
        # RFC 8446 §4.4.2.4: an empty server Certificate is decode_error.
        raise DecodeError("the server sent an empty certificate chain")
    check_certificate_extensions(message, offer.hello.offered_extensions)
    chain = certs.parse_chain(message.chain)
    engine.note(chain=lambda: describe_chain(chain))
    verified = verify_server_certificates(engine, config, offer.server_name, chain,
                                          message.chain)
    staple = stapling.leaf_staple(message)
    check = stapling.check_server_staple(engine, config, chain, verified, staple)
    return ExpectCertificateVerify(hs, extensions, request, chain[0], ServerIdentity(
        message.chain, verified, None,
        received.algorithm if isinstance(received, CompressedCertificate) else None,
        staple or b"", check))


class ExpectCertificateVerify(_Tls13ClientState):
    expects = {H.certificate_verify: CertificateVerify.parse}

    def __init__(self, hs: Handshake13, extensions: Extensions13,
                 request: CertificateRequest13 | None, leaf: x509.Certificate,
                 identity: ServerIdentity) -> None:
        super().__init__(hs)
        self.extensions = extensions
        self.request = request
        self.leaf = leaf
        self.identity = identity  # all but the signature scheme, proved here

    def handle(self, engine: Engine, message: CertificateVerify) -> State:
        leaf = self.leaf
        key = certs.leaf_public_key(leaf)
        # RFC 8446 §4.4.3: a scheme we offered, that fits the key.
        if message.algorithm not in self.hs.offer.config.signature_schemes or not (
                signatures.scheme_fits_key(message.algorithm, key, tls13=True,
                                           rsa_pss_key=certs.is_rsa_pss_key(leaf))):
            raise IllegalParameter(f"CertificateVerify uses "
                                   f"{describe(SignatureScheme, message.algorithm)}, which was "
                                   "not offered or does not fit the certificate's key")
        content = certificate_verify_content(SERVER_CERTIFICATE_VERIFY,
                                             engine.transcript.digest_before_last())
        signatures.verify(key, message.algorithm, content, message.signature)
        engine.note(result="signature verified", key=lambda: signatures.describe_key(key))
        identity = self.identity.proved_by(describe(SignatureScheme, message.algorithm))
        return ExpectFinished(self.hs, self.extensions, self.request, identity)


class ExpectFinished(_Tls13ClientState):
    expects = {H.finished: Finished.parse}

    def __init__(self, hs: Handshake13, extensions: Extensions13,
                 request: CertificateRequest13 | None, identity: ServerIdentity) -> None:
        super().__init__(hs)
        self.extensions = extensions
        self.request = request
        self.identity = identity

    def handle(self, engine: Engine, message: Finished) -> State:
        hs, extensions, identity = self.hs, self.extensions, self.identity
        offer, suite, schedule = hs.offer, hs.suite, hs.schedule
        config = offer.config
        check_finished_length(message, suite.hash_len)
        expected = handshake_verify_data(suite, hs.keys.server,
                                         engine.transcript.digest_before_last())
        if not constant_time_equal(expected, message.verify_data):
            raise DecryptError("server Finished does not verify")
        engine.note(result="verified")
        # RFC 8446 §7.1: application secrets from the hash through server Finished.
        schedule.enter_master()
        application = schedule.application_keys(engine.transcript.digest())
        random = offer.hello.random
        engine.keylog("CLIENT_TRAFFIC_SECRET_0", random, application.client.secret)
        engine.keylog("SERVER_TRAFFIC_SECRET_0", random, application.server.secret)
        if config.keylog is not None:
            engine.keylog("EXPORTER_SECRET", random, application.exporter.value)
        engine.install_read(Tls13Protection(suite, application.server.key,
                                            application.server.iv))
        engine.trace_keys(application)

        # Our second flight, under the client handshake keys.
        if extensions.early_data_accepted:
            # RFC 8446 §4.5: the end of 0-RTT data, under the early data keys.
            engine.send(EmptyMessage(H.end_of_early_data))
        engine.allow_early_data(0)
        if offer.hello.session_id and config.middlebox_compatibility and not (
                offer.sent_change_cipher_spec):
            engine.send_change_cipher_spec()
        if not hs.writing_handshake_keys:
            engine.install_write(Tls13Protection(suite, hs.keys.client.key, hs.keys.client.iv))
        if self.request is not None:
            send_client_certificate13(engine, config, self.request, engine.send,
                                      engine.transcript)
        engine.send(Finished(handshake_verify_data(suite, hs.keys.client,
                                                   engine.transcript.digest())))
        engine.install_write(Tls13Protection(suite, application.client.key,
                                             application.client.iv))
        resumption_secret = schedule.resumption_master_secret(engine.transcript.digest())

        connected = ClientConnected13(
            suite, application, config, resumption_secret,
            engine.transcript.fork() if config.post_handshake_auth else None,
            offer.cache_key, offer.server_name, extensions.alpn,
            identity.chain, identity.signature_scheme, identity.verified_chain)
        resumed = hs.resumed is not None
        group, key_exchange, compression = _summary_names(hs.group, resumed,
                                                          identity.compression)
        engine.finish(Negotiated(TLS13, suite, handshake_complete(
            version="TLSv1.3", cipher_suite=suite.name,
            key_exchange=key_exchange,
            group=group, signature_scheme=identity.signature_scheme,
            alpn_protocol=decode_alpn(extensions.alpn), server_name=offer.server_name,
            peer_certificates=identity.chain, resumed=resumed,
            early_data_accepted=extensions.early_data_accepted,
            verified_chain=identity.verified_chain,
            certificate_compression=compression,
            ocsp_response=identity.ocsp_response,
            ocsp_status=identity.ocsp.status if identity.ocsp is not None else None,
        ), application.exporter))
        return connected


@functools.lru_cache(maxsize=64)
def _summary_names(group: int | None, resumed: bool, compression: int | None
                   ) -> tuple[str | None, str, str | None]:
    """HandshakeComplete's group, key exchange and certificate compression names:
    the same few code points in every handshake, each looked up once (as the
    server's ``server13._summary_names``) rather than per connection."""
    group_name = describe(NamedGroup, group) if group is not None else None
    return group_name, key_exchange13(group_name, resumed), compressed.algorithm_name(compression)


__all__ = ["ExpectEncryptedExtensions", "handle_server_hello"]
