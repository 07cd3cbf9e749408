"""Certificates and trust: loading PEM, building and checking chains.

Path building, validity, key usage and name constraints are done by
``cryptography.x509.verification``; this module chooses the policy, maps its
failures to the right alert with a message that says what went wrong, and
describes certificates for the trace.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from .crypto.signatures import PRIVATE_KEY_TYPES, PrivateKey, PublicKey, describe_key, key_kind
from .errors import AlertDescription, BadCertificate, ConfigError

# OID of RSASSA-PSS public keys (RFC 4055): they take the rsa_pss_pss_* schemes.
_RSASSA_PSS = x509.ObjectIdentifier("1.2.840.113549.1.1.10")
# id-ml-dsa-44/65/87 (RFC 9881, NIST CSOR): keys that only an ML-DSA-capable
# cryptography (50+, on OpenSSL 3.5+ or AWS-LC) can load.
_MLDSA_OIDS = {x509.ObjectIdentifier(f"2.16.840.1.101.3.4.3.{n}") for n in (17, 18, 19)}


class TrustStore:
    """Trust anchors for verifying a peer's chain."""

    __slots__ = ("_store", "certificates")

    def __init__(self, certificates: Sequence[x509.Certificate]) -> None:
        self.certificates = tuple(certificates)
        self._store = verification.Store(list(self.certificates)) if certificates else None

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        try:
            return cls(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise ConfigError(f"no valid PEM certificates: {exc}") from None

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike[str]) -> TrustStore:
        with open(path, "rb") as handle:
            return cls.from_pem(handle.read())

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> TrustStore:
        certificates: list[x509.Certificate] = []
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if os.path.isfile(full):
                try:
                    with open(full, "rb") as handle:
                        certificates.extend(x509.load_pem_x509_certificates(handle.read()))
                except (ValueError, OSError):
                    continue
        return cls(certificates)

    @classmethod
    def system(cls) -> TrustStore:
        """The system's trust anchors, found as ``ssl.create_default_context()`` does."""
        paths = ssl.get_default_verify_paths()
        # Some distribution bundles carry old roots that cryptography parses with a
        # deprecation warning (negative serial numbers); that is not the user's concern.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile,
                              paths.openssl_cafile):
                if candidate and os.path.isfile(candidate):
                    return cls.from_pem_file(candidate)
            for candidate in (os.environ.get("SSL_CERT_DIR"), paths.capath,
                              paths.openssl_capath):
                if candidate and os.path.isdir(candidate):
                    return cls.from_directory(candidate)
        return cls(())

    def __len__(self) -> int:
        return len(self.certificates)

    @property
    def store(self) -> verification.Store:
        if self._store is None:
            raise BadCertificate("the trust store is empty", AlertDescription.unknown_ca)
        return self._store


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate chain (leaf first) and the leaf's private key."""

    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKey

    def __post_init__(self) -> None:
        if not self.chain:
            raise ConfigError("a certificate chain needs at least the leaf certificate")
        if not isinstance(self.private_key, PRIVATE_KEY_TYPES):
            raise ConfigError("private key must be RSA, ECDSA, Ed25519 or ML-DSA")
        ours = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        theirs = self.chain[0].public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if ours != theirs:
            raise ConfigError("the private key does not match the leaf certificate")
        object.__setattr__(self, "_der", tuple(
            c.public_bytes(serialization.Encoding.DER) for c in self.chain))
        object.__setattr__(self, "_messages", {})

    def certificate_message(self, tls13: bool) -> bytes:
        """The server's Certificate message for this chain, serialised once: it is
        the same bytes in every handshake (TLS 1.3 with an empty request context)."""
        cache: dict[bool, bytes] = object.__getattribute__(self, "_messages")
        message = cache.get(tls13)
        if message is None:
            from .messages.handshake import (
                Certificate12,
                Certificate13,
                CertificateEntry,
                serialize,
            )

            chain = self.chain_der
            message = serialize(Certificate13(b"", tuple(CertificateEntry(d) for d in chain))
                                if tls13 else Certificate12(chain))
            cache[tls13] = message
        return message

    @property
    def chain_der(self) -> tuple[bytes, ...]:
        der: tuple[bytes, ...] = object.__getattribute__(self, "_der")
        return der

    @property
    def rsa_pss_key(self) -> bool:
        return self.chain[0].public_key_algorithm_oid == _RSASSA_PSS

    @classmethod
    def from_pem(cls, chain_pem: bytes, key_pem: bytes, password: bytes | None = None
                 ) -> CertifiedKey:
        try:
            chain = tuple(x509.load_pem_x509_certificates(chain_pem))
        except ValueError as exc:
            raise ConfigError(f"cannot read the certificate chain: {exc}") from None
        try:
            key = serialization.load_pem_private_key(key_pem, password)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"cannot read the private key: {exc}") from None
        return cls(chain, key)  # type: ignore[arg-type]

    @classmethod
    def from_files(cls, chain_path: str | os.PathLike[str],
                   key_path: str | os.PathLike[str] | None = None,
                   password: bytes | None = None) -> CertifiedKey:
        with open(chain_path, "rb") as handle:
            chain_pem = handle.read()
        if key_path is None:
            key_pem = chain_pem
        else:
            with open(key_path, "rb") as handle:
                key_pem = handle.read()
        return cls.from_pem(chain_pem, key_pem, password)


