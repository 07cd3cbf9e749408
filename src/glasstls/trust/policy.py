"""Which certificates are acceptable: the rules of RFC 5280 as OpenSSL applies them.

Path building and signature checks belong to ``cryptography.x509.verification``;
this module only chooses its extension policies. The default follows OpenSSL's
certificate purposes (``X509_PURPOSE_SSL_SERVER`` / ``_SSL_CLIENT``), not the CA/B
Forum's profile: a leaf may say CA:TRUE (a self-signed trust anchor made with
``openssl req -x509``), its subjectAltName may be critical (trustme) or absent
(client certificates), but extended key usage, key usage, CA flags and unknown
critical extensions are checked as OpenSSL checks them. ``strict_web_pki`` keeps
cryptography's CA/B Forum profile instead.

The same checks are plain functions (``leaf_usage_problem``, ``ca_problem``) so
that a refusal can be explained from the certificate itself.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from ..certs import extension_value
from .reasons import CertificateReason


class Purpose(enum.Enum):
    """Whose certificate is being checked: a server's or a client's."""

    SERVER = "server"
    CLIENT = "client"


class CrlCheck(enum.Enum):
    """Which certificates must be checked against a CRL (``ssl.VERIFY_CRL_CHECK_*``)."""

    NONE = "none"
    LEAF = "leaf"
    CHAIN = "chain"


@dataclass(frozen=True)
class VerifyOptions:
    """How strictly a chain is checked.

    ``strict_web_pki``: cryptography's CA/B Forum profile instead of OpenSSL's rules.
    ``hostname_checks_common_name``: a certificate without subjectAltName is matched
    by its subject's common name (as ``ssl.SSLContext.hostname_checks_common_name``).
    ``crl_check``: revocation checking against the trust store's CRLs.
    ``partial_chain``: any certificate in the trust store is a trust anchor, not
    only self-signed roots (``ssl.VERIFY_X509_PARTIAL_CHAIN``).
    """

    strict_web_pki: bool = False
    hostname_checks_common_name: bool = False
    crl_check: CrlCheck = CrlCheck.NONE
    partial_chain: bool = True


# The extended key usage each purpose needs; Netscape/Microsoft Server Gated
# Crypto also counts for servers, as in OpenSSL's check_purpose_ssl_server.
_NS_SGC = ObjectIdentifier("2.16.840.1.113730.4.1")
_MS_SGC = ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")
_PURPOSE_EKUS = {
    Purpose.SERVER: (ExtendedKeyUsageOID.SERVER_AUTH, _NS_SGC, _MS_SGC),
    Purpose.CLIENT: (ExtendedKeyUsageOID.CLIENT_AUTH,),
}
_PURPOSE_WORDS = {Purpose.SERVER: "TLS server authentication",
                  Purpose.CLIENT: "TLS client authentication"}


def _eku_problem(purpose: Purpose, usage: x509.ExtendedKeyUsage | None) -> str | None:
    if usage is None or any(oid in usage for oid in _PURPOSE_EKUS[purpose]):
        return None
    held = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in usage)
    return f"its extended key usage ({held}) does not include {_PURPOSE_WORDS[purpose]}"


def _key_usage_names(usage: x509.KeyUsage) -> list[str]:
    names = ["digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"]
    return [name for name in names if getattr(usage, name)]


def leaf_usage_problem(purpose: Purpose, certificate: x509.Certificate) -> str | None:
    """Why the peer's own certificate may not be used for ``purpose`` (None if it
    may): OpenSSL's extended key usage and key usage rules for TLS."""
    problem = _eku_problem(purpose, extension_value(certificate, x509.ExtendedKeyUsage))
    if problem:
        return problem
    usage: x509.KeyUsage | None = extension_value(certificate, x509.KeyUsage)
    if usage is None:
        return None
    # RFC 5280 §4.2.1.3 and OpenSSL's ku_reject: a key usage that allows none of the
    # operations TLS needs of this side's key.
    allowed = ("digital_signature", "key_agreement") + (
        ("key_encipherment",) if purpose is Purpose.SERVER else ())
    if any(getattr(usage, name) for name in allowed):
        return None
    return (f"its key usage ({', '.join(_key_usage_names(usage)) or 'none'}) allows none "
            f"of {', '.join(allowed)}")


