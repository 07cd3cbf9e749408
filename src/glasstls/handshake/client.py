"""The client's hello step, for both versions: the ClientHello (and 0-RTT data) goes
out, the ServerHello picks the version, and the handshake continues in ``client13``
or ``client12``. A HelloRetryRequest (TLS 1.3) is answered here, since it sends
another ClientHello and waits for the ServerHello again.

    start_client -> ExpectServerHello -> [HelloRetryRequest: ExpectServerHello]
    -> client13.handle_server_hello | client12.handle_server_hello
"""

from __future__ import annotations

import dataclasses
import hashlib

from .. import trace as t
from ..config import ClientConfig
from ..constants import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    TLS12,
    TLS13,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
    describe,
)
from ..crypto.suites import SUITES, Suite
from ..errors import (
    IllegalParameter,
    UnexpectedMessage,
    UnsupportedExtension,
    UnsupportedProtocolVersion,
)
from ..keyschedule import traffic_keys
from ..messages.extensions import KeyShare, Opaque16, SupportedVersions, check_allowed, find_typed
from ..messages.handshake import ServerHello
from ..record import Protection, Tls13Protection
from ..session import ClientSession
from . import client12, client13
from .client_hello import ClientOffer, build_client_hello, resumption_schedule, session_cache_key
from .engine import Engine, State


def _usable_session(config: ClientConfig, server_name: str | None,
                    session: ClientSession | None) -> ClientSession | None:
    if session is None or session.version not in config.versions:
        return None
    if not session.made_for(server_name):
        return None
    if session.cipher_suite not in config.cipher_suites:
        return None
    if session.version == TLS12 and session.cipher_suite not in config.tls12_suites:
        return None
    if session.expired(int(config.clock() * 1000)):
        return None
    return session


def start_client(engine: Engine, config: ClientConfig, server_name: str | None,
                 session: ClientSession | None) -> State:
    """Send the ClientHello (offering ``session``, or one from the cache)."""
    if session is None and config.session_cache is not None and server_name:
        session = config.session_cache.take(session_cache_key(config, server_name),
                                            int(config.clock() * 1000))
    given = session
    session = _usable_session(config, server_name, session)
    early = bool(session is not None and session.version == TLS13 and config.enable_early_data
                 and session.max_early_data_size > 0)
    hello = build_client_hello(config, server_name, session=session, early_data=early)
    offer = ClientOffer(config, server_name, hello, session, early)
    engine.send(hello.hello)
    if session is not None:
        kind = "TLS 1.3 ticket" if session.version == TLS13 else "TLS 1.2 session"
        engine.note(resumption=f"offering a {kind}" + (" with early data" if early else ""))
    elif given is not None and not given.made_for(server_name):
        engine.note(resumption=f"not offering the session given: it was made for "
                               f"{given.server_name or 'no server name'}")
    if early and session is not None:
        offer = _start_early_data(engine, offer, session)
    return ExpectServerHello(offer)


def _start_early_data(engine: Engine, offer: ClientOffer, session: ClientSession
                      ) -> ClientOffer:
    """RFC 8446 §2.3: 0-RTT data goes right after the ClientHello, under the
    client_early_traffic_secret of the PSK."""
    suite = SUITES[session.cipher_suite]
    schedule = resumption_schedule(session)
    hello_hash = hashlib.new(suite.hash_name, offer.hello.hello.raw).digest()
    secret = schedule.client_early_traffic_secret(hello_hash)
    engine.keylog("CLIENT_EARLY_TRAFFIC_SECRET", offer.hello.random, secret)
    if offer.config.middlebox_compatibility:
        engine.send_change_cipher_spec()
        offer = dataclasses.replace(offer, sent_change_cipher_spec=True)
    engine.install_write(Tls13Protection(suite, *traffic_keys(suite, secret)))
    engine.allow_early_data(session.max_early_data_size)
    engine.trace(t.KEY_DERIVATION, t.LOCAL, {
        "stage": "early data", "hash": suite.hash_name,
        "derived": {"client_early_traffic_secret": len(secret)},
        "max_early_data_size": session.max_early_data_size,
    }, {"client_early_traffic_secret": secret})
    return offer


