"""Protocol code points (IANA TLS registries, RFC 8446 and RFC 5246).

Messages keep the raw integers they carried, so that values unknown to us
(including GREASE, RFC 8701) survive parsing; these enums give them names.
"""

from __future__ import annotations

import enum
import functools

from . import iana


class ProtocolVersion(enum.IntEnum):
    SSL3 = 0x0300
    TLS10 = 0x0301
    TLS11 = 0x0302
    TLS12 = 0x0303
    TLS13 = 0x0304

    @property
    def label(self) -> str:
        return {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1",
                0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}[self.value]


TLS12 = ProtocolVersion.TLS12
TLS13 = ProtocolVersion.TLS13


class ContentType(enum.IntEnum):
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


class HandshakeType(enum.IntEnum):
    hello_request = 0
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    server_key_exchange = 12
    certificate_request = 13
    server_hello_done = 14
    certificate_verify = 15
    client_key_exchange = 16
    finished = 20
    certificate_status = 22
    key_update = 24
    compressed_certificate = 25
    message_hash = 254


class ExtensionType(enum.IntEnum):
    server_name = 0
    max_fragment_length = 1
    status_request = 5
    supported_groups = 10
    ec_point_formats = 11
    signature_algorithms = 13
    use_srtp = 14
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    client_certificate_type = 19
    server_certificate_type = 20
    padding = 21
    encrypt_then_mac = 22
    extended_master_secret = 23
    compress_certificate = 27
    record_size_limit = 28
    session_ticket = 35
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    oid_filters = 48
    post_handshake_auth = 49
    signature_algorithms_cert = 50
    key_share = 51
    application_settings = 17513
    encrypted_client_hello = 0xFE0D
    renegotiation_info = 0xFF01


class CipherSuite(enum.IntEnum):
    TLS_AES_128_GCM_SHA256 = 0x1301
    TLS_AES_256_GCM_SHA384 = 0x1302
    TLS_CHACHA20_POLY1305_SHA256 = 0x1303
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9
    TLS_RSA_WITH_AES_128_GCM_SHA256 = 0x009C
    TLS_RSA_WITH_AES_256_GCM_SHA384 = 0x009D
    # Signalling values, never negotiated.
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
    TLS_FALLBACK_SCSV = 0x5600


class NamedGroup(enum.IntEnum):
    secp256r1 = 0x0017
    secp384r1 = 0x0018
    secp521r1 = 0x0019
    x25519 = 0x001D
    x448 = 0x001E
    ffdhe2048 = 0x0100
    ffdhe3072 = 0x0101
    SecP256r1MLKEM768 = 0x11EB
    X25519MLKEM768 = 0x11EC
    SecP384r1MLKEM1024 = 0x11ED
    X25519Kyber768Draft00 = 0x6399


class SignatureScheme(enum.IntEnum):
    rsa_pkcs1_sha1 = 0x0201
    ecdsa_sha1 = 0x0203
    rsa_pkcs1_sha256 = 0x0401
    rsa_pkcs1_sha384 = 0x0501
    rsa_pkcs1_sha512 = 0x0601
    ecdsa_secp256r1_sha256 = 0x0403
    ecdsa_secp384r1_sha384 = 0x0503
    ecdsa_secp521r1_sha512 = 0x0603
    rsa_pss_rsae_sha256 = 0x0804
    rsa_pss_rsae_sha384 = 0x0805
    rsa_pss_rsae_sha512 = 0x0806
    ed25519 = 0x0807
    ed448 = 0x0808
    rsa_pss_pss_sha256 = 0x0809
    rsa_pss_pss_sha384 = 0x080A
    rsa_pss_pss_sha512 = 0x080B
    # draft-ietf-tls-mldsa: ML-DSA (FIPS 204), TLS 1.3 only
    mldsa44 = 0x0904
    mldsa65 = 0x0905
    mldsa87 = 0x0906


class CertificateCompressionAlgorithm(enum.IntEnum):
    """RFC 8879 §7.3."""

    zlib = 1
    brotli = 2
    zstd = 3


class CertificateStatusType(enum.IntEnum):
    """RFC 6066 §8."""

    ocsp = 1


class PskKeyExchangeMode(enum.IntEnum):
    psk_ke = 0
    psk_dhe_ke = 1


def is_grease(value: int) -> bool:
    """RFC 8701 §2: 0x0A0A, 0x1A1A, ... 0xFAFA (and 0x0B..0xFA for one-byte fields)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


# Kept: every handshake names its group and signature scheme (an enum lookup is
# slow); the bound holds against peers sending made-up code points.
@functools.lru_cache(maxsize=1024)
def describe(enum_type: type[enum.IntEnum], value: int) -> str:
    """A readable name for a code point, known or not: the engine's own name, else
    the IANA registry's (for what glasstls does not speak), else ``unknown(0x....)``.

    >>> describe(CipherSuite, 0xC013)
    'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'
    """
    if is_grease(value):
        return f"GREASE(0x{value:04x})"
    try:
        return enum_type(value).name
    except ValueError:
        name = _IANA_TABLES.get(enum_type, {}).get(value)
        return name if name is not None else f"unknown(0x{value:04x})"


_IANA_TABLES: dict[type[enum.IntEnum], dict[int, str]] = {
    CipherSuite: iana.CIPHER_SUITES,
    NamedGroup: iana.SUPPORTED_GROUPS,
    SignatureScheme: iana.SIGNATURE_SCHEMES,
    ExtensionType: iana.EXTENSION_TYPES,
}


# RFC 8446 §4.1.3: the last 8 bytes of ServerHello.random when a TLS 1.3
# capable server negotiates TLS 1.2 (or below).
DOWNGRADE_TLS12 = bytes.fromhex("444f574e47524401")
DOWNGRADE_TLS11 = bytes.fromhex("444f574e47524400")

# RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest").
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)

MAX_PLAINTEXT = 2**14
