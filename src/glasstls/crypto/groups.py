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


Constructors = tuple[Callable[[bytes], Any], Callable[[bytes], Any]]


def montgomery_constructors() -> dict[int, Constructors]:
    """RFC 7748: X25519 and X448 private keys and public values are strings of the
    group's share size. (private key from bytes, public key from bytes) per group.

    cryptography's classmethods (``X25519PrivateKey.from_private_bytes``...) import
    its backend and ask it whether the curve is available (not in FIPS mode) on every
    call, which costs more than making a public key (~3.5 us against ~2 us); a
    handshake makes four. Where the backend says yes, the constructors those
    classmethods end in are taken directly; the answer is asked once, here."""
    constructors: dict[int, Constructors] = {
        NamedGroup.x25519: (x25519.X25519PrivateKey.from_private_bytes,
                            x25519.X25519PublicKey.from_public_bytes),
        NamedGroup.x448: (x448.X448PrivateKey.from_private_bytes,
                          x448.X448PublicKey.from_public_bytes),
    }
    try:
        import cryptography.hazmat.bindings._rust as rust
        from cryptography.hazmat.backends.openssl.backend import backend

        # Its ``openssl`` is an attribute of the extension module, not a module in
        # sys.modules (where a compiled build looks for what the stubs call a module).
        bindings: Any = rust
        rust_openssl = bindings.openssl

        direct = {NamedGroup.x25519: (backend.x25519_supported(), rust_openssl.x25519, 32),
                  NamedGroup.x448: (backend.x448_supported(), rust_openssl.x448, 56)}
        for group, (supported, module, size) in direct.items():
            if supported and _same_keys(constructors[group], module, size):
                constructors[group] = (module.from_private_bytes, module.from_public_bytes)
    except (ImportError, AttributeError):
        pass  # another cryptography layout: its public classmethods, as above
    return constructors


def _same_keys(public: Constructors, module: Any, size: int) -> bool:
    """Whether a private module's constructors still make the keys the public
    classmethods make: checked once, on a fixed key, so that a later cryptography
    whose internals changed meaning falls back instead of failing in a handshake."""
    secret = bytes(range(1, size + 1))
    try:
        expected: bytes = public[0](secret).public_key().public_bytes_raw()
        made: bytes = module.from_private_bytes(secret).public_key().public_bytes_raw()
        peer: bytes = module.from_public_bytes(expected).public_bytes_raw()
    except Exception:  # any change in the private API: use the public one
        return False
    return made == expected and peer == expected


_MONTGOMERY = montgomery_constructors()


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


@dataclass(frozen=True, slots=True)
class _Kem:
    """One ML-KEM parameter set (FIPS 203): its classes and its sizes."""

    name: str
    private: type[mlkem.MLKEM768PrivateKey] | type[mlkem.MLKEM1024PrivateKey]
    public: type[mlkem.MLKEM768PublicKey] | type[mlkem.MLKEM1024PublicKey]
    public_size: int
    ciphertext_size: int


_MLKEM768 = _Kem("ML-KEM-768", mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey, 1184, 1088)
_MLKEM1024 = _Kem("ML-KEM-1024", mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey,
                  1568, 1568)


@dataclass(frozen=True, slots=True)
class _Hybrid:
    """draft-ietf-tls-ecdhe-mlkem: a hybrid share is the concatenation of an ML-KEM
    part and an ECDH part, and so is the shared secret. X25519MLKEM768 puts ML-KEM
    first; SecP256r1MLKEM768 and SecP384r1MLKEM1024 put the ECDH part first (in each
    the NIST-approved component leads, as SP 800-56C asks of a combined secret)."""

    name: str
    kem: _Kem
    ecdh: int  # the classical group
    ecdh_size: int  # its public key (share) size
    kem_first: bool

    def split(self, share: bytes, kem_size: int) -> tuple[bytes, bytes]:
        """(ML-KEM part, ECDH part) of a share whose ML-KEM part is ``kem_size`` long."""
        if self.kem_first:
            return share[:kem_size], share[kem_size:]
        return share[self.ecdh_size:], share[:self.ecdh_size]

    def join(self, kem_part: bytes, ecdh_part: bytes) -> bytes:
        return kem_part + ecdh_part if self.kem_first else ecdh_part + kem_part