class ExpectServerHello(State):
    expects = {H.server_hello: ServerHello.parse}
    ignores_change_cipher_spec = True

    def __init__(self, offer: ClientOffer, retry_suite: Suite | None = None) -> None:
        self.offer = offer
        # After a HelloRetryRequest: the suite it chose, which the ServerHello must repeat.
        self.retry_suite = retry_suite

    def handle(self, engine: Engine, message: ServerHello) -> State:
        offer = self.offer
        config = offer.config
        versions = find_typed(message.extensions, X.supported_versions, SupportedVersions)
        if versions is None:
            return self._tls12(engine, message)
        version = versions.versions[0]
        if version != TLS13 or TLS13 not in config.versions:
            # RFC 8446 §4.2.1: a version we did not offer is illegal_parameter.
            raise IllegalParameter(f"server selected version 0x{version:04x}, "
                                   "which was not offered")
        if message.legacy_version != TLS12:
            raise UnsupportedProtocolVersion("TLS 1.3 ServerHello legacy_version is not 0x0303")
        # RFC 8446 §4.1.3: echo of our session id, null compression, an offered suite.
        if message.legacy_session_id_echo != offer.hello.session_id:
            raise IllegalParameter("ServerHello does not echo our legacy_session_id")
        if message.legacy_compression_method != 0:
            raise IllegalParameter("ServerHello selected a compression method")
        suite = SUITES.get(message.cipher_suite)
        if suite is None or not suite.is_tls13 or message.cipher_suite not in config.cipher_suites:
            raise IllegalParameter(f"server selected cipher suite 0x{message.cipher_suite:04x}, "
                                   "which was not offered")
        if self.retry_suite is not None and suite.id != self.retry_suite.id:
            raise IllegalParameter("ServerHello suite differs from the HelloRetryRequest's")
        where = "HRR" if message.is_hello_retry_request else "SH"
        check_allowed(message.extensions, where)
        for extension in message.extensions:
            # RFC 8446 §4.2.2: a cookie may come in a HelloRetryRequest unasked.
            if extension.type not in offer.hello.offered_extensions and not (
                    where == "HRR" and extension.type == X.cookie):
                raise UnsupportedExtension(f"server sent extension {describe(X, extension.type)} "
                                           "that was not offered")
        engine.set_version(TLS13)
        engine.transcript.set_hash(suite.hash_name)
        if message.is_hello_retry_request:
            return self._retry(engine, message, suite)
        return client13.handle_server_hello(engine, offer, message, suite)

    def _tls12(self, engine: Engine, message: ServerHello) -> State:
        config = self.offer.config
        if message.is_hello_retry_request:
            raise IllegalParameter("HelloRetryRequest without supported_versions")
        if message.legacy_version != TLS12 or TLS12 not in config.versions or self.offer.retried:
            raise UnsupportedProtocolVersion(
                f"server selected version 0x{message.legacy_version:04x}, which is not enabled")
        # RFC 8446 §4.1.3: a TLS 1.3 client must detect a downgrade to 1.2 or below.
        if TLS13 in config.versions and message.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
            raise IllegalParameter("downgrade protection: the server supports TLS 1.3 but "
                                   "negotiated TLS 1.2 (ServerHello.random carries the sentinel)")
        return client12.handle_server_hello(engine, self.offer, message)

    def _retry(self, engine: Engine, message: ServerHello, suite: Suite) -> State:
        offer = self.offer
        config = offer.config
        if offer.retried:
            # RFC 8446 §4.1.4: a second HelloRetryRequest is unexpected_message.
            raise UnexpectedMessage("second HelloRetryRequest")
        key_share = find_typed(message.extensions, X.key_share, KeyShare)
        cookie = find_typed(message.extensions, X.cookie, Opaque16)
        group = key_share.selected_group if key_share is not None else None
        if group is not None:
            if group not in config.groups:
                raise IllegalParameter(f"HelloRetryRequest asks for group "
                                       f"{describe(NamedGroup, group)}, which was not offered")
            if group in offer.hello.key_shares:
                raise IllegalParameter("HelloRetryRequest asks for a key share we already sent")
        if group is None and cookie is None:
            # RFC 8446 §4.1.4: an HRR that would not change the ClientHello.
            raise IllegalParameter("HelloRetryRequest changes nothing")
        engine.transcript.restart_after_hello_retry()
        if offer.early_data:
            # RFC 8446 §4.2.10: early data is abandoned after a retry; the second
            # ClientHello goes in the clear.
            engine.allow_early_data(0)
            engine.install_write(Protection())
        session = offer.session
        if session is not None and session.version == TLS13 and (
                SUITES[session.cipher_suite].hash_name != suite.hash_name):
            session = None  # RFC 8446 §4.1.4: drop PSKs that do not fit the suite
        previous = offer.hello
        hello = build_client_hello(
            config, offer.server_name, random=previous.random, session_id=previous.session_id,
            key_share_groups=(group,) if group is not None else tuple(previous.key_shares),
            previous_shares=previous.key_shares, cookie=cookie.data if cookie else None,
            grease=previous.grease, session=session,
            transcript_prefix=engine.transcript.messages(),
        )
        sent_change_cipher_spec = offer.sent_change_cipher_spec
        if previous.session_id and config.middlebox_compatibility and not (
                sent_change_cipher_spec):
            # RFC 8446 Appendix D.4: the client's CCS goes before its second flight.
            engine.send_change_cipher_spec()
            sent_change_cipher_spec = True
        engine.send(hello.hello)
        return ExpectServerHello(dataclasses.replace(
            offer, hello=hello, session=session, retried=True,
            sent_change_cipher_spec=sent_change_cipher_spec), suite)


__all__ = ["ExpectServerHello", "start_client"]
