"""The development PKI kept in the user's state directory, made once and reused by
``glasstls server`` and ``glasstls serve`` when no certificate is given.

Location: ``$GLASSTLS_STATE_DIR``, else ``$XDG_STATE_HOME/glasstls``, else
``~/.local/state/glasstls``. Files: ``ca.pem`` (trust this), ``ca-key.pem``,
``cert.pem`` and ``key.pem`` (the server's ECDSA chain and key), and, made when
first needed (``glasstls server --rsa-key-exchange``), ``cert-rsa.pem`` and
``key-rsa.pem`` from the same CA.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..crypto.devpki import Issued, make_ca, make_leaf

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


def state_dir() -> Path:
    explicit = os.environ.get("GLASSTLS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "glasstls"


@dataclass(frozen=True)
class DevFiles:
    ca: Path
    ca_key: Path
    cert: Path
    key: Path


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _load_ca(files: DevFiles) -> Issued | None:
    try:
        certificate = x509.load_pem_x509_certificate(files.ca.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    except (OSError, ValueError):
        return None
    if certificate.not_valid_after_utc < _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=30):
        return None
    return Issued(certificate, key)  # type: ignore[arg-type]


def _leaf_is_current(files: DevFiles, ca: Issued, names: tuple[str, ...],
                     key_type: str) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(files.cert.read_bytes())
        files.key.read_bytes()
    except (OSError, ValueError):
        return False
    if certificate.public_key_algorithm_oid.dotted_string != _KEY_OIDS[key_type]:
        return False
    if certificate.issuer != ca.certificate.subject:
        return False
    if certificate.not_valid_after_utc < _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=7):
        return False
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in san.value.get_values_for_type(x509.IPAddress)}
    present |= set(san.value.get_values_for_type(x509.DNSName))
    return set(names) <= present


# The public key algorithm each development key type gives its certificate.
_KEY_OIDS = {"ecdsa-p256": "1.2.840.10045.2.1", "rsa-2048": "1.2.840.113549.1.1.1"}


def ensure_dev_certificates(names: tuple[str, ...] = DEFAULT_NAMES,
                            directory: Path | None = None,
                            key_type: str = "ecdsa-p256") -> DevFiles:
    """The development CA and a server certificate (ECDSA P-256, or RSA 2048 with
    ``key_type="rsa-2048"``), created on first use and reused; the leaf is remade
    when it nears expiry or lacks one of ``names``."""
    base = directory or state_dir()
    suffix = "" if key_type == "ecdsa-p256" else "-rsa"
    files = DevFiles(base / "ca.pem", base / "ca-key.pem", base / f"cert{suffix}.pem",
                     base / f"key{suffix}.pem")
    ca = _load_ca(files)
    if ca is None:
        ca = make_ca("glasstls development CA")
        _write(files.ca, ca.certificate_pem())
        _write(files.ca_key, ca.key_pem(), private=True)
    if not _leaf_is_current(files, ca, names, key_type):
        leaf = make_leaf(ca, names, key_type=key_type)
        _write(files.cert, leaf.certificate_pem())
        _write(files.key, leaf.key_pem(), private=True)
    return files
