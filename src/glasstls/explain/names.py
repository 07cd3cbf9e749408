"""Code points as text for the dissector: number, IANA name, GREASE marked.

The names come from the table the browser page uses (``web.names``), which knows
what glasstls speaks and what clients commonly send besides.
"""

from __future__ import annotations

from ..constants import CertificateCompressionAlgorithm, ContentType, HandshakeType, is_grease
from ..errors import AlertDescription
from ..ocsp import summary as ocsp_summary
from ..web import names


def _code(value: int, name: str, width: int = 4) -> str:
    if is_grease(value):
        return f"0x{value:0{width}x} GREASE (RFC 8701: a reserved value to keep peers tolerant)"
    return f"0x{value:0{width}x} {name}"


def version_text(value: int) -> str:
    return _code(value, names.version_name(value))


def suite_text(value: int) -> str:
    return _code(value, names.suite_name(value))


def group_text(value: int) -> str:
    return _code(value, names.group_name(value))


def scheme_text(value: int) -> str:
    return _code(value, names.scheme_name(value))


def extension_name(value: int) -> str:
    return names.extension_name(value)


def extension_text(value: int) -> str:
    return _code(value, extension_name(value))


def handshake_name(value: int) -> str:
    try:
        return HandshakeType(value).name
    except ValueError:
        return {3: "hello_verify_request"}.get(value, f"unknown handshake type {value}")


def compression_text(value: int) -> str:
    """A certificate compression algorithm (RFC 8879 §7.3)."""
    try:
        return CertificateCompressionAlgorithm(value).name
    except ValueError:
        return f"unknown ({value})"


def content_type_name(value: int) -> str:
    try:
        return ContentType(value).name
    except ValueError:
        return f"unknown content type {value}"


def alert_name(value: int) -> str:
    try:
        return AlertDescription(value).name
    except ValueError:
        return f"unknown alert {value}"


def alert_meaning(value: int) -> str:
    try:
        return AlertDescription(value).meaning
    except ValueError:
        return "an alert description that no RFC defines"


__all__ = [
    "alert_meaning", "alert_name", "compression_text", "content_type_name", "extension_name",
    "extension_text", "group_text", "handshake_name", "is_grease", "ocsp_summary", "scheme_text",
    "suite_text", "version_text",
]
