"""HMAC, HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1).

A handshake makes some fifty HMACs over short inputs. ``hmac.digest`` looks the
digest up by name in OpenSSL on every call, which on OpenSSL 3 costs more than
the hashing; HMAC (RFC 2104) built on hashlib's constructors is cheaper.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from typing import Any

_TRANS_5C = bytes(x ^ 0x5C for x in range(256))
_TRANS_36 = bytes(x ^ 0x36 for x in range(256))
_HASHES: dict[str, tuple[Callable[..., Any], int]] = {
    "sha256": (hashlib.sha256, 64),
    "sha384": (hashlib.sha384, 128),
    "sha512": (hashlib.sha512, 128),
}


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    """HMAC(key, data) with the named hash (RFC 2104)."""
    new, block = _HASHES[hash_name]
    if len(key) > block:
        key = new(key).digest()
    key = key.ljust(block, b"\x00")
    inner = new(key.translate(_TRANS_36))
    inner.update(data)
    outer = new(key.translate(_TRANS_5C))
    outer.update(inner.digest())
    return bytes(outer.digest())


def extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac_digest(hash_name, salt, ikm)


def expand(hash_name: str, prk: bytes, info: bytes, length: int, hash_len: int) -> bytes:
    if length <= hash_len:
        return hmac_digest(hash_name, prk, info + b"\x01")[:length]
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac_digest(hash_name, prk, block + info + bytes([counter]))
        output += block
        counter += 1
    return output[:length]


# The protocol's own labels and lengths are a few dozen pairs; exporter labels come
# from the application, so past this many the prefix is built afresh, not kept.
_LABEL_PREFIXES_KEPT = 64
_LABEL_PREFIXES: dict[tuple[bytes, int], bytes] = {}


def expand_label(
    hash_name: str, secret: bytes, label: bytes, context: bytes, length: int, hash_len: int
) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix."""
    prefix = _LABEL_PREFIXES.get((label, length))
    if prefix is None:
        full_label = b"tls13 " + label
        prefix = length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label
        if len(_LABEL_PREFIXES) < _LABEL_PREFIXES_KEPT:
            _LABEL_PREFIXES[(label, length)] = prefix  # one dict store: safe across threads
    info = prefix + bytes([len(context)]) + context
    if length > hash_len:
        return expand(hash_name, secret, info, length, hash_len)
    # One block, T(1) = HMAC(secret, info || 0x01): every TLS 1.3 derivation. A
    # secret is usually expanded several times in a row (a stage's secrets, a
    # traffic secret's key, IV and finished key), so its padded hash states are
    # kept for the next few calls rather than recomputed.
    pads = _kept_pads(hash_name, secret)
    inner = pads[0].copy()
    inner.update(info + b"\x01")
    outer = pads[1].copy()
    outer.update(inner.digest())
    return bytes(outer.digest()[:length])


_PADS_KEPT = 16
# Shared by every connection in every thread: the lock makes the look-up, the
# eviction of the oldest entry and the insertion one step (evicting by iterating
# the dict while another thread inserts raised RuntimeError out of receive_data).
_PADS: dict[tuple[str, bytes], tuple[Any, Any]] = {}
_PADS_LOCK = threading.Lock()


def _kept_pads(hash_name: str, secret: bytes) -> tuple[Any, Any]:
    """The pads of ``secret``, from the cache or computed (outside the lock) and kept."""
    key = (hash_name, secret)
    with _PADS_LOCK:
        pads = _PADS.get(key)
    if pads is None:
        pads = _pads(hash_name, secret)
        with _PADS_LOCK:
            if len(_PADS) >= _PADS_KEPT:
                del _PADS[next(iter(_PADS))]
            _PADS[key] = pads
    return pads


def _pads(hash_name: str, key: bytes) -> tuple[Any, Any]:
    """HMAC's inner and outer hash states after the padded key (RFC 2104)."""
    new, block = _HASHES[hash_name]
    if len(key) > block:
        key = new(key).digest()
    key = key.ljust(block, b"\x00")
    return new(key.translate(_TRANS_36)), new(key.translate(_TRANS_5C))


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