def _ecdh_share(group: int, rng: Random) -> _MontgomeryShare | _ECShare:
    return _MontgomeryShare(group, rng) if group in _MONTGOMERY else _ECShare(group, rng)


class _HybridShare:
    """The client's half of a hybrid: an ML-KEM decapsulation key and an ECDH key."""

    __slots__ = ("_ecdh", "_hybrid", "_kem", "public")

    def __init__(self, hybrid: _Hybrid, rng: Random) -> None:
        self._hybrid = hybrid
        self._kem = hybrid.kem.private.from_seed_bytes(rng(64))
        self._ecdh = _ecdh_share(hybrid.ecdh, rng)
        self.public = hybrid.join(self._kem.public_key().public_bytes_raw(), self._ecdh.public)

    def complete(self, server_share: bytes) -> bytes:
        hybrid = self._hybrid
        expected = hybrid.kem.ciphertext_size + hybrid.ecdh_size
        if len(server_share) != expected:
            raise _bad_share(hybrid.name, f"{len(server_share)} bytes, expected {expected}")
        ciphertext, ecdh_public = hybrid.split(server_share, hybrid.kem.ciphertext_size)
        try:
            kem_secret = self._kem.decapsulate(ciphertext)
        except ValueError:
            raise _bad_share(hybrid.name, "bad ML-KEM ciphertext") from None
        return hybrid.join(kem_secret, self._ecdh.complete(ecdh_public))


