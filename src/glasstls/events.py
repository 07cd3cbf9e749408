"""What ``receive_data`` returns: typed events, in the order they happened."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import AlertDescription


@dataclass(frozen=True, slots=True)
class Event:
    pass


@dataclass(frozen=True, slots=True)
class HandshakeComplete(Event):
    """The handshake finished; these are the negotiated parameters."""

    version: str  # "TLSv1.3" / "TLSv1.2"
    cipher_suite: str  # IANA name
    key_exchange: str  # "X25519MLKEM768", "ECDHE x25519", "RSA", "PSK"...
    group: str | None
    signature_scheme: str | None
    alpn_protocol: str | None
    server_name: str | None
    peer_certificates: tuple[bytes, ...]  # DER, leaf first, as the peer sent them
    resumed: bool = False
    early_data_accepted: bool = False
    extended_master_secret: bool | None = None  # TLS 1.2 only
    # The verified path to a trust anchor (DER, leaf first) when verification ran.
    verified_chain: tuple[bytes, ...] = field(default=(), repr=False)
    # RFC 8879: the algorithm that compressed the server's Certificate ("brotli"...),
    # None when it came uncompressed.
    certificate_compression: str | None = None
    # OCSP stapling: the DER response the server stapled (b"" for none) and, on the
    # client, what it says once checked ("good" or "unknown"; None when none came,
    # or when certificate verification, and with it the staple's check, was off).
    # ``glasstls.ocsp.describe_response(ocsp_response)`` reads the rest of it.
    ocsp_response: bytes = field(default=b"", repr=False)
    ocsp_status: str | None = None


@dataclass(frozen=True, slots=True)
class ApplicationData(Event):
    data: bytes
    early: bool = False  # True for 0-RTT data (replayable: RFC 8446 §8)


_new_event = object.__new__
_set_data = ApplicationData.__dict__["data"].__set__  # the slots' descriptors
_set_early = ApplicationData.__dict__["early"].__set__


def received_data(data: bytes) -> ApplicationData:
    """``ApplicationData(data)``, made the way the receive path makes one per record:
    its two slots set directly, rather than through the frozen dataclass's
    ``__init__`` (``object.__setattr__`` per field, about twice the time)."""
    event = _new_event(ApplicationData)
    _set_data(event, data)
    _set_early(event, False)
    return event


@dataclass(frozen=True, slots=True)
class AlertReceived(Event):
    """The peer sent an alert. A fatal one ends the connection."""

    description: AlertDescription
    fatal: bool


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer will send no more data. ``clean``: it said so with close_notify.
    Not clean: the transport ended without it (``receive_eof``), so what was
    received may have been cut short, by the peer or by an attacker."""

    clean: bool = True


@dataclass(frozen=True, slots=True)
class SessionTicketReceived(Event):
    """A NewSessionTicket from the server (TLS 1.3 or 1.2)."""

    lifetime: int
    ticket: bytes = field(repr=False)
    age_add: int = 0
    nonce: bytes = b""
    max_early_data_size: int = 0
    session: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class KeyUpdated(Event):
    """Traffic keys changed. ``direction`` is "read" or "write"."""

    direction: str
    update_requested: bool = False


@dataclass(frozen=True, slots=True)
class CertificateRequested(Event):
    """TLS 1.3 post-handshake authentication: the server asked for a certificate."""

    context: bytes


@dataclass(frozen=True, slots=True)
class PeerCertificateVerified(Event):
    """Post-handshake authentication succeeded (server side)."""

    peer_certificates: tuple[bytes, ...]
