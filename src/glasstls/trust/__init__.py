"""Trust decisions about a peer's certificate chain: the policy (OpenSSL's RFC 5280
rules by default, the CA/B Forum profile on request), revocation against CRLs, and
the reason for every refusal."""

from .policy import CrlCheck, Purpose, VerifyOptions
from .reasons import CertificateReason, CertificateRejected, Refusal
from .verify import verify_chain

__all__ = ["CertificateReason", "CertificateRejected", "CrlCheck", "Purpose", "Refusal",
           "VerifyOptions", "verify_chain"]
