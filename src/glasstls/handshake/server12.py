"""The TLS 1.2 server (RFC 5246 §7.3): one class per state.

    ClientHello (from server13.ExpectClientHello) -> our flight: ServerHello
       Certificate [ServerKeyExchange] [CertificateRequest] ServerHelloDone
    -> [ExpectCertificate] -> ExpectClientKeyExchange -> [ExpectCertificateVerify]
    -> ExpectChangeCipherSpec -> ExpectFinished -> (ChangeCipherSpec Finished) Connected12
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import trace as t
from ..certs import CertifiedKey, describe_certificate
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
from ..errors import AlertDescription, PeerIncompatible, PeerMisbehaved, illegal
from ..events import HandshakeComplete
from ..messages.extensions import (
    ALPN,
    Empty,
    Extension,
    RenegotiationInfo,
    U8List,
    U16List,
    find,
    find_typed,
)
from ..messages.handshake import (
    Certificate12,
    ClientHello,
    ClientKeyExchangeECDHE,
    ClientKeyExchangeRSA,
    EmptyMessage,
    Finished,
    ServerHello,
    ServerKeyExchangeECDHE,
    check_finished_length,
)
from .common import Engine, State, choose_alpn, choose_signature_scheme, decode_alpn
from .post12 import (
    Connected12,
    Tls12Keys,
    finish_handshake12,
    install_tls12_keys,
    verify_finished12,
)
from .server13 import server_name_of


@dataclass
class Server12:
    config: ServerConfig
    hello: ClientHello
    suite: Suite
    certified: CertifiedKey
    server_random: bytes
    extended_master_secret: bool
    group: int | None = None
    share: PrivateShare | None = None
    signature_scheme: int | None = None
    alpn: bytes | None = None
    server_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _choose(config: ServerConfig, hello: ClientHello
            ) -> tuple[Suite, CertifiedKey, int | None, int | None]:
    """Suite, certificate, ECDHE group and signature scheme: the first suite (in the
    preferred order) for which we have everything it needs."""
    groups_ext = find_typed(hello.extensions, X.supported_groups, U16List)
    # RFC 8422 §4: without supported_groups, the client is assumed to accept P-256.
    client_groups = groups_ext.values if groups_ext else (NamedGroup.secp256r1,)
    groups = ([g for g in config.groups if g in client_groups and GROUPS[g].tls12]
              if config.server_preference
              else [g for g in client_groups if g in config.groups and g in GROUPS
                    and GROUPS[g].tls12])
    schemes_ext = find_typed(hello.extensions, X.signature_algorithms, U16List)
    # RFC 5246 §7.4.1.4.1: no extension means SHA-1, which we do not accept.
    client_schemes = schemes_ext.values if schemes_ext else ()
    ours = config.tls12_suites
    order = ([s for s in ours if s in hello.cipher_suites] if config.server_preference
             else [s for s in hello.cipher_suites if s in ours])
    for suite_id in order:
        suite = SUITES[suite_id]
        for certified in config.certificates:
            kind = signatures.describe_key(certified.private_key).split()[0]
            if kind != suite.authentication:
                continue
            if suite.key_exchange == "RSA":
                return suite, certified, None, None
            scheme = choose_signature_scheme(certified, client_schemes, config.signature_schemes,
                                             tls13=False)
            if groups and scheme is not None:
                return suite, certified, groups[0], scheme
    rsa_offered = any(SUITES.get(s) and SUITES[s].key_exchange == "RSA"
                      for s in hello.cipher_suites)
    hint = (" (the client offers RSA key exchange, which is disabled here)"
            if rsa_offered and not config.enable_rsa_key_exchange else "")
    raise PeerIncompatible("no TLS 1.2 cipher suite, group and certificate in common" + hint)


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
    suite, certified, group, scheme = _choose(config, hello)
    formats = find_typed(hello.extensions, X.ec_point_formats, U8List)
    if group is not None and formats is not None and 0 not in formats.values:
        raise illegal("client does not accept uncompressed EC points")
    engine.transcript.set_hash(suite.hash_name)

    random = config.rng(32)
    if TLS13 in config.versions:
        # RFC 8446 §4.1.3: tell a TLS 1.3 client that we were asked for TLS 1.2 only.
        random = random[:24] + DOWNGRADE_TLS12
    s = Server12(config, hello, suite, certified, random, ems, group=group,
                 signature_scheme=scheme)
    alpn_ext = find_typed(hello.extensions, X.application_layer_protocol_negotiation, ALPN)
    s.alpn = choose_alpn(config.alpn_protocols, alpn_ext.protocols if alpn_ext else ())
    s.server_name = server_name_of(hello)

    extensions: list[Extension] = []
    if secure_renegotiation:
        extensions.append(RenegotiationInfo(b""))
    if ems:
        extensions.append(Empty(X.extended_master_secret))
    if group is not None and formats is not None:
        extensions.append(U8List(X.ec_point_formats, b"\x00"))
    if s.alpn is not None:
        extensions.append(ALPN((s.alpn,)))
    if s.server_name is not None:
        extensions.append(Empty(X.server_name))
    engine.send_handshake(ServerHello(TLS12, random, b"", suite.id, 0, tuple(extensions)))
    engine.trace(t.SERVER_HELLO, t.SENT, {
        "version": "TLS 1.2", "cipher_suite": suite.name, "key_exchange": suite.key_exchange,
        "random": random.hex(), "extended_master_secret": ems,
        "downgrade_sentinel": TLS13 in config.versions,
        "extensions": [describe(X, e.type) for e in extensions]})

    engine.send_handshake(Certificate12(certified.chain_der))
    engine.trace(t.CERTIFICATE, t.SENT, {
        "chain": [describe_certificate(c) for c in certified.chain]})
    if group is not None:
        assert scheme is not None
        s.share = GROUPS[group].generate(config.rng)
        params = ServerKeyExchangeECDHE(group, s.share.public, scheme, b"").params
        signature = signatures.sign(certified.private_key, scheme,
                                    hello.random + random + params)
        engine.send_handshake(ServerKeyExchangeECDHE(group, s.share.public, scheme, signature))
        engine.trace(t.SERVER_KEY_EXCHANGE, t.SENT, {
            "group": describe(NamedGroup, group), "server_public_bytes": len(s.share.public),
            "signature_scheme": describe(SignatureScheme, scheme),
            "signature_bytes": len(signature)})
    engine.send_handshake(EmptyMessage(H.server_hello_done))
    engine.trace(t.SERVER_HELLO_DONE, t.SENT, {})
    return ExpectClientKeyExchange(s)


class _Tls12ServerState(State):
    def __init__(self, s: Server12) -> None:
        self.s = s


def _parse_client_key_exchange(s: Server12) -> Any:
    return ClientKeyExchangeRSA.parse if s.suite.key_exchange == "RSA" else (
        ClientKeyExchangeECDHE.parse)


class ExpectClientKeyExchange(_Tls12ServerState):
    def __init__(self, s: Server12) -> None:
        super().__init__(s)
        self.expects = {H.client_key_exchange: _parse_client_key_exchange(s)}

    def handle(self, engine: Engine, message: Any) -> State:
        s = self.s
        suite, config = s.suite, s.config
        if isinstance(message, ClientKeyExchangeRSA):
            # RFC 5246 §7.4.7.1: one path for every outcome; see crypto/rsa_kx.py.
            pre_master_secret = rsa_kx.decrypt_pre_master_secret(
                s.certified.private_key, message.encrypted_pre_master_secret,
                s.hello.legacy_version, config.rng)
            engine.trace(t.CLIENT_KEY_EXCHANGE, t.RECEIVED, {
                "key_exchange": "RSA",
                "encrypted_pre_master_secret_bytes": len(message.encrypted_pre_master_secret),
                "encrypted_pre_master_secret": message.encrypted_pre_master_secret.hex(),
                "server_key": signatures.describe_key(s.certified.private_key)},
                {"pre_master_secret": pre_master_secret})
        else:
            assert s.share is not None and s.group is not None
            pre_master_secret = s.share.complete(message.public)
            engine.trace(t.CLIENT_KEY_EXCHANGE, t.RECEIVED, {
                "key_exchange": "ECDHE", "group": describe(NamedGroup, s.group),
                "client_public_bytes": len(message.public)})
            engine.trace(t.KEY_EXCHANGE, t.LOCAL, {
                "group": describe(NamedGroup, s.group), "hybrid": False,
                "client_share_bytes": len(message.public),
                "server_share_bytes": len(s.share.public),
                "shared_secret_bytes": len(pre_master_secret)},
                {"pre_master_secret": pre_master_secret})
        if s.extended_master_secret:
            master = prf.extended_master_secret(suite.hash_name, pre_master_secret,
                                                engine.transcript.digest())
        else:
            master = prf.master_secret(suite.hash_name, pre_master_secret, s.hello.random,
                                       s.server_random)
        engine.keylog("CLIENT_RANDOM", s.hello.random, master)
        keys = install_tls12_keys(engine, suite, master, s.hello.random, s.server_random,
                                  is_client=False, extended=s.extended_master_secret)
        return ExpectChangeCipherSpec(s, master, keys)


class ExpectChangeCipherSpec(_Tls12ServerState):
    def __init__(self, s: Server12, master: bytes, keys: Tls12Keys) -> None:
        super().__init__(s)
        self.master = master
        self.keys = keys

    def handle_change_cipher_spec(self, engine: Engine) -> State:
        engine.install_read(self.keys.client_write)
        return ExpectFinished(self.s, self.master, self.keys)

    def describe(self) -> str:
        return "expecting ChangeCipherSpec"


class ExpectFinished(_Tls12ServerState):
    expects = {H.finished: Finished.parse}

    def __init__(self, s: Server12, master: bytes, keys: Tls12Keys) -> None:
        super().__init__(s)
        self.master = master
        self.keys = keys

    def handle(self, engine: Engine, message: Finished) -> State:
        s = self.s
        check_finished_length(message, 12)
        verify_finished12(engine, s.suite, self.master, message, from_client=True)
        engine.send_change_cipher_spec()
        engine.install_write(self.keys.server_write)
        verify_data = prf.finished_verify_data(s.suite.hash_name, self.master, False,
                                               engine.transcript.digest())
        engine.send_handshake(Finished(verify_data))
        engine.trace(t.FINISHED, t.SENT, {"verify_data_bytes": len(verify_data)})
        connected = Connected12(is_client=False)
        finish_handshake12(engine, connected, s.suite, self.master, s.hello.random,
                           s.server_random, HandshakeComplete(
            version="TLSv1.2", cipher_suite=s.suite.name,
            key_exchange="RSA" if s.suite.key_exchange == "RSA" else (
                f"ECDHE {describe(NamedGroup, s.group or 0)}"),
            group=describe(NamedGroup, s.group) if s.group is not None else None,
            signature_scheme=describe(SignatureScheme, s.signature_scheme)
            if s.signature_scheme is not None else None,
            alpn_protocol=decode_alpn(s.alpn) if s.alpn else None,
            server_name=s.server_name, peer_certificates=(),
            extended_master_secret=s.extended_master_secret,
        ))
        return connected

