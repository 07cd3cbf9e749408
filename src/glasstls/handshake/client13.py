"""The TLS 1.3 client (RFC 8446 §2, §4): one class per state.

    ExpectServerHello -> [HelloRetryRequest: ExpectServerHello again]
    -> ExpectEncryptedExtensions -> ExpectCertificateOrRequest -> [ExpectCertificate]
    -> ExpectCertificateVerify -> ExpectFinished -> Connected

A ServerHello that negotiates TLS 1.2 hands over to ``client12``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509

from .. import certs, trace as t
from ..config import ClientConfig
from ..constants import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
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
from ..errors import AlertDescription, BadCertificate, DecodeError, PeerMisbehaved, illegal
from ..events import HandshakeComplete
from ..keyschedule import DeferredSecret, KeySchedule, finished_verify_data, traffic_keys
from ..messages.extensions import (
    ALPN,
    KeyShare,
    Opaque16,
    PreSharedKey,
    RecordSizeLimit,
    SupportedVersions,
    U16List,
    check_allowed,
    find,
    find_typed,
)
from ..messages.handshake import (
    Certificate13,
    CertificateRequest13,
    CertificateVerify,
    EmptyMessage,
    EncryptedExtensions,
    Finished,
    ServerHello,
    check_finished_length,
)
from ..record import Protection, Tls13Protection
from ..session import ClientSession
from ..trust import Purpose, verify_chain
from .client_auth import send_client_certificate13
from .client_hello import ClientHelloState, build_client_hello, describe_client_hello
from .common import (
    SERVER_CERTIFICATE_VERIFY,
    Engine,
    State,
    certificate_verify_content,
    decode_alpn,
    trace_key_derivation13,
)
from .post13 import Connected13

if TYPE_CHECKING:
    from ..connection import ClientConnection


@dataclass
class ClientHandshake:
    """What the client's states pass along."""

    config: ClientConfig
    server_name: str | None
    hello: ClientHelloState
    retried: bool = False
    suite: Suite | None = None
    schedule: KeySchedule | None = None
    group: int | None = None
    client_handshake_secret: bytes = b""
    server_handshake_secret: bytes = b""
    alpn: bytes | None = None
    certificate_request: CertificateRequest13 | None = None
    peer_chain: tuple[bytes, ...] = ()
    verified_chain: tuple[bytes, ...] = ()
    peer_certificate: x509.Certificate | None = None
    signature_scheme: int | None = None
    peer_record_size_limit: int | None = None
    session: ClientSession | None = None
    psk_accepted: bool = False
    early_data_offered: bool = False
    early_data_accepted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def session_cache_key(config: ClientConfig, server_name: str | None) -> tuple[str, tuple[str, ...]]:
    return (server_name or "", config.alpn_protocols)


def _usable_session(config: ClientConfig, session: ClientSession | None) -> ClientSession | None:
    if session is None or session.version not in config.versions:
        return None
    if session.cipher_suite not in config.cipher_suites:
        return None
    if session.version == TLS12 and session.cipher_suite not in config.tls12_suites:
        return None
    if session.expired(int(config.clock() * 1000)):
        return None
    return session


def start_client(engine: ClientConnection, server_name: str | None,
                 session: ClientSession | None) -> State:
    config = engine.client_config
    if session is None and config.session_cache is not None and server_name:
        session = config.session_cache.take(session_cache_key(config, server_name),
                                            int(config.clock() * 1000))
    session = _usable_session(config, session)
    early = bool(session is not None and session.version == TLS13 and config.enable_early_data
                 and session.max_early_data_size > 0)
    hello = build_client_hello(config, server_name, session=session, early_data=early)
    hs = ClientHandshake(config, server_name, hello, session=session, early_data_offered=early)
    engine.client_random = hello.random
    engine.send_handshake(hello.hello)
    if engine.config.trace is not None:
        details = describe_client_hello(hello.hello)
        if session is not None:
            kind = "TLS 1.3 ticket" if session.version == TLS13 else "TLS 1.2 session"
            details["resumption"] = f"offering a {kind}" + (" with early data" if early else "")
        if engine.tracing:
            engine.trace(t.CLIENT_HELLO, t.SENT, details)
    if early and session is not None:
        _start_early_data(engine, hs, session)
    return ExpectServerHello(hs)


