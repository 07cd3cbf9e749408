"""Cipher suites: one table row each (RFC 8446 §B.4, RFC 5289, RFC 7905, RFC 5288)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ..constants import CipherSuite
from ..errors import BadRecordMac


class AEAD:
    """An AEAD key: ``seal`` and ``open`` one record; a failed tag is ``bad_record_mac``.

    The TLS 1.3 record layer's hot path calls the primitive (``Suite.new_primitive``)
    itself, catching ``failure`` for a bad tag.
    """

    __slots__ = ("_impl",)
    failure: ClassVar[type[InvalidTag]] = InvalidTag  # a class attribute, also when compiled

    def __init__(self, impl: AESGCM | ChaCha20Poly1305) -> None:
        self._impl = impl

    def seal(self, nonce: bytes, plaintext: bytes | bytearray | memoryview, aad: bytes
             ) -> bytes:
        return self._impl.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, ciphertext: bytes | memoryview, aad: bytes) -> bytes:
        try:
            return self._impl.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise BadRecordMac("record authentication failed") from None


@dataclass(frozen=True, slots=True)
class Suite:
    id: int
    name: str
    openssl_name: str
    version: int  # 0x0304 for TLS 1.3 suites, 0x0303 for TLS 1.2 suites
    hash_name: str
    hash_len: int
    cipher: str
    key_len: int
    iv_len: int  # TLS 1.3: 12; TLS 1.2 GCM: 4 implicit salt bytes; ChaCha20: 12
    explicit_nonce_len: int  # TLS 1.2 GCM sends 8 nonce bytes per record (RFC 5288 §3)
    key_exchange: str | None  # TLS 1.2 only: "ECDHE" or "RSA"
    authentication: str | None  # TLS 1.2 only: "ECDSA" or "RSA"
    # RFC 8446 §5.5: AES-GCM keys may protect at most 2^24.5 full-size records.
    record_limit: int

    def new_aead(self, key: bytes) -> AEAD:
        return AEAD(self.new_primitive(key))

    def new_primitive(self, key: bytes) -> AESGCM | ChaCha20Poly1305:
        """The AEAD primitive itself, for the record layer's hot path (its
        ``encrypt``/``decrypt`` raise ``AEAD.failure`` for a bad tag)."""
        if self.cipher == "CHACHA20-POLY1305":
            return ChaCha20Poly1305(key)
        return AESGCM(key)

    @property
    def is_tls13(self) -> bool:
        return self.version == 0x0304


_GCM_LIMIT = 2**24
_CHACHA_LIMIT = 2**62


def _row(
    suite: CipherSuite, openssl_name: str, version: int, hash_name: str, cipher: str,
    key_exchange: str | None = None, authentication: str | None = None,
) -> Suite:
    chacha = cipher == "CHACHA20-POLY1305"
    return Suite(
        id=int(suite), name=suite.name, openssl_name=openssl_name, version=version,
        hash_name=hash_name, hash_len=48 if hash_name == "sha384" else 32,
        cipher=cipher, key_len=16 if cipher == "AES-128-GCM" else 32,
        iv_len=12 if (version == 0x0304 or chacha) else 4,
        explicit_nonce_len=0 if (version == 0x0304 or chacha) else 8,
        key_exchange=key_exchange, authentication=authentication,
        record_limit=_CHACHA_LIMIT if chacha else _GCM_LIMIT,
    )


C = CipherSuite
SUITES: dict[int, Suite] = {s.id: s for s in (
    _row(C.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", 0x0304, "sha256", "AES-128-GCM"),
    _row(C.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", 0x0304, "sha384", "AES-256-GCM"),
    _row(C.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", 0x0304, "sha256",
         "CHACHA20-POLY1305"),
    _row(C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", 0x0303,
         "sha256", "AES-128-GCM", "ECDHE", "ECDSA"),
    _row(C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", 0x0303,
         "sha384", "AES-256-GCM", "ECDHE", "ECDSA"),
    _row(C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305",
         0x0303, "sha256", "CHACHA20-POLY1305", "ECDHE", "ECDSA"),
    _row(C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", 0x0303,
         "sha256", "AES-128-GCM", "ECDHE", "RSA"),
    _row(C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", 0x0303,
         "sha384", "AES-256-GCM", "ECDHE", "RSA"),
    _row(C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305",
         0x0303, "sha256", "CHACHA20-POLY1305", "ECDHE", "RSA"),
    _row(C.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", 0x0303, "sha256",
         "AES-128-GCM", "RSA", "RSA"),
    _row(C.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", 0x0303, "sha384",
         "AES-256-GCM", "RSA", "RSA"),
)}

TLS13_SUITES = tuple(s for s in SUITES.values() if s.is_tls13)
TLS12_SUITES = tuple(s for s in SUITES.values() if not s.is_tls13)

DEFAULT_TLS13_SUITES = (
    C.TLS_AES_128_GCM_SHA256, C.TLS_AES_256_GCM_SHA384, C.TLS_CHACHA20_POLY1305_SHA256,
)
# Forward-secret suites only; RSA key transport is appended when enabled.
DEFAULT_TLS12_SUITES = (
    C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, C.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, C.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    C.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
)
RSA_KEY_TRANSPORT_SUITES = (C.TLS_RSA_WITH_AES_128_GCM_SHA256, C.TLS_RSA_WITH_AES_256_GCM_SHA384)


def suite_by_name(name: str) -> Suite:
    """Look a suite up by its IANA name or its OpenSSL name."""
    for suite in SUITES.values():
        if name in (suite.name, suite.openssl_name):
            return suite
    raise KeyError(name)
