"""What the client offers: its ClientHello (one hello for both TLS 1.3 and TLS 1.2)
and what it remembers of it, for both versions' states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from ..codec import Writer
from ..config import ClientConfig
from ..constants import (
    TLS12,
    TLS13,
    ExtensionType as X,
    PskKeyExchangeMode,
)
from ..crypto.groups import GROUPS, KeyShare as PrivateShare
from ..crypto.signatures import tls12_schemes
from ..immutable import frozen
from ..keyschedule import KeySchedule
from ..messages.extensions import (
    ALPN,
    EarlyDataIndication,
    Empty,
    Extension,
    KeyShare,
    KeyShareEntry,
    Opaque16,
    RecordSizeLimit,
    RenegotiationInfo,
    ServerNameList,
    SupportedVersions,
    U8List,
    U16List,
    UnknownExtension,
    write_extensions,
)
from ..messages.handshake import ClientHello, serialize
from ..session import ClientSession
from . import compressed, stapling
from .psk13 import early_schedule, offered_psk, with_binder

_GREASE = tuple(0x0A0A + 0x1010 * i for i in range(16))


@frozen
class SentHello:
    """A ClientHello as sent, with the private key shares behind it."""

    hello: ClientHello
    random: bytes
    session_id: bytes
    key_shares: Mapping[int, PrivateShare]
    offered_extensions: frozenset[int]
    grease: Mapping[str, int]
    # The offered TLS 1.3 ticket's key schedule at its early secret (binder made),
    # for the handshake to go on from if the server accepts the PSK.
    psk_schedule: KeySchedule | None = field(default=None, compare=False, repr=False)


@frozen
class ClientOffer:
    """What the client offered, for the states of either version after the hello."""

    config: ClientConfig
    server_name: str | None
    hello: SentHello
    # The session offered for resumption (a TLS 1.3 ticket or a TLS 1.2 session).
    session: ClientSession | None
    early_data: bool  # 0-RTT data offered with the (first) hello
    retried: bool = False  # a HelloRetryRequest was answered
    sent_change_cipher_spec: bool = False  # RFC 8446 Appendix D.4

    @property
    def cache_key(self) -> tuple[str, tuple[str, ...]] | None:
        """Where the session cache keeps this server's sessions (None: not kept)."""
        if self.config.session_cache is None or not self.server_name:
            return None
        return session_cache_key(self.config, self.server_name)


def session_cache_key(config: ClientConfig, server_name: str | None) -> tuple[str, tuple[str, ...]]:
    return (server_name or "", config.alpn_protocols)


def _grease_values(config: ClientConfig) -> Mapping[str, int]:
    if not config.grease:
        return {}
    pool = config.rng(6)
    values = {slot: _GREASE[pool[i] % 16] for i, slot in enumerate(
        ("suite", "group", "version", "extension1", "extension2", "scheme"))}
    # RFC 8446 §4.2: two extensions of one type would be a duplicate.
    if values["extension2"] == values["extension1"]:
        values["extension2"] = _GREASE[(pool[4] + 1) % 16]
    return values