def _start_early_data(engine: ClientConnection, hs: ClientHandshake,
                      session: ClientSession) -> None:
    """RFC 8446 §2.3: 0-RTT data goes right after the ClientHello, under the
    client_early_traffic_secret of the PSK."""
    suite = SUITES[session.cipher_suite]
    schedule = KeySchedule(suite, session.secret)
    hello_hash = hashlib.new(suite.hash_name, hs.hello.hello.raw).digest()
    secret = schedule.client_early_traffic_secret(hello_hash)
    engine.keylog("CLIENT_EARLY_TRAFFIC_SECRET", hs.hello.random, secret)
    if hs.config.middlebox_compatibility:
        engine.send_change_cipher_spec()
        hs.extra["sent_ccs"] = True
    key, iv = traffic_keys(suite, secret)
    engine.install_write(Tls13Protection(suite, key, iv))
    engine.early_data_allowance = session.max_early_data_size
    if engine.tracing:
        engine.trace(t.KEY_DERIVATION, t.LOCAL, {
            "stage": "early data", "hash": suite.hash_name,
            "derived": {"client_early_traffic_secret": len(secret)},
            "max_early_data_size": session.max_early_data_size,
        }, {"client_early_traffic_secret": secret})


class _Tls13ClientState(State):
    ignores_change_cipher_spec = True

    def __init__(self, hs: ClientHandshake) -> None:
        self.hs = hs


