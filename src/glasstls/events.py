"""What ``receive_data`` returns: typed events, in the order they happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


# The events of every handshake are made through their slots, as ``received_data``
# makes ApplicationData below: calling a frozen dataclass with keywords builds a
# dict of them for ``__init__``, which then sets each field through
# ``object.__setattr__``; a function with the same keywords that sets the slots'
# descriptors directly makes the same event in about 40 % of the time (15 fields,
# twice a handshake). tests/unit/test_events.py checks that both make equal events
# and that each function takes the class's fields with the class's defaults.
_new_event = object.__new__


def _setter(cls: type, name: str) -> Callable[[object, Any], None]:
    """The ``__set__`` of a slotted dataclass's field: it bypasses the frozen check."""
    setter: Callable[[object, Any], None] = cls.__dict__[name].__set__
    return setter


_set_version = _setter(HandshakeComplete, "version")
_set_cipher_suite = _setter(HandshakeComplete, "cipher_suite")
_set_key_exchange = _setter(HandshakeComplete, "key_exchange")
_set_group = _setter(HandshakeComplete, "group")
_set_signature_scheme = _setter(HandshakeComplete, "signature_scheme")
_set_alpn_protocol = _setter(HandshakeComplete, "alpn_protocol")
_set_server_name = _setter(HandshakeComplete, "server_name")
_set_peer_certificates = _setter(HandshakeComplete, "peer_certificates")
_set_resumed = _setter(HandshakeComplete, "resumed")
_set_early_data_accepted = _setter(HandshakeComplete, "early_data_accepted")
_set_extended_master_secret = _setter(HandshakeComplete, "extended_master_secret")
_set_verified_chain = _setter(HandshakeComplete, "verified_chain")
_set_certificate_compression = _setter(HandshakeComplete, "certificate_compression")
_set_ocsp_response = _setter(HandshakeComplete, "ocsp_response")
_set_ocsp_status = _setter(HandshakeComplete, "ocsp_status")


def handshake_complete(
    *, version: str, cipher_suite: str, key_exchange: str, group: str | None,
    signature_scheme: str | None, alpn_protocol: str | None, server_name: str | None,
    peer_certificates: tuple[bytes, ...], resumed: bool = False,
    early_data_accepted: bool = False, extended_master_secret: bool | None = None,
    verified_chain: tuple[bytes, ...] = (), certificate_compression: str | None = None,
    ocsp_response: bytes = b"", ocsp_status: str | None = None,
) -> HandshakeComplete:
    """``HandshakeComplete(...)``, made as the handshakes make theirs: through its slots."""
    event = _new_event(HandshakeComplete)
    _set_version(event, version)
    _set_cipher_suite(event, cipher_suite)
    _set_key_exchange(event, key_exchange)
    _set_group(event, group)
    _set_signature_scheme(event, signature_scheme)
    _set_alpn_protocol(event, alpn_protocol)
    _set_server_name(event, server_name)
    _set_peer_certificates(event, peer_certificates)
    _set_resumed(event, resumed)
    _set_early_data_accepted(event, early_data_accepted)
    _set_extended_master_secret(event, extended_master_secret)
    _set_verified_chain(event, verified_chain)
    _set_certificate_compression(event, certificate_compression)
    _set_ocsp_response(event, ocsp_response)
    _set_ocsp_status(event, ocsp_status)
    return event


@dataclass(frozen=True, slots=True)
class ApplicationData(Event):
    data: bytes
    early: bool = False  # True for 0-RTT data (replayable: RFC 8446 §8)


_set_data = _setter(ApplicationData, "data")
_set_early = _setter(ApplicationData, "early")


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


_set_lifetime = _setter(SessionTicketReceived, "lifetime")
_set_ticket = _setter(SessionTicketReceived, "ticket")
_set_age_add = _setter(SessionTicketReceived, "age_add")
_set_nonce = _setter(SessionTicketReceived, "nonce")
_set_max_early_data_size = _setter(SessionTicketReceived, "max_early_data_size")
_set_session = _setter(SessionTicketReceived, "session")


def session_ticket_received(*, lifetime: int, ticket: bytes, age_add: int = 0,
                            nonce: bytes = b"", max_early_data_size: int = 0,
                            session: object = None) -> SessionTicketReceived:
    """``SessionTicketReceived(...)``, made through its slots (once per ticket)."""
    event = _new_event(SessionTicketReceived)
    _set_lifetime(event, lifetime)
    _set_ticket(event, ticket)
    _set_age_add(event, age_add)
    _set_nonce(event, nonce)
    _set_max_early_data_size(event, max_early_data_size)
    _set_session(event, session)
    return event


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
