"""Trace events: each handshake step, named as the protocol names it.

The engine never prints; it hands ``TraceEvent`` objects to the config's
``trace`` callback. The CLI and the browser page render them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Step names, in the order a full handshake produces them. A message's step is its
# name (messages/handshake.py ``name``): the connection traces each message once,
# where it is sent or received; the other steps are local decisions.
HELLO_REQUEST = "HelloRequest"
CLIENT_HELLO = "ClientHello"
HELLO_RETRY_REQUEST = "HelloRetryRequest"
SERVER_HELLO = "ServerHello"
END_OF_EARLY_DATA = "EndOfEarlyData"
ENCRYPTED_EXTENSIONS = "EncryptedExtensions"
CERTIFICATE_REQUEST = "CertificateRequest"
CERTIFICATE = "Certificate"
# RFC 8879: a Certificate sent compressed, in its place.
COMPRESSED_CERTIFICATE = "CompressedCertificate"
CERTIFICATE_VERIFICATION = "CertificateVerification"
# TLS 1.2 OCSP staple (RFC 6066 §8), and the client's check of a staple (local).
CERTIFICATE_STATUS = "CertificateStatus"
OCSP_STATUS = "OCSPStatus"
SERVER_KEY_EXCHANGE = "ServerKeyExchange"
SERVER_HELLO_DONE = "ServerHelloDone"
CLIENT_KEY_EXCHANGE = "ClientKeyExchange"
KEY_EXCHANGE = "KeyExchange"
KEY_DERIVATION = "KeyDerivation"
CERTIFICATE_VERIFY = "CertificateVerify"
CHANGE_CIPHER_SPEC = "ChangeCipherSpec"
FINISHED = "Finished"
ESTABLISHED = "Established"
NEW_SESSION_TICKET = "NewSessionTicket"
KEY_UPDATE = "KeyUpdate"
APPLICATION_DATA = "ApplicationData"
ALERT = "Alert"
CLOSE = "Close"

SENT, RECEIVED, LOCAL = "sent", "received", "local"

# The steps that carry a certificate chain.
CERTIFICATE_STEPS = frozenset({CERTIFICATE, COMPRESSED_CERTIFICATE})


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One step. ``side`` is who observed it ("client"/"server"); ``action`` is
    "sent", "received" or "local"; ``direction`` is the arrow on the wire
    ("client->server", "server->client") or "" for local steps."""

    step: str
    side: str
    action: str
    timestamp: float
    details: dict[str, Any] = field(default_factory=dict)
    # Secret values, present only when the config asks for them (show_secrets).
    secrets: dict[str, str] = field(default_factory=dict)
    # Which connection (a number unique in this process), when several share a config.
    connection: int = 0

    @property
    def direction(self) -> str:
        if self.action == LOCAL:
            return ""
        other = "server" if self.side == "client" else "client"
        sender, receiver = (self.side, other) if self.action == SENT else (other, self.side)
        return f"{sender}->{receiver}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": self.step, "side": self.side, "action": self.action,
            "connection": self.connection,
            "direction": self.direction, "timestamp": self.timestamp,
            "details": self.details,
        }
        if self.secrets:
            data["secrets"] = self.secrets
        return data


TraceCallback = Callable[[TraceEvent], None]