class ExpectServerHello(_Tls13ClientState):
    expects = {H.server_hello: ServerHello.parse}

    def handle(self, engine: Engine, message: ServerHello) -> State:
        hs = self.hs
        hello = hs.hello
        config = hs.config
        versions = find_typed(message.extensions, X.supported_versions, SupportedVersions)
        if versions is None:
            return self._tls12(engine, message)
        version = versions.versions[0]
        if version != TLS13 or TLS13 not in config.versions:
            # RFC 8446 §4.2.1: a version we did not offer is illegal_parameter.
            raise illegal(f"server selected version 0x{version:04x}, which was not offered")
        if message.legacy_version != TLS12:
            raise PeerMisbehaved("TLS 1.3 ServerHello legacy_version is not 0x0303",
                                 AlertDescription.protocol_version)
        # RFC 8446 §4.1.3: echo of our session id, null compression, an offered suite.
        if message.legacy_session_id_echo != hello.session_id:
            raise illegal("ServerHello does not echo our legacy_session_id")
        if message.legacy_compression_method != 0:
            raise illegal("ServerHello selected a compression method")
        suite = SUITES.get(message.cipher_suite)
        if suite is None or not suite.is_tls13 or message.cipher_suite not in config.cipher_suites:
            raise illegal(f"server selected cipher suite 0x{message.cipher_suite:04x}, "
                          "which was not offered")
        if hs.retried and hs.suite is not None and suite.id != hs.suite.id:
            raise illegal("ServerHello suite differs from the HelloRetryRequest's")
        where = "HRR" if message.is_hello_retry_request else "SH"
        check_allowed(message.extensions, where)
        for extension in message.extensions:
            # RFC 8446 §4.2.2: a cookie may come in a HelloRetryRequest unasked.
            if extension.type not in hello.offered_extensions and not (
                    where == "HRR" and extension.type == X.cookie):
                raise PeerMisbehaved(f"server sent extension {describe(X, extension.type)} "
                                     "that was not offered", AlertDescription.unsupported_extension)
        engine.set_version(TLS13)
        engine.transcript.set_hash(suite.hash_name)
        hs.suite = suite
        if message.is_hello_retry_request:
            return self._retry(engine, message)
        return self._server_hello(engine, message, suite)

    def _tls12(self, engine: Engine, message: ServerHello) -> State:
        config = self.hs.config
        if message.is_hello_retry_request:
            raise illegal("HelloRetryRequest without supported_versions")
        if message.legacy_version != TLS12 or TLS12 not in config.versions or self.hs.retried:
            raise PeerMisbehaved(f"server selected version 0x{message.legacy_version:04x}, "
                                 "which is not enabled", AlertDescription.protocol_version)
        # RFC 8446 §4.1.3: a TLS 1.3 client must detect a downgrade to 1.2 or below.
        if TLS13 in config.versions and message.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
            raise illegal("downgrade protection: the server supports TLS 1.3 but "
                          "negotiated TLS 1.2 (ServerHello.random carries the sentinel)")
        from .client12 import handle_server_hello12

        return handle_server_hello12(engine, self.hs, message)

    def _retry(self, engine: Engine, message: ServerHello) -> State:
        hs = self.hs
        if hs.retried:
            # RFC 8446 §4.1.4: a second HelloRetryRequest is unexpected_message.
            raise PeerMisbehaved("second HelloRetryRequest", AlertDescription.unexpected_message)
        key_share = find_typed(message.extensions, X.key_share, KeyShare)
        cookie = find_typed(message.extensions, X.cookie, Opaque16)
        group = key_share.selected_group if key_share is not None else None
        if group is not None:
            if group not in hs.config.groups:
                raise illegal(f"HelloRetryRequest asks for group {describe(NamedGroup, group)}, "
                              "which was not offered")
            if group in hs.hello.key_shares:
                raise illegal("HelloRetryRequest asks for a key share we already sent")
        if group is None and cookie is None:
            # RFC 8446 §4.1.4: an HRR that would not change the ClientHello.
            raise illegal("HelloRetryRequest changes nothing")
        engine.transcript.restart_after_hello_retry()
        hs.retried = True
        from ..connection import ClientConnection

        if hs.early_data_offered and isinstance(engine, ClientConnection):
            # RFC 8446 §4.2.10: early data is abandoned after a retry; the second
            # ClientHello goes in the clear.
            engine.early_data_allowance = 0
            engine.install_write(Protection())
        session = hs.session
        if session is not None and session.version == TLS13 and hs.suite is not None and (
            SUITES[session.cipher_suite].hash_name != hs.suite.hash_name
        ):
            session = None  # RFC 8446 §4.1.4: drop PSKs that do not fit the suite
        if engine.tracing:
            engine.trace(t.HELLO_RETRY_REQUEST, t.RECEIVED, {
                "cipher_suite": hs.suite.name if hs.suite else "",
                "selected_group": describe(NamedGroup, group) if group is not None else None,
                "cookie_bytes": len(cookie.data) if cookie else 0,
            })
        shares = (group,) if group is not None else tuple(hs.hello.key_shares)
        previous = hs.hello
        hs.hello = build_client_hello(
            hs.config, hs.server_name, random=previous.random, session_id=previous.session_id,
            key_share_groups=shares, previous_shares=previous.key_shares,
            cookie=cookie.data if cookie else None, grease=previous.grease,
            session=session, transcript_prefix=engine.transcript.messages(),
        )
        if previous.session_id and hs.config.middlebox_compatibility and not hs.extra.get(
                "sent_ccs"):
            # RFC 8446 Appendix D.4: the client's CCS goes before its second flight.
            engine.send_change_cipher_spec()
            hs.extra["sent_ccs"] = True
        engine.send_handshake(hs.hello.hello)
        if engine.tracing:
            engine.trace(t.CLIENT_HELLO, t.SENT, describe_client_hello(hs.hello.hello))
        return ExpectServerHello(hs)

    def _server_hello(self, engine: Engine, message: ServerHello, suite: Suite) -> State:
        hs = self.hs
        psk = self._accepted_psk(message, suite)
        key_share = find_typed(message.extensions, X.key_share, KeyShare)
        shared_secret: bytes | None = None
        exchange: dict[str, Any] = {}
        if key_share is None:
            if psk is None or not hs.config.allow_psk_ke:
                raise PeerMisbehaved("ServerHello without key_share",
                                     AlertDescription.missing_extension)
        else:
            entry = key_share.entries[0]
            share = hs.hello.key_shares.get(entry.group)
            if share is None:
                raise illegal(f"server key share for {describe(NamedGroup, entry.group)}, "
                              "which we did not send")
            shared_secret = share.complete(entry.key_exchange)
            hs.group = entry.group
            exchange = {
                "group": describe(NamedGroup, entry.group),
                "hybrid": GROUPS[entry.group].hybrid,
                "client_share_bytes": len(share.public),
                "server_share_bytes": len(entry.key_exchange),
                "shared_secret_bytes": len(shared_secret),
            }
        if engine.tracing:
            engine.trace(t.SERVER_HELLO, t.RECEIVED, {
                "version": "TLS 1.3", "cipher_suite": suite.name,
                "group": describe(NamedGroup, hs.group) if hs.group is not None else None,
                "random": message.random.hex(),
                "session_id_echo": message.legacy_session_id_echo.hex(),
                "resumed": psk is not None,
                "extensions": [describe(X, e.type) for e in message.extensions],
            })
        if shared_secret is not None and engine.tracing:
            engine.trace(t.KEY_EXCHANGE, t.LOCAL, exchange, {"shared_secret": shared_secret})
        schedule = KeySchedule(suite, psk)
        schedule.enter_handshake(shared_secret)
        hs.schedule = schedule
        hello_hash = engine.transcript.digest()
        client_secret, server_secret = schedule.handshake_traffic_secrets(hello_hash)
        hs.client_handshake_secret, hs.server_handshake_secret = client_secret, server_secret
        random = hs.hello.random
        engine.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", random, client_secret)
        engine.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", random, server_secret)
        key, iv = traffic_keys(suite, server_secret)
        engine.install_read(Tls13Protection(suite, key, iv))
        if engine.tracing:
            trace_key_derivation13(engine, "handshake", suite, "handshake_secret", schedule.secret,
                                   {"client_handshake_traffic_secret": client_secret,
                                    "server_handshake_traffic_secret": server_secret},
                                   psk=psk is not None)
        return ExpectEncryptedExtensions(hs)

    def _accepted_psk(self, message: ServerHello, suite: Suite) -> bytes | None:
        hs = self.hs
        selected = find_typed(message.extensions, X.pre_shared_key, PreSharedKey)
        if selected is None:
            return None
        session = hs.session
        # RFC 8446 §4.2.11: the one identity we offered, with a suite of the same hash.
        if session is None or session.version != TLS13 or selected.selected_identity != 0:
            raise illegal("server selected a pre-shared key we did not offer")
        if SUITES[session.cipher_suite].hash_name != suite.hash_name:
            raise illegal("server resumed with a suite whose hash differs from the ticket's")
        hs.psk_accepted = True
        return session.secret


