"""Test PKI: development CAs and leaves of every key type, made once per session."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

from glasstls import CertifiedKey, TrustStore
from glasstls.crypto.devpki import Issued, make_ca, make_leaf

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "ed25519")
# Post-quantum: ML-DSA certificates, TLS 1.3 only (draft-ietf-tls-mldsa).
MLDSA_KEY_TYPES = ("mldsa44", "mldsa65", "mldsa87")


@dataclass(frozen=True)
class Pki:
    ca: Issued
    leaf: Issued
    client: Issued

    @property
    def trust(self) -> TrustStore:
        return TrustStore([self.ca.certificate])

    @property
    def certified(self) -> CertifiedKey:
        return CertifiedKey((self.leaf.certificate,), self.leaf.key)

    @property
    def client_certified(self) -> CertifiedKey:
        return CertifiedKey((self.client.certificate,), self.client.key)

    def write(self, directory: Path) -> dict[str, Path]:
        """PEM files for peers that read files: ca.pem, cert.pem, key.pem,
        client-cert.pem, client-key.pem."""
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "ca": (directory / "ca.pem", self.ca.certificate_pem()),
            "cert": (directory / "cert.pem", self.leaf.certificate_pem()),
            "key": (directory / "key.pem", self.leaf.key_pem()),
            "client_cert": (directory / "client-cert.pem", self.client.certificate_pem()),
            "client_key": (directory / "client-key.pem", self.client.key_pem()),
        }
        for path, data in files.values():
            path.write_bytes(data)
        return {name: path for name, (path, _) in files.items()}


@functools.cache
def pki(key_type: str = "ecdsa-p256") -> Pki:
    """A CA of the same key type as its leaves (Ed25519 leaves get an Ed25519 CA,
    ML-DSA leaves an ML-DSA CA of the same parameter set)."""
    ca = make_ca(f"glasstls test CA ({key_type})", key_type=key_type)
    leaf = make_leaf(ca, ("localhost", "127.0.0.1"), key_type=key_type)
    client = make_leaf(ca, ("glasstls test client",), key_type=key_type, client=True)
    return Pki(ca, leaf, client)


@functools.cache
def expired_pki() -> Pki:
    ca = make_ca("glasstls expired-leaf CA")
    now = dt.datetime.now(dt.UTC)
    leaf = make_leaf(ca, ("localhost",), not_before=now - dt.timedelta(days=30),
                     not_after=now - dt.timedelta(days=1))
    client = make_leaf(ca, ("client",), client=True)
    return Pki(ca, leaf, client)
