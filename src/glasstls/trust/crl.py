"""Revocation: checking a verified path against the CRLs in the trust store.

As OpenSSL does with ``X509_V_FLAG_CRL_CHECK`` (``ssl.VERIFY_CRL_CHECK_LEAF``) and
``X509_V_FLAG_CRL_CHECK_ALL`` (``VERIFY_CRL_CHECK_CHAIN``): for each certificate
checked, a CRL from its issuer must be present (else refuse: no CRL), be within
its dates, be signed by the issuer (whose key usage must allow CRL signing), have
no critical extension we do not understand, and not list the certificate's serial
number. CRLs are parsed and their signatures checked by ``cryptography``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from ..certs import extension_value, name_text
from .policy import CrlCheck
from .reasons import CertificateReason, CertificateRejected, Refusal

# CRL extensions we understand (RFC 5280 §5.2); a critical one outside this set
# makes the CRL unusable, as OpenSSL's X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION.
_UNDERSTOOD_CRL_EXTENSIONS = (x509.CRLNumber, x509.AuthorityKeyIdentifier,
                              x509.IssuingDistributionPoint, x509.DeltaCRLIndicator,
                              x509.IssuerAlternativeName, x509.AuthorityInformationAccess)


def _in_scope(crl: x509.CertificateRevocationList, certificate: x509.Certificate) -> bool:
    """RFC 5280 §5.2.5: an issuing distribution point narrows what a CRL covers."""
    point = extension_value(crl, x509.IssuingDistributionPoint)
    if point is None:
        return True
    if point.indirect_crl or point.only_contains_attribute_certs:
        return False
    constraints = extension_value(certificate, x509.BasicConstraints)
    is_ca = constraints is not None and constraints.ca
    return not ((point.only_contains_user_certs and is_ca)
                or (point.only_contains_ca_certs and not is_ca))


def _may_sign_crls(issuer: x509.Certificate) -> bool:
    usage = extension_value(issuer, x509.KeyUsage)
    return usage is None or bool(usage.crl_sign)


def _unhandled_critical(crl: x509.CertificateRevocationList) -> str | None:
    for extension in crl.extensions:
        if extension.critical and not isinstance(extension.value, _UNDERSTOOD_CRL_EXTENSIONS):
            return str(extension.oid.dotted_string)
    return None


def _refuse(reason: CertificateReason, certificate: x509.Certificate, depth: int, role: str,
            now: _dt.datetime, **facts: Any) -> CertificateRejected:
    return CertificateRejected(Refusal(
        reason, role=role, depth=depth, subject=name_text(certificate.subject),
        issuer=name_text(certificate.issuer), now=now, **facts))


def _check_one(certificate: x509.Certificate, issuer: x509.Certificate, depth: int,
               crls: Sequence[x509.CertificateRevocationList], now: _dt.datetime,
               role: str) -> None:
    candidates = [crl for crl in crls if crl.issuer == certificate.issuer
                  and extension_value(crl, x509.DeltaCRLIndicator) is None
                  and _in_scope(crl, certificate)]
    if not candidates:
        raise _refuse(CertificateReason.CRL_MISSING, certificate, depth, role, now)
    # The freshest CRL that is within its dates, as OpenSSL's scoring prefers.
    def current(crl: x509.CertificateRevocationList) -> bool:
        next_update = crl.next_update_utc
        return crl.last_update_utc <= now and (next_update is None or now <= next_update)
    candidates.sort(key=lambda crl: (current(crl), crl.last_update_utc), reverse=True)
    crl = candidates[0]
    if not _may_sign_crls(issuer):
        raise _refuse(CertificateReason.CRL_ISSUER_CANNOT_SIGN, certificate, depth, role, now,
                      detail="its issuer's key usage does not include cRLSign")
    if crl.last_update_utc > now:
        raise _refuse(CertificateReason.CRL_NOT_YET_VALID, certificate, depth, role, now,
                      not_before=crl.last_update_utc)
    if crl.next_update_utc is not None and now > crl.next_update_utc:
        raise _refuse(CertificateReason.CRL_EXPIRED, certificate, depth, role, now,
                      not_after=crl.next_update_utc)
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise _refuse(CertificateReason.CRL_BAD_SIGNATURE, certificate, depth, role, now,
                      detail=f"the CRL from {name_text(crl.issuer)} is not signed by its issuer")
    unhandled = _unhandled_critical(crl)
    if unhandled is not None:
        raise _refuse(CertificateReason.CRL_CRITICAL_EXTENSION, certificate, depth, role, now,
                      detail=f"its CRL has the critical extension {unhandled}")
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if entry is None:
        return
    reason = getattr(extension_value(entry, x509.CRLReason), "reason", None)
    # RFC 5280 §5.3.1: removeFromCRL appears only in delta CRLs and un-revokes.
    if reason is x509.ReasonFlags.remove_from_crl:
        return
    raise _refuse(CertificateReason.REVOKED, certificate, depth, role, now,
                  detail=f"0x{certificate.serial_number:x}"
                  + (f", reason {reason.value}" if reason is not None else ""),
                  revoked_on=entry.revocation_date_utc, crl_issued=crl.last_update_utc)


def check_revocation(path: Sequence[x509.Certificate],
                     crls: Sequence[x509.CertificateRevocationList], mode: CrlCheck,
                     now: _dt.datetime, role: str) -> None:
    """Refuse ``path`` (leaf first, trust anchor last) if a checked certificate is
    revoked or its CRL cannot be found or trusted."""
    if mode is CrlCheck.NONE:
        return
    # The trust anchor is not checked (nothing above it can revoke it), unless it
    # is the peer's own certificate.
    depths = range(1) if mode is CrlCheck.LEAF else range(max(len(path) - 1, 1))
    for depth in depths:
        issuer = path[depth + 1] if depth + 1 < len(path) else path[depth]
        _check_one(path[depth], issuer, depth, crls, now, role)

__all__ = ["check_revocation"]
