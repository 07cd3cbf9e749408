"""OCSP stapling in the handshake, both versions (RFC 6066 §8, RFC 8446 §4.4.2.1):
the status_request a client offers, the staple a server sends for the certificate
it chose, and the client's check of that staple after path validation.

The checks themselves are ocsp.py's; here is when they run and what a missing
staple means: nothing with ``ocsp_stapling="request"``, a refusal with "require" or
for a must-staple certificate (RFC 7633).
"""

from __future__ import annotations

from cryptography import x509

from .. import certs, trace as t
from ..certs import CertifiedKey
from ..config import ClientConfig, ServerConfig
from ..constants import CertificateStatusType, ExtensionType as X
from ..errors import TLSError
from ..messages.extensions import Extension, OCSPStatus, StatusRequest, find, find_typed
from ..messages.handshake import Certificate13, ClientHello
from ..ocsp import StapleCheck, check_staple, describe_response, refusal
from ..trust import CertificateReason
from .engine import Engine


def status_request(config: ClientConfig) -> list[Extension]:
    """RFC 6066 §8: ask for an OCSP staple (no responder ids, no extensions)."""
    return [StatusRequest()] if config.ocsp_stapling != "off" else []


def wants_staple(hello: ClientHello) -> bool:
    request = find_typed(hello.extensions, X.status_request, StatusRequest)
    return request is not None and request.status_type == CertificateStatusType.ocsp


def staple_for(engine: Engine, config: ServerConfig, certified: CertifiedKey,
               hello: ClientHello) -> bytes:
    """The staple to send with ``certified`` to a client that asked, or b"" (and
    the trace says why not)."""
    source = config.ocsp_staple
    if source is None or not wants_staple(hello):
        return b""
    staple = source.for_chain(certified.chain, certified.chain_der[0], config.clock())
    if staple is None:
        engine.trace(t.OCSP_STATUS, t.LOCAL, lambda: {
            "result": "no staple", "reason": source.last_problem or "the source has none"})
    return staple or b""


def note_staple(engine: Engine, der: bytes) -> None:
    """The trace of the message that carries our staple says what the staple says
    (status, serial, responder, dates): a server shows what it vouches with."""
    if engine.tracing:
        engine.note(**{f"staple_{key}": value for key, value in describe_response(der).items()
                       if key != "response_bytes"})


def leaf_staple(message: Certificate13) -> bytes | None:
    """TLS 1.3: the OCSP response in the leaf's CertificateEntry. One stapled to
    another entry is not ours to check (OpenSSL ignores those too)."""
    staple = find_typed(message.certificate_list[0].extensions, X.status_request, OCSPStatus)
    return staple.ocsp_response if staple is not None else None


def _must_staple(leaf: x509.Certificate) -> bool:
    feature = certs.extension_value(leaf, x509.TLSFeature)
    return feature is not None and x509.TLSFeatureType.status_request in feature


def _issuer(chain: list[x509.Certificate], verified_chain: tuple[bytes, ...]
            ) -> x509.Certificate | None:
    """The leaf's issuer: the one path validation found, else the chain's own."""
    leaf = chain[0]
    if len(verified_chain) > 1:
        sent = {certs.der(c): c for c in chain[1:]}
        return sent.get(verified_chain[1]) or certs.parse_chain([verified_chain[1]])[0]
    if leaf.subject == leaf.issuer:
        return leaf  # a self-issued leaf that is its own trust anchor
    return next((c for c in chain[1:] if c.subject == leaf.issuer), None)


def check_server_staple(engine: Engine, config: ClientConfig, chain: list[x509.Certificate],
                        verified_chain: tuple[bytes, ...], der: bytes | None
                        ) -> StapleCheck | None:
    """After path validation: the server's staple checked (None when none came and
    none is needed); the outcome is traced either way."""
    if config.ocsp_stapling == "off":
        return None
    if not config.verify_certificates:
        # The staple's check is part of the certificate's: with verification off
        # (``--insecure``), it is shown, not judged, as ``openssl s_client -status``
        # shows one without -verify_return_error.
        engine.trace(t.OCSP_STATUS, t.LOCAL, lambda: {
            "result": "not checked (certificate verification is off)"
            if der is not None else "no staple",
            **(describe_response(der) if der is not None else {})})
        return None
    leaf, now = chain[0], config.clock()
    must_staple = _must_staple(leaf)
    required = config.ocsp_stapling == "require" or must_staple
    try:
        if der is None:
            if required:
                why = ("the certificate demands (TLS feature status_request, RFC 7633)"
                       if must_staple else 'ocsp_stapling="require" asks for')
                raise refusal(CertificateReason.OCSP_MISSING, leaf, now, detail=why)
            engine.trace(t.OCSP_STATUS, t.LOCAL, {"result": "no staple"})
            return None
        check = check_staple(der, leaf, _issuer(chain, verified_chain), now)
        check.enforce("require" if required else "request", leaf, now)
    except TLSError as error:
        engine.trace(t.OCSP_STATUS, t.LOCAL, {
            "result": "failed", "reason": str(error), "alert": error.alert.name})
        raise
    engine.trace(t.OCSP_STATUS, t.LOCAL, lambda: {
        "result": "ok", "must_staple": must_staple, **check.describe()})
    return check


def acknowledged(extensions: tuple[Extension, ...]) -> bool:
    """TLS 1.2: the server's empty status_request says a CertificateStatus may follow."""
    return find(extensions, X.status_request) is not None


__all__ = ["acknowledged", "check_server_staple", "leaf_staple", "note_staple", "staple_for",
           "status_request", "wants_staple"]