def _is_ip(name: str) -> bool:
    import ipaddress

    if not (name[:1].isdigit() or ":" in name):
        return False  # cheap answer for host names, before ipaddress's parser
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def build_client_hello(
    config: ClientConfig,
    server_name: str | None,
    *,
    random: bytes | None = None,
    session_id: bytes | None = None,
    key_share_groups: tuple[int, ...] | None = None,
    previous_shares: Mapping[int, PrivateShare] | None = None,
    cookie: bytes | None = None,
    grease: Mapping[str, int] | None = None,
    session: ClientSession | None = None,
    transcript_prefix: bytes = b"",
    early_data: bool = False,
) -> SentHello:
    """One ClientHello offering every version, suite and group the config allows.

    The same function builds the second hello after a HelloRetryRequest, with
    the given random, session id, the one requested key share and the cookie.
    """
    rng = config.rng
    versions = tuple(v for v in (TLS13, TLS12) if v in config.versions)
    offer13 = TLS13 in versions
    offer12 = TLS12 in versions
    grease = _grease_values(config) if grease is None else grease
    random = rng(32) if random is None else random
    resume12 = session is not None and session.version == TLS12 and offer12
    psk13 = session if session is not None and session.version == TLS13 and offer13 else None
    if session_id is None:
        if resume12 and session is not None and session.session_id:
            session_id = session.session_id
        elif resume12 or (offer13 and config.middlebox_compatibility):
            # RFC 8446 Appendix D.4: a non-empty session id turns on middlebox
            # compatibility; RFC 5077 §3.4: a ticket goes with a fresh session id.
            session_id = rng(32)
        else:
            session_id = b""

    suites: list[int] = []
    if grease:
        suites.append(grease["suite"])
    if offer13:
        suites += config.tls13_suites
    if offer12:
        suites += config.tls12_suites

    groups = [g for g in config.groups if offer13 or GROUPS[g].tls12]
    shares: dict[int, PrivateShare] = {}
    entries: list[KeyShareEntry] = []
    if offer13:
        if grease and key_share_groups is None:
            # Not after a HelloRetryRequest, which wants exactly one share (§4.1.2).
            entries.append(KeyShareEntry(grease["group"], b"\x00"))
        for group in key_share_groups or config.key_share_groups or ():
            share = (previous_shares or {}).get(group) or GROUPS[group].generate(rng)
            shares[group] = share
            entries.append(KeyShareEntry(group, share.public))

    extensions: list[Extension] = []
    if grease:
        extensions.append(UnknownExtension(grease["extension1"], b""))
    if server_name and not _is_ip(server_name):
        # RFC 6066 §3: literal IP addresses are not sent as a host name.
        extensions.append(ServerNameList(server_name.rstrip(".").encode("idna")))
    extensions += stapling.status_request(config)
    if offer12:
        extensions.append(Empty(X.extended_master_secret))
        # RFC 5746 §3.3: the empty renegotiation_info signals secure renegotiation;
        # a client SHOULD NOT also send TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
        extensions.append(RenegotiationInfo(b""))
    extensions.append(U16List(X.supported_groups,
                              tuple(([grease["group"]] if grease else []) + groups)))
    if offer12:
        extensions.append(U8List(X.ec_point_formats, b"\x00"))
        if config.enable_session_tickets:
            ticket = session.ticket if resume12 and session is not None else b""
            extensions.append(UnknownExtension(X.session_ticket, ticket))
    if config.alpn_protocols:
        extensions.append(ALPN(tuple(p.encode() for p in config.alpn_protocols)))
    schemes = config.signature_schemes if offer13 else tls12_schemes(config.signature_schemes)
    extensions.append(U16List(X.signature_algorithms, tuple(schemes)))
    if offer13:
        # RFC 8879 §3: certificate compression is TLS 1.3 only.
        extensions += compressed.extension(config.certificate_compression)
        extensions.append(KeyShare(tuple(entries)))
        supported = ([grease["version"]] if grease else []) + list(versions)
        extensions.append(SupportedVersions(tuple(supported)))
        modes = [PskKeyExchangeMode.psk_dhe_ke]
        if config.allow_psk_ke:
            modes.append(PskKeyExchangeMode.psk_ke)
        extensions.append(U8List(X.psk_key_exchange_modes, bytes(modes)))
        if cookie is not None:
            extensions.append(Opaque16(X.cookie, cookie))
        if config.post_handshake_auth:
            extensions.append(Empty(X.post_handshake_auth))
    if config.record_size_limit is not None:
        extensions.append(RecordSizeLimit(config.record_size_limit))
    if grease:
        extensions.append(UnknownExtension(grease["extension2"], b"\x00"))
    if psk13 is not None:
        if early_data:
            extensions.append(EarlyDataIndication())
        # RFC 8446 §4.2.11: pre_shared_key is always the last extension.
        extensions.append(offered_psk(psk13, int(config.clock() * 1000)))

    hello = _pad(ClientHello(0x0303, random, session_id, tuple(suites), b"\x00",
                             tuple(extensions)))
    psk_schedule = None
    if psk13 is not None:
        psk_schedule = early_schedule(psk13)
        hello = with_binder(hello, psk13, transcript_prefix, psk_schedule)
    return SentHello(hello, random, session_id, shares,
                     frozenset(e.type for e in hello.extensions), grease, psk_schedule)


def _pad(hello: ClientHello) -> ClientHello:
    """The hello with its bytes in ``raw``. RFC 7685: some servers hang on hellos of
    256..511 bytes; those are padded to 512 (before pre_shared_key, which must
    stay last)."""
    raw = serialize(hello)
    extensions = hello.extensions
    if 0xFF < len(raw) < 0x200:
        pad = UnknownExtension(X.padding, bytes(max(0x200 - len(raw) - 4, 1)))
        if extensions and extensions[-1].type == X.pre_shared_key:
            at = len(raw) - len(_encoded(extensions[-1]))
            extensions = (*extensions[:-1], pad, extensions[-1])
        else:
            at = len(raw)
            extensions = (*extensions, pad)
        raw = _inserted(raw, at, _encoded(pad), _extensions_length_at(hello))
    return ClientHello(hello.legacy_version, hello.random, hello.legacy_session_id,
                       hello.cipher_suites, hello.legacy_compression_methods, extensions, raw)


# The padding is spliced into the serialized hello rather than the hello serialized
# again (a third of the cost of a resumed ClientHello): the bytes around it stay,
# and only the two lengths that enclose it grow.

def _encoded(extension: Extension) -> bytes:
    """One extension as it appears in the extensions block."""
    w = Writer()
    write_extensions(w, (extension,))
    return bytes(w.buffer[2:])  # without the block's own length


def _extensions_length_at(hello: ClientHello) -> int:
    """Where the extensions block's uint16 length is in the serialized hello
    (RFC 8446 §4.1.2): after the header and the fixed fields before it."""
    return (4 + 2 + 32 + 1 + len(hello.legacy_session_id) + 2 + 2 * len(hello.cipher_suites)
            + 1 + len(hello.legacy_compression_methods))


def _inserted(raw: bytes, at: int, extension: bytes, extensions_length_at: int) -> bytes:
    out = bytearray(raw[:at] + extension + raw[at:])
    grown = len(extension)
    out[1:4] = (int.from_bytes(out[1:4], "big") + grown).to_bytes(3, "big")
    length = slice(extensions_length_at, extensions_length_at + 2)
    out[length] = (int.from_bytes(out[length], "big") + grown).to_bytes(2, "big")
    return bytes(out)
