"""The TLS 1.2 PRF (RFC 5246 §5) and the secrets derived with it (§6.3, §7.4.9,
§8.1; RFC 7627 extended master secret; RFC 5705 exporters)."""

from __future__ import annotations

from .hkdf import HmacKey


def _p_hash(key: HmacKey, seed: bytes, length: int) -> bytes:
    """P_hash(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ...,
    ``key`` being the HMAC key of secret."""
    a = key.digest(seed)
    output = key.digest(a + seed)
    while len(output) < length:
        a = key.digest(a)
        output += key.digest(a + seed)
    return output[:length]


def p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    return _p_hash(HmacKey(hash_name, secret), seed, length)


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    return _p_hash(HmacKey(hash_name, secret), label + seed, length)


class MasterSecret:
    """A master secret as the PRF's key: the key block and both Finished messages
    are made under it (RFC 5246 §6.3, §7.4.9), so its HMAC key is padded once for
    the three (four, for the side that checks the peer's Finished too)."""

    __slots__ = ("_key", "secret")

    def __init__(self, hash_name: str, secret: bytes) -> None:
        self.secret = secret
        self._key = HmacKey(hash_name, secret)

    def key_block(self, client_random: bytes, server_random: bytes, length: int) -> bytes:
        return _p_hash(self._key, b"key expansion" + server_random + client_random, length)

    def finished_verify_data(self, client: bool, handshake_hash: bytes) -> bytes:
        label = b"client finished" if client else b"server finished"
        return _p_hash(self._key, label + handshake_hash, 12)


def master_secret(hash_name: str, pre_master_secret: bytes, client_random: bytes,
                  server_random: bytes) -> bytes:
    return prf(hash_name, pre_master_secret, b"master secret", client_random + server_random, 48)


def extended_master_secret(hash_name: str, pre_master_secret: bytes, session_hash: bytes
                           ) -> bytes:
    """RFC 7627 §4: bound to the hash of the handshake through ClientKeyExchange."""
    return prf(hash_name, pre_master_secret, b"extended master secret", session_hash, 48)


def key_block(hash_name: str, master: bytes, client_random: bytes, server_random: bytes,
              length: int) -> bytes:
    return MasterSecret(hash_name, master).key_block(client_random, server_random, length)


def finished_verify_data(hash_name: str, master: bytes, client: bool, handshake_hash: bytes
                         ) -> bytes:
    return MasterSecret(hash_name, master).finished_verify_data(client, handshake_hash)


def export(hash_name: str, master: bytes, client_random: bytes, server_random: bytes,
           label: bytes, context: bytes | None, length: int) -> bytes:
    """RFC 5705 §4: the context, when given, is prefixed with its uint16 length."""
    seed = client_random + server_random
    if context is not None:
        seed += len(context).to_bytes(2, "big") + context
    return prf(hash_name, master, label, seed, length)
