"""TLS 1.3 after the handshake (RFC 8446 §4.6): KeyUpdate both ways, NewSessionTicket
(client), and post-handshake client authentication (both sides)."""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography import x509

from ..config import ClientConfig, ServerConfig
from ..constants import TLS13, HandshakeType as H
from ..crypto.hkdf import constant_time_equal
from ..crypto.suites import Suite
from ..errors import DecryptError, IllegalParameter, UnexpectedMessage, UsageError
from ..events import (
    CertificateRequested,
    KeyUpdated,
    PeerCertificateVerified,
    session_ticket_received,
)
from ..keyschedule import (
    StageKeys,
    finished_verify_data,
    next_traffic_secret,
    resumption_psk,
    traffic_keys,
)
from ..messages.handshake import (
    Certificate13,
    CertificateRequest13,
    CertificateVerify,
    CompressedCertificate,
    Finished,
    KeyUpdate,
    Message,
    NewSessionTicket13,
    check_finished_length,
    serialize,
)
from ..record import Tls13Protection
from ..session import ClientSession
from . import compressed
from .client_auth import (
    check_client_chain,
    check_client_signature,
    request_extension_types,
    request_extensions,
    send_client_certificate13,
)
from .common import (
    CLIENT_CERTIFICATE_VERIFY,
    certificate_verify_content,
    check_certificate_extensions,
)
from .engine import Engine, Parser, State
from .transcript import Transcript

_CLIENT: dict[int, Parser] = {H.key_update: KeyUpdate.parse,
                                 H.new_session_ticket: NewSessionTicket13.parse}
_CLIENT_PHA: dict[int, Parser] = {**_CLIENT, H.certificate_request: CertificateRequest13.parse}
_SERVER: dict[int, Parser] = {H.key_update: KeyUpdate.parse}
_SERVER_AWAITING: dict[int, dict[int, Parser]] = {
    message: {**_SERVER, message: parse} for message, parse in (
        (H.certificate, Certificate13.parse), (H.certificate_verify, CertificateVerify.parse),
        (H.finished, Finished.parse))
}
# Awaiting a client certificate that may come compressed (RFC 8879).
_SERVER_AWAITING_COMPRESSED: dict[int, Parser] = {
    **_SERVER_AWAITING[H.certificate], H.compressed_certificate: CompressedCertificate.parse}


class Connected13(State):
    """The handshake is over: application data flows; KeyUpdate may arrive or be sent."""

    # Every idle TLS 1.3 connection keeps one of these: no per-instance dictionary.
    __slots__ = ("_client_secret", "_server_secret", "expects", "is_client", "suite")
    accepts_application_data = True
    plain_application_data = True
    connected = True

    def __init__(self, suite: Suite, application: StageKeys, is_client: bool) -> None:
        self.suite = suite
        self.is_client = is_client
        # The current traffic secrets (RFC 8446 §7.2: each KeyUpdate moves one on).
        self._client_secret = application.client.secret
        self._server_secret = application.server.secret

    def handle(self, engine: Engine, message: Any) -> State:
        # The parser tables (shared: an idle connection keeps no dictionary of its
        # own) let only a KeyUpdate get here.
        self._key_updated(engine, message)
        return self

    def _key_updated(self, engine: Engine, message: KeyUpdate) -> None:
        # RFC 8446 §4.6.3: the peer's next records use its next traffic secret.
        if self.is_client:
            self._server_secret = secret = next_traffic_secret(self.suite, self._server_secret)
        else:
            self._client_secret = secret = next_traffic_secret(self.suite, self._client_secret)
        engine.install_read(Tls13Protection(self.suite, *traffic_keys(self.suite, secret)))
        engine.emit(KeyUpdated("read", message.update_requested))
        # RFC 8446 §4.6.3: answer with our own update, not requesting another; one
        # update answers every request received while we are silent, so a peer that
        # asks again and again before we send data (or does not read) gets one reply,
        # as BoringSSL does (key_update_pending).
        if message.update_requested and not engine.key_update_pending:
            self.key_update(engine, False)
            engine.emit(KeyUpdated("write", False))

    def key_update(self, engine: Engine, request_peer_update: bool) -> None:
        engine.send_post_handshake(KeyUpdate(request_peer_update))
        if self.is_client:
            self._client_secret = secret = next_traffic_secret(self.suite, self._client_secret)
        else:
            self._server_secret = secret = next_traffic_secret(self.suite, self._server_secret)
        engine.install_write(Tls13Protection(self.suite, *traffic_keys(self.suite, secret)))


