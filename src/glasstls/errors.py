"""One error tree. Every protocol failure carries exactly one alert description.

Peer misbehaviour and local misuse are different branches: ``TLSError`` is what
the peer (or the network) did to us and maps to an alert that is sent; a
``UsageError`` is a bug in the calling program and never reaches the wire.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import Event


class AlertLevel(enum.IntEnum):
    WARNING = 1
    FATAL = 2


class AlertDescription(enum.IntEnum):
    """RFC 8446 §6 and RFC 5246 §7.2 alert descriptions."""

    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    decryption_failed = 21
    record_overflow = 22
    decompression_failure = 30
    handshake_failure = 40
    no_certificate = 41
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    export_restriction = 60
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100
    missing_extension = 109
    unsupported_extension = 110
    certificate_unobtainable = 111
    unrecognized_name = 112
    bad_certificate_status_response = 113
    bad_certificate_hash_value = 114
    unknown_psk_identity = 115
    certificate_required = 116
    general_error = 117
    no_application_protocol = 120

    @property
    def meaning(self) -> str:
        return _MEANINGS.get(self, self.name.replace("_", " "))


_MEANINGS = {
    AlertDescription.close_notify: "the peer closed the connection cleanly",
    AlertDescription.unexpected_message: "a message arrived that the protocol does not allow here",
    AlertDescription.bad_record_mac: "a record failed authentication (tampered or wrong keys)",
    AlertDescription.record_overflow: "a record was larger than the protocol allows",
    AlertDescription.handshake_failure: "no acceptable set of security parameters in common",
    AlertDescription.bad_certificate: "the certificate was corrupt or its signature did not verify",
    AlertDescription.unsupported_certificate: "the certificate is of an unsupported type",
    AlertDescription.certificate_revoked: "the certificate was revoked",
    AlertDescription.certificate_expired: "the certificate has expired or is not yet valid",
    AlertDescription.certificate_unknown: "the certificate could not be accepted",
    AlertDescription.illegal_parameter: "a field was out of range or inconsistent",
    AlertDescription.unknown_ca: "the certificate chain does not lead to a trusted authority",
    AlertDescription.access_denied: "the peer refused access",
    AlertDescription.decode_error: "a message could not be decoded",
    AlertDescription.decrypt_error: "a signature or Finished check failed",
    AlertDescription.protocol_version: "no protocol version in common",
    AlertDescription.insufficient_security: "the peer requires stronger parameters",
    AlertDescription.internal_error: "an internal error unrelated to the peer",
    AlertDescription.inappropriate_fallback: "a fallback connection was refused",
    AlertDescription.user_canceled: "the handshake was canceled",
    AlertDescription.no_renegotiation: "renegotiation was refused",
    AlertDescription.missing_extension: "a required extension was missing",
    AlertDescription.unsupported_extension: "an extension was not allowed here",
    AlertDescription.unrecognized_name: "the server does not know the requested name",
    AlertDescription.unknown_psk_identity: "the pre-shared key identity is unknown",
    AlertDescription.certificate_required: "a client certificate was required",
    AlertDescription.no_application_protocol: "no application protocol (ALPN) in common",
}


class GlassTLSError(Exception):
    """Base of every exception glasstls raises on purpose."""


class UsageError(GlassTLSError):
    """The calling program misused the API (never sent as an alert)."""


class ConfigError(UsageError):
    """A configuration value is invalid; raised at construction."""


class TLSError(GlassTLSError):
    """A protocol failure. ``alert`` is the description that was (or would be) sent.

    Each alert has one class below (``IllegalParameter``, ``DecodeError``...), raised
    with a message alone; the classes group under ``PeerMisbehaved`` and
    ``PeerIncompatible``. Certificate failures are ``BadCertificate``, whose alert
    follows from the reason the chain was refused.
    """

    alert: AlertDescription = AlertDescription.internal_error

    def __init__(self, message: str, alert: AlertDescription | None = None) -> None:
        super().__init__(message)
        if alert is not None:
            self.alert = alert
        # Events decoded in the same receive_data() call before the failure, so
        # that no application data is lost when an error follows it.
        self.events: list[Event] = []

    def __str__(self) -> str:
        return f"{super().__str__()} ({self.alert.name})"


class PeerMisbehaved(TLSError):
    """The peer broke a protocol rule (wrong message, bad value, failed check)."""

    alert = AlertDescription.illegal_parameter


class PeerIncompatible(TLSError):
    """Nothing in common with the peer (version, suites, groups, ALPN...)."""

    alert = AlertDescription.handshake_failure


# -- one class per alert ----------------------------------------------------------------


class DecodeError(PeerMisbehaved):
    """Bytes that do not parse: truncated, over-long, out of bounds, trailing data."""

    alert = AlertDescription.decode_error


class UnexpectedMessage(PeerMisbehaved):
    alert = AlertDescription.unexpected_message


class PlaintextPeer(UnexpectedMessage):
    """The peer's bytes are readable text, not TLS records: a plain HTTP server, an
    SSH banner, an SMTP greeting... ``received`` holds the first bytes it sent."""

    def __init__(self, received: bytes) -> None:
        self.received = received
        super().__init__(f"the peer sent plain text ({self.preview!r}): not TLS")

    @property
    def preview(self) -> str:
        """The first line of what the peer sent, at most 40 characters."""
        line = self.received.split(b"\n", 1)[0].rstrip(b"\r")
        text = line.decode("ascii", "replace")
        return text if len(text) <= 40 else text[:40] + "..."

    @staticmethod
    def looks_like_text(data: bytes | bytearray | memoryview) -> bool:
        """Whether the first line of ``data`` is printable ASCII: no TLS record
        starts so, since content types are 20..24 (binary may follow the line, as
        an SSH server's key exchange follows its banner)."""
        line = bytes(data).split(b"\n", 1)[0]
        return bool(line) and all(32 <= b < 127 or b in (9, 13) for b in line)


class IllegalParameter(PeerMisbehaved):
    alert = AlertDescription.illegal_parameter


class DecryptError(PeerMisbehaved):
    """A signature or Finished that does not verify."""

    alert = AlertDescription.decrypt_error


class RecordOverflow(PeerMisbehaved):
    alert = AlertDescription.record_overflow


class MissingExtension(PeerMisbehaved):
    alert = AlertDescription.missing_extension


class UnsupportedExtension(PeerMisbehaved):
    alert = AlertDescription.unsupported_extension


class InappropriateFallback(PeerMisbehaved):
    alert = AlertDescription.inappropriate_fallback


class BadRecordMac(PeerMisbehaved):
    alert = AlertDescription.bad_record_mac


class HandshakeFailure(PeerIncompatible):
    alert = AlertDescription.handshake_failure


class UnexpectedEOF(HandshakeFailure):
    """The transport ended before the handshake finished. No alert is sent: nobody
    is left to read it."""


class UnrecognizedName(PeerIncompatible):
    """RFC 6066 §3: the server has no certificate for the name the client asked for."""

    alert = AlertDescription.unrecognized_name


class UnsupportedProtocolVersion(PeerIncompatible):
    """The ``protocol_version`` alert: a version we do not speak (or did not offer)."""

    alert = AlertDescription.protocol_version


class NoApplicationProtocol(PeerIncompatible):
    alert = AlertDescription.no_application_protocol


class CertificateRequired(PeerIncompatible):
    alert = AlertDescription.certificate_required


class BadCertificate(TLSError):
    """The peer's certificate chain was rejected; the message names the reason, and
    the alert (bad_certificate, unknown_ca, certificate_expired,
    unsupported_certificate...) follows from it."""

    alert = AlertDescription.bad_certificate


class InternalError(TLSError):
    """Our own failure, not the peer's: a limit reached, or a bug (an unexpected
    exception inside the engine fails the connection with this error)."""

    alert = AlertDescription.internal_error


class AlertReceivedError(TLSError):
    """The peer sent a fatal alert; the connection is over."""

    def __init__(self, alert: AlertDescription) -> None:
        super().__init__(f"peer sent fatal alert {alert.name}: {alert.meaning}", alert)


class ConnectionClosedError(UsageError):
    """The connection is closed (or failed) and cannot be used any more."""
