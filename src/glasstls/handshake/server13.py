"""The TLS 1.3 server (RFC 8446 §2, §4), and version negotiation for both versions.

    ExpectClientHello -> [HelloRetryRequest: ExpectClientHelloAfterRetry]
    -> (ServerHello, EncryptedExtensions, Certificate, CertificateVerify, Finished)
    -> ExpectFinished -> Connected

A ClientHello that does not offer TLS 1.3 (or a server without it) goes to ``server12``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from .. import trace as t
from ..certs import CertifiedKey, describe_certificate
from ..config import ServerConfig
from ..constants import (
    HELLO_RETRY_REQUEST_RANDOM,
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
from ..errors import (
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    MissingExtension,
    UnexpectedMessage,
    UnsupportedProtocolVersion,
)
from ..events import HandshakeComplete
from ..keyschedule import KeySchedule, finished_verify_data, traffic_keys
from ..messages.extensions import (
    ALPN,
    EarlyDataIndication,
    Empty,
    Extension,
    KeyShare,
    KeyShareEntry,
    Opaque16,
    PreSharedKey,
    RecordSizeLimit,
    ServerNameList,
    SupportedVersions,
    U8List,
    U16List,
    check_allowed,
    find,
    find_typed,
)
from ..messages.handshake import (
    Certificate13,
    CertificateRequest13,
    CertificateVerify,
    ClientHello,
    EmptyMessage,
    EncryptedExtensions,
    Finished,
    ServerHello,
    check_finished_length,
    parse_empty,
)
from ..record import Tls13Protection
from .client_auth import check_client_chain, check_client_signature, request_extensions
from .client_hello import describe_client_hello
from .common import (
    CLIENT_CERTIFICATE_VERIFY,
    SERVER_CERTIFICATE_VERIFY,
    Engine,
    State,
    certificate_verify_content,
    choose_alpn,
    choose_signature_scheme,
    decode_alpn,
    trace_key_derivation13,
)
from .post13 import Connected13
from .psk13 import AcceptedPsk, choose_psk, early_data_acceptable, issue_tickets


@dataclass
class ServerHandshake:
    config: ServerConfig
    client_hello: ClientHello
    suite: Suite
    group: int | None = None
    certified: CertifiedKey | None = None
    signature_scheme: int | None = None
    alpn: bytes | None = None
    server_name: str | None = None
    schedule: KeySchedule | None = None
    client_handshake_secret: bytes = b""
    client_application_secret: bytes = b""
    server_application_secret: bytes = b""
    retried: bool = False
    psk: AcceptedPsk | None = None
    early_data_accepted: bool = False
    peer_chain: tuple[bytes, ...] = ()
    verified_chain: tuple[bytes, ...] = ()
    peer_certificate: x509.Certificate | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _negotiate_version(config: ServerConfig, hello: ClientHello) -> int:
    versions = find_typed(hello.extensions, X.supported_versions, SupportedVersions)
    if versions is not None:
        # RFC 8446 §4.2.1: supported_versions decides; legacy_version is ignored.
        for version in (TLS13, TLS12):
            if version in versions.versions and version in config.versions:
                return version
    elif hello.legacy_version >= TLS12 and TLS12 in config.versions:
        return TLS12
    raise UnsupportedProtocolVersion("no protocol version in common (the client offers "
                                     + (", ".join(f"0x{v:04x}" for v in versions.versions)
                                     if versions else f"up to 0x{hello.legacy_version:04x}") + ")")


def server_name_of(hello: ClientHello) -> str | None:
    sni = find_typed(hello.extensions, X.server_name, ServerNameList)
    if sni is None or not sni.host_name:
        return None
    try:
        return sni.host_name.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("server_name is not ASCII") from None


class ExpectClientHello(State):
    expects = {H.client_hello: ClientHello.parse}

    def handle(self, engine: Engine, message: ClientHello) -> State:
        config = engine.config
        assert isinstance(config, ServerConfig)
        if engine.tracing:
            engine.trace(t.CLIENT_HELLO, t.RECEIVED, describe_client_hello(message))
        from ..connection import ServerConnection

        assert isinstance(engine, ServerConnection)
        engine.client_hello = message
        engine.offered_cipher_suites = message.cipher_suites
        engine.client_random = message.random
        version = _negotiate_version(config, message)
        engine.set_version(version)
        if version == TLS12:
            from .server12 import handle_client_hello12

            return handle_client_hello12(engine, config, message)
        check_allowed(message.extensions, "CH")
        if message.legacy_compression_methods != b"\x00":
            # RFC 8446 §4.1.2: exactly the null compression method.
            raise IllegalParameter("TLS 1.3 ClientHello must offer only null compression")
        suite = _choose_suite(config, message.cipher_suites)
        engine.transcript.set_hash(suite.hash_name)
        hs = ServerHandshake(config, message, suite)
        return _process_hello(engine, hs, message)


class ExpectClientHelloAfterRetry(State):
    expects = {H.client_hello: ClientHello.parse}
    ignores_change_cipher_spec = True

    def __init__(self, hs: ServerHandshake) -> None:
        self.hs = hs

    def handle(self, engine: Engine, message: ClientHello) -> State:
        hs = self.hs
        first = hs.client_hello
        if engine.tracing:
            engine.trace(t.CLIENT_HELLO, t.RECEIVED, describe_client_hello(message))
        check_allowed(message.extensions, "CH")
        versions = find_typed(message.extensions, X.supported_versions, SupportedVersions)
        # RFC 8446 §4.1.2: the second hello repeats the first but for the key share,
        # the cookie, early data and padding.
        if (versions is None or TLS13 not in versions.versions
                or message.legacy_session_id != first.legacy_session_id
                or message.random != first.random
                or hs.suite.id not in message.cipher_suites
                or message.legacy_compression_methods != b"\x00"):
            raise IllegalParameter("second ClientHello is inconsistent with the first")
        if find(message.extensions, X.early_data) is not None:
            raise IllegalParameter("early_data in the second ClientHello")
        if engine.config.hello_retry_cookie:  # type: ignore[union-attr]
            cookie = find_typed(message.extensions, X.cookie, Opaque16)
            if cookie is None or not hmac.compare_digest(cookie.data, hs.extra["cookie"]):
                raise IllegalParameter("second ClientHello does not return our cookie")
        hs.client_hello = message
        engine.record.early_data_skip = 0
        return _process_hello(engine, hs, message)


def _choose_suite(config: ServerConfig, offered: tuple[int, ...]) -> Suite:
    ours = config.tls13_suites
    candidates = ([s for s in ours if s in offered] if config.server_preference
                  else [s for s in offered if s in ours])
    if not candidates:
        raise HandshakeFailure("no TLS 1.3 cipher suite in common")
    return SUITES[candidates[0]]


def _choose_group(config: ServerConfig, client_groups: tuple[int, ...],
                  shares: tuple[KeyShareEntry, ...]) -> tuple[int, KeyShareEntry | None]:
    """A group with a key share if there is one we like, else one to ask for (HRR)."""
    mutual = ([g for g in config.groups if g in client_groups] if config.server_preference
              else [g for g in client_groups if g in config.groups])
    if not mutual:
        raise HandshakeFailure("no key exchange group in common")
    by_group = {entry.group: entry for entry in shares}
    for group in mutual:
        if group in by_group:
            return group, by_group[group]
    return mutual[0], None


def _choose_certificate(config: ServerConfig, offered_schemes: tuple[int, ...]
                        ) -> tuple[CertifiedKey, int]:
    for certified in config.certificates:
        scheme = choose_signature_scheme(certified, offered_schemes, config.signature_schemes,
                                         tls13=True)
        if scheme is not None:
            return certified, scheme
    raise HandshakeFailure("no certificate and signature scheme the client accepts")


def _process_hello(engine: Engine, hs: ServerHandshake, hello: ClientHello) -> State:
    config = hs.config
    groups_ext = find_typed(hello.extensions, X.supported_groups, U16List)
    shares_ext = find_typed(hello.extensions, X.key_share, KeyShare)
    schemes_ext = find_typed(hello.extensions, X.signature_algorithms, U16List)
    # RFC 8446 §9.2: without PSK, these are mandatory.
    if groups_ext is None or shares_ext is None:
        raise MissingExtension("TLS 1.3 ClientHello without supported_groups and key_share")
    if schemes_ext is None and find(hello.extensions, X.pre_shared_key) is None:
        raise MissingExtension("TLS 1.3 ClientHello without signature_algorithms")
    for entry in shares_ext.entries:
        # RFC 8446 §4.2.8: shares only for groups in supported_groups.
        if entry.group not in groups_ext.values:
            raise IllegalParameter("key share for a group not in supported_groups")
    group, chosen = _choose_group(config, groups_ext.values, shares_ext.entries)
    if chosen is None:
        if hs.retried:
            raise IllegalParameter("second ClientHello lacks the key share we asked for")
        return _send_hello_retry(engine, hs, group)
    if hs.retried and (len(shares_ext.entries) != 1 or group != hs.group):
        raise IllegalParameter("second ClientHello must carry exactly the requested key share")
    hs.group = group
    alpn_ext = find_typed(hello.extensions, X.application_layer_protocol_negotiation, ALPN)
    hs.alpn = choose_alpn(config.alpn_protocols, alpn_ext.protocols if alpn_ext else ())
    hs.server_name = server_name_of(hello)
    modes = find_typed(hello.extensions, X.psk_key_exchange_modes, U8List)
    hs.extra["psk_modes"] = modes.values if modes else b""
    hs.psk = choose_psk(engine, config, hello, hs.suite, hs.extra.get("retry_prefix", b""),
                        can_dhe=True)
    if hs.psk is None:
        if schemes_ext is None:
            raise MissingExtension("TLS 1.3 ClientHello without signature_algorithms")
        hs.certified, hs.signature_scheme = _choose_certificate(config, schemes_ext.values)
    elif not hs.psk.dhe:
        chosen = None
        hs.group = None
    return _send_server_flight(engine, hs, chosen)


def _send_hello_retry(engine: Engine, hs: ServerHandshake, group: int) -> State:
    hs.retried = True
    hs.group = group
    extensions: list[Extension] = [
        SupportedVersions((TLS13,), selected=True),
        KeyShare(selected_group=group, where="HRR"),
    ]
    engine.transcript.restart_after_hello_retry()
    if hs.config.hello_retry_cookie:
        # The cookie binds the retry to this first ClientHello (RFC 8446 §4.2.2).
        secret = hs.config.cookie_secret
        if secret is None:
            secret = hs.config.rng(32)
        cookie = hmac.digest(secret, engine.transcript.digest(), "sha256")
        hs.extra["cookie"] = cookie
        extensions.append(Opaque16(X.cookie, cookie))
    retry = ServerHello(TLS12, HELLO_RETRY_REQUEST_RANDOM, hs.client_hello.legacy_session_id,
                        hs.suite.id, 0, tuple(extensions))
    engine.send_handshake(retry)
    hs.extra["retry_prefix"] = engine.transcript.messages()
    if engine.tracing:
        engine.trace(t.HELLO_RETRY_REQUEST, t.SENT, {
            "cipher_suite": hs.suite.name, "selected_group": describe(NamedGroup, group),
            "cookie_bytes": len(hs.extra.get("cookie", b""))})
    if find(hs.client_hello.extensions, X.early_data) is not None:
        # RFC 8446 §4.2.10: skip the client's 0-RTT records until its second hello.
        engine.record.early_data_skip = _skip_budget(hs.config)
    if hs.client_hello.legacy_session_id:
        # RFC 8446 Appendix D.4: our CCS follows our first handshake message.
        engine.send_change_cipher_spec()
        hs.extra["sent_ccs"] = True
    return ExpectClientHelloAfterRetry(hs)


def _skip_budget(config: ServerConfig) -> int:
    # Rejected early data is skipped up to max_early_data_size, and at least one
    # full record, since a ticket from another configuration may allow some.
    return max(config.max_early_data_size, 2**14 + 256)


def _send_server_flight(engine: Engine, hs: ServerHandshake, entry: KeyShareEntry | None
                        ) -> State:
    config, suite, hello = hs.config, hs.suite, hs.client_hello
    shared_secret: bytes | None = None
    extensions: list[Extension] = [SupportedVersions((TLS13,), selected=True)]
    if entry is not None:
        group = GROUPS[entry.group]
        server_share, shared_secret = group.respond(entry.key_exchange, config.rng)
        extensions.append(KeyShare((KeyShareEntry(entry.group, server_share),), where="SH"))
    if hs.psk is not None:
        extensions.append(PreSharedKey(selected_identity=hs.psk.index))
    random = config.rng(32)
    engine.send_handshake(ServerHello(TLS12, random, hello.legacy_session_id, suite.id, 0,
                                      tuple(extensions)))
    if engine.tracing:
        engine.trace(t.SERVER_HELLO, t.SENT, {
            "version": "TLS 1.3", "cipher_suite": suite.name,
            "group": describe(NamedGroup, entry.group) if entry else None,
            "random": random.hex(), "session_id_echo": hello.legacy_session_id.hex(),
            "resumed": hs.psk is not None,
            "extensions": [describe(X, e.type) for e in extensions]})
    if entry is not None and shared_secret is not None and engine.tracing:
        engine.trace(t.KEY_EXCHANGE, t.LOCAL, {
            "group": group.name, "hybrid": group.hybrid,
            "client_share_bytes": len(entry.key_exchange),
            "server_share_bytes": len(server_share),
            "shared_secret_bytes": len(shared_secret)}, {"shared_secret": shared_secret})
    if hello.legacy_session_id and not hs.extra.get("sent_ccs"):
        engine.send_change_cipher_spec()

    schedule = KeySchedule(suite, hs.psk.state.secret if hs.psk else None)
    early_data = hs.psk is not None and early_data_acceptable(
        engine, config, hello, hs.psk, suite, hs.alpn, hs.retried)
    if early_data:
        early_secret = schedule.client_early_traffic_secret(engine.transcript.digest_before_last())
        engine.keylog("CLIENT_EARLY_TRAFFIC_SECRET", hello.random, early_secret)
    elif find(hello.extensions, X.early_data) is not None:
        engine.record.early_data_skip = _skip_budget(config)
    schedule.enter_handshake(shared_secret)
    hs.schedule = schedule
    client_secret, server_secret = schedule.handshake_traffic_secrets(engine.transcript.digest())
    hs.client_handshake_secret = client_secret
    engine.keylog("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hello.random, client_secret)
    engine.keylog("SERVER_HANDSHAKE_TRAFFIC_SECRET", hello.random, server_secret)
    key, iv = traffic_keys(suite, server_secret)
    engine.install_write(Tls13Protection(suite, key, iv))
    if early_data:
        early_key, early_iv = traffic_keys(suite, early_secret)
        engine.install_read(Tls13Protection(suite, early_key, early_iv))
    else:
        client_key, client_iv = traffic_keys(suite, client_secret)
        engine.install_read(Tls13Protection(suite, client_key, client_iv))
    if engine.tracing:
        trace_key_derivation13(engine, "handshake", suite, "handshake_secret", schedule.secret,
                               {"client_handshake_traffic_secret": client_secret,
                                "server_handshake_traffic_secret": server_secret},
                               psk=hs.psk is not None)

    _send_encrypted_extensions(engine, hs, early_data)
    request_certificate = config.client_auth != "none" and hs.psk is None
    if request_certificate:
        engine.send_handshake(CertificateRequest13(b"", request_extensions(config)))
        if engine.tracing:
            engine.trace(t.CERTIFICATE_REQUEST, t.SENT, {
                "policy": config.client_auth, "ca_names": len(config.client_ca_names)})
    if hs.psk is None:
        _send_certificate(engine, hs)
    verify_data = finished_verify_data(suite, server_secret, engine.transcript.digest())
    engine.send_handshake(Finished(verify_data))
    if engine.tracing:
        engine.trace(t.FINISHED, t.SENT, {"verify_data_bytes": len(verify_data)})

    schedule.enter_master()
    finished_hash = engine.transcript.digest()
    client_app, server_app = schedule.application_traffic_secrets(finished_hash)
    hs.client_application_secret, hs.server_application_secret = client_app, server_app
    hs.extra["exporter"] = schedule.exporter_master_secret(finished_hash)
    engine.keylog("CLIENT_TRAFFIC_SECRET_0", hello.random, client_app)
    engine.keylog("SERVER_TRAFFIC_SECRET_0", hello.random, server_app)
    if config.keylog is not None:
        engine.keylog("EXPORTER_SECRET", hello.random, hs.extra["exporter"].value)
    key, iv = traffic_keys(suite, server_app)
    engine.install_write(Tls13Protection(suite, key, iv))
    if engine.tracing:
        trace_key_derivation13(engine, "application", suite, "master_secret", schedule.secret,
                               {"client_application_traffic_secret": client_app,
                                "server_application_traffic_secret": server_app,
                                "exporter_master_secret": hs.extra["exporter"].value})
    if early_data:
        hs.early_data_accepted = True
        return ExpectEarlyData(hs, request_certificate)
    return ExpectClientCertificate(hs) if request_certificate else ExpectFinished(hs)


def _send_encrypted_extensions(engine: Engine, hs: ServerHandshake, early_data: bool) -> None:
    """EncryptedExtensions: answers to what the client asked for."""
    config, hello = hs.config, hs.client_hello
    extensions: list[Extension] = []
    if hs.server_name is not None:
        extensions.append(Empty(X.server_name))
    if hs.alpn is not None:
        extensions.append(ALPN((hs.alpn,)))
    limit_ext = find_typed(hello.extensions, X.record_size_limit, RecordSizeLimit)
    if limit_ext is not None:
        # RFC 8449 §4: TLS 1.3 limits count the content type byte.
        engine.record.max_fragment = min(engine.record.max_fragment, limit_ext.limit - 1)
        extensions.append(RecordSizeLimit(config.record_size_limit or 2**14 + 1))
        if config.record_size_limit is not None:
            engine.record.read_limit = config.record_size_limit
    if early_data:
        extensions.append(EarlyDataIndication())
    engine.send_handshake(EncryptedExtensions(tuple(extensions)))
    if engine.tracing:
        engine.trace(t.ENCRYPTED_EXTENSIONS, t.SENT, {
            "extensions": [describe(X, e.type) for e in extensions],
            "alpn": decode_alpn(hs.alpn) if hs.alpn else None,
            "early_data": "accepted" if early_data else None})


def _send_certificate(engine: Engine, hs: ServerHandshake) -> None:
    certified, scheme = hs.certified, hs.signature_scheme
    assert certified is not None and scheme is not None
    engine.send_raw_handshake(certified.certificate_message(tls13=True))
    if engine.tracing:
        engine.trace(t.CERTIFICATE, t.SENT, {
            "chain": [describe_certificate(c) for c in certified.chain]})
    content = certificate_verify_content(SERVER_CERTIFICATE_VERIFY, engine.transcript.digest())
    signature = signatures.sign(certified.private_key, scheme, content)
    engine.send_handshake(CertificateVerify(scheme, signature))
    if engine.tracing:
        engine.trace(t.CERTIFICATE_VERIFY, t.SENT, {
            "signature_scheme": describe(SignatureScheme, scheme),
            "signature_bytes": len(signature),
            "key": signatures.describe_key(certified.private_key)})


class _ServerState(State):
    ignores_change_cipher_spec = True

    def __init__(self, hs: ServerHandshake) -> None:
        self.hs = hs


class ExpectEarlyData(_ServerState):
    """0-RTT data accepted: application data (marked early) until EndOfEarlyData."""

    expects = {H.end_of_early_data: parse_empty}
    accepts_application_data = True
    early_data = True

    def __init__(self, hs: ServerHandshake, request_certificate: bool) -> None:
        super().__init__(hs)
        self.request_certificate = request_certificate
        assert hs.psk is not None
        self.budget = min(hs.config.max_early_data_size, hs.psk.state.max_early_data_size)

    def account_early_data(self, length: int) -> None:
        self.budget -= length
        if self.budget < 0:
            # RFC 8446 §4.2.10: more than max_early_data_size is unexpected_message.
            raise UnexpectedMessage("more early data than max_early_data_size")

    def handle(self, engine: Engine, message: EmptyMessage) -> State:
        hs = self.hs
        key, iv = traffic_keys(hs.suite, hs.client_handshake_secret)
        engine.install_read(Tls13Protection(hs.suite, key, iv))
        if engine.tracing:
            engine.trace(t.KEY_DERIVATION, t.LOCAL, {"stage": "end of early data",
                                                      "note": "client handshake keys installed"})
        return ExpectClientCertificate(hs) if self.request_certificate else ExpectFinished(hs)


class ExpectClientCertificate(_ServerState):
    expects = {H.certificate: Certificate13.parse}

    def handle(self, engine: Engine, message: Certificate13) -> State:
        hs = self.hs
        if message.certificate_request_context:
            raise IllegalParameter("client Certificate has a request context during the handshake")
        checked = check_client_chain(engine, hs.config, message.chain, TLS13)
        if checked is None:
            return ExpectFinished(hs)
        chain, hs.verified_chain = checked
        hs.peer_chain, hs.peer_certificate = message.chain, chain[0]
        return ExpectClientCertificateVerify(hs)


class ExpectClientCertificateVerify(_ServerState):
    expects = {H.certificate_verify: CertificateVerify.parse}

    def handle(self, engine: Engine, message: CertificateVerify) -> State:
        hs = self.hs
        assert hs.peer_certificate is not None
        content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY,
                                             engine.transcript.digest_before_last())
        check_client_signature(engine, hs.config, hs.peer_certificate, message.algorithm,
                               content, message.signature, tls13=True)
        return ExpectFinished(hs)


class ExpectFinished(_ServerState):
    expects = {H.finished: Finished.parse}

    def handle(self, engine: Engine, message: Finished) -> State:
        hs = self.hs
        suite, schedule, config = hs.suite, hs.schedule, hs.config
        assert schedule is not None
        check_finished_length(message, suite.hash_len)
        expected = finished_verify_data(suite, hs.client_handshake_secret,
                                        engine.transcript.digest_before_last())
        if not constant_time_equal(expected, message.verify_data):
            raise DecryptError("client Finished does not verify")
        if engine.tracing:
            engine.trace(t.FINISHED, t.RECEIVED, {"verify_data_bytes": len(message.verify_data),
                                                  "result": "verified"})
        key, iv = traffic_keys(suite, hs.client_application_secret)
        engine.install_read(Tls13Protection(suite, key, iv))
        resumption_secret = schedule.resumption_master_secret(engine.transcript.digest())
        offered_pha = find(hs.client_hello.extensions, X.post_handshake_auth) is not None
        connected = Connected13(
            suite, client_secret=hs.client_application_secret,
            server_secret=hs.server_application_secret,
            resumption_master_secret=resumption_secret, is_client=False,
            post_handshake_auth=offered_pha,
            transcript=engine.transcript.fork() if offered_pha else None,
        )
        peer_chain = hs.psk.state.peer_certificates if hs.psk is not None else hs.peer_chain
        group = describe(NamedGroup, hs.group) if hs.group is not None else None
        from .client13 import finish_handshake13

        finish_handshake13(engine, connected, hs.extra["exporter"], HandshakeComplete(
            version="TLSv1.3", cipher_suite=suite.name,
            key_exchange=("PSK" + (f" + (EC)DHE {group}" if group else "")
                          if hs.psk is not None else f"(EC)DHE {group}"),
            group=group,
            signature_scheme=describe(SignatureScheme, hs.signature_scheme)
            if hs.signature_scheme is not None else None,
            alpn_protocol=decode_alpn(hs.alpn) if hs.alpn else None,
            server_name=hs.server_name, peer_certificates=peer_chain,
            resumed=hs.psk is not None, early_data_accepted=hs.early_data_accepted,
            verified_chain=hs.verified_chain,
        ))
        if hs.extra["psk_modes"]:
            # RFC 8446 §4.6.1: tickets only for clients that can use them.
            issue_tickets(engine, config, suite, resumption_secret.value, hs.alpn, hs.server_name,
                          peer_chain)
        return connected