def _encapsulate(encapsulation_key: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for an ML-KEM-768 or ML-KEM-1024 encapsulation key
    (told apart by its length)."""
    kem = _MLKEM1024 if len(encapsulation_key) == _MLKEM1024.public_size else _MLKEM768
    return kem.public.from_public_bytes(encapsulation_key).encapsulate()


# The one key exchange step whose randomness OpenSSL draws itself: cryptography takes
# no seed for it (every key here comes from the config's ``rng``). A variable, read at
# each call, so that recorded transcripts can replay its output by assigning it (a
# compiled build calls a module's own functions directly, past any patch).
mlkem_encapsulate: Callable[[bytes], tuple[bytes, bytes]] = _encapsulate


def _hybrid_respond(hybrid: _Hybrid, client_share: bytes, rng: Random) -> tuple[bytes, bytes]:
    """Server side of a hybrid: encapsulate to the client's ML-KEM key, answer its ECDH
    key with one of ours; (server share, shared secret)."""
    kem_public_bytes, ecdh_public = hybrid.split(client_share, hybrid.kem.public_size)
    try:
        kem_secret, ciphertext = mlkem_encapsulate(kem_public_bytes)
    except ValueError:
        # FIPS 203 §7.2: the encapsulation key's modulus check failed.
        raise _bad_share(hybrid.name, "bad ML-KEM encapsulation key") from None
    own = _ecdh_share(hybrid.ecdh, rng)
    secret = hybrid.join(kem_secret, own.complete(ecdh_public))
    return hybrid.join(ciphertext, own.public), secret


_HYBRIDS: dict[int, _Hybrid] = {
    NamedGroup.X25519MLKEM768: _Hybrid("X25519MLKEM768", _MLKEM768, NamedGroup.x25519, 32,
                                       kem_first=True),
    NamedGroup.SecP256r1MLKEM768: _Hybrid("SecP256r1MLKEM768", _MLKEM768,
                                          NamedGroup.secp256r1, 65, kem_first=False),
    NamedGroup.SecP384r1MLKEM1024: _Hybrid("SecP384r1MLKEM1024", _MLKEM1024,
                                           NamedGroup.secp384r1, 97, kem_first=False),
}


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    client_share_size: int
    server_share_size: int
    hybrid: bool
    tls12: bool  # usable for TLS 1.2 ECDHE

    def generate(self, rng: Random) -> KeyShare:
        hybrid = _HYBRIDS.get(self.id)
        if hybrid is not None:
            return _HybridShare(hybrid, rng)
        return _ecdh_share(self.id, rng)

    def respond(self, client_share: bytes, rng: Random) -> tuple[bytes, bytes]:
        """Server side: (server share, shared secret) for a client's share."""
        if len(client_share) != self.client_share_size:
            raise _bad_share(self.name, f"{len(client_share)} bytes, expected "
                             f"{self.client_share_size}")
        montgomery = _MONTGOMERY.get(self.id)
        if montgomery is not None:
            # X25519 (most servers' every handshake, looked up first): what generate
            # and complete do, in one call rather than four.
            private_key, public_key = montgomery
            key = private_key(rng(self.server_share_size))
            try:
                secret: bytes = key.exchange(public_key(client_share))
            except ValueError:
                # RFC 7748 §6 / RFC 8446 §7.4.2: an all-zero shared secret is refused.
                raise _bad_share(self.name, "low-order point") from None
            public: bytes = key.public_key().public_bytes_raw()
            return public, secret
        hybrid = _HYBRIDS.get(self.id)
        if hybrid is not None:
            return _hybrid_respond(hybrid, client_share, rng)
        share = self.generate(rng)
        return share.public, share.complete(client_share)


GROUPS: dict[int, Group] = {g.id: g for g in (
    Group(NamedGroup.X25519MLKEM768, "X25519MLKEM768", 1216, 1120, True, False),
    # draft-ietf-tls-ecdhe-mlkem §4.3: P-256 point (65) + ML-KEM-768 key (1184) or
    # ciphertext (1088); P-384 point (97) + ML-KEM-1024 key or ciphertext (1568 each).
    Group(NamedGroup.SecP256r1MLKEM768, "SecP256r1MLKEM768", 1249, 1153, True, False),
    Group(NamedGroup.SecP384r1MLKEM1024, "SecP384r1MLKEM1024", 1665, 1665, True, False),
    Group(NamedGroup.x25519, "x25519", 32, 32, False, True),
    Group(NamedGroup.secp256r1, "secp256r1", 65, 65, False, True),
    Group(NamedGroup.secp384r1, "secp384r1", 97, 97, False, True),
    Group(NamedGroup.secp521r1, "secp521r1", 133, 133, False, True),
    Group(NamedGroup.x448, "x448", 56, 56, False, True),
)}

# Post-quantum hybrids first: a server choosing in this order takes a hybrid whenever
# the client sent a share for one, and asks for one (HelloRetryRequest) only when the
# client sent no share for any group it supports.
DEFAULT_GROUPS = (
    NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.SecP384r1MLKEM1024,
    NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1,
    # OpenSSL 3.0 offers these too; last, and never sent as a first-flight key share.
    # In TLS 1.2 the list also names the certificate curves we accept (RFC 8422 §5.1).
    NamedGroup.secp521r1, NamedGroup.x448,
)
DEFAULT_KEY_SHARES = (NamedGroup.X25519MLKEM768, NamedGroup.x25519)


_CLASSICAL_NAMES: dict[int, str] = {NamedGroup.x25519: "X25519", NamedGroup.secp256r1: "P-256",
                    NamedGroup.secp384r1: "P-384"}


def hybrid_parts(name: str) -> tuple[str, str] | None:
    """(post-quantum part, classical part) of a hybrid group named ``name``, e.g.
    ("ML-KEM-768", "X25519"); None for any other group."""
    for group_id, hybrid in _HYBRIDS.items():
        if GROUPS[group_id].name == name:
            return hybrid.kem.name, _CLASSICAL_NAMES[hybrid.ecdh]
    return None


def hybrid_words(name: str) -> str:
    """The hybrid's parts in wire order ("ML-KEM-768 + X25519", "P-256 + ML-KEM-768"),
    or "" for a group that is not a hybrid."""
    for group_id, hybrid in _HYBRIDS.items():
        if GROUPS[group_id].name == name:
            classical = _CLASSICAL_NAMES[hybrid.ecdh]
            return " + ".join((hybrid.kem.name, classical) if hybrid.kem_first
                              else (classical, hybrid.kem.name))
    return ""


def group_by_name(name: str) -> Group:
    lowered = name.lower()
    aliases = {"p-256": "secp256r1", "prime256v1": "secp256r1", "p-384": "secp384r1",
               "p-521": "secp521r1"}
    lowered = aliases.get(lowered, lowered)
    for group in GROUPS.values():
        if group.name.lower() == lowered:
            return group
    raise KeyError(name)