# What cryptography raises for certificates it cannot decode.
_MALFORMED = (ValueError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension,
              x509.UnsupportedGeneralNameType)


def parse_chain(chain_der: Sequence[bytes]) -> list[x509.Certificate]:
    certificates = []
    for der in chain_der:
        try:
            certificate = x509.load_der_x509_certificate(der)
            # cryptography decodes some fields only when they are first read; read
            # those glasstls uses now, so that a malformed certificate is refused here
            # rather than failing later (in the trace, or in path validation).
            _ = (certificate.subject, certificate.issuer, certificate.extensions,
                 certificate.not_valid_before_utc, certificate.not_valid_after_utc)
        except _MALFORMED as exc:
            raise BadCertificate(f"certificate does not parse: {exc}",
                                 AlertDescription.bad_certificate) from None
        certificates.append(certificate)
    return certificates


def leaf_public_key(certificate: x509.Certificate) -> PublicKey:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm, x509.UnsupportedGeneralNameType) as exc:
        if certificate.public_key_algorithm_oid in _MLDSA_OIDS:
            raise BadCertificate(
                "the certificate has an ML-DSA key, which this build of cryptography cannot "
                f"use ({exc}); ML-DSA needs cryptography 50+ on OpenSSL 3.5+ or AWS-LC",
                AlertDescription.unsupported_certificate) from None
        raise BadCertificate(f"certificate key cannot be used: {exc}",
                             AlertDescription.unsupported_certificate) from None
    if not key_kind(key):  # type: ignore[arg-type]
        raise BadCertificate(f"unsupported certificate key type {type(key).__name__}",
                             AlertDescription.unsupported_certificate)
    return cast(PublicKey, key)


def is_rsa_pss_key(certificate: x509.Certificate) -> bool:
    return certificate.public_key_algorithm_oid == _RSASSA_PSS


def _subject_for(server_name: str) -> x509.DNSName | x509.IPAddress:
    try:
        if not (server_name[:1].isdigit() or ":" in server_name):
            raise ValueError  # a host name: skip ipaddress's slower parse
        return x509.IPAddress(ipaddress.ip_address(server_name))
    except ValueError:
        try:
            return x509.DNSName(server_name)
        except ValueError:
            raise BadCertificate(f"{server_name!r} is not a valid DNS name or IP address",
                                 AlertDescription.bad_certificate) from None


