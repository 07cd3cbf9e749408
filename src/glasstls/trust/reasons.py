"""Why a certificate was refused: one reason enum, the facts, and the sentence.

Every refusal of a peer's chain is a ``CertificateRejected`` carrying a
``CertificateReason`` and the facts a person needs to act (the certificate's
subject and issuer, its dates and the clock's time, the requested name and the
names the certificate holds, the CRL's date). The alert sent follows from the
reason (one table, below); ``io/errors.py`` maps the reason to OpenSSL's verify
code, and the CLI adds the next step.
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass

from ..errors import AlertDescription, BadCertificate


class CertificateReason(enum.Enum):
    """What was wrong with a peer's certificate chain."""

    SELF_SIGNED = "self-signed certificate not trusted"
    SELF_SIGNED_IN_CHAIN = "self-signed root not trusted"
    ISSUER_NOT_FOUND = "issuer not found"
    INCOMPLETE_CHAIN = "trusted certificate's issuer not found"
    CHAIN_TOO_LONG = "chain too long"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    NAME_MISMATCH = "name mismatch"
    IP_MISMATCH = "IP address mismatch"
    BAD_USAGE = "not allowed for this use"
    NOT_A_CA = "issuer is not a CA"
    PATH_LENGTH = "path length constraint exceeded"
    NAME_CONSTRAINTS = "name constraints violated"
    EXCLUDED_NAME = "excluded by name constraints"
    CRITICAL_EXTENSION = "unhandled critical extension"
    KEY_TOO_SMALL = "key too small"
    CA_KEY_TOO_SMALL = "CA key too small"
    WEAK_DIGEST = "signature digest too weak"
    BAD_SIGNATURE = "signature does not verify"
    UNSUPPORTED_KEY = "unsupported key type"
    UNSUPPORTED_SIGNATURE = "signature algorithm cryptography cannot validate"
    NOT_VERSION_3 = "not an X.509 version 3 certificate"
    REVOKED = "revoked"
    CRL_MISSING = "no CRL"
    CRL_EXPIRED = "CRL expired"
    CRL_NOT_YET_VALID = "CRL not yet valid"
    CRL_BAD_SIGNATURE = "CRL signature does not verify"
    CRL_CRITICAL_EXTENSION = "unhandled critical CRL extension"
    CRL_ISSUER_CANNOT_SIGN = "issuer may not sign CRLs"
    WEB_PKI_PROFILE = "breaks the CA/B Forum profile"
    # OCSP stapling (RFC 6066 §8, RFC 8446 §4.4.2.1): what the server's staple says.
    OCSP_REVOKED = "revoked, says the stapled OCSP response"
    OCSP_UNKNOWN = "unknown to the OCSP responder"
    OCSP_BAD_RESPONSE = "stapled OCSP response not acceptable"
    OCSP_MISSING = "no stapled OCSP response"
    NO_SERVER_NAME = "no server name to check"
    OTHER = "rejected"


