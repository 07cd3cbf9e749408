"""AES-256-GCM sealing for session tickets (and anything else the server keeps
at the client's side)."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def seal(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, associated_data)


def open_sealed(key: bytes, nonce: bytes, ciphertext: bytes, associated_data: bytes
                ) -> bytes | None:
    """The plaintext, or None when the ciphertext is not authentic."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except (InvalidTag, ValueError):
        return None
