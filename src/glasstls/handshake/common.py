"""Protocol helpers both versions and both roles share: CertificateVerify content,
ALPN and signature scheme choice, the server name, and checking a server's chain."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509

from .. import certs, trace as t
from ..constants import ExtensionType as X, SignatureScheme, describe
from ..crypto import signatures
from ..errors import NoApplicationProtocol, TLSError, UnsupportedExtension
from ..messages.extensions import CT, ServerNameList, check_allowed, find_typed
from ..messages.handshake import Certificate13, ClientHello
from ..trust import Purpose
from ..trust.cache import verify_remembered
from .engine import Engine

if TYPE_CHECKING:
    from ..certs import CertifiedKey, TrustStore
    from ..config import ClientConfig, ServerConfig


def certificate_verify_content(context: bytes, transcript_hash: bytes) -> bytes:
    """RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the hash."""
    return b" " * 64 + context + b"\x00" + transcript_hash


SERVER_CERTIFICATE_VERIFY = b"TLS 1.3, server CertificateVerify"
CLIENT_CERTIFICATE_VERIFY = b"TLS 1.3, client CertificateVerify"


def decode_alpn(protocol: bytes | None) -> str | None:
    return protocol.decode("ascii", "backslashreplace") if protocol else None


def choose_alpn(ours: tuple[str, ...], offered: tuple[bytes, ...]) -> bytes | None:
    """RFC 7301 §3.2: the server picks one of the client's protocols, in its own
    order; ``None`` when either side has none, an alert when there is no overlap."""
    if not ours or not offered:
        return None
    for protocol in ours:
        encoded = protocol.encode()
        if encoded in offered:
            return encoded
    raise NoApplicationProtocol("no application protocol in common (ALPN)")


def choose_signature_scheme(certified: CertifiedKey, offered: tuple[int, ...],
                            ours: tuple[int, ...], tls13: bool) -> int | None:
    """The first of our schemes that the peer offered and the key can make.

    TLS 1.2 lets an ECDSA key sign with any hash; the curve's own hash is still
    preferred, so the strict (TLS 1.3) match is tried first.
    """
    # Kept with the certificate: clients send the same list handshake after
    # handshake, and walking it against ours was ~1% of a server's handshake.
    return certified.derived(("signature scheme", tuple(offered), tuple(ours), tls13),
                             lambda: _first_fitting_scheme(certified, offered, ours, tls13))


def _first_fitting_scheme(certified: CertifiedKey, offered: tuple[int, ...],
                          ours: tuple[int, ...], tls13: bool) -> int | None:
    offered_set = frozenset(offered)
    key, rsa_pss_key = certified.private_key, certified.rsa_pss_key  # read once, not per scheme
    for strict in (True, False) if not tls13 else (True,):
        for scheme in ours:
            if scheme in offered_set and signatures.scheme_fits_key(
                scheme, key, tls13=strict, rsa_pss_key=rsa_pss_key
            ) and (tls13 or not strict or signatures.SCHEMES[scheme].tls13_signatures) and (
                    tls13 or signatures.SCHEMES[scheme].tls12):
                return scheme
    return None


def check_certificate_extensions(message: Certificate13, requested: frozenset[int]) -> None:
    """RFC 8446 §4.4.2: CertificateEntry extensions answer the ClientHello (from a
    server) or the CertificateRequest (from a client); §4.2: one that was not asked
    for is unsupported_extension, one not allowed there illegal_parameter."""
    for entry in message.certificate_list:
        check_allowed(entry.extensions, CT)
        for extension in entry.extensions:
            if extension.type not in requested:
                raise UnsupportedExtension(f"certificate entry with extension "
                                           f"{describe(X, extension.type)}, which was not "
                                           "requested")


def left_out_scheme(candidates: Sequence[CertifiedKey], offered: tuple[int, ...],
                    tls13: bool) -> str:
    """Where no scheme fitted because of this side's own list: " (the client accepts
    NAME, which this server's signature_schemes leave out)", naming a scheme the client
    offered that a certificate's key can make; else ""."""
    for certified in candidates:
        scheme = choose_signature_scheme(certified, offered, offered, tls13)
        if scheme is not None:
            return (f" (the client accepts {describe(SignatureScheme, scheme)}, which this "
                    "server's signature_schemes leave out)")
    return ""


@functools.cache
def key_exchange13(group: str | None, resumed: bool) -> str:
    """``HandshakeComplete.key_exchange`` of a TLS 1.3 handshake. Made once per kind
    and shared: every established connection keeps its summary."""
    if not resumed:
        return f"(EC)DHE {group}"
    return f"PSK + (EC)DHE {group}" if group else "PSK"


def server_name_of(hello: ClientHello) -> str | None:
    """The host name the client asked for (checked ASCII when parsed), or None."""
    sni = find_typed(hello.extensions, X.server_name, ServerNameList)
    if sni is None or not sni.host_name:
        return None
    return sni.host_name.decode("ascii")


def describe_chain(chain: Sequence[x509.Certificate]) -> list[dict[str, Any]]:
    return [certs.describe_certificate(c) for c in chain]


def verify_peer_chain(engine: Engine, config: ClientConfig | ServerConfig, trust: TrustStore,
                      chain: list[x509.Certificate], received: Sequence[bytes],
                      purpose: Purpose, *, server_name: str | None = None,
                      check_name: bool = False, **shown: Any) -> tuple[bytes, ...]:
    """The verified path (DER, leaf first, anchor last) of a peer's chain (``chain``
    parsed from ``received``), remembered by the trust store unless the config says
    not to; the outcome is traced either way (``shown``: what the trace adds when it
    is ok)."""
    try:
        path = verify_remembered(trust, chain, received, purpose=purpose,
                                 server_name=server_name, check_name=check_name,
                                 options=config.verify_options, now=config.clock(),
                                 remember=config.verification_cache)
    except TLSError as error:
        engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, {
            "result": "failed", "reason": str(error), "alert": error.alert.name})
        raise
    engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, lambda: {
        "result": "ok", "trust_anchor": certs.describe_certificate(path[-1])["subject"],
        "path_length": len(path), **shown})
    return path_der(path, chain, received, trust)


def verify_server_certificates(engine: Engine, config: ClientConfig, server_name: str | None,
                               chain: list[x509.Certificate], received: Sequence[bytes]
                               ) -> tuple[bytes, ...]:
    """Check the server's chain as the config says; trace the outcome either way.
    Returns the verified path (DER, leaf first), empty when verification is off."""
    if not config.verify_certificates:
        engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, {
            "result": "skipped", "reason": "certificate verification is disabled"})
        return ()
    return verify_peer_chain(
        engine, config, config.trust_store(), chain, received, Purpose.SERVER,
        server_name=server_name, check_name=config.check_hostname,
        host_name=server_name if config.check_hostname else "(not checked)")


def path_der(path: list[x509.Certificate], chain: list[x509.Certificate],
             received: Sequence[bytes], trust: TrustStore) -> tuple[bytes, ...]:
    """A verified path as DER, leaf first, without encoding a certificate again:
    the peer's as received (``chain`` parsed from ``received``), the rest as the
    trust store keeps them. Path validation returns the objects it was given."""
    as_received = dict(zip(map(id, chain), received, strict=True))
    return tuple([as_received.get(id(c)) or trust.der(c) for c in path])