class ExpectEncryptedExtensions(_Tls13ClientState):
    expects = {H.encrypted_extensions: EncryptedExtensions.parse}

    def handle(self, engine: Engine, message: EncryptedExtensions) -> State:
        hs = self.hs
        check_allowed(message.extensions, "EE")
        for extension in message.extensions:
            if extension.type not in hs.hello.offered_extensions and (
                extension.type != X.supported_groups
            ):
                raise PeerMisbehaved(f"server sent extension {describe(X, extension.type)} "
                                     "that was not offered", AlertDescription.unsupported_extension)
        alpn = find_typed(message.extensions, X.application_layer_protocol_negotiation, ALPN)
        if alpn is not None:
            # RFC 7301 §3.1: exactly one protocol, one that we offered.
            if len(alpn.protocols) != 1 or alpn.protocols[0] not in {
                p.encode() for p in hs.config.alpn_protocols
            }:
                raise illegal("server selected an ALPN protocol that was not offered")
            hs.alpn = alpn.protocols[0]
        limit = find_typed(message.extensions, X.record_size_limit, RecordSizeLimit)
        if limit is not None:
            hs.peer_record_size_limit = limit.limit
            # RFC 8449 §4: in TLS 1.3 the limit counts the content type byte.
            engine.record.max_fragment = min(engine.record.max_fragment, limit.limit - 1)
            if hs.config.record_size_limit is not None:
                # The server understood ours, so it is now bound by it.
                engine.record.read_limit = hs.config.record_size_limit
        if find(message.extensions, X.early_data) is not None:
            if not hs.early_data_offered or hs.retried:
                raise PeerMisbehaved("early_data accepted but none was offered",
                                     AlertDescription.unsupported_extension)
            hs.early_data_accepted = True
        if engine.tracing:
            engine.trace(t.ENCRYPTED_EXTENSIONS, t.RECEIVED, {
                "extensions": [describe(X, e.type) for e in message.extensions],
                "alpn": decode_alpn(hs.alpn) if hs.alpn else None,
                "early_data": ("accepted" if hs.early_data_accepted else "rejected")
                if hs.early_data_offered else None,
            })
        if hs.psk_accepted:
            return ExpectFinished(hs)
        return ExpectCertificateOrRequest(hs)


