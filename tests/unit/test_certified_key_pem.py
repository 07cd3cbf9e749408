"""``CertifiedKey.from_pem`` with encrypted keys: a wrong password is always reported as
a wrong password, whichever way the decryption happens to fail."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls import CertifiedKey
from glasstls.errors import ConfigError
from pki import pki


def test_every_wrong_password_says_the_key_cannot_be_decrypted() -> None:
    # With PBES2/AES-CBC a wrong password fails the padding check ("Bad decrypt") most
    # of the time, but about one try in 256 the padding looks right and the garbage fails
    # DER parsing instead (CI once met exactly that): 1,000 tries meet both paths.
    material = pki("ecdsa-p256").leaf
    chain = material.certificate_pem()
    key = material.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"))
    for attempt in range(1000):
        with pytest.raises(ConfigError, match="cannot decrypt the private key: wrong password"):
            CertifiedKey.from_pem(chain, key, b"wrong-%d" % attempt)
    assert CertifiedKey.from_pem(chain, key, b"s3cret").chain[0] == material.certificate


def test_a_plain_key_that_does_not_parse_is_not_called_a_password_problem() -> None:
    chain = pki("ecdsa-p256").leaf.certificate_pem()
    garbage = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigError, match="cannot read the private key"):
        CertifiedKey.from_pem(chain, garbage, b"unused")
