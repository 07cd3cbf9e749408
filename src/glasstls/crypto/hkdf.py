"""HMAC, HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1).

A handshake makes some forty HMACs over short inputs, most of them with a key
used more than once in a row (a stage's secrets, a traffic secret's key and IV,
the TLS 1.2 PRF's blocks). ``HmacKey`` pads such a key once (RFC 2104) and copies
the two hash states for each message; ``hmac.digest`` would look the digest up by
name in OpenSSL on every call, which on OpenSSL 3 costs more than the hashing.
A key used once (a Finished MAC, a binder's finished key, an HKDF-Extract) is
cheaper without the states: the module's functions hash its two padded blocks
with the message instead (no state to copy; ~15 % less time per HMAC).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

_TRANS_5C = bytes(x ^ 0x5C for x in range(256))
_TRANS_36 = bytes(x ^ 0x36 for x in range(256))
_HASHES: dict[str, tuple[Callable[..., Any], int]] = {
    "sha256": (hashlib.sha256, 64),
    "sha384": (hashlib.sha384, 128),
    "sha512": (hashlib.sha512, 128),
}


class HmacKey:
    """HMAC (RFC 2104) under one key, for several messages.

    >>> HmacKey("sha256", secret).expand_label(b"key", b"", 16)
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, hash_name: str, key: bytes) -> None:
        new, block = _HASHES[hash_name]
        if len(key) > block:
            key = new(key).digest()
        key = key.ljust(block, b"\x00")
        self._inner = new(key.translate(_TRANS_36))
        self._outer = new(key.translate(_TRANS_5C))

    def digest(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return bytes(outer.digest())

    def expand(self, info: bytes, length: int) -> bytes:
        """HKDF-Expand (RFC 5869 §2.3) with this key as the PRK."""
        output = b""
        block = b""
        counter = 1
        while len(output) < length:
            block = self.digest(block + info + bytes([counter]))
            output += block
            counter += 1
        return output[:length]

    def expand_label(self, label: bytes, context: bytes, length: int) -> bytes:
        """HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix,
        this key being the secret."""
        # The prefix looked up here rather than in _label_info: a call less on the
        # handshake's most frequent path.
        prefix = _LABEL_PREFIXES.get((label, length)) or _label_prefix(label, length)
        info = prefix + _LENGTH_BYTES[len(context)] + context
        if length > self._outer.digest_size:
            return self.expand(info, length)
        # One block, T(1) = HMAC(secret, info || 0x01): every TLS 1.3 derivation,
        # written out (this is the handshake's most frequent call).
        inner = self._inner.copy()
        inner.update(info + b"\x01")
        outer = self._outer.copy()
        outer.update(inner.digest())
        block: bytes = outer.digest()
        return block[:length]


def _label_info(label: bytes, context: bytes, length: int) -> bytes:
    """RFC 8446 §7.1: the HkdfLabel structure, HKDF-Expand's info."""
    prefix = _LABEL_PREFIXES.get((label, length)) or _label_prefix(label, length)
    return prefix + _LENGTH_BYTES[len(context)] + context


def _label_prefix(label: bytes, length: int) -> bytes:
    """HkdfLabel's length and label fields, kept for the next time."""
    full_label = b"tls13 " + label
    prefix = length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label
    if len(_LABEL_PREFIXES) < _LABEL_PREFIXES_KEPT:
        _LABEL_PREFIXES[(label, length)] = prefix  # one dict store: safe across threads
    return prefix


_LENGTH_BYTES = [bytes([n]) for n in range(256)]
# The protocol's own labels and lengths are a few dozen pairs; exporter labels come
# from the application, so past this many the prefix is built afresh, not kept.
_LABEL_PREFIXES_KEPT = 64
_LABEL_PREFIXES: dict[tuple[bytes, int], bytes] = {}


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    """HMAC(key, data) with the named hash (RFC 2104), for a key used once: the
    padded key blocks are hashed with the data, H(K ^ opad || H(K ^ ipad || data))."""
    new, block = _HASHES[hash_name]
    if len(key) > block:
        key = new(key).digest()
    key = key.ljust(block, b"\x00")
    inner = new(key.translate(_TRANS_36) + data).digest()
    return bytes(new(key.translate(_TRANS_5C) + inner).digest())


def extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2), the salt used once."""
    return hmac_digest(hash_name, salt, ikm)


def expand(hash_name: str, prk: bytes, info: bytes, length: int, hash_len: int) -> bytes:
    return HmacKey(hash_name, prk).expand(info, length)


def expand_label(
    hash_name: str, secret: bytes, label: bytes, context: bytes, length: int, hash_len: int
) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix, the
    secret used for this one derivation."""
    info = _label_info(label, context, length)
    if length > hash_len:
        return expand(hash_name, secret, info, length, hash_len)
    return hmac_digest(hash_name, secret, info + b"\x01")[:length]


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
