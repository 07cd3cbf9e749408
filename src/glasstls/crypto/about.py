"""Which cryptography and OpenSSL glasstls runs on (for ``glasstls --version``)."""

from __future__ import annotations

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend


def library_versions() -> dict[str, str]:
    """``{"cryptography": "50.0.2", "openssl": "OpenSSL 3.5.1 1 Jul 2025"}``: the
    primitives' package and the OpenSSL build inside it (not the system's)."""
    return {"cryptography": cryptography.__version__,
            "openssl": backend.openssl_version_text()}


__all__ = ["library_versions"]
