"""Certificates and trust: loading PEM, building and checking chains.

Path building, validity, key usage and name constraints are done by
``cryptography.x509.verification``; this module chooses the policy, maps its
failures to the right alert with a message that says what went wrong, and
describes certificates for the trace.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

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


def _pem_blocks(data: bytes, label: bytes) -> bool:
    return b"-----BEGIN " + label + b"-----" in data


@contextlib.contextmanager
def old_roots_tolerated() -> Iterator[None]:
    """Silence cryptography's deprecation warning for a serial number that is not
    positive: distribution bundles still carry old roots with a zero serial
    (Starfield's, Go Daddy's), which OpenSSL and ``ssl`` take silently; reading them
    is not the user's concern. Any other warning still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive",
                                category=CryptographyDeprecationWarning)
        yield


def read_certificates_and_crls(data: bytes
                               ) -> tuple[list[x509.Certificate],
                                          list[x509.CertificateRevocationList]]:
    """Certificates and CRLs from PEM (any mix of blocks) or from one DER object,
    as OpenSSL's ``X509_load_cert_crl_file`` reads a CA file."""
    if b"-----BEGIN" not in data:
        try:
            with old_roots_tolerated():
                return [x509.load_der_x509_certificate(data)], []
        except ValueError:
            return [], [x509.load_der_x509_crl(data)]
    with old_roots_tolerated():
        certificates = (x509.load_pem_x509_certificates(data)
                        if _pem_blocks(data, b"CERTIFICATE") else [])
    crls = []
    marker = b"-----BEGIN X509 CRL-----"
    for piece in data.split(marker)[1:]:
        crls.append(x509.load_pem_x509_crl(marker + piece.split(b"-----END X509 CRL-----")[0]
                                           + b"-----END X509 CRL-----\n"))
    return certificates, crls


class TrustStore:
    """Trust anchors for verifying a peer's chain, and the CRLs to check it against."""

    __slots__ = ("_certificates", "_crls", "_der", "_stores", "verified_chains")

    def __init__(self, certificates: Sequence[x509.Certificate],
                 crls: Sequence[x509.CertificateRevocationList] = ()) -> None:
        from .trust.cache import VerifiedChains  # trust/ builds on this module

        self._certificates = tuple(certificates)
        self._crls = tuple(crls)
        # The chains verified against this store (trust/cache.py). A store never
        # changes (other anchors or CRLs make another store), so neither its
        # remembered verifications nor the verification stores below go stale.
        self.verified_chains = VerifiedChains(self._certificates, self._crls)
        self._stores: dict[bool, tuple[verification.Store | None,
                                       tuple[x509.Certificate, ...]]] = {}
        # The DER of the certificates verified paths end in, by identity: path
        # validation hands back the store's own objects, and encoding one costs
        # more than the rest of the lookup (~10 us a certificate).
        self._der: dict[int, tuple[x509.Certificate, bytes]] = {}

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        """Certificates and CRLs from PEM text (or one DER certificate or CRL)."""
        try:
            certificates, crls = read_certificates_and_crls(data)
        except ValueError as exc:
            raise ConfigError(f"no valid PEM certificates or CRLs: {exc}") from None
        if not certificates and not crls:
            raise ConfigError("no valid PEM certificates or CRLs found")
        return cls(certificates, crls)

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike[str]) -> TrustStore:
        with open(path, "rb") as handle:
            return cls.from_pem(handle.read())

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> TrustStore:
        """Every readable certificate and CRL file in a directory (OpenSSL's capath
        names them by hash; any name is read here)."""
        certificates: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if os.path.isfile(full):
                try:
                    with open(full, "rb") as handle:
                        found, found_crls = read_certificates_and_crls(handle.read())
                except (ValueError, OSError):
                    continue
                certificates += [c for c in found if c not in certificates]
                crls += found_crls
        return cls(certificates, crls)

    @classmethod
    def system(cls) -> TrustStore:
        """The system's trust anchors, found as ``ssl.create_default_context()`` does."""
        paths = ssl.get_default_verify_paths()
        for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile):
            if candidate and os.path.isfile(candidate):
                return cls.from_pem_file(candidate)
        for candidate in (os.environ.get("SSL_CERT_DIR"), paths.capath, paths.openssl_capath):
            if candidate and os.path.isdir(candidate):
                return cls.from_directory(candidate)
        return cls(())

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        return self._certificates

    @property
    def crls(self) -> tuple[x509.CertificateRevocationList, ...]:
        return self._crls

    def __len__(self) -> int:
        return len(self._certificates)

    def der(self, certificate: x509.Certificate) -> bytes:
        """The DER of a certificate, kept once encoded if it is one of this store's."""
        kept = self._der.get(id(certificate))
        if kept is not None and kept[0] is certificate:
            return kept[1]
        encoded = der(certificate)
        if any(certificate is ours for ours in self.certificates):
            self._der[id(certificate)] = (certificate, encoded)
        return encoded

    def verification_store(self, partial_chain: bool = True
                           ) -> tuple[verification.Store | None, tuple[x509.Certificate, ...]]:
        """cryptography's store of trust anchors, and the trusted certificates that
        are not anchors (usable as intermediates). With ``partial_chain`` every
        certificate here is an anchor; without it only self-issued roots are, as
        OpenSSL without ``X509_V_FLAG_PARTIAL_CHAIN``. The store is None when there
        is no anchor at all."""
        cached = self._stores.get(partial_chain)
        if cached is None:
            anchors = [c for c in self.certificates if partial_chain or c.subject == c.issuer]
            others = tuple(c for c in self.certificates if c not in anchors)
            cached = self._stores[partial_chain] = (
                verification.Store(anchors) if anchors else None, others)
        return cached


