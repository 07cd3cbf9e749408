"""``SSLContext.options`` bits, as glasstls honours them.

Each bit an ``ssl`` program may set is one of three kinds: glasstls acts on it
(``HONOURED``), it asks for what glasstls does anyway (``ALREADY``: no
compression, no SSL 3.0, no renegotiation, fresh key shares...), or glasstls
cannot do it, and setting it raises ``ValueError`` rather than being ignored.

    context.options |= ssl.OP_NO_TICKET          # honoured
    context.options |= ssl.OP_NO_COMPRESSION     # already so
    context.options |= 0x200000                  # OP_PRIORITIZE_CHACHA: ValueError
"""

from __future__ import annotations

import ssl

# OpenSSL's values (include/openssl/ssl.h.in, OpenSSL 3.x) for bits that the
# ``ssl`` module has no constant for but that programs set by number.
_OP_NO_EXTENDED_MASTER_SECRET = 0x1
_OP_LEGACY_SERVER_CONNECT = 0x4
_OP_TLSEXT_PADDING = 0x10
_OP_SAFARI_ECDHE_ECDSA_BUG = 0x40
OP_ALLOW_NO_DHE_KEX = 0x400
_OP_DONT_INSERT_EMPTY_FRAGMENTS = 0x800
_OP_NO_ENCRYPT_THEN_MAC = 0x80000
_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = 0x40000
_OP_PRIORITIZE_CHACHA = 0x200000
_OP_CRYPTOPRO_TLSEXT_BUG = 0x80000000

# Bits glasstls acts on, and what each does.
HONOURED: dict[int, str] = {
    ssl.OP_NO_TLSv1_2: "no TLS 1.2",
    ssl.OP_NO_TLSv1_3: "no TLS 1.3",
    ssl.OP_CIPHER_SERVER_PREFERENCE: "a server picks the suite and group in its own order",
    ssl.OP_IGNORE_UNEXPECTED_EOF: "every connection, wrap_bio's included, reads an end "
                                  "without close_notify as end of stream (ragged_eof tells)",
    ssl.OP_NO_TICKET: "a client asks for no TLS 1.2 ticket; a server issues no tickets "
                      "(TLS 1.2 resumes by session id; TLS 1.3 does not resume)",
    ssl.OP_ENABLE_MIDDLEBOX_COMPAT: "a TLS 1.3 client sends a session id and a "
                                    "ChangeCipherSpec (RFC 8446 Appendix D.4); on by default",
    OP_ALLOW_NO_DHE_KEX: "TLS 1.3 resumption may skip the key exchange (psk_ke)",
}

# Bits that ask for what glasstls does anyway (or that only matter to protocol
# versions and cipher suites glasstls does not have).
ALREADY: dict[int, str] = {
    ssl.OP_NO_COMPRESSION: "glasstls never compresses",
    ssl.OP_NO_SSLv3: "SSL 3.0 is never spoken",
    ssl.OP_NO_TLSv1: "TLS 1.0 is never spoken",
    ssl.OP_NO_TLSv1_1: "TLS 1.1 is never spoken",
    ssl.OP_NO_RENEGOTIATION: "renegotiation is always refused",
    _OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION: "renegotiation is always refused",
    _OP_LEGACY_SERVER_CONNECT: "servers without renegotiation_info are accepted (glasstls "
                               "never renegotiates, RFC 5746 §4.1)",
    _OP_TLSEXT_PADDING: "a workaround for old servers (part of OP_ALL)",
    _OP_SAFARI_ECDHE_ECDSA_BUG: "a workaround for old clients (part of OP_ALL)",
    _OP_DONT_INSERT_EMPTY_FRAGMENTS: "CBC suites only (glasstls has none)",
    _OP_NO_ENCRYPT_THEN_MAC: "CBC suites only (glasstls has none)",
    _OP_CRYPTOPRO_TLSEXT_BUG: "GOST suites only (part of OP_ALL)",
}
# OP_SINGLE_DH_USE, OP_SINGLE_ECDH_USE and OP_NO_SSLv2 are 0 in OpenSSL 3: every
# key share is fresh, and SSL 2.0 does not exist.

_ACCEPTED = 0
for _bit in (*HONOURED, *ALREADY):
    _ACCEPTED |= int(_bit)  # a plain int: ~ of an IntFlag keeps only its known bits

# Bits known to be refused, named in the error.
_REFUSED_NAMES = {
    _OP_NO_EXTENDED_MASTER_SECRET: "OP_NO_EXTENDED_MASTER_SECRET (glasstls always uses the "
                                   "extended master secret in TLS 1.2, RFC 7627)",
    _OP_PRIORITIZE_CHACHA: "OP_PRIORITIZE_CHACHA",
}


def check_options(value: int) -> None:
    """Raise ``ValueError`` if ``value`` sets a bit glasstls does not implement."""
    unknown = int(value) & ~_ACCEPTED
    if not unknown:
        return
    names = [_REFUSED_NAMES.get(1 << i, f"0x{1 << i:x}") for i in range(64) if unknown >> i & 1]
    raise ValueError(f"glasstls does not implement the option bit(s) {', '.join(names)}; "
                     "docs/ssl-compat.md lists the options it honours")


__all__ = ["ALREADY", "HONOURED", "OP_ALLOW_NO_DHE_KEX", "check_options"]
