"""TLS 1.2 RSA key transport (RFC 5246 §7.4.7.1).

The server side is written so that it cannot become a padding oracle: a
ciphertext that fails to decrypt, has bad padding, has the wrong length or
carries the wrong version all continue with a random pre-master secret through
the same code path, so the only outcome is a failed Finished — exactly as with
a well-formed secret encrypted to another key. OpenSSL 3.2+ (inside
``cryptography``) already applies implicit rejection to PKCS#1 v1.5 decryption
(a synthetic message instead of an error); the checks below add the length and
version tests without branching on which one failed.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .signatures import PrivateKey, PublicKey


def encrypt_pre_master_secret(public_key: PublicKey, client_version: int,
                              rng: Callable[[int], bytes]) -> tuple[bytes, bytes]:
    """Client side: (pre-master secret, its encryption to the server's key)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError("RSA key exchange needs an RSA certificate")
    pre_master_secret = client_version.to_bytes(2, "big") + rng(46)
    return pre_master_secret, pkcs1v15_encrypt(public_key, pre_master_secret)


def pkcs1v15_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes) -> bytes:
    """RSAES-PKCS1-v1_5 (RFC 8017 §7.2.1). Its padding is random bytes OpenSSL draws
    itself (cryptography takes no seed); a function of its own so that recorded
    transcripts can replay its output."""
    return public_key.encrypt(plaintext, padding.PKCS1v15())


def decrypt_pre_master_secret(private_key: PrivateKey, encrypted: bytes, client_version: int,
                              rng: Callable[[int], bytes]) -> bytes:
    """Server side: the pre-master secret, or a random one on *any* failure."""
    assert isinstance(private_key, rsa.RSAPrivateKey)
    # Drawn before decryption, so that the work done is the same either way.
    fallback = rng(48)
    try:
        candidate = private_key.decrypt(encrypted, padding.PKCS1v15())
    except ValueError:
        # Wrong ciphertext length for the modulus; no padding is examined.
        candidate = b""
    expected_version = client_version.to_bytes(2, "big")
    well_formed = (len(candidate) == 48) & hmac.compare_digest(candidate[:2], expected_version)
    return candidate if well_formed else fallback
