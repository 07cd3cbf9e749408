"""Client certificates (mutual TLS), for both versions and both sides: what the
server asks for, how the client picks a certificate, and how the server checks
the chain and the CertificateVerify signature (RFC 8446 §4.3.2, §4.4.2-3;
RFC 5246 §7.4.4, §7.4.6, §7.4.8)."""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from .. import certs, trace as t
from ..certs import CertifiedKey
from ..config import CertificateRequestInfo, ClientConfig, ServerConfig
from ..constants import TLS13, ExtensionType as X, SignatureScheme, describe
from ..crypto import signatures
from ..errors import (
    CertificateRequired,
    HandshakeFailure,
    IllegalParameter,
    UsageError,
)
from ..messages.extensions import CertificateAuthorities, Extension, U16List, find_typed
from ..messages.handshake import (
    Certificate13,
    CertificateEntry,
    CertificateRequest13,
    CertificateVerify,
    Message,
    serialize,
)
from ..trust import Purpose
from . import compressed
from .common import (
    CLIENT_CERTIFICATE_VERIFY,
    certificate_verify_content,
    choose_signature_scheme,
    describe_chain,
    verify_peer_chain,
)
from .engine import Engine
from .transcript import Transcript


def request_extensions(config: ServerConfig) -> tuple[Extension, ...]:
    """TLS 1.3 CertificateRequest extensions: our schemes, acceptable CAs and the
    certificate compression we can undo (RFC 8879 §3)."""
    extensions: list[Extension] = [U16List(X.signature_algorithms, config.signature_schemes)]
    if config.client_ca_names:
        extensions.append(CertificateAuthorities(
            tuple(certs.name_der(name) for name in config.client_ca_names)))
    extensions += compressed.extension(config.certificate_compression)
    return tuple(extensions)


def request_extension_types(config: ServerConfig) -> frozenset[int]:
    """What our CertificateRequest asked for: a client's CertificateEntry may answer
    only these (RFC 8446 §4.4.2)."""
    return frozenset(extension.type for extension in request_extensions(config))


def pick_client_certificate(config: ClientConfig, authorities: tuple[bytes, ...],
                            schemes: tuple[int, ...], version: int
                            ) -> tuple[CertifiedKey, int] | None:
    """The configured certificate (or the callback's choice) with a scheme the
    server accepts; None when there is nothing suitable to send."""
    certified = config.certificate
    if config.certificate_callback is not None:
        certified = config.certificate_callback(
            CertificateRequestInfo(authorities, schemes, version))
    if certified is None:
        return None
    scheme = choose_signature_scheme(certified, schemes, config.signature_schemes,
                                     tls13=version == TLS13)
    return (certified, scheme) if scheme is not None else None


def check_client_chain(engine: Engine, config: ServerConfig, chain_der: tuple[bytes, ...],
                       version: int) -> tuple[list[x509.Certificate], tuple[bytes, ...]] | None:
    """Verify the client's chain; None when it sent none and that is allowed."""
    if not chain_der:
        engine.trace(t.CERTIFICATE_VERIFICATION, t.LOCAL, {
            "result": "no client certificate", "policy": config.client_auth})
        if config.client_auth == "required":
            # RFC 8446 §4.4.2.4: certificate_required; TLS 1.2 has handshake_failure.
            missing = CertificateRequired if version == TLS13 else HandshakeFailure
            raise missing("the client sent no certificate, but one is required")
        return None
    chain = certs.parse_chain(chain_der)
    engine.note(chain=lambda: describe_chain(chain))
    if config.client_trust is None:
        raise UsageError("client certificates need ServerConfig.client_trust")
    return chain, verify_peer_chain(engine, config, config.client_trust, chain, chain_der,
                                    Purpose.CLIENT, peer="client")


def check_client_signature(engine: Engine, config: ServerConfig,
                           certificate: x509.Certificate, scheme: int, content: bytes,
                           signature: bytes, tls13: bool) -> None:
    key = certs.leaf_public_key(certificate)
    if scheme not in config.signature_schemes or not signatures.scheme_fits_key(
        scheme, key, tls13=tls13, rsa_pss_key=certs.is_rsa_pss_key(certificate)
    ):
        raise IllegalParameter(f"client CertificateVerify uses "
                               f"{describe(SignatureScheme, scheme)}, "
                               "which was not requested or does not fit its key")
    signatures.verify(key, scheme, content, signature)
    engine.note(result="signature verified", key=lambda: signatures.describe_key(key))


def send_client_certificate13(engine: Engine, config: ClientConfig,
                              request: CertificateRequest13,
                              send: Callable[[Message], bytes], transcript: Transcript) -> None:
    """RFC 8446 §4.4.2-4.4.3: the client's Certificate (empty when it has nothing
    suitable) and, with a certificate, its CertificateVerify. ``send`` adds each
    message to ``transcript`` (the handshake's, or a post-handshake fork)."""
    schemes_ext = find_typed(request.extensions, X.signature_algorithms, U16List)
    authorities_ext = find_typed(request.extensions, X.certificate_authorities,
                                 CertificateAuthorities)
    picked = pick_client_certificate(
        config, authorities_ext.names if authorities_ext else (),
        schemes_ext.values if schemes_ext else (), TLS13)
    context = request.certificate_request_context
    if picked is None:
        send(Certificate13(context, ()))
        engine.note(chain=[], note="no suitable client certificate")
        return
    certified, scheme = picked
    # The handshake's Certificate is the same in every handshake (empty context);
    # a post-handshake one carries the request's context.
    message = (certified.certificate_message(tls13=True) if not context else serialize(
        Certificate13(context, tuple(CertificateEntry(der) for der in certified.chain_der))))
    compressed.send_certificate(engine, message, compressed.peer_algorithms(request.extensions),
                                config.certificate_compression, send, cached=not context)
    engine.note(chain=lambda: describe_chain(certified.chain))
    content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY, transcript.digest())
    send(CertificateVerify(scheme, signatures.sign(certified.private_key, scheme, content)))
