"""JA4, FoxIO's TLS client fingerprint, computed from a ClientHello as received.

Written from the published specification (FoxIO-LLC/ja4, ``technical_details/JA4.md``),
not from any implementation of it. A fingerprint has three parts joined by ``_``:

    t13d1516h2_8daaf6152771_e5627efa2ab1
    a          b            c

- **a**, in clear: transport (``t``: TLS over TCP), the highest version offered
  (``13``), ``d`` if there is an SNI extension (a domain) or ``i`` if not, the
  number of cipher suites and of extensions (two digits each, at most 99), and the
  first and last characters of the first ALPN value (``00`` without ALPN).
- **b**: the first 12 hex digits of SHA-256 over the cipher suites, as 4-digit hex,
  sorted, comma-separated.
- **c**: the same over the extension types, sorted, without SNI (0000) and ALPN
  (0010), then ``_`` and the signature algorithms in the order offered.

GREASE values (RFC 8701) are ignored everywhere. ``JA4_r`` is the same with b and c
in clear; ``JA4_o`` and ``JA4_ro`` keep the original order (and SNI and ALPN).

>>> ja4(ClientHello.parse(chromium_150_hello)).fingerprint
't13d1516h2_8daaf6152771_806a8c22fdea'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..constants import ExtensionType as X, is_grease
from ..messages.extensions import ALPN, SupportedVersions, U16List, find
from ..messages.handshake import ClientHello

# JA4.md, "TLS and DTLS Version"; anything else is "00".
_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}
# JA4.md: an empty hashed field is written as twelve zeros, not the hash of "".
_EMPTY_HASH = "000000000000"


@dataclass(frozen=True, slots=True)
class JA4:
    """A ClientHello's JA4 fingerprint, with its parts for showing how it was made."""

    fingerprint: str  # JA4:    a_b_c, b and c hashed, lists sorted
    raw: str  # JA4_r:  a_ciphers_extensions_signature-algorithms, sorted, in clear
    original: str  # JA4_o:  hashed, lists in the order sent (SNI and ALPN kept)
    raw_original: str  # JA4_ro: in clear, in the order sent
    version: str
    sni: str
    alpn: str
    cipher_count: int
    extension_count: int

    @property
    def part_a(self) -> str:
        return self.fingerprint.split("_")[0]

    def to_json(self) -> dict[str, object]:
        return {"ja4": self.fingerprint, "ja4_r": self.raw, "ja4_o": self.original,
                "ja4_ro": self.raw_original,
                "parts": {"transport": self.part_a[0], "version": self.version,
                          "sni": self.sni, "cipher_count": self.cipher_count,
                          "extension_count": self.extension_count, "alpn": self.alpn}}


def _hex_list(values: list[int]) -> str:
    return ",".join(f"{value:04x}" for value in values)


def _truncated_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def _version(hello: ClientHello) -> str:
    # JA4.md: the highest non-GREASE value of supported_versions if the extension
    # is there, else the ClientHello's legacy_version (never the record's version).
    offered = find(hello.extensions, X.supported_versions)
    if isinstance(offered, SupportedVersions):
        versions = [v for v in offered.versions if not is_grease(v)]
        return _VERSIONS.get(max(versions), "00") if versions else "00"
    return _VERSIONS.get(hello.legacy_version, "00")


def _is_alphanumeric(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _alpn(hello: ClientHello) -> str:
    offered = find(hello.extensions, X.application_layer_protocol_negotiation)
    if not isinstance(offered, ALPN) or not offered.protocols or not offered.protocols[0]:
        return "00"
    first = offered.protocols[0]
    if _is_alphanumeric(first[0]) and _is_alphanumeric(first[-1]):
        return chr(first[0]) + chr(first[-1])
    # JA4.md: a non-alphanumeric first or last byte: the first and last characters
    # of the value's hex form instead (0xAB -> "ab", 0x30 0xAB -> "3b").
    as_hex = first.hex()
    return as_hex[0] + as_hex[-1]


def _two_digits(count: int) -> str:
    return f"{min(count, 99):02d}"


def ja4(hello: ClientHello, transport: str = "t") -> JA4:
    """The JA4 fingerprint of ``hello`` (``transport``: "t" TLS over TCP, "q" QUIC)."""
    ciphers = [s for s in hello.cipher_suites if not is_grease(s)]
    extensions = [e.type for e in hello.extensions if not is_grease(e.type)]
    schemes_extension = find(hello.extensions, X.signature_algorithms)
    schemes = ([s for s in schemes_extension.values if not is_grease(s)]
               if isinstance(schemes_extension, U16List) else [])
    version = _version(hello)
    sni = "d" if X.server_name in extensions else "i"
    alpn = _alpn(hello)
    part_a = (f"{transport}{version}{sni}{_two_digits(len(ciphers))}"
              f"{_two_digits(len(extensions))}{alpn}")

    def parts(cipher_list: list[int], extension_list: list[int]) -> tuple[str, str, str, str]:
        cipher_text = _hex_list(cipher_list)
        extension_text = _hex_list(extension_list)
        if schemes:
            # JA4.md: without signature algorithms the string ends with no "_".
            extension_text += "_" + _hex_list(schemes)
        cipher_hash = _truncated_sha256(cipher_text) if cipher_list else _EMPTY_HASH
        extension_hash = _truncated_sha256(extension_text) if extension_list else _EMPTY_HASH
        return cipher_text, extension_text, cipher_hash, extension_hash

    # JA4.md: SNI and ALPN are already in part a, so c leaves them out.
    in_part_a = (X.server_name, X.application_layer_protocol_negotiation)
    sorted_extensions = sorted(e for e in extensions if e not in in_part_a)
    cipher_text, extension_text, cipher_hash, extension_hash = parts(
        sorted(ciphers), sorted_extensions)
    o_cipher_text, o_extension_text, o_cipher_hash, o_extension_hash = parts(ciphers, extensions)
    return JA4(
        fingerprint=f"{part_a}_{cipher_hash}_{extension_hash}",
        raw=f"{part_a}_{cipher_text}_{extension_text}",
        original=f"{part_a}_{o_cipher_hash}_{o_extension_hash}",
        raw_original=f"{part_a}_{o_cipher_text}_{o_extension_text}",
        version=version, sni=sni, alpn=alpn,
        cipher_count=len(ciphers), extension_count=len(extensions),
    )


__all__ = ["JA4", "ja4"]