class ExpectCertificateOrRequest(_Tls13ClientState):
    expects = {H.certificate: Certificate13.parse,
               H.certificate_request: CertificateRequest13.parse}

    def handle(self, engine: Engine, message: Certificate13 | CertificateRequest13) -> State:
        if isinstance(message, CertificateRequest13):
            return _handle_certificate_request(engine, self.hs, message)
        return _handle_server_certificate(engine, self.hs, message)


class ExpectCertificate(_Tls13ClientState):
    expects = {H.certificate: Certificate13.parse}

    def handle(self, engine: Engine, message: Certificate13) -> State:
        return _handle_server_certificate(engine, self.hs, message)


def _handle_certificate_request(engine: Engine, hs: ClientHandshake,
                                message: CertificateRequest13) -> State:
    check_allowed(message.extensions, "CR")
    # RFC 8446 §4.3.2: empty context in the handshake; signature_algorithms required.
    if message.certificate_request_context:
        raise illegal("CertificateRequest context must be empty during the handshake")
    if find(message.extensions, X.signature_algorithms) is None:
        raise PeerMisbehaved("CertificateRequest without signature_algorithms",
                             AlertDescription.missing_extension)
    hs.certificate_request = message
    if engine.tracing:
        engine.trace(t.CERTIFICATE_REQUEST, t.RECEIVED, {
            "extensions": [describe(X, e.type) for e in message.extensions]})
    return ExpectCertificate(hs)


def _handle_server_certificate(engine: Engine, hs: ClientHandshake,
                               message: Certificate13) -> State:
    if message.certificate_request_context:
        raise illegal("server Certificate has a request context")
    if not message.certificate_list:
        # RFC 8446 §4.4.2.4: an empty server Certificate is decode_error.
        raise DecodeError("the server sent an empty certificate chain")
    chain = certs.parse_chain(message.chain)
    hs.peer_chain = message.chain
    hs.peer_certificate = chain[0]
    if engine.tracing:
        engine.trace(t.CERTIFICATE, t.RECEIVED, {
            "chain": [certs.describe_certificate(c) for c in chain]})
    hs.verified_chain = verify_server_certificates(engine, hs.config, hs.server_name, chain,
                                                   message.chain[0])
    return ExpectCertificateVerify(hs)


