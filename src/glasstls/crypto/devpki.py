"""A development PKI: a CA and leaf certificates for local testing (like mkcert).

Never for production: keys are generated in memory and written unencrypted.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .signatures import PrivateKey, mldsa_parameter_set

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519",
             "mldsa44", "mldsa65", "mldsa87")


def generate_key(key_type: str) -> PrivateKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "mldsa44":
        return mldsa.MLDSA44PrivateKey.generate()
    if key_type == "mldsa65":
        return mldsa.MLDSA65PrivateKey.generate()
    if key_type == "mldsa87":
        return mldsa.MLDSA87PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}; choose from {', '.join(KEY_TYPES)}")


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    # Ed25519 and ML-DSA sign the whole TBSCertificate, without a separate hash.
    if isinstance(key, ed25519.Ed25519PrivateKey) or mldsa_parameter_set(key):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _name(common_name: str, organization: str = "glasstls development") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: PrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def make_ca(common_name: str = "glasstls development CA", key_type: str = "ecdsa-p256",
            days: int = 3650, now: _dt.datetime | None = None) -> Issued:
    key = generate_key(key_type)
    now = now or _dt.datetime.now(_dt.UTC)
    name = _name(common_name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(hours=1))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, _hash_for(key))
    )
    return Issued(certificate, key)


def make_leaf(ca: Issued, names: Sequence[str] = ("localhost", "127.0.0.1"),
              key_type: str = "ecdsa-p256", days: int = 825, client: bool = False,
              not_before: _dt.datetime | None = None,
              not_after: _dt.datetime | None = None, must_staple: bool = False) -> Issued:
    """A server (or client) certificate for DNS names and IP addresses; ``must_staple``
    adds the TLS feature status_request (RFC 7633)."""
    key = generate_key(key_type)
    now = _dt.datetime.now(_dt.UTC)
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else "glasstls client"))
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _dt.timedelta(hours=1))
        .not_valid_after(not_after or now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=isinstance(key, rsa.RSAPrivateKey) and not client,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.key.public_key()), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if must_staple:
        builder = builder.add_extension(
            x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
    return Issued(builder.sign(ca.key, _hash_for(ca.key)), key)


def make_ocsp_response(ca: Issued, certificate: x509.Certificate, status: str = "good",
                       lifetime: _dt.timedelta = _dt.timedelta(days=1)) -> bytes:
    """A DER OCSP response (RFC 6960) about ``certificate``, signed by the ``ca``
    that issued it: "good", "revoked" (key compromise, since an hour ago) or
    "unknown", current from a minute ago for ``lifetime``. What a development
    server staples (``glasstls demo --ocsp``); a real one comes from the CA's
    responder."""
    from cryptography.x509 import ocsp

    statuses = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
                "unknown": ocsp.OCSPCertStatus.UNKNOWN}
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    revoked = status == "revoked"
    response = ocsp.OCSPResponseBuilder().add_response(
        cert=certificate, issuer=ca.certificate, algorithm=hashes.SHA1(),
        cert_status=statuses[status], this_update=now - _dt.timedelta(minutes=1),
        next_update=now + lifetime,
        revocation_time=now - _dt.timedelta(hours=1) if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    ).responder_id(ocsp.OCSPResponderEncoding.NAME, ca.certificate).sign(
        ca.key, _hash_for(ca.key))
    return response.public_bytes(serialization.Encoding.DER)
