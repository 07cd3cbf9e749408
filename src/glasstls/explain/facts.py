"""What the dissector learns about a connection while it reads the messages: the
values later steps need (randoms, suite, version, key shares, PSK offers, the
messages of the transcript) and where the fields to check are."""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import Field

CLIENT, SERVER = "client", "server"


@dataclass
class Ticket:
    """A TLS 1.3 NewSessionTicket: a later connection may offer ``ticket`` as a PSK."""

    ticket: bytes
    nonce: bytes
    message: int  # index of the NewSessionTicket in the connection's messages


@dataclass
class Facts:
    client_random: bytes = b""
    server_random: bytes = b""
    client_session_id: bytes = b""
    # The negotiated version: 0x0304 from supported_versions, else ServerHello's.
    version: int | None = None
    cipher_suite: int | None = None
    hello_retry: bool = False
    # Key exchange: TLS 1.3 key_share entries and TLS 1.2 ECDHE public values.
    client_shares: dict[int, bytes] = field(default_factory=dict)
    server_share: tuple[int, bytes] | None = None
    client_public: bytes = b""
    encrypted_pre_master_secret: bytes = b""
    # PSK (TLS 1.3): identities offered, the selected one, binders to check.
    psk_identities: list[bytes] = field(default_factory=list)
    binders: list[Field] = field(default_factory=list)
    binders_length: int = 0
    selected_psk: int | None = None
    early_data_offered: bool = False
    early_data_accepted: bool = False
    extended_master_secret_offered: bool = False
    extended_master_secret: bool = False
    tickets: list[Ticket] = field(default_factory=list)
    certificates: dict[str, list[bytes]] = field(default_factory=dict)

    @property
    def tls13(self) -> bool:
        return self.version == 0x0304
