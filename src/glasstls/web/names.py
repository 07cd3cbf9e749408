"""Names for the code points a visitor's ClientHello may carry, including those
glasstls does not implement (a browser offers CBC suites, ALPS, ECH...).

The engine's enums (``constants``) name what glasstls speaks; the IANA registries
(``glasstls.iana``, generated from the registries' CSV files) name the rest, and
the same table serves the CLI trace and error messages. A few values browsers
send were never registered (drafts, vendor extensions): they are listed here. A
value in none of these is shown as ``unknown``.
"""

from __future__ import annotations

import enum

from .. import iana
from ..constants import (
    CipherSuite,
    ExtensionType,
    NamedGroup,
    SignatureScheme,
    is_grease,
)

# Extensions seen from browsers that no IANA registry holds.
_UNREGISTERED_EXTENSIONS = {
    13172: "next_protocol_negotiation", 17613: "application_settings",
    30031: "channel_id (old)", 30032: "channel_id",
}
_EXTENSIONS = {**iana.EXTENSION_TYPES, **_UNREGISTERED_EXTENSIONS}

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
    return _name(iana.CIPHER_SUITES, CipherSuite, value)


def group_name(value: int) -> str:
    return _name(iana.SUPPORTED_GROUPS, NamedGroup, value)


def scheme_name(value: int) -> str:
    return _name(iana.SIGNATURE_SCHEMES, SignatureScheme, value)


def version_name(value: int) -> str:
    if is_grease(value):
        return "GREASE"
    return _VERSIONS.get(value, "unknown")


__all__ = [
    "HYBRID_GROUPS", "POST_QUANTUM_GROUPS", "POST_QUANTUM_SCHEMES",
    "extension_name", "group_name", "scheme_name", "suite_name", "version_name",
]
