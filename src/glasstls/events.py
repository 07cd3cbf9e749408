"""What ``receive_data`` returns: typed events, in the order they happened."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from itertools import repeat
from operator import call
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


# HandshakeComplete's fields' setters, in the class's order: handshake_complete calls
# them in one C loop (``map`` of ``operator.call``, run out by a zero-length deque)
# rather than a line of Python per field.
_HANDSHAKE_COMPLETE_SETTERS = tuple(_setter(HandshakeComplete, each.name)
                                    for each in fields(HandshakeComplete))
_run_out: Callable[[Iterable[object]], None] = deque[object](maxlen=0).extend


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
    _run_out(map(call, _HANDSHAKE_COMPLETE_SETTERS, repeat(event), (
        version, cipher_suite, key_exchange, group, signature_scheme, alpn_protocol,
        server_name, peer_certificates, resumed, early_data_accepted, extended_master_secret,
        verified_chain, certificate_compression, ocsp_response, ocsp_status)))
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