# RFC 8446 §6.2 (alert meanings), choosing as OpenSSL's verify-error-to-alert table
# does where the RFC leaves room (a CRL missing is unknown_ca, a bad signature
# decrypt_error). Not-yet-valid is certificate_expired: "expired or not currently valid".
_ALERTS = {
    CertificateReason.SELF_SIGNED: AlertDescription.unknown_ca,
    CertificateReason.SELF_SIGNED_IN_CHAIN: AlertDescription.unknown_ca,
    CertificateReason.ISSUER_NOT_FOUND: AlertDescription.unknown_ca,
    CertificateReason.INCOMPLETE_CHAIN: AlertDescription.unknown_ca,
    CertificateReason.CHAIN_TOO_LONG: AlertDescription.unknown_ca,
    CertificateReason.NOT_A_CA: AlertDescription.unknown_ca,
    CertificateReason.PATH_LENGTH: AlertDescription.unknown_ca,
    CertificateReason.CRL_MISSING: AlertDescription.unknown_ca,
    CertificateReason.EXPIRED: AlertDescription.certificate_expired,
    CertificateReason.NOT_YET_VALID: AlertDescription.certificate_expired,
    CertificateReason.CRL_EXPIRED: AlertDescription.certificate_expired,
    CertificateReason.REVOKED: AlertDescription.certificate_revoked,
    CertificateReason.OCSP_REVOKED: AlertDescription.certificate_revoked,
    # RFC 6066 §8: a response that is not satisfactory.
    CertificateReason.OCSP_UNKNOWN: AlertDescription.bad_certificate_status_response,
    CertificateReason.OCSP_BAD_RESPONSE: AlertDescription.bad_certificate_status_response,
    CertificateReason.OCSP_MISSING: AlertDescription.bad_certificate_status_response,
    CertificateReason.BAD_USAGE: AlertDescription.unsupported_certificate,
    CertificateReason.UNSUPPORTED_KEY: AlertDescription.unsupported_certificate,
    CertificateReason.UNSUPPORTED_SIGNATURE: AlertDescription.unsupported_certificate,
    CertificateReason.BAD_SIGNATURE: AlertDescription.decrypt_error,
    CertificateReason.CRL_BAD_SIGNATURE: AlertDescription.decrypt_error,
}


@dataclass(frozen=True)
class Refusal:
    """The facts of one refusal; ``subject`` is the certificate concerned, ``depth``
    its place in the chain (0 = the peer's own certificate)."""

    reason: CertificateReason
    role: str = "server"  # whose chain: "server" or "client"
    depth: int = 0
    subject: str = ""
    issuer: str = ""
    not_before: _dt.datetime | None = None
    not_after: _dt.datetime | None = None
    now: _dt.datetime | None = None
    requested_name: str = ""
    names: tuple[str, ...] = ()
    detail: str = ""
    crl_issued: _dt.datetime | None = None
    revoked_on: _dt.datetime | None = None

    @property
    def alert(self) -> AlertDescription:
        return _ALERTS.get(self.reason, AlertDescription.bad_certificate)


