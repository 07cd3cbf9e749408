"""What the client offers: its ClientHello (one hello for both TLS 1.3 and TLS 1.2)
and what it remembers of it, for both versions' states."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from ..codec import Writer
from ..config import ClientConfig
from ..constants import (
    TLS12,
    TLS13,
    ExtensionType as X,
    HandshakeType as H,
    PskKeyExchangeMode,
)
from ..crypto.groups import GROUPS, KeyShare as PrivateShare
from ..crypto.signatures import tls12_schemes
from ..crypto.suites import SUITES
from ..immutable import frozen
from ..keyschedule import EarlySecrets, KeySchedule
from ..messages.extensions import (
    ALPN,
    EarlyDataIndication,
    Empty,
    Extension,
    KeyShare,
    KeyShareEntry,
    Opaque16,
    PreSharedKey,
    RecordSizeLimit,
    RenegotiationInfo,
    ServerNameList,
    SupportedVersions,
    U8List,
    U16List,
    UnknownExtension,
    write_each_extension,
)
from ..messages.handshake import ClientHello
from ..session import ClientSession
from . import compressed, stapling
from .psk13 import offered_psk
from .transcript import hash_state

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
    # The binder's hash over the hello up to its binders (its name, a hashlib object
    # and how many bytes it covers), for the transcript to start from (``Transcript.seed``); None
    # after a HelloRetryRequest, whose transcript is hashed already.
    binder_hash: tuple[str, Any, int] | None = field(default=None, compare=False, repr=False)


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


@functools.lru_cache(maxsize=256)
def host_name(server_name: str) -> bytes | None:
    """The server_name extension's host name for ``server_name``; None for a literal
    IP address, which RFC 6066 §3 does not send. Cached: a client connects to few
    names, and the IP check and the IDNA codec run in Python."""
    if _is_ip(server_name):
        return None
    return server_name.rstrip(".").encode("idna")


def _is_ip(name: str) -> bool:
    if not (name[:1].isdigit() or ":" in name):
        return False  # cheap answer for host names, before ipaddress's parser
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@frozen
class _Run:
    """Extensions next to each other in the hello, and their bytes in its block."""

    extensions: tuple[Extension, ...]
    encoded: bytes


def _run(extensions: list[Extension]) -> _Run:
    return _Run(tuple(extensions), _encoded(*extensions))


def _encoded(*extensions: Extension) -> bytes:
    """Extensions as they appear in an extensions block (without its length)."""
    w = Writer()
    write_each_extension(w, extensions)
    return bytes(w.buffer)


@frozen
class HelloTemplate:
    """What every ClientHello made with one config offers, with its bytes, made once
    per config (``ClientConfig.hello_template``): a hello then builds and writes only
    what changes per connection (random, session id, GREASE, key shares, server name,
    ticket, cookie, PSK, padding) and splices in the rest, rather than writing the
    same dozen extensions again on every connection. The runs are in wire order,
    between the extensions made per connection."""

    versions: tuple[int, ...]  # offered, in preference order
    suites: tuple[int, ...]
    encoded_suites: bytes  # the cipher_suites vector, length included
    groups: tuple[int, ...]
    before_groups: _Run  # status_request, extended_master_secret, renegotiation_info
    supported_groups: _Run
    ec_point_formats: _Run
    session_ticket: _Run  # the empty one (RFC 5077 §3.2), when tickets are offered
    before_key_share: _Run  # ALPN, signature_algorithms, compress_certificate
    supported_versions: _Run
    psk_key_exchange_modes: _Run
    tail: _Run  # post_handshake_auth, record_size_limit

    @classmethod
    def of(cls, config: ClientConfig) -> HelloTemplate:
        versions = tuple(v for v in (TLS13, TLS12) if v in config.versions)
        offer13 = TLS13 in versions
        offer12 = TLS12 in versions
        suites = ((config.tls13_suites if offer13 else ())
                  + (config.tls12_suites if offer12 else ()))
        w = Writer()
        w.u16_list(suites)
        groups = tuple(g for g in config.groups if offer13 or GROUPS[g].tls12)
        schemes = config.signature_schemes if offer13 else tls12_schemes(config.signature_schemes)
        modes = [PskKeyExchangeMode.psk_dhe_ke]
        if config.allow_psk_ke:
            modes.append(PskKeyExchangeMode.psk_ke)

        before_groups = stapling.status_request(config)
        if offer12:
            # RFC 5746 §3.3: the empty renegotiation_info signals secure renegotiation;
            # a client SHOULD NOT also send TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
            before_groups += [Empty(X.extended_master_secret), RenegotiationInfo(b"")]
        before_key_share: list[Extension] = []
        if config.alpn_protocols:
            before_key_share.append(ALPN(tuple(p.encode() for p in config.alpn_protocols)))
        before_key_share.append(U16List(X.signature_algorithms, tuple(schemes)))
        tail: list[Extension] = []
        if offer13:
            # RFC 8879 §3: certificate compression is TLS 1.3 only.
            before_key_share += compressed.extension(config.certificate_compression)
            if config.post_handshake_auth:
                tail.append(Empty(X.post_handshake_auth))
        if config.record_size_limit is not None:
            tail.append(RecordSizeLimit(config.record_size_limit))
        return cls(
            versions, suites, bytes(w.buffer), groups,
            before_groups=_run(before_groups),
            supported_groups=_run([U16List(X.supported_groups, groups)]),
            ec_point_formats=_run([U8List(X.ec_point_formats, b"\x00")] if offer12 else []),
            session_ticket=_run([UnknownExtension(X.session_ticket, b"")]
                                if offer12 and config.enable_session_tickets else []),
            before_key_share=_run(before_key_share),
            supported_versions=_run([SupportedVersions(versions)] if offer13 else []),
            psk_key_exchange_modes=_run([U8List(X.psk_key_exchange_modes, bytes(modes))]
                                        if offer13 else []),
            tail=_run(tail))


class _Block:
    """A hello's extensions in wire order, written as they are added."""

    __slots__ = ("extensions", "w")

    def __init__(self, w: Writer) -> None:
        self.extensions: list[Extension] = []
        self.w = w

    def add(self, extension: Extension) -> None:
        """One extension made for this connection."""
        self.extensions.append(extension)
        write_each_extension(self.w, (extension,))

    def splice(self, run: _Run) -> None:
        """Extensions of the config's template, bytes and all."""
        self.extensions += run.extensions
        self.w.buffer += run.encoded


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
    template = config.hello_template
    offer13 = TLS13 in template.versions
    offer12 = TLS12 in template.versions
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

    # The hello is written as it is built: header, fixed fields, then the extensions.
    w = Writer()
    w.u8(H.client_hello)
    length_at = w.open_vector(3)
    w.u16(0x0303)  # legacy_version
    w.raw(random)
    w.opaque(1, session_id)
    suites = template.suites
    if grease:
        suites = (grease["suite"], *suites)
        w.u16_list(suites)
    else:
        w.raw(template.encoded_suites)
    w.raw(b"\x01\x00")  # legacy_compression_methods: null only
    block_at = w.open_vector(2)
    block = _Block(w)
    if grease:
        block.add(UnknownExtension(grease["extension1"], b""))
    name = host_name(server_name) if server_name else None
    if name is not None:
        block.add(ServerNameList(name))
    block.splice(template.before_groups)
    if grease:
        block.add(U16List(X.supported_groups, (grease["group"], *template.groups)))
    else:
        block.splice(template.supported_groups)
    block.splice(template.ec_point_formats)
    if resume12 and session is not None and session.ticket and template.session_ticket.extensions:
        block.add(UnknownExtension(X.session_ticket, session.ticket))
    else:
        block.splice(template.session_ticket)
    block.splice(template.before_key_share)
    if offer13:
        block.add(KeyShare(tuple(entries)))
        if grease:
            block.add(SupportedVersions((grease["version"], *template.versions)))
        else:
            block.splice(template.supported_versions)
        block.splice(template.psk_key_exchange_modes)
        if cookie is not None:
            block.add(Opaque16(X.cookie, cookie))
    block.splice(template.tail)
    if grease:
        block.add(UnknownExtension(grease["extension2"], b"\x00"))
    if psk13 is not None and early_data:
        block.add(EarlyDataIndication())
    psk_at = len(w.buffer)
    if psk13 is not None:
        # RFC 8446 §4.2.11: pre_shared_key is always the last extension.
        block.add(offered_psk(psk13, int(config.clock() * 1000)))
    _pad(block, psk_at, psk_last=psk13 is not None)
    w.close_vector(block_at, 2)
    w.close_vector(length_at, 3)
    extensions = block.extensions
    psk_schedule = None
    binder_hash = None
    if psk13 is not None:
        psk_schedule = resumption_schedule(psk13)
        extensions[-1], binder_hash = _bind(w.buffer, extensions[-1], psk_schedule,
                                            transcript_prefix)
    hello = ClientHello(0x0303, random, session_id, suites, b"\x00", tuple(extensions),
                        bytes(w.buffer))
    return SentHello(hello, random, session_id, shares,
                     frozenset([e.type for e in extensions]), grease, psk_schedule,
                     binder_hash)