def verify_server_certificates(engine: Engine, config: ClientConfig, server_name: str | None,
                               chain: list[x509.Certificate], received_leaf: bytes = b""
                               ) -> tuple[bytes, ...]:
    """Check the server's chain as the config says; trace the outcome either way."""
    if not config.verify_certificates:
        if engine.tracing:
            engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, {
                "result": "skipped", "reason": "certificate verification is disabled"})
        return ()
    now = config.clock()
    try:
        path = verify_chain(config.trust_store(), chain, purpose=Purpose.SERVER,
                            server_name=server_name, check_name=config.check_hostname,
                            options=config.verify_options, now=now)
    except BadCertificate as error:
        if engine.tracing:
            engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, {
                "result": "failed", "reason": str(error), "alert": error.alert.name})
        raise
    anchor = path[-1]
    if engine.tracing:
        engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, {
            "result": "ok", "trust_anchor": certs.describe_certificate(anchor)["subject"],
            "path_length": len(path),
            "host_name": server_name if config.check_hostname else "(not checked)",
        })
    # The leaf's DER is the one received; only the rest of the path is encoded.
    return (received_leaf, *(certs.der(c) for c in path[1:])) if (
        received_leaf) else tuple(certs.der(c) for c in path)


class ExpectCertificateVerify(_Tls13ClientState):
    expects = {H.certificate_verify: CertificateVerify.parse}

    def handle(self, engine: Engine, message: CertificateVerify) -> State:
        hs = self.hs
        assert hs.peer_certificate is not None
        key = certs.leaf_public_key(hs.peer_certificate)
        # RFC 8446 §4.4.3: a scheme we offered, that fits the key.
        if message.algorithm not in hs.config.signature_schemes or not signatures.scheme_fits_key(
            message.algorithm, key, tls13=True,
            rsa_pss_key=certs.is_rsa_pss_key(hs.peer_certificate),
        ):
            raise illegal(f"CertificateVerify uses {describe(SignatureScheme, message.algorithm)}"
                          ", which was not offered or does not fit the certificate's key")
        content = certificate_verify_content(SERVER_CERTIFICATE_VERIFY,
                                             engine.transcript.digest_before_last())
        signatures.verify(key, message.algorithm, content, message.signature)
        hs.signature_scheme = message.algorithm
        if engine.tracing:
            engine.trace(t.CERTIFICATE_VERIFY, t.RECEIVED, {
                "signature_scheme": describe(SignatureScheme, message.algorithm),
                "signature_bytes": len(message.signature), "result": "signature verified",
                "key": signatures.describe_key(key)})
        return ExpectFinished(hs)


