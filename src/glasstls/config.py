"""Client and server configuration: immutable, validated once at construction.

Randomness and time come from here (``rng``, ``clock``, ``monotonic``) so that a
test can replay a handshake byte for byte.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509

from .certs import CertifiedKey, TrustStore
from .compression import DEFAULT_ALGORITHMS, check_algorithms
from .constants import TLS12, TLS13, CipherSuite, NamedGroup
from .crypto.groups import DEFAULT_GROUPS, DEFAULT_KEY_SHARES, GROUPS
from .crypto.signatures import DEFAULT_SCHEMES, SCHEMES, tls12_schemes
from .crypto.suites import (
    DEFAULT_TLS12_SUITES,
    DEFAULT_TLS13_SUITES,
    RSA_KEY_TRANSPORT_SUITES,
    SUITES,
)
from .errors import ConfigError, InternalError, UnrecognizedName
from .ocsp import STAPLING_MODES, StapleSource
from .recorder import RecorderFactory
from .servernames import ServerNames
from .session import AntiReplay, ServerSessionCache, SessionCache, TicketKeys
from .trace import TraceCallback
from .trust.policy import CrlCheck, VerifyOptions

if TYPE_CHECKING:
    from .handshake.client_hello import HelloTemplate
    from .messages.handshake import ClientHello

KeyLogCallback = Callable[[str], None]
# ServerConfig.select_certificate: (server name or None, ClientHello) -> the
# chains to choose from, or None for the configured ones.
CertificateSelector = Callable[
    [str | None, "ClientHello"], "Sequence[CertifiedKey] | CertifiedKey | None"]

# RSA key transport suites come last and are used only with enable_rsa_key_exchange.
DEFAULT_SUITES: tuple[int, ...] = (
    *DEFAULT_TLS13_SUITES, *DEFAULT_TLS12_SUITES, *RSA_KEY_TRANSPORT_SUITES,
)


def _check_common(config: ClientConfig | ServerConfig) -> None:
    if not config.versions or any(v not in (TLS12, TLS13) for v in config.versions):
        raise ConfigError("versions must be a non-empty subset of (TLS13, TLS12); "
                          "older versions are not supported")
    for suite in config.cipher_suites:
        if suite not in SUITES:
            raise ConfigError(f"unsupported cipher suite 0x{suite:04x}")
    if TLS13 in config.versions and not any(SUITES[s].is_tls13 for s in config.cipher_suites):
        raise ConfigError("TLS 1.3 is enabled but no TLS 1.3 cipher suite is")
    if TLS12 in config.versions and not any(
        not SUITES[s].is_tls13 for s in _tls12_suites(config)
    ) and TLS13 not in config.versions:
        raise ConfigError("TLS 1.2 is enabled but no usable TLS 1.2 cipher suite is")
    for group in config.groups:
        if group not in GROUPS:
            raise ConfigError(f"unsupported group 0x{group:04x}")
    if not config.groups:
        raise ConfigError("at least one key exchange group is needed")
    for scheme in config.signature_schemes:
        if scheme not in SCHEMES:
            raise ConfigError(f"unsupported signature scheme 0x{scheme:04x}")
    if TLS13 not in config.versions:
        # With TLS 1.2 alone, the TLS 1.3-only entries are left out of what is offered
        # and accepted; an empty list is not a valid extension (RFC 8422 §5.1.1 and
        # RFC 5246 §7.4.1.4.1 give both lists a minimum length), so refuse it here.
        if not any(GROUPS[g].tls12 for g in config.groups):
            raise ConfigError("TLS 1.2 is the only version enabled but none of the groups "
                              "can be used in TLS 1.2 (the ML-KEM hybrids are TLS 1.3 only)")
        if not tls12_schemes(config.signature_schemes):
            raise ConfigError("TLS 1.2 is the only version enabled but none of the signature "
                              "schemes can be used in TLS 1.2 (ML-DSA is TLS 1.3 only)")
    if config.record_size_limit is not None and not 64 <= config.record_size_limit <= 2**14 + 1:
        raise ConfigError("record_size_limit must be between 64 and 16385 (RFC 8449)")
    if config.record_padding_block < 0:
        raise ConfigError("record_padding_block must be >= 0")
    for protocol in config.alpn_protocols:
        if not 1 <= len(protocol.encode()) <= 255:
            raise ConfigError(f"ALPN protocol {protocol!r} must be 1..255 bytes")
    if config.crl_check not in ("none", "leaf", "chain"):
        raise ConfigError('crl_check must be "none", "leaf" or "chain"')
    check_algorithms(config.certificate_compression)


def _tls12_suites(config: ClientConfig | ServerConfig) -> tuple[int, ...]:
    suites = tuple(s for s in config.cipher_suites if not SUITES[s].is_tls13)
    if not config.enable_rsa_key_exchange:
        suites = tuple(s for s in suites if SUITES[s].key_exchange != "RSA")
    return suites


@dataclass(frozen=True)
class CertificateRequestInfo:
    """What the server asked for, given to ``ClientConfig.certificate_callback``."""

    # DER-encoded distinguished names; compare with ``name.public_bytes()``.
    certificate_authorities: tuple[bytes, ...]
    signature_schemes: tuple[int, ...]
    version: int

    def accepts_issuer(self, issuer: x509.Name) -> bool:
        """Whether a chain issued under ``issuer`` is acceptable (no names = any)."""
        return not self.certificate_authorities or (
            issuer.public_bytes() in self.certificate_authorities)


@dataclass(frozen=True)
class _Common:
    versions: tuple[int, ...] = (TLS13, TLS12)
    # TLS 1.3 and 1.2 suites in preference order; RSA key transport suites are
    # used only when ``enable_rsa_key_exchange`` is set.
    cipher_suites: tuple[int, ...] = DEFAULT_SUITES
    groups: tuple[int, ...] = DEFAULT_GROUPS
    signature_schemes: tuple[int, ...] = DEFAULT_SCHEMES
    alpn_protocols: tuple[str, ...] = ()
    # TLS 1.2 RSA key transport: no forward secrecy, so off unless asked for.
    enable_rsa_key_exchange: bool = False
    require_extended_master_secret: bool = False
    # RFC 8449: the largest record we are willing to receive.
    record_size_limit: int | None = None
    # TLS 1.3 record padding: pad each record's inner plaintext to a multiple.
    record_padding_block: int = 0
    keylog: KeyLogCallback | None = None
    trace: TraceCallback | None = None
    # Include secret values in trace events (for teaching and debugging only).
    trace_secrets: bool = False
    # Byte-level recording of each connection for ``glasstls explain`` (records
    # both ways and the secrets derived); None, the default, costs nothing.
    recorder: RecorderFactory | None = None
    rng: Callable[[int], bytes] = os.urandom
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    # Send a KeyUpdate after this many records under one key (default: the AEAD's
    # limit from RFC 8446 §5.5).
    key_update_after_records: int | None = None
    # Peer certificates: OpenSSL's RFC 5280 rules unless strict_web_pki asks for the
    # CA/B Forum profile; CRL checking ("none", "leaf" or "chain") against the trust
    # store's CRLs; whether trusted intermediates are anchors (partial chains).
    strict_web_pki: bool = False
    crl_check: str = "none"
    trust_partial_chain: bool = True
    # Remember successful chain verifications in the trust store (trust/cache.py): a
    # chain received again, byte for byte, for the same name and options, with no
    # certificate or CRL date passed since, is not validated again. The peer's
    # signature is checked on every handshake all the same.
    verification_cache: bool = True
    # TLS 1.3 certificate compression (RFC 8879), in preference order: the client
    # offers to decompress these and the server compresses its Certificate with the
    # first the client offers; the other way round for client certificates. By
    # default every codec installed (brotli and zstd need glasstls[compression]);
    # () turns it off.
    certificate_compression: tuple[int, ...] = DEFAULT_ALGORITHMS

    # Read on every handshake: computed once (a config never changes).
    @functools.cached_property
    def verify_options(self) -> VerifyOptions:
        return VerifyOptions(
            strict_web_pki=self.strict_web_pki, crl_check=CrlCheck(self.crl_check),
            hostname_checks_common_name=getattr(self, "hostname_checks_common_name", False),
            partial_chain=self.trust_partial_chain)

    @functools.cached_property
    def tls12_suites(self) -> tuple[int, ...]:
        return _tls12_suites(self)  # type: ignore[arg-type]

    @functools.cached_property
    def tls13_suites(self) -> tuple[int, ...]:
        return tuple(s for s in self.cipher_suites if SUITES[s].is_tls13)


@dataclass(frozen=True)
class ClientConfig(_Common):
    """How a client connects.

    >>> config = ClientConfig(trust=TrustStore.from_pem_file("ca.pem"), alpn_protocols=("h2",))
    """

    # Trust anchors; None means the system's store (loaded on first use).
    trust: TrustStore | None = None
    # Verify the server's chain; turning this off must be explicit.
    verify_certificates: bool = True
    check_hostname: bool = True
    # A certificate without subjectAltName matches by its common name (off, as
    # RFC 9525 §6.3 and browsers; ssl's hostname_checks_common_name).
    hostname_checks_common_name: bool = False
    # Groups to send key shares for in the first ClientHello; by default
    # X25519MLKEM768 and x25519 when enabled, else the first group.
    key_share_groups: tuple[int, ...] | None = None
    # RFC 8446 Appendix D.4: send a session id and a dummy ChangeCipherSpec.
    middlebox_compatibility: bool = True
    # RFC 8701: add GREASE values to the ClientHello.
    grease: bool = False
    # Client certificate for mutual TLS, or a callback that picks one when the
    # server asks (given its acceptable CA names and signature schemes).
    certificate: CertifiedKey | None = None
    certificate_callback: Callable[[CertificateRequestInfo], CertifiedKey | None] | None = None
    # TLS 1.3 post-handshake authentication (RFC 8446 §4.6.2): offer to answer
    # a CertificateRequest after the handshake.
    post_handshake_auth: bool = False
    # Sessions for resumption, by server name and ALPN; None turns resumption off.
    session_cache: SessionCache | None = field(default_factory=SessionCache)
    # Offer PSK-only resumption (psk_ke, no forward secrecy) besides psk_dhe_ke.
    allow_psk_ke: bool = False
    # 0-RTT: send early data with a resumed first flight (replayable: RFC 8446 §8).
    enable_early_data: bool = False
    # TLS 1.2 session tickets (RFC 5077).
    enable_session_tickets: bool = True
    # OCSP stapling (RFC 6066 §8, RFC 8446 §4.4.2.1): "off"; "request" a staple and,
    # when one comes, check it (revoked is certificate_revoked); "require" one with a
    # good status. A certificate with the TLS feature status_request (RFC 7633,
    # must-staple) requires one whenever stapling is not off.
    ocsp_stapling: str = "off"

    def __post_init__(self) -> None:
        _check_common(self)
        if self.ocsp_stapling not in STAPLING_MODES:
            raise ConfigError('ocsp_stapling must be "off", "request" or "require"')
        if self.key_share_groups is None:
            shares = tuple(g for g in DEFAULT_KEY_SHARES if g in self.groups) or self.groups[:1]
            object.__setattr__(self, "key_share_groups", shares)
        assert self.key_share_groups is not None
        for group in self.key_share_groups:
            if group not in self.groups:
                raise ConfigError(f"key share group 0x{group:04x} is not in groups")
        if TLS13 in self.versions and not self.key_share_groups:
            raise ConfigError("TLS 1.3 needs at least one key share group")

    # What every ClientHello of this config offers, with its bytes: made once (a
    # config never changes; two threads racing here build equal templates).
    @functools.cached_property
    def hello_template(self) -> HelloTemplate:
        from .handshake.client_hello import HelloTemplate  # the handshake imports config

        return HelloTemplate.of(self)

    def trust_store(self) -> TrustStore:
        if self.trust is not None:
            return self.trust
        global _SYSTEM_TRUST
        # Loaded once, by the first thread to ask; the others wait for it rather than
        # each parsing the system bundle (and racing on the warnings filters).
        with _SYSTEM_TRUST_LOCK:
            if _SYSTEM_TRUST is None:
                _SYSTEM_TRUST = TrustStore.system()
            return _SYSTEM_TRUST


_SYSTEM_TRUST: TrustStore | None = None
_SYSTEM_TRUST_LOCK = threading.Lock()


@dataclass(frozen=True)
class ServerConfig(_Common):
    """How a server answers.

    >>> config = ServerConfig(certificates=(CertifiedKey.from_files("cert.pem", "key.pem"),))
    """

    # One or more certificate chains; the server picks one that the client's
    # signature_algorithms allow (e.g. an ECDSA and an RSA chain side by side).
    certificates: tuple[CertifiedKey, ...] = ()
    # Virtual hosting (RFC 6066 §3): chains by the name the client sends, exact
    # ("example.com") or wildcard over one label ("*.example.com"). A client that
    # names none of them, or sends no name, gets ``certificates``; with no
    # ``certificates`` it is refused with unrecognized_name.
    server_names: Mapping[str, Sequence[CertifiedKey]] = field(default_factory=dict)
    # Or choose per connection: called with the name the client sent (None if
    # none) and its ClientHello before a chain is picked; returns the chains to
    # pick from (by the client's signature algorithms, as always), or None for
    # the two settings above. Raising a TLSError refuses the client with its alert.
    select_certificate: CertificateSelector | None = None
    name_table: ServerNames = field(init=False, repr=False, compare=False)
    # Choose suites and groups in our order rather than the client's.
    server_preference: bool = True
    # Send a cookie in HelloRetryRequest and require it back (RFC 8446 §4.2.2). The
    # cookie is an HMAC under cookie_secret, or under a key drawn from rng for each
    # HelloRetryRequest when there is none (the cookie is checked by the
    # connection that sent it, so a shared secret is not needed).
    hello_retry_cookie: bool = True
    cookie_secret: bytes | None = field(default=None, repr=False)
    # Keep the parsed ClientHello in ServerConnection.client_hello once it is
    # answered (for inspection pages and fingerprints); otherwise it is dropped when
    # the TLS 1.3 flight is out (TLS 1.2: when the handshake is done).
    keep_client_hello: bool = False
    # Client certificates: "none", "optional" or "required", checked against
    # client_trust; client_ca_names are sent as the acceptable authorities.
    client_auth: str = "none"
    client_trust: TrustStore | None = None
    client_ca_names: tuple[x509.Name, ...] = ()
    # Resumption: tickets sealed with rotating keys (shared between servers by
    # giving them the same TicketKeys secret; random keys come from rng); None
    # turns tickets off.
    ticket_keys: TicketKeys | None = field(default_factory=TicketKeys)
    tickets: int = 2  # TLS 1.3 NewSessionTickets per full handshake (1 after a resumption)
    ticket_lifetime: int = 7200  # seconds, at most 7 days (RFC 8446 §4.6.1)
    # TLS 1.2 session ids (bounded in size and time); None turns them off.
    session_cache: ServerSessionCache | None = field(default_factory=ServerSessionCache)
    allow_psk_ke: bool = False
    # 0-RTT: accept this many bytes of early data (0 = refuse early data).
    max_early_data_size: int = 0
    anti_replay: AntiReplay = field(default_factory=AntiReplay, repr=False)
    # OCSP staples for our certificates, sent to clients that ask (status_request):
    # ``StapleFile("leaf.ocsp")`` or ``StapleCallback(fetch)``; refreshed on expiry.
    ocsp_staple: StapleSource | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        object.__setattr__(self, "name_table", ServerNames(self.server_names))
        if not (self.certificates or self.name_table or self.select_certificate):
            raise ConfigError("a server needs at least one certificate chain and key")
        if self.client_auth not in ("none", "optional", "required"):
            raise ConfigError('client_auth must be "none", "optional" or "required"')
        if self.client_auth != "none" and self.client_trust is None:
            raise ConfigError("client_auth needs client_trust (the CAs for client certificates)")
        if not 0 <= self.ticket_lifetime <= 604800:
            raise ConfigError("ticket_lifetime must be between 0 and 604800 seconds")
        if not 0 <= self.max_early_data_size < 2**32:
            raise ConfigError("max_early_data_size must fit 32 bits")
        if self.enable_rsa_key_exchange and self.select_certificate is None and not any(
            _is_rsa(c) for c in self.all_certificates()
        ):
            raise ConfigError("RSA key exchange needs an RSA certificate")

    def all_certificates(self) -> list[CertifiedKey]:
        """Every configured chain: the default ones, then those by name."""
        return [*self.certificates, *(c for chains in self.server_names.values()
                                      for c in chains)]

    def certificates_for(self, server_name: str | None, client_hello: ClientHello
                         ) -> tuple[CertifiedKey, ...]:
        """The chains to answer a client that asked for ``server_name`` with
        (``select_certificate``, then ``server_names``, then ``certificates``)."""
        if self.select_certificate is not None:
            chosen = self.select_certificate(server_name, client_hello)
            if chosen is not None:
                chains = (chosen,) if isinstance(chosen, CertifiedKey) else tuple(chosen)
                if not chains or not all(isinstance(c, CertifiedKey) for c in chains):
                    raise InternalError("select_certificate returned no CertifiedKey")
                return chains
        found = self.name_table.lookup(server_name)
        if found is not None:
            return found
        if self.certificates:
            return self.certificates
        # RFC 6066 §3: a server that does not recognise the name may refuse it.
        raise UnrecognizedName(f"no certificate for the server name {server_name!r}")


def _is_rsa(certified: CertifiedKey) -> bool:
    from .crypto.signatures import describe_key

    return describe_key(certified.private_key).startswith("RSA")


__all__ = ["RSA_KEY_TRANSPORT_SUITES", "CipherSuite", "ClientConfig", "NamedGroup", "ServerConfig"]
