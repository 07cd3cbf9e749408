"""Why cryptography refused a chain, told as OpenSSL would tell it.

cryptography's ``VerificationError`` carries only text. The verdict stays
cryptography's; this module finds the reason from the certificates themselves,
in the order OpenSSL's ``X509_verify_cert`` checks (issuer lookup, extensions
and purpose, key strength, the name, revocation, then signatures and dates), so
that the reason, and the verify code ``io/errors.py`` derives from it, is the
one ``ssl`` would report for the same chain. To follow that order it walks the
chain as sent (by issuer name, trust store first); the walk only explains, it
never accepts anything. Only what the certificates cannot tell is read from
cryptography's message, in ``classify`` and nowhere else.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from ..certs import TrustStore, extension_value, name_text
from .crl import check_revocation
from .policy import Purpose, VerifyOptions, ca_problem, leaf_usage_problem, run_verifier
from .reasons import CertificateReason, CertificateRejected, Refusal

R = CertificateReason

# Signatures cryptography's path validator cannot check (its allowed set is the
# CA/B Forum's), though OpenSSL can.
_EDDSA = {SignatureAlgorithmOID.ED25519: "Ed25519", SignatureAlgorithmOID.ED448: "Ed448"}
_WEAK_DIGESTS = (SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.ECDSA_WITH_SHA1,
                 SignatureAlgorithmOID.RSA_WITH_MD5, SignatureAlgorithmOID.DSA_WITH_SHA1)


@dataclass(frozen=True)
class Context:
    purpose: Purpose
    server_name: str | None  # None when the name is not checked
    options: VerifyOptions
    moment: _dt.datetime


def held_names(certificate: x509.Certificate) -> tuple[str, ...]:
    """The names a certificate holds, as a person would compare them."""
    names: list[str] = []
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [f"DNS:{name}" for name in san.get_values_for_type(x509.DNSName)]
        names += [f"IP:{address}" for address in san.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    names += [f"CN={attribute.value!s} (common name)" for attribute in
              certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return tuple(names)


def _facts(reason: CertificateReason, certificate: x509.Certificate, depth: int,
           context: Context, **extra: Any) -> Refusal:
    return Refusal(reason, role=context.purpose.value, depth=depth,
                   subject=name_text(certificate.subject),
                   issuer=name_text(certificate.issuer), now=context.moment,
                   not_before=certificate.not_valid_before_utc,
                   not_after=certificate.not_valid_after_utc, **extra)


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _walk(trust: TrustStore, leaf: x509.Certificate,
          intermediates: Sequence[x509.Certificate], partial_chain: bool
          ) -> tuple[list[x509.Certificate], bool]:
    """The chain OpenSSL would build (trusted issuers first), and whether it ends
    at a trust anchor."""
    anchors = [c for c in trust.certificates
               if partial_chain or c.subject == c.issuer]
    walked = [leaf]
    current = leaf
    while len(walked) <= 100:  # OpenSSL's default depth limit
        if current in anchors:
            return walked, True
        if current.subject == current.issuer and _signed_by(current, current):
            return walked, False
        candidates = [c for c in (*anchors, *trust.certificates, *intermediates)
                      if c.subject == current.issuer and c not in walked]
        if not candidates:
            return walked, False
        current = next((c for c in candidates if _signed_by(walked[-1], c)), candidates[0])
        walked.append(current)
    return walked, False


def _extension_problem(walked: list[x509.Certificate], context: Context) -> Refusal | None:
    for depth, certificate in enumerate(walked):
        for extension in certificate.extensions:
            if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
                return _facts(R.CRITICAL_EXTENSION, certificate, depth, context,
                              detail=f"extension {extension.oid.dotted_string}")
        if depth == 0:
            problem = leaf_usage_problem(context.purpose, certificate)
            if problem:
                return _facts(R.BAD_USAGE, certificate, depth, context, detail=problem)
            continue
        found = ca_problem(context.purpose, certificate)
        if found:
            return _facts(found[0], certificate, depth, context, detail=found[1])
        limit = getattr(extension_value(certificate, x509.BasicConstraints), "path_length",
                        None)
        if limit is not None and depth - 1 > limit:
            return _facts(R.PATH_LENGTH, certificate, depth, context,
                          detail=f"pathLenConstraint {limit}, with {depth - 1} CAs below it")
    return None


def _key_problem(walked: list[x509.Certificate], context: Context) -> Refusal | None:
    from .verify import MINIMUM_RSA_BITS

    for depth, certificate in enumerate(walked):
        key = certificate.public_key()
        size = getattr(key, "key_size", None)
        if depth > 0 and type(key).__name__.startswith("RSA") and size is not None and (
                size < MINIMUM_RSA_BITS):
            return _facts(R.CA_KEY_TOO_SMALL, certificate, depth, context,
                          detail=f"RSA {size} bits, below {MINIMUM_RSA_BITS}")
        if depth < len(walked) - 1 and certificate.signature_algorithm_oid in _WEAK_DIGESTS:
            return _facts(R.WEAK_DIGEST, certificate, depth, context,
                          detail=f"{certificate.signature_algorithm_oid._name}")
    return None


def _probe_time(walked: list[x509.Certificate], context: Context) -> _dt.datetime | None:
    """A moment at which every certificate of the chain is valid, to ask
    cryptography about the name alone (OpenSSL checks the name before dates)."""
    start = max(c.not_valid_before_utc for c in walked)
    end = min(c.not_valid_after_utc for c in walked)
    if start > end:
        return None
    return min(max(context.moment, start), end)


def _name_problem(trust: TrustStore, walked: list[x509.Certificate],
                  intermediates: Sequence[x509.Certificate], context: Context,
                  subject: x509.DNSName | x509.IPAddress | None) -> Refusal | None:
    if subject is None or context.server_name is None:
        return None
    moment = _probe_time(walked, context)
    if moment is None:
        return None
    store, extra = trust.verification_store(context.options.partial_chain)
    if store is None:
        return None
    others = [*intermediates, *extra]
    try:
        run_verifier(store, walked[0], others, moment, context.purpose, None, context.options)
    except verification.VerificationError:
        return None  # the chain fails without the name too: not (only) the name
    try:
        run_verifier(store, walked[0], others, moment, context.purpose, subject,
                     context.options)
    except verification.VerificationError:
        return name_mismatch(walked[0], context.server_name, context)
    return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def name_mismatch(leaf: x509.Certificate, server_name: str, context: Context,
                  detail: str = "") -> Refusal:
    reason = R.IP_MISMATCH if _is_ip(server_name) else R.NAME_MISMATCH
    return _facts(reason, leaf, 0, context, requested_name=server_name,
                  names=held_names(leaf), detail=detail)


def _signature_and_dates(walked: list[x509.Certificate], trusted: bool,
                         context: Context) -> Refusal | None:
    """OpenSSL's internal_verify: from the trust anchor down, each signature and
    then each certificate's dates."""
    for depth in range(len(walked) - 1, -1, -1):
        certificate = walked[depth]
        issuer = walked[depth + 1] if depth + 1 < len(walked) else None
        if issuer is not None and certificate.signature_algorithm_oid not in _EDDSA and (
                not _signed_by(certificate, issuer)):
            return _facts(R.BAD_SIGNATURE, certificate, depth, context,
                          detail=f"it is not signed by the key of {name_text(issuer.subject)}")
        if context.moment < certificate.not_valid_before_utc:
            return _facts(R.NOT_YET_VALID, certificate, depth, context)
        if context.moment > certificate.not_valid_after_utc:
            return _facts(R.EXPIRED, certificate, depth, context)
    return None


