"""TLS 1.3 after the handshake (RFC 8446 §4.6): KeyUpdate, NewSessionTicket and
post-handshake client authentication."""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import trace as t
from ..constants import TLS13, ExtensionType as X, HandshakeType as H
from ..crypto.hkdf import constant_time_equal
from ..crypto.suites import Suite
from ..errors import (
    DecryptError,
    IllegalParameter,
    UnexpectedMessage,
    UsageError,
)
from ..events import (
    CertificateRequested,
    KeyUpdated,
    PeerCertificateVerified,
    SessionTicketReceived,
)
from ..keyschedule import (
    DeferredSecret,
    finished_verify_data,
    next_traffic_secret,
    resumption_psk,
    traffic_keys,
)
from ..messages.extensions import EarlyDataIndication, find_typed
from ..messages.handshake import (
    Certificate13,
    CertificateRequest13,
    CertificateVerify,
    Finished,
    KeyUpdate,
    Message,
    NewSessionTicket13,
    check_finished_length,
    serialize,
)
from ..record import Tls13Protection
from ..session import ClientSession
from .common import CLIENT_CERTIFICATE_VERIFY, Engine, State, certificate_verify_content
from .transcript import Transcript


@dataclasses.dataclass
class _PendingAuth:
    """A post-handshake CertificateRequest the server is waiting on."""

    context: bytes
    transcript: Transcript
    chain: tuple[bytes, ...] = ()
    certificate: Any = None
    expecting: int = H.certificate


_CLIENT: dict[int, Any] = {H.key_update: KeyUpdate.parse,
                           H.new_session_ticket: NewSessionTicket13.parse}
_CLIENT_PHA: dict[int, Any] = {**_CLIENT, H.certificate_request: CertificateRequest13.parse}
_SERVER: dict[int, Any] = {H.key_update: KeyUpdate.parse}
_SERVER_AWAITING: dict[int, dict[int, Any]] = {
    message: {**_SERVER, message: parse} for message, parse in (
        (H.certificate, Certificate13.parse), (H.certificate_verify, CertificateVerify.parse),
        (H.finished, Finished.parse))
}