def ca_problem(purpose: Purpose, certificate: x509.Certificate
               ) -> tuple[CertificateReason, str] | None:
    """Why a certificate may not issue others in a chain for ``purpose``."""
    constraints: x509.BasicConstraints | None = extension_value(certificate, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        # RFC 5280 §4.2.1.9: only a certificate asserting cA may sign certificates.
        return CertificateReason.NOT_A_CA, ("it has no basicConstraints" if constraints is None
                                            else "its basicConstraints say CA:FALSE")
    usage: x509.KeyUsage | None = extension_value(certificate, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        return CertificateReason.NOT_A_CA, "its key usage does not include keyCertSign"
    problem = _eku_problem(purpose, extension_value(certificate, x509.ExtendedKeyUsage))
    return (CertificateReason.BAD_USAGE, problem) if problem else None


# -- the same rules as cryptography extension validators --------------------------------


class PolicyViolation(ValueError):
    """Raised inside a validator; cryptography reports it as the refusal's cause."""


def _leaf_validator(purpose: Purpose) -> Callable[..., None]:
    def validate(policy: Any, certificate: x509.Certificate, extension: Any) -> None:
        problem = leaf_usage_problem(purpose, certificate)
        if problem:
            raise PolicyViolation(problem)
    return validate


def _ca_validator(purpose: Purpose) -> Callable[..., None]:
    def validate(policy: Any, certificate: x509.Certificate, extension: Any) -> None:
        problem = ca_problem(purpose, certificate)
        if problem:
            raise PolicyViolation(problem[1])
    return validate


_AGNOSTIC = verification.Criticality.AGNOSTIC
# Extensions OpenSSL understands (X509_supported_extension) besides the usage and
# CA ones: a critical one must not fail the chain.
_UNDERSTOOD = (x509.CertificatePolicies, x509.PolicyConstraints, x509.InhibitAnyPolicy,
               x509.NameConstraints, x509.AuthorityKeyIdentifier, x509.SubjectKeyIdentifier,
               x509.AuthorityInformationAccess)


def _base() -> verification.ExtensionPolicy:
    policy = verification.ExtensionPolicy.permit_all()
    for kind in _UNDERSTOOD:
        policy = policy.may_be_present(kind, _AGNOSTIC, None)
    return policy


@functools.cache
def extension_policies(purpose: Purpose, require_san: bool
                       ) -> tuple[verification.ExtensionPolicy, verification.ExtensionPolicy]:
    """(CA policy, end-entity policy) with OpenSSL's rules for ``purpose``.

    ``require_san`` is for cryptography's server verifier, which matches the host
    name against subjectAltName and so needs the extension to exist."""
    # A validator of an extension that may be present runs (given None) when it is
    # absent too: the one on extendedKeyUsage checks key usage as well, once a chain.
    ee = (_base().may_be_present(x509.BasicConstraints, _AGNOSTIC, None)
          .may_be_present(x509.ExtendedKeyUsage, _AGNOSTIC, _leaf_validator(purpose))
          .may_be_present(x509.KeyUsage, _AGNOSTIC, None))
    ee = (ee.require_present(x509.SubjectAlternativeName, _AGNOSTIC, None) if require_san
          else ee.may_be_present(x509.SubjectAlternativeName, _AGNOSTIC, None))
    ca_check = _ca_validator(purpose)
    ca = (_base().require_present(x509.BasicConstraints, _AGNOSTIC, ca_check)
          .may_be_present(x509.ExtendedKeyUsage, _AGNOSTIC, None)
          .may_be_present(x509.KeyUsage, _AGNOSTIC, None)
          .may_be_present(x509.SubjectAlternativeName, _AGNOSTIC, None))
    return ca, ee


def _verifier(store: verification.Store, moment: _dt.datetime, purpose: Purpose,
              subject: x509.DNSName | x509.IPAddress | None, options: VerifyOptions
              ) -> verification.ServerVerifier | verification.ClientVerifier:
    builder = verification.PolicyBuilder().store(store).time(moment)
    if not options.strict_web_pki:
        ca_policy, ee_policy = extension_policies(purpose, require_san=subject is not None)
        builder = builder.extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
    if subject is not None:
        return builder.build_server_verifier(subject)
    return builder.build_client_verifier()


def run_verifier(store: verification.Store, leaf: x509.Certificate,
                 intermediates: Sequence[x509.Certificate], moment: _dt.datetime,
                 purpose: Purpose, subject: x509.DNSName | x509.IPAddress | None,
                 options: VerifyOptions) -> list[x509.Certificate]:
    """cryptography's path validation; raises ``verification.VerificationError``."""
    verifier = _verifier(store, moment, purpose, subject, options)
    if isinstance(verifier, verification.ServerVerifier):
        return list(verifier.verify(leaf, list(intermediates)))
    return list(verifier.verify(leaf, list(intermediates)).chain)


__all__ = ["CrlCheck", "Purpose", "VerifyOptions", "ca_problem", "extension_policies",
           "leaf_usage_problem", "run_verifier"]
