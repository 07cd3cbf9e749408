"""Whether the AEAD primitives seal a plaintext over itself (the record layer's bulk
path lays a large send's plaintexts out in one buffer and seals each in place,
sparing a zero-filled buffer and a copy per record)."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

_TAG = 16


def seals_in_place(primitive: AESGCM | ChaCha20Poly1305) -> bool:
    """Whether ``primitive.encrypt_into`` with its plaintext a view of the start of
    its output buffer makes the bytes ``encrypt`` makes. OpenSSL's EVP ciphers allow
    it ("in and out may point to the same location") and cryptography passes both
    buffers through; checked on a fixed key, nonce and text rather than assumed, so
    that a version that refuses or differs leaves the record layer its other way."""
    nonce, header = bytes(12), b"\x17\x03\x03\x00\xd8"
    plaintext = bytes(range(200))
    records = bytearray(plaintext + bytes(_TAG))
    view = memoryview(records)
    try:
        primitive.encrypt_into(nonce, view[:200], header, view)
    except Exception:
        return False
    return records == primitive.encrypt(nonce, plaintext, header)


# Every TLS 1.3 AEAD (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305), checked once.
SEALS_IN_PLACE = all(seals_in_place(primitive) for primitive in (
    AESGCM(bytes(16)), AESGCM(bytes(32)), ChaCha20Poly1305(bytes(32))))
