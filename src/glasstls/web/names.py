"""Names for the code points a visitor's ClientHello may carry, including those
glasstls does not implement (a browser offers CBC suites, ALPS, ECH...).

The engine's enums (``constants``) name what glasstls speaks; these tables add the
rest of what clients commonly send, from the IANA TLS registries (cipher suites,
extension types, supported groups, signature schemes) and the drafts that
assigned the newer values. A value in neither is shown as ``unknown (0x....)``.
"""

from __future__ import annotations

import enum

from ..constants import (
    CipherSuite,
    ExtensionType,
    NamedGroup,
    SignatureScheme,
    is_grease,
)

_EXTENSIONS = {
    2: "client_certificate_url", 3: "trusted_ca_keys", 4: "truncated_hmac",
    6: "user_mapping", 7: "client_authz", 8: "server_authz", 9: "cert_type",
    12: "srp", 17: "status_request_v2", 24: "token_binding", 25: "cached_info",
    26: "tls_lts", 29: "pwd_protect", 30: "pwd_clear", 31: "password_salt",
    32: "ticket_pinning", 33: "tls_cert_with_extern_psk", 34: "delegated_credential",
    36: "TLMSP", 37: "TLMSP_proxying", 38: "TLMSP_delegate", 39: "supported_ekt_ciphers",
    52: "transparency_info", 53: "connection_id_deprecated", 54: "connection_id",
    55: "external_id_hash", 56: "external_session_id", 57: "quic_transport_parameters",
    58: "ticket_request", 59: "dnssec_chain", 60: "sequence_number_encryption_algorithms",
    61: "rrc", 62: "tls_flags", 13172: "next_protocol_negotiation",
    17513: "application_settings (old)", 17613: "application_settings",
    30031: "channel_id (old)", 30032: "channel_id",
}

_SUITES = {
    0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA", 0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", 0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x1304: "TLS_AES_128_CCM_SHA256", 0x1305: "TLS_AES_128_CCM_8_SHA256",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC09C: "TLS_RSA_WITH_AES_128_CCM", 0xC09D: "TLS_RSA_WITH_AES_256_CCM",
    0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM", 0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", 0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

_GROUPS = {
    0x0015: "secp224r1", 0x0016: "secp256k1", 0x001A: "brainpoolP256r1",
    0x001B: "brainpoolP384r1", 0x001C: "brainpoolP512r1", 0x001F: "brainpoolP256r1tls13",
    0x0020: "brainpoolP384r1tls13", 0x0021: "brainpoolP512r1tls13", 0x0102: "ffdhe4096",
    0x0103: "ffdhe6144", 0x0104: "ffdhe8192", 0x0200: "MLKEM512", 0x0201: "MLKEM768",
    0x0202: "MLKEM1024",
}

_SCHEMES = {
    0x0202: "dsa_sha1", 0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224",
    0x0303: "ecdsa_sha224", 0x0402: "dsa_sha256", 0x0502: "dsa_sha384",
    0x0602: "dsa_sha512", 0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384", 0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44", 0x0905: "mldsa65", 0x0906: "mldsa87",
}

_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2",
             0x0304: "TLS 1.3", 0x7F1C: "TLS 1.3 draft 28"}

# Post-quantum: ML-KEM alone or in a hybrid with a classical group (and the
# pre-standard Kyber draft); ML-DSA signatures.
POST_QUANTUM_GROUPS = frozenset({0x11EB, 0x11EC, 0x11ED, 0x6399, 0x0200, 0x0201, 0x0202})
HYBRID_GROUPS = frozenset({0x11EB, 0x11EC, 0x11ED, 0x6399})
POST_QUANTUM_SCHEMES = frozenset({0x0904, 0x0905, 0x0906})


def _name(table: dict[int, str], known: type[enum.IntEnum], value: int) -> str:
    if is_grease(value):
        return "GREASE"
    try:
        return known(value).name
    except ValueError:
        return table.get(value, "unknown")


def extension_name(value: int) -> str:
    return _name(_EXTENSIONS, ExtensionType, value)


def suite_name(value: int) -> str:
    return _name(_SUITES, CipherSuite, value)


def group_name(value: int) -> str:
    return _name(_GROUPS, NamedGroup, value)


def scheme_name(value: int) -> str:
    return _name(_SCHEMES, SignatureScheme, value)


def version_name(value: int) -> str:
    if is_grease(value):
        return "GREASE"
    return _VERSIONS.get(value, "unknown")


__all__ = [
    "HYBRID_GROUPS", "POST_QUANTUM_GROUPS", "POST_QUANTUM_SCHEMES",
    "extension_name", "group_name", "scheme_name", "suite_name", "version_name",
]
