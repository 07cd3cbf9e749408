"""OCSP responses for tests, made with cryptography's builder: good, revoked,
expired, for another certificate, from a delegated responder, or signed by a
stranger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from glasstls.crypto.devpki import Issued
from glasstls.crypto.signatures import PrivateKey, mldsa_parameter_set
from glasstls.ocsp import StapleSource

STATUSES = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN}


def signing_hash(key: PrivateKey) -> hashes.SHA256 | None:
    """Ed25519 and ML-DSA sign without a separate hash."""
    if isinstance(key, ed25519.Ed25519PrivateKey) or mldsa_parameter_set(key):
        return None
    return hashes.SHA256()


def responder(ca: Issued, ocsp_signing: bool = True) -> Issued:
    """A delegated OCSP responder certificate issued directly by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test OCSP responder")]))
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    return Issued(builder.sign(ca.key, signing_hash(ca.key)), key)


def impostor(ca: Issued) -> Issued:
    """A self-signed certificate with ``ca``'s name and a key of its own."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(ca.certificate.subject)
        .issuer_name(ca.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def response(ca: Issued, certificate: x509.Certificate, status: str = "good", *,
             signer: Issued | None = None, this_update: dt.datetime | None = None,
             next_update: dt.datetime | str | None = "default",
             by_key: bool = False, include_signer: bool = True) -> bytes:
    """A DER OCSP response for ``certificate`` (issued by ``ca``), signed by ``signer``
    (the CA itself by default, or a delegated responder)."""
    now = dt.datetime.now(dt.UTC)
    this_update = this_update or now - dt.timedelta(hours=1)
    if next_update == "default":
        next_update = now + dt.timedelta(days=3)
    assert not isinstance(next_update, str)
    signer = signer or ca
    revoked = status == "revoked"
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=certificate, issuer=ca.certificate, algorithm=hashes.SHA1(),
        cert_status=STATUSES[status], this_update=this_update, next_update=next_update,
        revocation_time=now - dt.timedelta(days=1) if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH if by_key else ocsp.OCSPResponderEncoding.NAME,
                   signer.certificate)
    if signer is not ca and include_signer:
        builder = builder.certificates([signer.certificate])
    signed = builder.sign(signer.key, signing_hash(signer.key))
    return signed.public_bytes(serialization.Encoding.DER)


def unsuccessful() -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus.TRY_LATER).public_bytes(serialization.Encoding.DER)


def write(path: Path, der: bytes) -> Path:
    path.write_bytes(der)
    return path


class Unchecked(StapleSource):
    """A careless server's source: it staples whatever it is given, for any
    certificate, expired or not (glasstls's own sources check first)."""

    def __init__(self, der: bytes) -> None:
        super().__init__()
        self.der = der

    def _fetch(self, leaf: x509.Certificate) -> bytes | None:
        return self.der

    def staple(self, leaf: x509.Certificate, leaf_der: bytes, issuer: x509.Certificate | None,
               now: float) -> bytes | None:
        return self.der