_T = TypeVar("_T")
_MISSING = object()
_DERIVED_KEPT = 64


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate chain (leaf first) and the leaf's private key."""

    chain: tuple[x509.Certificate, ...]
    private_key: PrivateKey

    def __post_init__(self) -> None:
        if not self.chain:
            raise ConfigError("a certificate chain needs at least the leaf certificate")
        if not isinstance(self.private_key, PRIVATE_KEY_TYPES):
            raise ConfigError("private key must be RSA, ECDSA, Ed25519, Ed448 or ML-DSA")
        ours = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        theirs = self.chain[0].public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if ours != theirs:
            raise ConfigError("the private key does not match the leaf certificate")
        object.__setattr__(self, "_der", tuple(
            c.public_bytes(serialization.Encoding.DER) for c in self.chain))
        object.__setattr__(self, "_messages", {})
        object.__setattr__(self, "_derived", {})

    def derived(self, key: Hashable, make: Callable[[], _T]) -> _T:
        """``make()``, kept under ``key``: for what handshakes work out from this
        chain and key and a peer's offer, which comes again and again; ``key`` must
        name all ``make`` depends on besides this CertifiedKey. Bounded (a hostile
        peer's offers churn it, no more); safe across threads (one dict store)."""
        kept: dict[Hashable, Any] = object.__getattribute__(self, "_derived")
        value = kept.get(key, _MISSING)
        if value is _MISSING:
            value = make()
            if len(kept) >= _DERIVED_KEPT:
                kept.clear()
            kept[key] = value
        return cast(_T, value)

    def certificate_message(self, tls13: bool, ocsp_response: bytes = b"") -> bytes:
        """The server's Certificate message for this chain, serialised once: it is
        the same bytes in every handshake (TLS 1.3 with an empty request context,
        and the leaf's OCSP staple, RFC 8446 §4.4.2.1, which changes when renewed)."""
        cache: dict[tuple[bool, bytes], bytes] = object.__getattribute__(self, "_messages")
        message = cache.get((tls13, ocsp_response))
        if message is None:
            from .messages.extensions import OCSPStatus
            from .messages.handshake import (
                Certificate12,
                Certificate13,
                CertificateEntry,
                serialize,
            )

            chain = self.chain_der
            staple = (OCSPStatus(ocsp_response),) if ocsp_response else ()
            message = serialize(Certificate13(b"", (
                CertificateEntry(chain[0], staple), *(CertificateEntry(d) for d in chain[1:])))
                if tls13 else Certificate12(chain))
            if len(cache) >= 4:
                cache.clear()  # the old staples
            cache[(tls13, ocsp_response)] = message
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
            if password is not None and b"ENCRYPTED" in key_pem:
                # A wrong password usually fails the padding check ("Bad decrypt"), but
                # about one time in 256 the padding happens to look right and the garbage
                # fails to parse as DER instead: either way the password is the cause.
                raise ConfigError("cannot decrypt the private key: wrong password? "
                                  f"({exc})") from None
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


# What cryptography raises for certificates it cannot decode (TypeError: a name
# attribute whose ASN.1 string type does not go with its OID, found by the fuzzer).
_MALFORMED = (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion,
              x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


# Peers send the same certificates again and again (a server's chain to each of its
# clients, a pool's server to each connection): the most recently parsed are kept by
# their DER, which is all a certificate object is made of (it cannot change).
_PARSED_CERTIFICATES = 128


@functools.lru_cache(maxsize=_PARSED_CERTIFICATES)
def _parse_certificate(der: bytes) -> x509.Certificate:
    """One certificate, or a ``BadCertificate`` (not kept)."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        # cryptography decodes some fields only when they are first read; read those
        # glasstls uses now, so that a malformed certificate is refused here rather
        # than failing later (in the trace, or in path validation).
        _ = (certificate.subject, certificate.issuer, certificate.extensions,
             certificate.not_valid_before_utc, certificate.not_valid_after_utc)
    except _MALFORMED as exc:
        raise BadCertificate(f"certificate does not parse: {exc}",
                             AlertDescription.bad_certificate) from None
    return certificate


def parse_chain(chain_der: Sequence[bytes]) -> list[x509.Certificate]:
    return [_parse_certificate(der) for der in chain_der]


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


def san_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names: list[str] = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    names += [name for name in san.get_values_for_type(x509.DNSName) if "*" not in name]
    return names


def name_text(name: x509.Name) -> str:
    """A distinguished name as people read it: ``CN=localhost,O=Example``."""
    try:
        return name.rfc4514_string() or "(empty name)"
    except ValueError:
        return repr(name)


def extension_value(item: x509.Certificate | x509.CertificateRevocationList
                    | x509.RevokedCertificate, kind: type[Any]) -> Any:
    """The value of an extension of a certificate, a CRL or a CRL entry, or None."""
    try:
        return item.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def describe_certificate(certificate: x509.Certificate) -> dict[str, Any]:
    """What the trace and the pages show of a certificate."""
    try:
        key = describe_key(leaf_public_key(certificate))
    except BadCertificate:
        key = "unsupported"
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "subject": name_text(certificate.subject),
        "common_name": str(common_names[0].value) if common_names else "",
        "issuer": name_text(certificate.issuer),
        "key": key,
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "san": san_names(certificate),
        "serial": format(certificate.serial_number, "x"),
    }


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def name_der(name: x509.Name) -> bytes:
    return name.public_bytes()