class ExpectFinished(_Tls13ClientState):
    expects = {H.finished: Finished.parse}

    def handle(self, engine: Engine, message: Finished) -> State:
        hs = self.hs
        suite, schedule = hs.suite, hs.schedule
        assert suite is not None and schedule is not None
        check_finished_length(message, suite.hash_len)
        expected = finished_verify_data(suite, hs.server_handshake_secret,
                                        engine.transcript.digest_before_last())
        if not constant_time_equal(expected, message.verify_data):
            raise PeerMisbehaved("server Finished does not verify",
                                 AlertDescription.decrypt_error)
        if engine.tracing:
            engine.trace(t.FINISHED, t.RECEIVED, {"verify_data_bytes": len(message.verify_data),
                                                  "result": "verified"})
        # RFC 8446 §7.1: application secrets from the hash through server Finished.
        schedule.enter_master()
        finished_hash = engine.transcript.digest()
        client_secret, server_secret = schedule.application_traffic_secrets(finished_hash)
        exporter_secret = schedule.exporter_master_secret(finished_hash)
        random = hs.hello.random
        engine.keylog("CLIENT_TRAFFIC_SECRET_0", random, client_secret)
        engine.keylog("SERVER_TRAFFIC_SECRET_0", random, server_secret)
        if hs.config.keylog is not None:
            engine.keylog("EXPORTER_SECRET", random, exporter_secret.value)
        key, iv = traffic_keys(suite, server_secret)
        engine.install_read(Tls13Protection(suite, key, iv))
        if engine.tracing:
            trace_key_derivation13(engine, "application", suite, "master_secret", schedule.secret,
                                   {"client_application_traffic_secret": client_secret,
                                    "server_application_traffic_secret": server_secret,
                                    "exporter_master_secret": exporter_secret.value})

        # Our second flight, under the client handshake keys.
        if hs.early_data_accepted:
            # RFC 8446 §4.5: the end of 0-RTT data, under the early data keys.
            engine.send_handshake(EmptyMessage(H.end_of_early_data))
        from ..connection import ClientConnection

        if isinstance(engine, ClientConnection):
            engine.early_data_allowance = 0
        if hs.hello.session_id and hs.config.middlebox_compatibility and not hs.extra.get(
                "sent_ccs"):
            engine.send_change_cipher_spec()
        hs_key, hs_iv = traffic_keys(suite, hs.client_handshake_secret)
        engine.install_write(Tls13Protection(suite, hs_key, hs_iv))
        if hs.certificate_request is not None:
            send_client_certificate13(engine, hs.config, hs.certificate_request,
                                      engine.send_handshake, engine.transcript)
        verify_data = finished_verify_data(suite, hs.client_handshake_secret,
                                           engine.transcript.digest())
        engine.send_handshake(Finished(verify_data))
        if engine.tracing:
            engine.trace(t.FINISHED, t.SENT, {"verify_data_bytes": len(verify_data)})
        key, iv = traffic_keys(suite, client_secret)
        engine.install_write(Tls13Protection(suite, key, iv))
        resumption_secret = schedule.resumption_master_secret(engine.transcript.digest())

        connected = Connected13(
            suite, client_secret=client_secret, server_secret=server_secret,
            resumption_master_secret=resumption_secret, is_client=True,
            post_handshake_auth=hs.config.post_handshake_auth,
            transcript=engine.transcript.fork() if hs.config.post_handshake_auth else None,
        )
        session = hs.session if hs.psk_accepted else None
        peer_chain = session.peer_certificates if session is not None else hs.peer_chain
        scheme = (session.signature_scheme if session is not None else
                  describe(SignatureScheme, hs.signature_scheme)
                  if hs.signature_scheme is not None else None)
        verified_chain = session.verified_chain if session is not None else hs.verified_chain
        connected.ticket_template = ClientSession(
            TLS13, suite.id, b"", 0, 0, hs.server_name, hs.alpn,
            peer_certificates=peer_chain, signature_scheme=scheme,
            verified_chain=verified_chain)
        connected.cache_key = (session_cache_key(hs.config, hs.server_name)
                               if hs.config.session_cache is not None and hs.server_name
                               else None)
        group = describe(NamedGroup, hs.group) if hs.group is not None else None
        finish_handshake13(engine, connected, exporter_secret, HandshakeComplete(
            version="TLSv1.3", cipher_suite=suite.name,
            key_exchange=("PSK" + (f" + (EC)DHE {group}" if group else "")
                          if hs.psk_accepted else f"(EC)DHE {group}"),
            group=group, signature_scheme=scheme,
            alpn_protocol=decode_alpn(hs.alpn) if hs.alpn else None,
            server_name=hs.server_name, peer_certificates=peer_chain,
            resumed=hs.psk_accepted, early_data_accepted=hs.early_data_accepted,
            verified_chain=verified_chain,
        ))
        return connected


def finish_handshake13(engine: Engine, connected: Connected13, exporter_secret: DeferredSecret,
                       event: HandshakeComplete) -> None:
    from ..connection import _Connection

    assert isinstance(engine, _Connection)
    engine.suite = connected.suite
    engine.exporter_secret = exporter_secret
    engine.handshake_done(connected)
    if engine.tracing:
        engine.trace(t.ESTABLISHED, t.LOCAL, {
            "version": event.version, "cipher_suite": event.cipher_suite, "group": event.group,
            "signature_scheme": event.signature_scheme, "alpn": event.alpn_protocol,
            "resumed": event.resumed,
        })
    engine.complete(event)


__all__ = ["ExpectServerHello", "U16List", "start_client"]
