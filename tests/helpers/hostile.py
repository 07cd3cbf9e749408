"""ClientHellos built to cost a server work: the longest lists a 2^16-byte hello can
carry, with the one entry the server can use last.

    records = hostile_records(hostile_client_hello(key_shares=6500, groups=16350))

``hostile_client_hello`` gives the handshake message; ``hostile_records`` frames it
in records of at most 2^14 bytes, as a client would send it.
"""

from __future__ import annotations

import functools
import random as random_module

from glasstls.codec import Writer
from glasstls.constants import (
    TLS12,
    TLS13,
    CipherSuite,
    ExtensionType as X,
    NamedGroup,
    SignatureScheme,
)
from glasstls.crypto.groups import GROUPS

# The largest handshake message a 2^16-byte budget leaves room for, after the
# record headers of the four records it spans.
MAX_HELLO = 2**16 - 4 * 5
_KNOWN_GROUPS = frozenset(GROUPS)


@functools.cache
def _pool(avoid: frozenset[int]) -> list[int]:
    return [v for v in range(1, 0xFFFF) if v not in avoid and (v & 0x0F0F) != 0x0A0A]


def _unknown_values(count: int, avoid: frozenset[int], seed: int) -> list[int]:
    """``count`` distinct uint16 values outside ``avoid`` (and not GREASE)."""
    return random_module.Random(seed).sample(_pool(avoid), count)


def hostile_client_hello(*, key_shares: int = 6500, groups: int = 16350, suites: int = 0,
                         extensions: int = 0, schemes: int = 0, psk_identities: int = 0,
                         share_size: int = 1, padding_to: int = 0, tls13: bool = True,
                         usable_group: int = NamedGroup.x25519, repeat_usable_share: bool = False,
                         seed: int = 1) -> bytes:
    """A ClientHello whose lists are as long as asked: ``key_shares`` shares for
    unknown groups (``share_size`` bytes each), ``groups`` unknown groups, and so on,
    each list ending with the one entry the server can use; then a padding extension
    up to ``padding_to`` bytes. ``tls13=False`` makes a TLS 1.2 hello (no
    supported_versions, no key shares); ``repeat_usable_share`` sends the usable
    share twice. With the defaults it is the 64 KiB hello of issue 12 item 11."""
    rng = random_module.Random(seed)
    share = GROUPS[usable_group].generate(rng.randbytes).public
    # RFC 8446 §4.2.8: every share's group is among supported_groups.
    unknown_groups = _unknown_values(max(groups, key_shares), _KNOWN_GROUPS, seed)
    usable_suites = ([CipherSuite.TLS_AES_128_GCM_SHA256] if tls13 else
                     [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                      CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256])
    w = Writer()
    w.u16(0x0303)
    w.raw(rng.randbytes(32))
    w.opaque(1, rng.randbytes(32))
    _u16_vector(w, [*_unknown_values(suites, frozenset(CipherSuite), seed), *usable_suites])
    w.opaque(1, b"\x00")
    with w.vector(2):
        if tls13:
            _extension(w, X.supported_versions, lambda v: v.opaque(1, b"\x03\x04\x03\x03"))
            _extension(w, X.psk_key_exchange_modes, lambda v: v.opaque(1, b"\x01"))
        else:
            _extension(w, X.ec_point_formats, lambda v: v.opaque(1, b"\x00"))
        _extension(w, X.signature_algorithms, lambda v: _u16_vector(
            v, [*_unknown_values(schemes, frozenset(SignatureScheme), seed),
                SignatureScheme.ed25519, SignatureScheme.ecdsa_secp256r1_sha256,
                SignatureScheme.rsa_pss_rsae_sha256]))
        for ext_type in _unknown_values(extensions, frozenset(X), seed):
            _extension(w, ext_type, lambda v: None)
        # TLS 1.2 (RFC 8422 §5.3): an ECDSA certificate's curve must be offered too.
        curves = [] if tls13 or usable_group == NamedGroup.secp256r1 else [
            NamedGroup.secp256r1]
        _extension(w, X.supported_groups, lambda v: _u16_vector(
            v, [*unknown_groups, usable_group, *curves]))

        def write_shares(v: Writer) -> None:
            with v.vector(2):
                for group in unknown_groups[:key_shares]:
                    v.u16(group)
                    v.opaque(2, bytes(share_size))
                for _ in range(2 if repeat_usable_share else 1):
                    v.u16(usable_group)
                    v.opaque(2, share)

        if tls13:
            _extension(w, X.key_share, write_shares)
        # Message header, what is written, the padding's own header, the PSK after it.
        psk_size = 4 + 4 + psk_identities * (2 + 2 + 4 + 1 + 32) if psk_identities else 0
        room = padding_to - (4 + len(w.buffer) + 4 + psk_size)
        if room >= 0:
            _extension(w, X.padding, lambda v: v.raw(bytes(room)))
        if psk_identities:
            def write_psk(v: Writer) -> None:
                with v.vector(2):
                    for index in range(psk_identities):
                        v.opaque(2, index.to_bytes(2, "big"))
                        v.u32(0)
                with v.vector(2):
                    for _ in range(psk_identities):
                        v.opaque(1, bytes(32))

            # RFC 8446 §4.2.11: pre_shared_key last.
            _extension(w, X.pre_shared_key, write_psk)
    body = bytes(w.buffer)
    return b"\x01" + len(body).to_bytes(3, "big") + body


def _extension(w: Writer, ext_type: int, write: object) -> None:
    w.u16(ext_type)
    with w.vector(2):
        write(w)  # type: ignore[operator]


def _u16_vector(w: Writer, values: list[int]) -> None:
    with w.vector(2):
        for value in values:
            w.u16(value)


def normal_client_hello(tls13: bool = True) -> bytes:
    """A ClientHello such as a browser sends (the same server work, short lists)."""
    return hostile_client_hello(key_shares=0, groups=3, suites=14, extensions=8, schemes=5,
                                tls13=tls13)


def hostile_records(message: bytes) -> bytes:
    """``message`` in handshake records of at most 2^14 bytes (the first says TLS 1.0,
    as clients' first records do)."""
    out = bytearray()
    for start in range(0, len(message), 2**14):
        chunk = message[start:start + 2**14]
        out += (b"\x16\x03\x01" if start == 0 else b"\x16\x03\x03")
        out += len(chunk).to_bytes(2, "big") + chunk
    return bytes(out)


__all__ = ["MAX_HELLO", "TLS12", "TLS13", "hostile_client_hello", "hostile_records",
           "normal_client_hello"]