def _when(moment: _dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "?"


def explain(refusal: Refusal) -> str:
    """The sentence for a refusal: what is wrong, with the facts, in plain words."""
    r, reason = refusal, refusal.reason
    which = (f"the {r.role} certificate {r.subject}" if r.depth == 0
             else f"the CA certificate {r.subject} in the {r.role}'s chain")
    clock = f"the clock says {_when(r.now)}"
    if reason is CertificateReason.SELF_SIGNED:
        return f"the {r.role} certificate {r.subject} is self-signed and not in the trust store"
    if reason is CertificateReason.SELF_SIGNED_IN_CHAIN:
        return (f"the {r.role}'s chain ends in the self-signed certificate {r.subject}, "
                "which is not in the trust store")
    if reason is CertificateReason.ISSUER_NOT_FOUND:
        return (f"the {r.role} sent no intermediate for {r.issuer} (the issuer of "
                f"{r.subject}), and the trust store does not have it")
    if reason is CertificateReason.INCOMPLETE_CHAIN:
        return (f"{r.subject} is in the trust store but is not a root, and its issuer "
                f"{r.issuer} was not found (trust it as a partial chain, or add the root)")
    if reason is CertificateReason.EXPIRED:
        return (f"{which} expired on {_when(r.not_after)} (valid from {_when(r.not_before)}; "
                f"{clock})")
    if reason is CertificateReason.NOT_YET_VALID:
        return (f"{which} is not valid until {_when(r.not_before)} ({clock}; "
                "is the clock right?)")
    if reason in (CertificateReason.NAME_MISMATCH, CertificateReason.IP_MISMATCH):
        held = ", ".join(r.names) if r.names else "no names"
        extra = f"; {r.detail}" if r.detail else ""
        return (f"the {r.role} certificate {r.subject} is not valid for {r.requested_name!r} "
                f"(it holds {held}{extra})")
    if reason is CertificateReason.REVOKED:
        return (f"{which} (serial {r.detail}) was revoked on {_when(r.revoked_on)}, "
                f"according to the CRL from {r.issuer} issued {_when(r.crl_issued)}")
    if reason is CertificateReason.OCSP_REVOKED:
        return (f"{which} (serial {r.detail}) was revoked on {_when(r.revoked_on)}, "
                f"says the OCSP response the {r.role} stapled (signed by {r.issuer})")
    if reason is CertificateReason.OCSP_BAD_RESPONSE:
        return f"the OCSP response stapled for {which} is not acceptable: {r.detail}"
    if reason is CertificateReason.OCSP_UNKNOWN:
        return (f"the OCSP responder ({r.issuer}) does not know {which}, and a good status "
                "is required")
    if reason is CertificateReason.OCSP_MISSING:
        return f"the {r.role} stapled no OCSP response for {which}, which {r.detail}"
    if reason is CertificateReason.CRL_MISSING:
        return (f"CRL checking is on, but there is no CRL from {r.issuer} for {which} "
                "(load it with load_verify_locations, or turn CRL checking off)")
    if reason is CertificateReason.CRL_EXPIRED:
        return (f"the CRL from {r.issuer} expired on {_when(r.not_after)} ({clock}); "
                "fetch a fresh one")
    if reason is CertificateReason.CRL_NOT_YET_VALID:
        return f"the CRL from {r.issuer} is not valid until {_when(r.not_before)} ({clock})"
    if reason is CertificateReason.NO_SERVER_NAME:
        return ("no server name to check the certificate against "
                "(pass server_name, or disable host name checking)")
    text = f"{which} {_VERBS.get(reason, 'was rejected')}"
    return f"{text}: {r.detail}" if r.detail else text


_VERBS = {
    CertificateReason.CHAIN_TOO_LONG: "is at the end of a chain that is too long",
    CertificateReason.BAD_USAGE: "may not be used for this purpose",
    CertificateReason.NOT_A_CA: "is not a CA certificate, yet it issued the certificate below it",
    CertificateReason.PATH_LENGTH: "is below a CA whose path length constraint it exceeds",
    CertificateReason.NAME_CONSTRAINTS: "has a name outside its issuer's permitted names",
    CertificateReason.EXCLUDED_NAME: "has a name its issuer's name constraints exclude",
    CertificateReason.CRITICAL_EXTENSION: "has a critical extension that is not understood",
    CertificateReason.KEY_TOO_SMALL: "has a key too small to be secure",
    CertificateReason.CA_KEY_TOO_SMALL: "has a key too small to be secure",
    CertificateReason.WEAK_DIGEST: "is signed with a digest too weak to be secure",
    CertificateReason.BAD_SIGNATURE: "has a signature that does not verify",
    CertificateReason.UNSUPPORTED_KEY: "has a key of a type glasstls cannot use",
    CertificateReason.UNSUPPORTED_SIGNATURE: "cannot be validated",
    CertificateReason.NOT_VERSION_3: "cannot be validated",
    CertificateReason.CRL_BAD_SIGNATURE: "cannot be checked for revocation",
    CertificateReason.CRL_CRITICAL_EXTENSION: "cannot be checked for revocation",
    CertificateReason.CRL_ISSUER_CANNOT_SIGN: "cannot be checked for revocation",
    CertificateReason.WEB_PKI_PROFILE: "breaks the CA/B Forum profile (strict_web_pki)",
}


class CertificateRejected(BadCertificate):
    """The peer's certificate chain was refused; ``refusal`` holds the reason
    and the facts, ``reason`` the enum alone.

    >>> try:
    ...     glasstls.connect(("self-signed.example", 443))
    ... except ssl.SSLCertVerificationError as error:
    ...     error.__cause__.reason          # CertificateReason.SELF_SIGNED
    """

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(explain(refusal), refusal.alert)
        self.refusal = refusal

    @property
    def reason(self) -> CertificateReason:
        return self.refusal.reason


__all__ = ["CertificateReason", "CertificateRejected", "Refusal", "explain"]