class Connected13(State):
    """The handshake is over: application data flows; KeyUpdate, NewSessionTicket
    (client) and post-handshake authentication messages may arrive."""

    accepts_application_data = True
    plain_application_data = True
    connected = True

    def __init__(self, suite: Suite, *, client_secret: bytes, server_secret: bytes,
                 resumption_master_secret: DeferredSecret, is_client: bool,
                 post_handshake_auth: bool = False,
                 transcript: Transcript | None = None) -> None:
        self.suite = suite
        self.is_client = is_client
        self._client_secret = client_secret
        self._server_secret = server_secret
        self.resumption_master_secret = resumption_master_secret
        # Client side: what each NewSessionTicket turns into, and where it is kept.
        self.ticket_template: ClientSession | None = None
        self.cache_key: tuple[str, tuple[str, ...]] | None = None
        # Post-handshake authentication: offered by the client, and the handshake
        # transcript it continues from.
        self.post_handshake_auth = post_handshake_auth
        self._transcript = transcript if post_handshake_auth else None
        self._pending: _PendingAuth | None = None
        self._update_expects()

    def _update_expects(self) -> None:
        # Shared tables: an idle connection keeps no dictionary of its own.
        if self.is_client:
            self.expects = _CLIENT_PHA if self.post_handshake_auth else _CLIENT
        elif self._pending is None:
            self.expects = _SERVER
        else:
            self.expects = _SERVER_AWAITING[self._pending.expecting]

    def handle(self, engine: Engine, message: Any) -> State:
        if isinstance(message, KeyUpdate):
            self._key_update(engine, message)
        elif isinstance(message, NewSessionTicket13):
            self._session_ticket(engine, message)
        elif isinstance(message, CertificateRequest13):
            self._answer_certificate_request(engine, message)
        else:
            self._client_authentication(engine, message)
        self._update_expects()
        return self

    # -- KeyUpdate -------------------------------------------------------------

    def _key_update(self, engine: Engine, message: KeyUpdate) -> None:
        # RFC 8446 §4.6.3: the peer's next records use its next traffic secret.
        if self.is_client:
            self._server_secret = next_traffic_secret(self.suite, self._server_secret)
            secret = self._server_secret
        else:
            self._client_secret = next_traffic_secret(self.suite, self._client_secret)
            secret = self._client_secret
        key, iv = traffic_keys(self.suite, secret)
        engine.install_read(Tls13Protection(self.suite, key, iv))
        engine.emit(KeyUpdated("read", message.update_requested))
        if engine.tracing:
            engine.trace(t.KEY_UPDATE, t.RECEIVED, {"update_requested": message.update_requested})
        if message.update_requested:
            # RFC 8446 §4.6.3: answer with our own update, not requesting another.
            self.send_key_update(engine, False)
            engine.emit(KeyUpdated("write", False))

    def send_key_update(self, engine: Engine, request_peer_update: bool) -> None:
        engine.send_post_handshake(KeyUpdate(request_peer_update))
        if self.is_client:
            self._client_secret = next_traffic_secret(self.suite, self._client_secret)
            secret = self._client_secret
        else:
            self._server_secret = next_traffic_secret(self.suite, self._server_secret)
            secret = self._server_secret
        key, iv = traffic_keys(self.suite, secret)
        engine.install_write(Tls13Protection(self.suite, key, iv))
        if engine.tracing:
            engine.trace(t.KEY_UPDATE, t.SENT, {"update_requested": request_peer_update})

    # -- NewSessionTicket (client) -----------------------------------------------

    def _session_ticket(self, engine: Engine, message: NewSessionTicket13) -> None:
        # RFC 8446 §4.6.1: lifetime at most seven days.
        if message.ticket_lifetime > 604800:
            raise IllegalParameter("ticket lifetime over seven days")
        early = find_typed(message.extensions, X.early_data, EarlyDataIndication)
        max_early = (early.max_early_data_size or 0) if early is not None else 0
        psk = resumption_psk(self.suite, self.resumption_master_secret.value,
                             message.ticket_nonce)
        session = None
        if self.ticket_template is not None and message.ticket_lifetime > 0:
            session = dataclasses.replace(
                self.ticket_template, secret=psk,
                received_ms=int(engine.config.clock() * 1000),
                lifetime=message.ticket_lifetime, ticket=message.ticket,
                age_add=message.ticket_age_add, max_early_data_size=max_early)
            engine.new_session(session, self.cache_key)
        engine.emit(SessionTicketReceived(
            lifetime=message.ticket_lifetime, ticket=message.ticket,
            age_add=message.ticket_age_add, nonce=message.ticket_nonce,
            max_early_data_size=max_early, session=session,
        ))
        if engine.tracing:
            engine.trace(t.NEW_SESSION_TICKET, t.RECEIVED, {
                "lifetime": message.ticket_lifetime, "ticket_bytes": len(message.ticket),
                "max_early_data_size": max_early})

    # -- post-handshake authentication (RFC 8446 §4.6.2) -------------------------

    def _answer_certificate_request(self, engine: Engine, request: CertificateRequest13) -> None:
        from ..config import ClientConfig
        from .client_auth import send_client_certificate13

        config = engine.config
        assert isinstance(config, ClientConfig) and self._transcript is not None
        if not request.certificate_request_context:
            raise IllegalParameter("post-handshake CertificateRequest without a context")
        transcript = self._transcript.fork()
        transcript.add(request.raw)
        engine.emit(CertificateRequested(request.certificate_request_context))
        if engine.tracing:
            engine.trace(t.CERTIFICATE_REQUEST, t.RECEIVED, {"post_handshake": True})

        def send(message: Message) -> bytes:
            raw = serialize(message)
            transcript.add(raw)
            return engine.send_post_handshake(message)

        send_client_certificate13(engine, config, request, send, transcript)
        verify_data = finished_verify_data(self.suite, self._client_secret, transcript.digest())
        send(Finished(verify_data))
        if engine.tracing:
            engine.trace(t.FINISHED, t.SENT, {"verify_data_bytes": len(verify_data),
                                              "post_handshake": True})

    def request_certificate(self, engine: Engine) -> None:
        """Server side: ask an established client for its certificate."""
        from ..config import ServerConfig
        from .client_auth import request_extensions

        config = engine.config
        assert isinstance(config, ServerConfig)
        if not self.post_handshake_auth or self._transcript is None:
            raise UsageError("the client did not offer post-handshake authentication")
        if self._pending is not None:
            raise UsageError("a certificate request is already pending")
        if config.client_trust is None:
            raise UsageError("post-handshake authentication needs ServerConfig.client_trust")
        context = config.rng(16)
        request = CertificateRequest13(context, request_extensions(config))
        transcript = self._transcript.fork()
        transcript.add(engine.send_post_handshake(request))
        self._pending = _PendingAuth(context, transcript)
        self._update_expects()
        if engine.tracing:
            engine.trace(t.CERTIFICATE_REQUEST, t.SENT, {"post_handshake": True})

    def _client_authentication(self, engine: Engine, message: Any) -> None:
        from ..config import ServerConfig
        from .client_auth import check_client_chain, check_client_signature

        config = engine.config
        pending = self._pending
        if pending is None or not isinstance(config, ServerConfig):
            raise UnexpectedMessage("post-handshake authentication message without a request")
        pending.transcript.add(message.raw)
        if isinstance(message, Certificate13):
            if message.certificate_request_context != pending.context:
                raise IllegalParameter("client Certificate answers a different request")
            checked = check_client_chain(engine, _required(config), message.chain, TLS13)
            if checked is None:
                pending.expecting = H.finished
            else:
                pending.chain, pending.certificate = message.chain, checked[0][0]
                pending.expecting = H.certificate_verify
        elif isinstance(message, CertificateVerify):
            content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY,
                                                 pending.transcript.digest_before_last())
            check_client_signature(engine, config, pending.certificate, message.algorithm,
                                   content, message.signature, tls13=True)
            pending.expecting = H.finished
        else:
            assert isinstance(message, Finished)
            check_finished_length(message, self.suite.hash_len)
            expected = finished_verify_data(self.suite, self._client_secret,
                                            pending.transcript.digest_before_last())
            if not constant_time_equal(expected, message.verify_data):
                raise DecryptError("client Finished does not verify")
            if engine.tracing:
                engine.trace(t.FINISHED, t.RECEIVED, {"post_handshake": True, "result": "verified"})
            self._pending = None
            engine.emit(PeerCertificateVerified(pending.chain))


def _required(config: Any) -> Any:
    """Post-handshake requests are explicit: an empty answer is acceptable only
    when the policy says the certificate is optional."""
    return config if config.client_auth != "none" else dataclasses.replace(
        config, client_auth="optional")
