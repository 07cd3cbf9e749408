"""Checking a peer's chain: cryptography builds and validates the path under the
policy of ``policy.py``; glasstls adds what OpenSSL checks besides (the peer's key
strength, the common-name fallback, CRLs) and, on refusal, the reason and facts.

    path = verify_chain(trust, chain, purpose=Purpose.SERVER, server_name="example.com",
                        check_name=True, options=VerifyOptions(), now=time.time())
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509 import verification

from ..certs import TrustStore, extension_value, leaf_public_key, name_text, san_names
from ..crypto.signatures import describe_key, key_kind
from ..errors import BadCertificate
from . import diagnose
from .crl import check_revocation
from .policy import Purpose, VerifyOptions, run_verifier
from .reasons import CertificateReason, CertificateRejected, Refusal

# OpenSSL's security level 2 (Python's default): keys of at least 112 bits of
# security, so RSA below 2048 bits is refused (X509_V_ERR_EE_KEY_TOO_SMALL).
MINIMUM_RSA_BITS = 2048


def subject_for(server_name: str) -> x509.DNSName | x509.IPAddress:
    """The name to check: an IP address if it parses as one, else a DNS name."""
    if server_name[:1].isdigit() or ":" in server_name:  # else a host name: no IP parse
        try:
            return x509.IPAddress(ipaddress.ip_address(server_name))
        except ValueError:
            pass
    # An absolute name ("example.com.") names the same host: OpenSSL drops one
    # trailing dot before matching (X509_VERIFY_PARAM_set1_host), and so do we.
    name = server_name[:-1] if len(server_name) > 1 and server_name[-1] == "." else server_name
    try:
        return x509.DNSName(name)
    except ValueError:
        raise CertificateRejected(Refusal(
            CertificateReason.NAME_MISMATCH, requested_name=server_name,
            detail="that is not a valid DNS name or IP address")) from None


def _check_peer_key(leaf: x509.Certificate, role: str, moment: _dt.datetime) -> None:
    """OpenSSL checks the peer's key before building the chain (X509_verify_cert)."""
    try:
        key = leaf_public_key(leaf)
    except BadCertificate as error:
        raise CertificateRejected(Refusal(
            CertificateReason.UNSUPPORTED_KEY, role=role, subject=name_text(leaf.subject),
            now=moment, detail=Exception.__str__(error))) from None
    if key_kind(key) == "rsa" and key.key_size < MINIMUM_RSA_BITS:  # type: ignore[union-attr]
        raise CertificateRejected(Refusal(
            CertificateReason.KEY_TOO_SMALL, role=role, subject=name_text(leaf.subject),
            now=moment,
            detail=f"{describe_key(key)} bits, below the {MINIMUM_RSA_BITS} bits that "
                   "OpenSSL's default security level asks for"))


def _name_subject(leaf: x509.Certificate, purpose: Purpose, server_name: str | None,
                  check_name: bool, options: VerifyOptions
                  ) -> x509.DNSName | x509.IPAddress | None:
    """The name cryptography's server verifier should match, or None when the name
    is not checked there (client certificates, no check, or no subjectAltName)."""
    if purpose is not Purpose.SERVER:
        return None
    if options.strict_web_pki and not check_name:
        # The CA/B profile needs a name: check the chain against one the leaf holds.
        names = san_names(leaf)
        if not names:
            raise CertificateRejected(Refusal(
                CertificateReason.WEB_PKI_PROFILE, subject=name_text(leaf.subject),
                detail="it has no subjectAltName"))
        return subject_for(names[0])
    if not check_name:
        return None
    assert server_name is not None
    if options.strict_web_pki or extension_value(leaf, x509.SubjectAlternativeName) is not None:
        return subject_for(server_name)
    return None


def verify_chain(trust: TrustStore, chain: Sequence[x509.Certificate], *, purpose: Purpose,
                 server_name: str | None, check_name: bool, options: VerifyOptions,
                 now: float) -> list[x509.Certificate]:
    """The verified path (leaf first, trust anchor last), or ``CertificateRejected``
    with the reason and the facts."""
    role = purpose.value
    moment = _dt.datetime.fromtimestamp(now, _dt.UTC)
    leaf, intermediates = chain[0], list(chain[1:])
    if check_name and purpose is Purpose.SERVER and server_name is None:
        raise CertificateRejected(Refusal(CertificateReason.NO_SERVER_NAME))
    _check_peer_key(leaf, role, moment)
    store, extra = trust.verification_store(options.partial_chain)
    subject = _name_subject(leaf, purpose, server_name, check_name, options)

    def context() -> diagnose.Context:  # built only for a refusal
        return diagnose.Context(purpose, server_name if check_name else None, options, moment)

    if store is None:
        raise CertificateRejected(diagnose.refusal(
            "the trust store is empty", trust, leaf, intermediates, context(), subject))
    try:
        path = run_verifier(store, leaf, [*intermediates, *extra], moment, purpose, subject,
                            options)
    except verification.VerificationError as error:
        raise CertificateRejected(diagnose.refusal(
            str(error), trust, leaf, intermediates, context(), subject)) from None
    except ValueError:
        # cryptography refuses to match a name that is not a host name by RFC 1123
        # ("a_b.test", "-a.test", "localhost.."); no certificate can be valid for it.
        if not isinstance(subject, x509.DNSName):
            raise
        assert server_name is not None  # a DNS subject is made from it
        raise CertificateRejected(diagnose.name_mismatch(
            leaf, server_name, context(),
            detail="that is not a valid DNS name or IP address")) from None
    if check_name and subject is None and purpose is Purpose.SERVER:
        assert server_name is not None
        diagnose.check_common_name(leaf, server_name, options, moment)
    check_revocation(path, trust.crls, options.crl_check, moment, role)
    return path


__all__ = ["MINIMUM_RSA_BITS", "subject_for", "verify_chain"]
