"""TLS 1.3 after the handshake (RFC 8446 §4.6): KeyUpdate, NewSessionTicket, and
the client's certificate flight (also used during the handshake)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import trace as t
from ..constants import ExtensionType as X
from ..constants import HandshakeType as H
from ..constants import SignatureScheme, describe
from ..crypto import signatures
from ..crypto.suites import Suite
from ..errors import AlertDescription, PeerMisbehaved
from ..events import KeyUpdated, SessionTicketReceived
from ..keyschedule import next_traffic_secret, resumption_psk, traffic_keys
from ..messages.extensions import EarlyDataIndication, U16List, find_typed
from ..messages.handshake import (
    Certificate13,
    CertificateEntry,
    CertificateRequest13,
    CertificateVerify,
    KeyUpdate,
    NewSessionTicket13,
)
from ..record import Tls13Protection
from .common import CLIENT_CERTIFICATE_VERIFY, Engine, State, certificate_verify_content

if TYPE_CHECKING:
    from ..certs import CertifiedKey
    from ..config import ClientConfig


class Connected13(State):
    """The handshake is over: application data flows; KeyUpdate and (client side)
    NewSessionTicket may arrive."""

    accepts_application_data = True
    connected = True

    def __init__(self, suite: Suite, *, client_secret: bytes, server_secret: bytes,
                 resumption_master_secret: bytes, is_client: bool) -> None:
        self.suite = suite
        self.is_client = is_client
        self._client_secret = client_secret
        self._server_secret = server_secret
        self.resumption_master_secret = resumption_master_secret
        self.expects = ({H.key_update: KeyUpdate.parse,
                         H.new_session_ticket: NewSessionTicket13.parse}
                        if is_client else {H.key_update: KeyUpdate.parse})

    def handle(self, engine: Engine, message: Any) -> State:
        if isinstance(message, KeyUpdate):
            return self._key_update(engine, message)
        assert isinstance(message, NewSessionTicket13)
        return self._session_ticket(engine, message)

    def _key_update(self, engine: Engine, message: KeyUpdate) -> State:
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
        engine.trace(t.KEY_UPDATE, t.RECEIVED, {"update_requested": message.update_requested})
        if message.update_requested:
            # RFC 8446 §4.6.3: answer with our own update, not requesting another.
            self.send_key_update(engine, False)
            engine.emit(KeyUpdated("write", False))
        return self

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
        engine.trace(t.KEY_UPDATE, t.SENT, {"update_requested": request_peer_update})

    def _session_ticket(self, engine: Engine, message: NewSessionTicket13) -> State:
        # RFC 8446 §4.6.1: lifetime at most seven days.
        if message.ticket_lifetime > 604800:
            raise PeerMisbehaved("ticket lifetime over seven days",
                                 AlertDescription.illegal_parameter)
        early = find_typed(message.extensions, X.early_data, EarlyDataIndication)
        max_early = early.max_early_data_size or 0 if early is not None else 0
        psk = resumption_psk(self.suite, self.resumption_master_secret, message.ticket_nonce)
        engine.emit(SessionTicketReceived(
            lifetime=message.ticket_lifetime, ticket=message.ticket,
            age_add=message.ticket_age_add, nonce=message.ticket_nonce,
            max_early_data_size=max_early,
            session={"suite": self.suite.id, "psk": psk},
        ))
        engine.trace(t.NEW_SESSION_TICKET, t.RECEIVED, {
            "lifetime": message.ticket_lifetime, "ticket_bytes": len(message.ticket),
            "max_early_data_size": max_early})
        return self


def client_certificate_flight(engine: Engine, config: ClientConfig,
                              request: CertificateRequest13, suite: Suite) -> None:
    """RFC 8446 §4.4.2-4.4.3: the client's Certificate (possibly empty) and, when it
    has one that fits the request, its CertificateVerify."""
    schemes_ext = find_typed(request.extensions, X.signature_algorithms, U16List)
    offered = schemes_ext.values if schemes_ext is not None else ()
    certified = config.certificate
    scheme = (choose_signature_scheme(certified, offered, config.signature_schemes, tls13=True)
              if certified else None)
    if certified is None or scheme is None:
        engine.send_handshake(Certificate13(request.certificate_request_context, ()))
        engine.trace(t.CERTIFICATE, t.SENT, {"chain": [], "note": "no client certificate"})
        return
    from ..certs import describe_certificate

    engine.send_handshake(Certificate13(
        request.certificate_request_context,
        tuple(CertificateEntry(der) for der in certified.chain_der)))
    engine.trace(t.CERTIFICATE, t.SENT, {
        "chain": [describe_certificate(c) for c in certified.chain]})
    content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY, engine.transcript.digest())
    signature = signatures.sign(certified.private_key, scheme, content)
    engine.send_handshake(CertificateVerify(scheme, signature))
    engine.trace(t.CERTIFICATE_VERIFY, t.SENT, {
        "signature_scheme": describe(SignatureScheme, scheme),
        "signature_bytes": len(signature)})


def choose_signature_scheme(certified: CertifiedKey, offered: tuple[int, ...],
                            ours: tuple[int, ...], tls13: bool) -> int | None:
    """The first of our schemes that the peer offered and the key can make.

    TLS 1.2 lets an ECDSA key sign with any hash; the curve's own hash is still
    preferred, so the strict (TLS 1.3) match is tried first.
    """
    for strict in (True, False) if not tls13 else (True,):
        for scheme in ours:
            if scheme in offered and signatures.scheme_fits_key(
                scheme, certified.private_key, tls13=strict, rsa_pss_key=certified.rsa_pss_key
            ) and (tls13 or not strict or signatures.SCHEMES[scheme].tls13_signatures):
                return scheme
    return None
