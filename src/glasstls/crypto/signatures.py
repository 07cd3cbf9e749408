"""Signature schemes (RFC 8446 §4.2.3): one table row each, and sign/verify."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, padding, rsa

from ..constants import SignatureScheme as S
from ..errors import DecryptError

MLDSAPrivateKey = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
MLDSAPublicKey = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
PrivateKey = (rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
              | ed448.Ed448PrivateKey | MLDSAPrivateKey)
PublicKey = (rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
             | ed448.Ed448PublicKey | MLDSAPublicKey)
# The keys that sign the message itself, with no parameters.
_PlainSigner = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey | MLDSAPrivateKey
_PlainVerifier = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | MLDSAPublicKey

# What can sign a handshake (CertifiedKey checks its key against these).
PRIVATE_KEY_TYPES: tuple[type, ...] = (
    rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey,
)

# The ML-DSA parameter set of each key class, named as the schemes are.
_MLDSA_CLASSES: tuple[tuple[type, str], ...] = (
    (mldsa.MLDSA44PrivateKey, "mldsa44"), (mldsa.MLDSA44PublicKey, "mldsa44"),
    (mldsa.MLDSA65PrivateKey, "mldsa65"), (mldsa.MLDSA65PublicKey, "mldsa65"),
    (mldsa.MLDSA87PrivateKey, "mldsa87"), (mldsa.MLDSA87PublicKey, "mldsa87"),
)

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class Scheme:
    id: int
    name: str
    # "ecdsa", "rsa_pss_rsae", "rsa_pss_pss", "rsa_pkcs1", "ed25519", "ed448", "mldsa"
    kind: str
    hash_name: str | None
    curve: str | None  # TLS 1.3 binds the ECDSA curve (and ML-DSA parameter set)
    tls13_signatures: bool  # usable in TLS 1.3 CertificateVerify
    tls12: bool = True  # usable at all in TLS 1.2

    def hash(self) -> hashes.HashAlgorithm:
        assert self.hash_name is not None
        return _HASHES[self.hash_name]()


def _row(scheme: S, kind: str, hash_name: str | None, curve: str | None, tls13: bool,
         tls12: bool = True) -> Scheme:
    return Scheme(int(scheme), scheme.name, kind, hash_name, curve, tls13, tls12)


SCHEMES: dict[int, Scheme] = {s.id: s for s in (
    _row(S.ecdsa_secp256r1_sha256, "ecdsa", "sha256", "secp256r1", True),
    _row(S.ecdsa_secp384r1_sha384, "ecdsa", "sha384", "secp384r1", True),
    _row(S.ecdsa_secp521r1_sha512, "ecdsa", "sha512", "secp521r1", True),
    _row(S.ed25519, "ed25519", None, None, True),
    _row(S.ed448, "ed448", None, None, True),
    _row(S.rsa_pss_rsae_sha256, "rsa_pss_rsae", "sha256", None, True),
    _row(S.rsa_pss_rsae_sha384, "rsa_pss_rsae", "sha384", None, True),
    _row(S.rsa_pss_rsae_sha512, "rsa_pss_rsae", "sha512", None, True),
    _row(S.rsa_pss_pss_sha256, "rsa_pss_pss", "sha256", None, True),
    _row(S.rsa_pss_pss_sha384, "rsa_pss_pss", "sha384", None, True),
    _row(S.rsa_pss_pss_sha512, "rsa_pss_pss", "sha512", None, True),
    # RFC 8446 §4.2.3: PKCS#1 v1.5 only in certificates for TLS 1.3; fine in TLS 1.2.
    _row(S.rsa_pkcs1_sha256, "rsa_pkcs1", "sha256", None, False),
    _row(S.rsa_pkcs1_sha384, "rsa_pkcs1", "sha384", None, False),
    _row(S.rsa_pkcs1_sha512, "rsa_pkcs1", "sha512", None, False),
    # draft-ietf-tls-mldsa: pure ML-DSA over the whole content, empty context string,
    # and for TLS 1.3 only (a TLS 1.2 peer must not negotiate them).
    _row(S.mldsa44, "mldsa", None, "mldsa44", True, tls12=False),
    _row(S.mldsa65, "mldsa", None, "mldsa65", True, tls12=False),
    _row(S.mldsa87, "mldsa", None, "mldsa87", True, tls12=False),
)}

# What we offer in signature_algorithms. ML-DSA first, as OpenSSL 3.5+ and Chromium
# offer it: a server with an ML-DSA certificate can then authenticate post-quantum,
# while a classical certificate is chosen as before. Then OpenSSL 3.0's default list
# and order for the classical schemes (ECDSA, EdDSA, then RSA), so that any
# certificate an OpenSSL peer accepts by default is accepted here too.
DEFAULT_SCHEMES = (
    S.mldsa65, S.mldsa87, S.mldsa44,
    S.ecdsa_secp256r1_sha256, S.ecdsa_secp384r1_sha384, S.ecdsa_secp521r1_sha512,
    S.ed25519, S.ed448,
    S.rsa_pss_rsae_sha256, S.rsa_pss_rsae_sha384, S.rsa_pss_rsae_sha512,
    S.rsa_pss_pss_sha256, S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha512,
    S.rsa_pkcs1_sha256, S.rsa_pkcs1_sha384, S.rsa_pkcs1_sha512,
)


def tls12_schemes(schemes: Sequence[int]) -> tuple[int, ...]:
    """The schemes of a list that TLS 1.2 may use (not ML-DSA, draft-ietf-tls-mldsa)."""
    return _tls12_schemes(tuple(schemes))


# Kept per list: a TLS 1.2 client asks on every ClientHello, with its config's list.
@functools.lru_cache(maxsize=64)
def _tls12_schemes(schemes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in schemes if s not in SCHEMES or SCHEMES[s].tls12)


def _curve_name(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    return key.curve.name


_KINDS: dict[type, str] = {}


def key_kind(key: PrivateKey | PublicKey) -> str:
    """"rsa", "ec", "ed25519", "ed448", "mldsa" (or "" for anything else), by the key's
    class; the answer is kept per class, since isinstance against cryptography's
    abstract classes is slow and a handshake asks many times."""
    kind = _KINDS.get(type(key))
    if kind is None:
        if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
            kind = "rsa"
        elif isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
            kind = "ec"
        elif isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
            kind = "ed25519"
        elif isinstance(key, (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
            kind = "ed448"
        else:
            kind = mldsa_parameter_set(key) and "mldsa"
        _KINDS[type(key)] = kind
    return kind


def mldsa_parameter_set(key: object) -> str:
    """"mldsa44", "mldsa65" or "mldsa87" for an ML-DSA key, "" for any other key."""
    for cls, name in _MLDSA_CLASSES:
        if isinstance(key, cls):
            return name
    return ""


def tls12_authentication(key: PrivateKey | PublicKey) -> str:
    """The TLS 1.2 suite authentication a key serves: "RSA" or "ECDSA". EdDSA keys
    take the ECDHE_ECDSA suites (RFC 8422 §5.3, §5.4)."""
    kind = key_kind(key)
    return "RSA" if kind == "rsa" else "ECDSA" if kind in ("ec", "ed25519", "ed448") else ""


def scheme_fits_key(scheme_id: int, key: PrivateKey | PublicKey, *, tls13: bool,
                    rsa_pss_key: bool = False) -> bool:
    """Whether a key can sign (or verify) with a scheme in the given version.

    ``rsa_pss_key`` says the certificate's key is an RSASSA-PSS key rather than
    rsaEncryption; the two take different schemes (RFC 8446 §4.2.3).
    """
    scheme = SCHEMES.get(scheme_id)
    if scheme is None or (tls13 and not scheme.tls13_signatures) or (
            not tls13 and not scheme.tls12):
        return False
    kind = key_kind(key)
    if kind == "rsa":
        key = cast("rsa.RSAPrivateKey | rsa.RSAPublicKey", key)
        if rsa_pss_key:
            return scheme.kind == "rsa_pss_pss"
        if scheme.kind == "rsa_pss_rsae":
            # PSS with a hash as long as SHA-512 needs a modulus of at least 1040 bits.
            return key.key_size >= 1024 + (2 * 64 if scheme.hash_name == "sha512" else 0)
        return scheme.kind == "rsa_pkcs1"
    if kind == "ec":
        key = cast("ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey", key)
        if scheme.kind != "ecdsa":
            return False
        return not tls13 or scheme.curve == _curve_name(key)
    if kind == "mldsa":
        # Each ML-DSA scheme names one parameter set, as the key does.
        return scheme.curve == mldsa_parameter_set(key)
    return kind in ("ed25519", "ed448") and scheme.kind == kind


# The parameter objects cryptography's sign and verify take, made once per scheme.
@functools.cache
def _rsa_padding(scheme_id: int) -> padding.AsymmetricPadding:
    scheme = SCHEMES[scheme_id]
    if scheme.kind == "rsa_pkcs1":
        return padding.PKCS1v15()
    return padding.PSS(mgf=padding.MGF1(scheme.hash()), salt_length=padding.PSS.DIGEST_LENGTH)


@functools.cache
def _hash(scheme_id: int) -> hashes.HashAlgorithm:
    return SCHEMES[scheme_id].hash()


@functools.cache
def _ecdsa(scheme_id: int) -> ec.ECDSA:
    return ec.ECDSA(_hash(scheme_id))


def sign(key: PrivateKey, scheme_id: int, data: bytes) -> bytes:
    """A signature of ``data``. ECDSA and RSA-PSS signatures are randomized by
    OpenSSL (cryptography takes no seed for them); recorded transcripts replay
    the output of this function."""
    # By the key's class (key_kind): isinstance against cryptography's abstract
    # classes goes through abc on every call.
    kind = key_kind(key)
    if kind == "rsa":
        return cast("rsa.RSAPrivateKey", key).sign(data, _rsa_padding(scheme_id),
                                                   _hash(scheme_id))
    if kind == "ec":
        return cast("ec.EllipticCurvePrivateKey", key).sign(data, _ecdsa(scheme_id))
    # EdDSA, and ML-DSA with the empty context (draft-ietf-tls-mldsa).
    return cast("_PlainSigner", key).sign(data)


def verify(key: PublicKey, scheme_id: int, data: bytes, signature: bytes) -> None:
    """Check a signature; a bad one is ``decrypt_error`` (RFC 8446 §4.4.3)."""
    kind = key_kind(key)
    try:
        if kind == "rsa":
            cast("rsa.RSAPublicKey", key).verify(signature, data, _rsa_padding(scheme_id),
                                                 _hash(scheme_id))
        elif kind == "ec":
            cast("ec.EllipticCurvePublicKey", key).verify(signature, data, _ecdsa(scheme_id))
        else:
            cast("_PlainVerifier", key).verify(signature, data)
    except (InvalidSignature, ValueError):
        raise DecryptError(f"{SCHEMES[scheme_id].name} signature does not verify") from None


# RSASSA-PSS as an X.509 signature algorithm: its parameters (hash, salt) are in the
# AlgorithmIdentifier, which an OCSPResponse does not expose.
_RSASSA_PSS_SIGNATURE = "1.2.840.113549.1.1.10"


def verify_signed_data(key: object, algorithm_oid: str, hash_algorithm: object,
                       data: bytes, signature: bytes) -> str | None:
    """Check an X.509-style signature (an OCSP response's, say) made by ``key``
    with the given algorithm; None if it verifies, else why not."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm_oid == _RSASSA_PSS_SIGNATURE:
                return "RSASSA-PSS signatures are not supported here"
            if not isinstance(hash_algorithm, hashes.HashAlgorithm):
                return f"no hash for signature algorithm {algorithm_oid}"
            key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(hash_algorithm, hashes.HashAlgorithm):
                return f"no hash for signature algorithm {algorithm_oid}"
            key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif key_kind(key) in ("ed25519", "ed448", "mldsa"):  # type: ignore[arg-type]
            key.verify(signature, data)  # type: ignore[attr-defined]
        else:
            return f"unsupported signing key {type(key).__name__}"
    except (InvalidSignature, ValueError, TypeError):
        return "the signature does not verify"
    return None


def describe_key(key: PrivateKey | PublicKey) -> str:
    """Human words for a key: "RSA 2048", "ECDSA secp256r1", "Ed25519", "Ed448"."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA {key.key_size}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"ECDSA {key.curve.name}"
    parameter_set = mldsa_parameter_set(key)
    if parameter_set:
        return f"ML-DSA-{parameter_set[5:]}"
    return "Ed448" if key_kind(key) == "ed448" else "Ed25519"