class ClientConnected13(Connected13):
    """The client: NewSessionTickets arrive, and (if offered) CertificateRequests."""

    __slots__ = ("_transcript", "alpn", "cache_key", "config", "peer_certificates",
                 "resumption_master_secret", "server_name", "signature_scheme",
                 "verified_chain")

    def __init__(self, suite: Suite, application: StageKeys, config: ClientConfig,
                 resumption_master_secret: bytes, transcript: Transcript | None,
                 cache_key: tuple[str, tuple[str, ...]] | None, server_name: str | None,
                 alpn: bytes | None, peer_certificates: tuple[bytes, ...],
                 signature_scheme: str | None, verified_chain: tuple[bytes, ...]) -> None:
        super().__init__(suite, application, is_client=True)
        self.config = config
        self.resumption_master_secret = resumption_master_secret
        # Where each NewSessionTicket's session is kept, and what the handshake
        # settled for it (a ClientSession is made only when a ticket comes).
        self.cache_key = cache_key
        self.server_name = server_name
        self.alpn = alpn
        self.peer_certificates = peer_certificates
        self.signature_scheme = signature_scheme
        self.verified_chain = verified_chain
        # Post-handshake authentication: the handshake transcript it continues from.
        self._transcript = transcript
        self.expects = _CLIENT if transcript is None else _CLIENT_PHA

    def handle(self, engine: Engine, message: Any) -> State:
        if isinstance(message, NewSessionTicket13):
            self._session_ticket(engine, message)
        elif isinstance(message, CertificateRequest13):
            self._answer_certificate_request(engine, message)
        else:
            return super().handle(engine, message)
        return self

    def _session_ticket(self, engine: Engine, message: NewSessionTicket13) -> None:
        # RFC 8446 §4.6.1: lifetime at most seven days.
        if message.ticket_lifetime > 604800:
            raise IllegalParameter("ticket lifetime over seven days")
        max_early = message.max_early_data_size
        psk = resumption_psk(self.suite, self.resumption_master_secret, message.ticket_nonce)
        session = None
        if message.ticket_lifetime > 0:
            session = ClientSession(
                TLS13, self.suite.id, psk, int(self.config.clock() * 1000),
                message.ticket_lifetime, self.server_name, self.alpn, message.ticket,
                message.ticket_age_add, max_early, peer_certificates=self.peer_certificates,
                signature_scheme=self.signature_scheme, verified_chain=self.verified_chain)
            engine.new_session(session)
            cache = self.config.session_cache
            if cache is not None and self.cache_key is not None:
                cache.store(self.cache_key, session)
        engine.emit(session_ticket_received(
            lifetime=message.ticket_lifetime, ticket=message.ticket,
            age_add=message.ticket_age_add, nonce=message.ticket_nonce,
            max_early_data_size=max_early, session=session,
        ))

    def _answer_certificate_request(self, engine: Engine, request: CertificateRequest13
                                    ) -> None:
        """RFC 8446 §4.6.2: Certificate, CertificateVerify and Finished, on a transcript
        that continues the handshake's."""
        if self._transcript is None:
            raise UnexpectedMessage("CertificateRequest without post_handshake_auth")
        if not request.certificate_request_context:
            raise IllegalParameter("post-handshake CertificateRequest without a context")
        engine.note(post_handshake=True)
        transcript = self._transcript.fork()
        transcript.add(request.raw)
        engine.emit(CertificateRequested(request.certificate_request_context))

        def send(message: Message) -> bytes:
            transcript.add(serialize(message))
            return engine.send_post_handshake(message)

        send_client_certificate13(engine, self.config, request, send, transcript)
        send(Finished(finished_verify_data(self.suite, self._client_secret,
                                           transcript.digest())))
        engine.note(post_handshake=True)