def _bind(buffer: bytearray, offered: Extension, schedule: KeySchedule, prefix: bytes
          ) -> tuple[PreSharedKey, tuple[str, Any, int] | None]:
    """RFC 8446 §4.2.11.2: the binder, a MAC of the transcript through the hello up
    to its binders list (``prefix``: the transcript before this hello, after a
    HelloRetryRequest), written over its placeholder at the end of the hello's
    bytes (``psk13.with_binder`` does the same to a hello already made); with the
    hash it was made over, for the transcript (``SentHello.binder_hash``)."""
    assert isinstance(offered, PreSharedKey)
    truncated = len(buffer) - offered.binders_length
    hash_name = schedule.suite.hash_name
    state = hash_state(hash_name, prefix + buffer[:truncated])
    binder = schedule.resumption_binder(bytes(state.digest()))
    buffer[len(buffer) - len(binder):] = binder
    return (PreSharedKey(offered.identities, (binder,)),
            None if prefix else (hash_name, state, truncated))


def resumption_schedule(session: ClientSession) -> KeySchedule:
    """The key schedule of a TLS 1.3 session's PSK at its early secret, from the
    session's ``early_secrets`` (worked out now if the session has none yet)."""
    suite = SUITES[session.cipher_suite]
    early = session.early_secrets
    if early is None or not early.made_from(suite.hash_name, session.secret):
        early = session.early_secrets = EarlySecrets(suite.hash_name, session.secret)
    return KeySchedule(suite, early=early)


def _pad(block: _Block, psk_at: int, psk_last: bool) -> None:
    """RFC 7685: some servers hang on hellos of 256..511 bytes; those are padded to
    512, before pre_shared_key (which must stay last and starts at ``psk_at``)."""
    buffer = block.w.buffer
    if not 0xFF < len(buffer) < 0x200:
        return
    pad = UnknownExtension(X.padding, bytes(max(0x200 - len(buffer) - 4, 1)))
    if psk_last:
        block.extensions.insert(len(block.extensions) - 1, pad)
        buffer[psk_at:psk_at] = _encoded(pad)
    else:
        block.add(pad)
