"""Key exchange groups: one table row and a small class each.

A client calls ``group.generate(rng)`` and later ``share.complete(server_share)``;
a server calls ``group.respond(client_share, rng) -> (server_share, shared_secret)``.
Hybrids are KEMs, so the server's share is a ciphertext, not a public key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x448, x25519

from ..constants import NamedGroup
from ..errors import (
    IllegalParameter,
    PeerMisbehaved,
)

Random = Callable[[int], bytes]


def _bad_share(group: str, why: str) -> PeerMisbehaved:
    return IllegalParameter(f"invalid {group} key share: {why}")


class KeyShare(Protocol):
    """A client's ephemeral private key, waiting for the server's share."""

    public: bytes

    def complete(self, server_share: bytes) -> bytes: ...


# RFC 7748: X25519 and X448 private keys and public values are strings of the
# group's share size. (private key from bytes, public key from bytes)
_MONTGOMERY: dict[int, tuple[Callable[[bytes], Any], Callable[[bytes], Any]]] = {
    NamedGroup.x25519: (x25519.X25519PrivateKey.from_private_bytes,
                        x25519.X25519PublicKey.from_public_bytes),
    NamedGroup.x448: (x448.X448PrivateKey.from_private_bytes,
                      x448.X448PublicKey.from_public_bytes),
}


class _MontgomeryShare:
    """An X25519 or X448 key."""

    __slots__ = ("_group", "_key", "public")

    def __init__(self, group: int, rng: Random) -> None:
        self._group = GROUPS[group]
        private_key, _ = _MONTGOMERY[group]
        self._key = private_key(rng(self._group.server_share_size))
        self.public: bytes = self._key.public_key().public_bytes_raw()

    def complete(self, server_share: bytes) -> bytes:
        group = self._group
        if len(server_share) != group.server_share_size:
            raise _bad_share(group.name, f"{len(server_share)} bytes, expected "
                             f"{group.server_share_size}")
        _, public_key = _MONTGOMERY[group.id]
        try:
            secret: bytes = self._key.exchange(public_key(server_share))
        except ValueError:
            # RFC 7748 §6 / RFC 8446 §7.4.2: an all-zero shared secret must be rejected.
            raise _bad_share(group.name, "low-order point") from None
        return secret


_CURVES: dict[int, tuple[ec.EllipticCurve, int, int]] = {
    # group: (curve, coordinate size, group order)
    NamedGroup.secp256r1: (
        ec.SECP256R1(), 32,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    NamedGroup.secp384r1: (
        ec.SECP384R1(), 48,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    ),
    # P-521 coordinates are 521 bits, so 66 bytes (SEC 1 §2.3.5); order from SEC 2 §2.6.1.
    NamedGroup.secp521r1: (
        ec.SECP521R1(), 66,
        0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
    ),
}


def _ec_private_key(group: int, rng: Random) -> ec.EllipticCurvePrivateKey:
    curve, size, order = _CURVES[group]
    # Reduce 8 extra bytes of randomness to make the bias negligible (FIPS 186-5 A.2.1).
    scalar = int.from_bytes(rng(size + 8), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, curve)


def _ec_exchange(group: int, key: ec.EllipticCurvePrivateKey, peer: bytes) -> bytes:
    curve, size, _ = _CURVES[group]
    name = NamedGroup(group).name
    # RFC 8446 §4.2.8.2: only the uncompressed point format is allowed.
    if len(peer) != 1 + 2 * size or peer[0] != 4:
        raise _bad_share(name, "not an uncompressed point of the right size")
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer)
        return key.exchange(ec.ECDH(), public)
    except ValueError:
        raise _bad_share(name, "point is not on the curve") from None


class _ECShare:
    __slots__ = ("_group", "_key", "public")

    def __init__(self, group: int, rng: Random) -> None:
        self._group = group
        self._key = _ec_private_key(group, rng)
        self.public = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def complete(self, server_share: bytes) -> bytes:
        return _ec_exchange(self._group, self._key, server_share)


_MLKEM768_PUBLIC = 1184
_MLKEM768_CIPHERTEXT = 1088


class _X25519MLKEM768Share:
    """draft-ietf-tls-ecdhe-mlkem: client share = ML-KEM-768 encapsulation key || X25519
    public key; server share = ML-KEM ciphertext || X25519 public key; shared secret =
    ML-KEM shared secret || X25519 shared secret."""

    __slots__ = ("_kem", "_x25519", "public")

    def __init__(self, rng: Random) -> None:
        self._kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(rng(64))
        self._x25519 = _MontgomeryShare(NamedGroup.x25519, rng)
        self.public = self._kem.public_key().public_bytes_raw() + self._x25519.public

    def complete(self, server_share: bytes) -> bytes:
        if len(server_share) != _MLKEM768_CIPHERTEXT + 32:
            raise _bad_share("X25519MLKEM768", f"{len(server_share)} bytes, expected 1120")
        try:
            kem_secret = self._kem.decapsulate(server_share[:_MLKEM768_CIPHERTEXT])
        except ValueError:
            raise _bad_share("X25519MLKEM768", "bad ML-KEM ciphertext") from None
        return kem_secret + self._x25519.complete(server_share[_MLKEM768_CIPHERTEXT:])


def mlkem768_encapsulate(encapsulation_key: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for an ML-KEM-768 encapsulation key.

    The one key exchange step whose randomness OpenSSL draws itself: cryptography
    takes no seed for it (every key here comes from the config's ``rng``). It is a
    function of its own so that recorded transcripts can replay its output."""
    return mlkem.MLKEM768PublicKey.from_public_bytes(encapsulation_key).encapsulate()


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    client_share_size: int
    server_share_size: int
    hybrid: bool
    tls12: bool  # usable for TLS 1.2 ECDHE

    def generate(self, rng: Random) -> KeyShare:
        if self.id in _MONTGOMERY:
            return _MontgomeryShare(self.id, rng)
        if self.id == NamedGroup.X25519MLKEM768:
            return _X25519MLKEM768Share(rng)
        return _ECShare(self.id, rng)

    def respond(self, client_share: bytes, rng: Random) -> tuple[bytes, bytes]:
        """Server side: (server share, shared secret) for a client's share."""
        if len(client_share) != self.client_share_size:
            raise _bad_share(self.name, f"{len(client_share)} bytes, expected "
                             f"{self.client_share_size}")
        if self.id == NamedGroup.X25519MLKEM768:
            try:
                kem_secret, ciphertext = mlkem768_encapsulate(client_share[:_MLKEM768_PUBLIC])
            except ValueError:
                raise _bad_share(self.name, "bad ML-KEM encapsulation key") from None
            own = _MontgomeryShare(NamedGroup.x25519, rng)
            secret = kem_secret + own.complete(client_share[_MLKEM768_PUBLIC:])
            return ciphertext + own.public, secret
        share = self.generate(rng)
        return share.public, share.complete(client_share)