def _eddsa_problem(walked: list[x509.Certificate], context: Context) -> Refusal | None:
    for depth, certificate in enumerate(walked[:-1]):
        if certificate.signature_algorithm_oid in _EDDSA:
            algorithm = _EDDSA[certificate.signature_algorithm_oid]
            issuer = name_text(certificate.issuer)
            return _facts(R.UNSUPPORTED_SIGNATURE, certificate, depth, context, detail=(
                f"it is signed with {algorithm} by {issuer}, and cryptography's path "
                f"validator cannot check {algorithm} signatures on certificates, so "
                "glasstls cannot build a path through an EdDSA CA (OpenSSL can); trust "
                "the certificate itself, or issue it from an ECDSA or RSA CA"))
    return None


def refusal(message: str, trust: TrustStore,
            leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
            context: Context, subject: x509.DNSName | x509.IPAddress | None = None
            ) -> Refusal:
    """The reason and facts for cryptography's refusal of ``leaf``'s chain
    (``message`` is its ``VerificationError`` text)."""
    walked, trusted = _walk(trust, leaf, intermediates, context.options.partial_chain)
    top = walked[-1]
    if not trusted:
        if top.subject == top.issuer:
            reason = R.SELF_SIGNED if len(walked) == 1 else R.SELF_SIGNED_IN_CHAIN
            return _facts(reason, top, len(walked) - 1, context)
        if top in trust.certificates:  # trusted, but not an anchor without partial_chain
            return _facts(R.INCOMPLETE_CHAIN, top, len(walked) - 1, context)
        return _facts(R.ISSUER_NOT_FOUND, top, len(walked) - 1, context)
    try:
        revocation_checked = False
        for found in (_extension_problem(walked, context), _key_problem(walked, context),
                      _name_problem(trust, walked, intermediates, context, subject)):
            if found is not None:
                return found
        check_revocation(walked, trust.crls, context.options.crl_check, context.moment,
                         context.purpose.value)
        revocation_checked = True
    except CertificateRejected as rejected:
        return rejected.refusal
    assert revocation_checked
    for found in (_signature_and_dates(walked, trusted, context),
                  _eddsa_problem(walked, context)):
        if found is not None:
            return found
    reason, detail = classify(message)
    return _facts(reason, leaf, 0, context, detail=detail)


