"""HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1), on stdlib HMAC.

``hmac.digest`` is OpenSSL's one-shot HMAC in C, the cheapest HMAC Python has.
"""

from __future__ import annotations

import hmac


def extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.digest(salt, ikm, hash_name)


def expand(hash_name: str, prk: bytes, info: bytes, length: int, hash_len: int) -> bytes:
    if length <= hash_len:
        return hmac.digest(prk, info + b"\x01", hash_name)[:length]
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hash_name)
        output += block
        counter += 1
    return output[:length]


def expand_label(
    hash_name: str, secret: bytes, label: bytes, context: bytes, length: int, hash_len: int
) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix."""
    full_label = b"tls13 " + label
    info = (
        length.to_bytes(2, "big")
        + bytes([len(full_label)])
        + full_label
        + bytes([len(context)])
        + context
    )
    return expand(hash_name, secret, info, length, hash_len)


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, hash_name)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