GROUPS: dict[int, Group] = {g.id: g for g in (
    Group(NamedGroup.X25519MLKEM768, "X25519MLKEM768", 1216, 1120, True, False),
    Group(NamedGroup.x25519, "x25519", 32, 32, False, True),
    Group(NamedGroup.secp256r1, "secp256r1", 65, 65, False, True),
    Group(NamedGroup.secp384r1, "secp384r1", 97, 97, False, True),
    Group(NamedGroup.secp521r1, "secp521r1", 133, 133, False, True),
    Group(NamedGroup.x448, "x448", 56, 56, False, True),
)}

# OpenSSL 3.0 offers P-521 and X448 too; they come last here, offered but never
# sent as a key share, so the first flight stays as it was. In TLS 1.2 the list
# also names the certificate curves we accept (RFC 8422 §5.1).
DEFAULT_GROUPS = (
    NamedGroup.X25519MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1,
    NamedGroup.secp521r1, NamedGroup.x448,
)
DEFAULT_KEY_SHARES = (NamedGroup.X25519MLKEM768, NamedGroup.x25519)


def group_by_name(name: str) -> Group:
    lowered = name.lower()
    aliases = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1",
               "p-521": "secp521r1"}
    lowered = aliases.get(lowered, lowered)
    for group in GROUPS.values():
        if group.name.lower() == lowered:
            return group
    raise KeyError(name)