def _failure(exc: verification.VerificationError, what: str) -> BadCertificate:
    text = str(exc).removeprefix("validation failed: ")
    text = text.split(" (encountered processing")[0]
    if "Forbidden public key algorithm" in text and "Ed25519" in text:
        return BadCertificate(
            f"{what} uses Ed25519, which cryptography's X.509 path validator does not "
            "accept (its Web PKI profile forbids Ed25519 keys); disable verification or "
            "use an RSA or ECDSA certificate", AlertDescription.unsupported_certificate)
    if "not valid at validation time" in text:
        return BadCertificate(f"{what} is expired or not yet valid",
                              AlertDescription.certificate_expired)
    if "subjectAltName" in text and "matching" in text:
        return BadCertificate(f"{what} is not valid for the requested name ({text})",
                              AlertDescription.bad_certificate)
    if "candidates exhausted" in text or "issuer" in text:
        return BadCertificate(f"{what} was not issued by a trusted authority ({text})",
                              AlertDescription.unknown_ca)
    if "EKU" in text or "extension" in text or "key usage" in text.lower():
        return BadCertificate(f"{what} is not allowed for this use ({text})",
                              AlertDescription.unsupported_certificate)
    return BadCertificate(f"{what} was rejected: {text}", AlertDescription.bad_certificate)


def verify_server_chain(
    trust: TrustStore, chain: list[x509.Certificate], server_name: str | None, now: float
) -> list[x509.Certificate]:
    """Build a path from the leaf to a trust anchor and check it for ``server_name``.

    Returns the verified path (leaf first, anchor last); raises ``BadCertificate``
    with the alert for the reason otherwise.
    """
    if not chain:
        raise BadCertificate("the server sent no certificate", AlertDescription.decode_error)
    if server_name is None:
        raise BadCertificate("no server name to check the certificate against "
                             "(pass server_name, or disable host name checking)",
                             AlertDescription.bad_certificate)
    builder = verification.PolicyBuilder().store(trust.store).time(
        _dt.datetime.fromtimestamp(now, _dt.UTC))
    verifier = builder.build_server_verifier(_subject_for(server_name))
    try:
        return list(verifier.verify(chain[0], chain[1:]))
    except verification.VerificationError as exc:
        raise _failure(exc, "the server certificate") from None


def verify_client_chain(trust: TrustStore, chain: list[x509.Certificate], now: float
                        ) -> list[x509.Certificate]:
    builder = verification.PolicyBuilder().store(trust.store).time(
        _dt.datetime.fromtimestamp(now, _dt.UTC))
    try:
        verified = builder.build_client_verifier().verify(chain[0], chain[1:])
    except verification.VerificationError as exc:
        raise _failure(exc, "the client certificate") from None
    return list(verified.chain)


def verify_server_chain_any_name(trust: TrustStore, chain: list[x509.Certificate], now: float
                                 ) -> list[x509.Certificate]:
    """Path validation without a host name check (``check_hostname=False``): the
    server policy checked against a name the certificate itself carries, so that
    validity, key usage and the serverAuth EKU are still enforced."""
    if not chain:
        raise BadCertificate("the server sent no certificate", AlertDescription.decode_error)
    builder = verification.PolicyBuilder().store(trust.store).time(
        _dt.datetime.fromtimestamp(now, _dt.UTC))
    names = _san_names(chain[0])
    if names:
        verifier = builder.build_server_verifier(_subject_for(names[0]))
        try:
            return list(verifier.verify(chain[0], chain[1:]))
        except verification.VerificationError as exc:
            raise _failure(exc, "the server certificate") from None
    raise BadCertificate("the server certificate has no subjectAltName",
                         AlertDescription.bad_certificate)


def _san_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names: list[str] = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    names += [name for name in san.get_values_for_type(x509.DNSName) if "*" not in name]
    return names


def _name_text(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return repr(name)


def describe_certificate(certificate: x509.Certificate) -> dict[str, Any]:
    """What the trace and the pages show of a certificate."""
    try:
        key = describe_key(leaf_public_key(certificate))
    except BadCertificate:
        key = "unsupported"
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "subject": _name_text(certificate.subject),
        "common_name": str(common_names[0].value) if common_names else "",
        "issuer": _name_text(certificate.issuer),
        "key": key,
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "san": _san_names(certificate),
        "serial": format(certificate.serial_number, "x"),
    }


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def name_der(name: x509.Name) -> bytes:
    return name.public_bytes()