# cryptography's messages for what the certificates alone do not tell (name
# constraints, its own limits, the CA/B profile), each with the reason it means.
_MESSAGES = (
    ("no permitted name constraints matched SAN", R.NAME_CONSTRAINTS),
    ("excluded name constraint matched SAN", R.EXCLUDED_NAME),
    ("leaf certificate has no matching subjectAltName", R.NAME_MISMATCH),
    ("path length constraint violated", R.PATH_LENGTH),
    ("chain construction exceeds max depth", R.CHAIN_TOO_LONG),
    ("Forbidden signature algorithm", R.UNSUPPORTED_SIGNATURE),
    ("Forbidden public key algorithm", R.UNSUPPORTED_KEY),
    ("RSA key is too weak", R.CA_KEY_TOO_SMALL),
    ("certificate must be an X509v3 certificate", R.NOT_VERSION_3),
    ("unaccounted-for critical extensions", R.CRITICAL_EXTENSION),
    ("signature does not match", R.BAD_SIGNATURE),
    ("not valid at validation time", R.EXPIRED),
    ("Python extension validator failed", R.BAD_USAGE),
    ("basicConstraints.cA must not be asserted", R.WEB_PKI_PROFILE),
    ("Certificate is missing required extension", R.WEB_PKI_PROFILE),
    ("Certificate extension has incorrect criticality", R.WEB_PKI_PROFILE),
    ("MUST", R.WEB_PKI_PROFILE),
)


def classify(message: str) -> tuple[CertificateReason, str]:
    """The reason a cryptography ``VerificationError`` message states, and the
    message cut to what a person can read. The only place that reads its text."""
    text = message.removeprefix("validation failed: ").split(" (encountered processing")[0]
    text = text.removeprefix("candidates exhausted: ")
    if "Python extension validator failed" in text:
        text = text.split("PolicyViolation: ", 1)[-1]
    for fragment, reason in _MESSAGES:
        if fragment in message:
            if reason is R.NOT_VERSION_3:
                text = ("cryptography's path validator accepts only X.509 version 3 "
                        "certificates; reissue it with extensions (e.g. openssl x509 -req "
                        "-extfile with extendedKeyUsage)")
            return reason, text
    return R.OTHER, text


def check_common_name(leaf: x509.Certificate, server_name: str, options: VerifyOptions,
                      moment: _dt.datetime) -> None:
    """The name check for a server certificate without subjectAltName: its common
    name, only with ``hostname_checks_common_name`` and only for DNS names (as
    OpenSSL, with Python's X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)."""
    context = Context(Purpose.SERVER, server_name, options, moment)
    if _is_ip(server_name):
        raise CertificateRejected(name_mismatch(leaf, server_name, context,
                                                "it has no subjectAltName"))
    if not options.hostname_checks_common_name:
        raise CertificateRejected(name_mismatch(
            leaf, server_name, context,
            "it has no subjectAltName, and its common name is not checked "
            "(hostname_checks_common_name is off)"))
    wanted = server_name.lower().rstrip(".").split(".")
    for attribute in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        pattern = str(attribute.value).lower().rstrip(".").split(".")
        if len(pattern) != len(wanted):
            continue
        if pattern == wanted or (pattern[0] == "*" and len(pattern) >= 3
                                 and pattern[1:] == wanted[1:]):
            return
    raise CertificateRejected(name_mismatch(leaf, server_name, context))


__all__ = ["Context", "check_common_name", "classify", "held_names", "refusal"]
