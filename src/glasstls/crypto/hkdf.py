"""HMAC, HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1).

A handshake makes some forty HMACs over short inputs, most of them with a key
used more than once in a row (a stage's secrets, a traffic secret's key and IV,
the TLS 1.2 PRF's blocks). ``HmacKey`` pads such a key once (RFC 2104) and copies
the two hash states for each message; ``hmac.digest`` would look the digest up by
name in OpenSSL on every call, which on OpenSSL 3 costs more than the hashing, and
``cryptography``'s HMAC, cheaper per message, costs three times as much to key.
A key used once (a Finished MAC, a binder's finished key, an HKDF-Extract) is
cheaper without the states: the module's functions hash its two padded blocks
with the message instead (no state to copy; ~15 % less time per HMAC).

The HkdfLabel of a derivation (§7.1) is fixed up to its context by its label, its
length and the length of its context: ``HmacKey.derive`` takes that prefix as a
constant the caller keeps (``keyschedule``'s tables, built once per hash and suite).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _hashlib import HASH

# bytes.translate tables that XOR each byte of a padded key with ipad's (0x36) and
# with opad's (0x5c) (RFC 2104); public for callers that pad a key known to be no
# longer than the block themselves (K.ljust(block)), as the TLS 1.3 key schedule
# does with its secrets.
IPAD = bytes(x ^ 0x36 for x in range(256))
OPAD = bytes(x ^ 0x5C for x in range(256))
# Each hash's constructor and block size.
HASHES: dict[str, tuple[Callable[[bytes], HASH], int]] = {
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
        new, ipad, opad = hmac_pads(hash_name, key)
        self._inner = new(ipad)
        self._outer = new(opad)

    def digest(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        # (Typed by assignment: a bytes() call to please mypy costs as much as a
        # tenth of the HMAC's Python; hashlib's digest() is bytes.)
        mac: bytes = outer.digest()
        return mac

    def digest_pair(self, first: bytes, second: bytes) -> tuple[bytes, bytes]:
        """``(digest(first), digest(second))`` in one call: a stage's two traffic
        secrets, a traffic secret's key and IV (the handshake's most frequent pairs)."""
        return hmac_pair(self._inner, self._outer, first, second)

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
        if length > self._outer.digest_size:
            return self.expand(label_prefix(label, length, len(context)) + context, length)
        return self.derive(label_prefix(label, length, len(context)), context, length)

    def derive(self, prefix: bytes, context: bytes, length: int) -> bytes:
        """HKDF-Expand-Label of at most one hash's length, its HkdfLabel given as the
        ``label_prefix`` of its label, length and context length (a constant of each
        derivation, which callers keep) and the context: T(1) = HMAC(secret,
        HkdfLabel || 0x01) cut to ``length``, written out (every TLS 1.3 derivation,
        the handshake's most frequent call)."""
        inner = self._inner.copy()
        inner.update(prefix + context + b"\x01")
        outer = self._outer.copy()
        outer.update(inner.digest())
        block: bytes = outer.digest()
        return block[:length]


def hmac_pair(inner: HASH, outer: HASH, first: bytes, second: bytes) -> tuple[bytes, bytes]:
    """HMAC(K, first) and HMAC(K, second) from K's two hash states, after K ^ ipad
    and after K ^ opad (RFC 2104), which are copied, not updated."""
    first_inner = inner.copy()
    first_inner.update(first)
    first_outer = outer.copy()
    first_outer.update(first_inner.digest())
    second_inner = inner.copy()
    second_inner.update(second)
    second_outer = outer.copy()
    second_outer.update(second_inner.digest())
    return first_outer.digest(), second_outer.digest()


def hmac_pair_last(inner: HASH, outer: HASH, first: bytes, second: bytes
                   ) -> tuple[bytes, bytes]:
    """``hmac_pair`` for the last two HMACs of K: the first copies K's two states, the
    second updates them in place (they are used up; two copies fewer)."""
    first_inner = inner.copy()
    first_inner.update(first)
    first_outer = outer.copy()
    first_outer.update(first_inner.digest())
    inner.update(second)
    outer.update(inner.digest())
    return first_outer.digest(), outer.digest()


def hmac_pads(hash_name: str, key: bytes) -> tuple[Callable[[bytes], HASH], bytes, bytes]:
    """The named hash's constructor and a key's two padded blocks (RFC 2104), K XOR
    ipad and K XOR opad: HMAC(K, text) = H(K ^ opad || H(K ^ ipad || text)). The
    TLS 1.3 key schedule hashes each block once for a key it uses several times
    and copies the two states for each message (``keyschedule._hmac``)."""
    new, block = HASHES[hash_name]
    if len(key) > block:
        key = new(key).digest()
    key = key.ljust(block, b"\x00")
    return new, key.translate(IPAD), key.translate(OPAD)


def hkdf_label_prefix(label: bytes, length: int, context_length: int) -> bytes:
    """RFC 8446 §7.1: the HkdfLabel up to its context: uint16 length, opaque
    label<7..255> = "tls13 " + Label, and the length byte of opaque context<0..255>."""
    full_label = b"tls13 " + label
    return (length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label
            + bytes([context_length]))


def label_prefix(label: bytes, length: int, context_length: int) -> bytes:
    """``hkdf_label_prefix``, kept for the next time."""
    prefix = _LABEL_PREFIXES.get((label, length, context_length))
    if prefix is None:
        prefix = hkdf_label_prefix(label, length, context_length)
        if len(_LABEL_PREFIXES) < _LABEL_PREFIXES_KEPT:
            # One dict store: safe across threads.
            _LABEL_PREFIXES[(label, length, context_length)] = prefix
    return prefix


# The protocol's own labels, lengths and contexts are a few dozen; exporter labels
# come from the application, so past this many the prefix is built afresh, not kept.
_LABEL_PREFIXES_KEPT = 64
_LABEL_PREFIXES: dict[tuple[bytes, int, int], bytes] = {}


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    """HMAC(key, data) with the named hash (RFC 2104), for a key used once: the
    padded key blocks are hashed with the data, H(K ^ opad || H(K ^ ipad || data))."""
    # (hmac_pads written out: this is the hot one, a key used once per call.)
    new, block = HASHES[hash_name]
    if len(key) > block:
        key = new(key).digest()
    key = key.ljust(block, b"\x00")
    inner = new(key.translate(IPAD) + data).digest()
    mac: bytes = new(key.translate(OPAD) + inner).digest()
    return mac


def hmac_once(new: Callable[[bytes], HASH], block: int, key: bytes, data: bytes) -> bytes:
    """``hmac_digest`` for a key no longer than the hash's block (a secret of the
    TLS 1.3 key schedule, one hash long), given the hash's constructor and block
    size (``HASHES``), which the caller holds: no look-up, no length test."""
    key = key.ljust(block, b"\x00")
    mac: bytes = new(key.translate(OPAD) + new(key.translate(IPAD) + data).digest()).digest()
    return mac


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
    info = label_prefix(label, length, len(context)) + context
    if length > hash_len:
        return expand(hash_name, secret, info, length, hash_len)
    return hmac_digest(hash_name, secret, info + b"\x01")[:length]


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