@dataclasses.dataclass
class _PendingAuth:
    """A post-handshake CertificateRequest the server is waiting on."""

    context: bytes
    transcript: Transcript
    chain: tuple[bytes, ...] = ()
    certificate: x509.Certificate | None = None
    expecting: int = H.certificate


class ServerConnected13(Connected13):
    """The server: it may ask for a client certificate (if the client offered
    post-handshake authentication) and then checks the answer."""

    __slots__ = ("_pending", "_transcript", "config")

    def __init__(self, suite: Suite, application: StageKeys, *, config: ServerConfig,
                 transcript: Transcript | None) -> None:
        # Connected13.__init__ written out (one per server connection).
        self.suite = suite
        self.is_client = False
        self._client_secret = application.client.secret
        self._server_secret = application.server.secret
        self.config = config
        self._transcript = transcript  # None: the client did not offer it
        self._pending: _PendingAuth | None = None
        self.expects = _SERVER

    def handle(self, engine: Engine, message: Any) -> State:
        if isinstance(message, KeyUpdate):
            return super().handle(engine, message)
        pending = self._pending
        if pending is None:
            raise UnexpectedMessage("post-handshake authentication message without a request")
        pending.transcript.add(message.raw)
        if isinstance(message, Certificate13 | CompressedCertificate):
            self._certificate(engine, pending, message)
        elif isinstance(message, CertificateVerify):
            self._certificate_verify(engine, pending, message)
        else:
            self._finished(engine, pending, message)
        self.expects = _SERVER if self._pending is None else self._awaiting(
            self._pending.expecting)
        return self

    def _awaiting(self, message: int) -> dict[int, Parser]:
        if message == H.certificate and self.config.certificate_compression:
            return _SERVER_AWAITING_COMPRESSED
        return _SERVER_AWAITING[message]

    def request_client_certificate(self, engine: Engine) -> None:
        config = self.config
        if self._transcript is None:
            raise UsageError("the client did not offer post-handshake authentication")
        if self._pending is not None:
            raise UsageError("a certificate request is already pending")
        if config.client_trust is None:
            raise UsageError("post-handshake authentication needs ServerConfig.client_trust")
        context = config.rng(16)
        request = CertificateRequest13(context, request_extensions(config))
        transcript = self._transcript.fork()
        transcript.add(engine.send_post_handshake(request))
        engine.note(post_handshake=True)
        self._pending = _PendingAuth(context, transcript)
        self.expects = self._awaiting(H.certificate)

    def _certificate(self, engine: Engine, pending: _PendingAuth,
                     received: compressed.ReceivedCertificate) -> None:
        message = compressed.received_certificate(received, self.config.certificate_compression)
        check_certificate_extensions(message, request_extension_types(self.config))
        if message.certificate_request_context != pending.context:
            raise IllegalParameter("client Certificate answers a different request")
        # Post-handshake requests are explicit: an empty answer is acceptable only
        # when the policy says the certificate is optional.
        config = self.config if self.config.client_auth != "none" else dataclasses.replace(
            self.config, client_auth="optional")
        checked = check_client_chain(engine, config, message.chain, TLS13)
        if checked is None:
            pending.expecting = H.finished
        else:
            pending.chain, pending.certificate = message.chain, checked[0][0]
            pending.expecting = H.certificate_verify

    def _certificate_verify(self, engine: Engine, pending: _PendingAuth,
                            message: CertificateVerify) -> None:
        if pending.certificate is None:
            raise UnexpectedMessage("CertificateVerify without a client certificate")
        content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY,
                                             pending.transcript.digest_before_last())
        check_client_signature(engine, self.config, pending.certificate, message.algorithm,
                               content, message.signature, tls13=True)
        pending.expecting = H.finished

    def _finished(self, engine: Engine, pending: _PendingAuth, message: Finished) -> None:
        check_finished_length(message, self.suite.hash_len)
        expected = finished_verify_data(self.suite, self._client_secret,
                                        pending.transcript.digest_before_last())
        if not constant_time_equal(expected, message.verify_data):
            raise DecryptError("client Finished does not verify")
        engine.note(post_handshake=True, result="verified")
        self._pending = None
        engine.emit(PeerCertificateVerified(pending.chain))
