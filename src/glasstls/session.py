"""Sessions for resumption: what a client keeps, what a server seals into a ticket,
the keys tickets are sealed with, and the bounded stores behind them.

A ticket is self-contained: the server keeps nothing per session (RFC 5077 §4,
RFC 8446 §4.6.1). Its format is ``key_name(16) || nonce(12) || AEAD(state)``,
with the key name as associated data; the state's encoding is ``SessionState``'s
(format 2; format 1, the codec's layout, is still read).
Ticket keys rotate on a schedule; a ticket under a retired key simply fails to
open and the handshake falls back to a full one. Applications that run several
server processes supply the same ``TicketKeys`` secret to all of them.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .codec import Reader, Writer
from .constants import ProtocolVersion
from .crypto.sealing import Sealer
from .errors import ConfigError, DecodeError
from .immutable import frozen

if TYPE_CHECKING:
    from .keyschedule import EarlySecrets


# SessionState's format 2: its fixed fields and the lengths of the others.
_FORMAT_2 = struct.Struct(">BHHQIIBIBBHI")
_FORMAT_2_SIZE = _FORMAT_2.size
# ...the same fields up to age_add, and from after it to the secret.
_FORMAT_2_HEAD = struct.Struct(">BHHQI")
_FORMAT_2_MIDDLE = struct.Struct(">BIBBHI")


@frozen
class SessionState:
    """What a ticket (or a TLS 1.2 session cache entry) carries."""

    version: int
    cipher_suite: int
    secret: bytes  # TLS 1.3: the resumption PSK; TLS 1.2: the master secret
    issued_ms: int
    lifetime: int  # seconds
    age_add: int = 0
    alpn: bytes = b""
    server_name: bytes = b""
    extended_master_secret: bool = False
    max_early_data_size: int = 0
    peer_certificates: tuple[bytes, ...] = ()

    # Every ticket issued and every ticket resumed with is one encode or decode: the
    # fixed fields and the lengths of the others go in and out with one struct.
    # Format 2 (written): format(1) = 2, version(2) suite(2) issued_ms(8) lifetime(4)
    # age_add(4) extended_master_secret(1) max_early_data_size(4), the lengths of
    # secret(1) alpn(1) server_name(2) peer_certificates(4), then those four fields'
    # bytes in that order, peer_certificates as certificate<3> each.
    # Format 1 (still read: tickets sealed before format 2, by the same ticket keys):
    # the codec's layout, format(1) = 1, version(2) suite(2) secret<1> issued_ms(8)
    # lifetime(4) age_add(4) alpn<1> server_name<2> extended_master_secret(1)
    # max_early_data_size(4) peer_certificates<3> of certificate<3>.
    _HEAD: ClassVar[struct.Struct] = struct.Struct(">BHHB")
    _TIMES: ClassVar[struct.Struct] = struct.Struct(">QIIB")
    _TAIL: ClassVar[struct.Struct] = struct.Struct(">BI")

    def encode(self) -> bytes:
        return self.encode_fields(
            self.version, self.cipher_suite, self.secret, self.issued_ms, self.lifetime,
            self.age_add, self.alpn, self.server_name, self.extended_master_secret,
            self.max_early_data_size, self.peer_certificates)

    @staticmethod
    def encode_fields(version: int, cipher_suite: int, secret: bytes, issued_ms: int,
                      lifetime: int, age_add: int, alpn: bytes, server_name: bytes,
                      extended_master_secret: bool, max_early_data_size: int,
                      peer_certificates: tuple[bytes, ...]) -> bytes:
        """``SessionState(...).encode()`` without the state, in format 2: a server
        sealing a ticket needs its bytes only (the fields in the class's order)."""
        head, middle, tail = SessionState.encode_around(
            version, cipher_suite, len(secret), issued_ms, lifetime, alpn, server_name,
            extended_master_secret, max_early_data_size, peer_certificates)
        try:
            age = age_add.to_bytes(4, "big")
        except OverflowError as error:
            raise ValueError(f"session state field out of range: {error}") from None
        return b"".join((head, age, middle, secret, tail))

    @staticmethod
    def encode_around(version: int, cipher_suite: int, secret_size: int, issued_ms: int,
                      lifetime: int, alpn: bytes, server_name: bytes,
                      extended_master_secret: bool, max_early_data_size: int,
                      peer_certificates: tuple[bytes, ...]) -> tuple[bytes, bytes, bytes]:
        """Format 2 of states alike but for their secret (of ``secret_size`` bytes) and
        age_add, as a connection's tickets are: ``(head, middle, tail)`` such that
        ``head + age_add.to_bytes(4, "big") + middle + secret + tail`` is
        ``encode_fields`` of the same fields (the rest is packed once, not per ticket)."""
        try:
            chain = b"".join([len(c).to_bytes(3, "big") + c for c in peer_certificates]
                             ) if peer_certificates else b""
            return (_FORMAT_2_HEAD.pack(2, version, cipher_suite, issued_ms, lifetime),
                    _FORMAT_2_MIDDLE.pack(1 if extended_master_secret else 0,
                                          max_early_data_size, secret_size, len(alpn),
                                          len(server_name), len(chain)),
                    alpn + server_name + chain)
        except (struct.error, OverflowError) as error:
            # As the codec's Writer: a value that does not fit its field.
            raise ValueError(f"session state field out of range: {error}") from None

    @classmethod
    def decode(cls, data: bytes) -> SessionState:
        try:
            if data[:1] != b"\x02":
                return cls._decode_format_1(data)
            (_, version, suite, issued, lifetime, age_add, ems, max_early, secret_size, alpn_size,
             name_size, chain_size) = _FORMAT_2.unpack_from(data)
        except struct.error:
            raise DecodeError("truncated session state") from None
        # Format 2: the variable fields follow the fixed ones, in order.
        secret_end = _FORMAT_2_SIZE + secret_size
        alpn_end = secret_end + alpn_size
        name_end = alpn_end + name_size
        if name_end + chain_size != len(data):
            raise DecodeError("session state's lengths do not add up to its size")
        if ems > 1:
            raise DecodeError("session state holds out-of-range values")
        return cls(version, suite, data[_FORMAT_2_SIZE:secret_end], issued, lifetime, age_add,
                   data[secret_end:alpn_end], data[alpn_end:name_end], ems == 1, max_early,
                   cls._certificates(data, name_end) if chain_size else ())

    @staticmethod
    def _certificates(data: bytes, at: int) -> tuple[bytes, ...]:
        """certificate<3> after certificate up to the end of ``data``."""
        chain = []
        end = len(data)
        while at < end:
            size = int.from_bytes(data[at:at + 3], "big")
            at += 3 + size
            if at > end:
                raise DecodeError("truncated certificate in a session state")
            chain.append(data[at - size:at])
        return tuple(chain)

    @classmethod
    def _decode_format_1(cls, data: bytes) -> SessionState:
        # unpack_from raises struct.error past the end; each slice is checked by the
        # unpack that follows it, and the chain against the end of the data.
        format_version, version, suite, size = cls._HEAD.unpack_from(data)
        if format_version != 1:
            raise DecodeError("unknown session state format")
        at = cls._HEAD.size + size
        secret = data[at - size:at]
        issued, lifetime, age_add, size = cls._TIMES.unpack_from(data, at)
        at += cls._TIMES.size + size
        alpn = data[at - size:at]
        size = int.from_bytes(data[at:at + 2], "big")
        at += 2 + size
        server_name = data[at - size:at]
        ems, max_early = cls._TAIL.unpack_from(data, at)
        at += cls._TAIL.size
        end = at + 3 + int.from_bytes(data[at:at + 3], "big")
        if at + 3 > len(data) or end != len(data):
            raise DecodeError("session state's certificate list does not end with it")
        return cls(version, suite, secret, issued, lifetime, age_add, alpn, server_name,
                   ems == 1, max_early, cls._certificates(data, at + 3))


@frozen
class TicketKey:
    name: bytes  # 16 bytes, sent in the clear to find the key
    sealer: Sealer  # AES-256-GCM under the key's 32 bytes
    created: float


class _KeyTable:
    """The ticket keys in use at a time, never changed once made: ``TicketKeys``
    replaces the whole table when keys rotate, so a connection reads one consistent
    table without taking a lock (one attribute read is atomic)."""

    __slots__ = ("by_name", "keys", "since", "until")

    def __init__(self, keys: tuple[TicketKey, ...], since: float, until: float) -> None:
        self.keys = keys  # newest first: keys[0] seals
        self.by_name = {key.name: key for key in keys}
        # The table holds from ``since`` until (not at) ``until``; before ``since`` or
        # from ``until`` on, it is worked out again.
        self.since = since
        self.until = until


# Before the first ticket: no keys, worked out at any time.
_NO_KEYS = _KeyTable((), float("inf"), float("-inf"))


class TicketKeys:
    """Rotating keys that seal session tickets.

    A new key becomes current every ``rotate_after`` seconds; older keys still
    open tickets for ``accept_for`` seconds after they retire, then are dropped.
    Pass ``secret`` to derive the keys deterministically from it and the time
    (so that every server sharing the secret derives the same keys), or leave it
    out for random per-process keys. Random keys and the tickets' nonces come from
    ``rng`` if given, else from the ``rng`` of the config that seals or opens (so
    that one seed reproduces a whole connection), else from ``os.urandom``.

    >>> keys = TicketKeys(secret=bytes(32), rotate_after=3600)
    """

    def __init__(self, secret: bytes | None = None, rotate_after: float = 3600.0,
                 accept_for: float = 7200.0, rng: Callable[[int], bytes] | None = None
                 ) -> None:
        if secret is not None and len(secret) < 32:
            raise ConfigError("a shared ticket secret needs at least 32 bytes")
        if rotate_after <= 0 or accept_for < 0:
            raise ConfigError("rotate_after must be > 0 and accept_for >= 0")
        self._secret = secret
        self._rotate_after = rotate_after
        self._accept_for = accept_for
        self._rng = rng
        # The keys that seal (newest first) and, without a secret, open: per ticket
        # only read; replaced under the lock when a key is added or dropped.
        self._sealing = _NO_KEYS
        # With a secret: the keys derived for each epoch still accepted, for opening.
        self._opening = _NO_KEYS
        self._lock = threading.Lock()

    def _rng_for(self, rng: Callable[[int], bytes] | None) -> Callable[[int], bytes]:
        return self._rng or rng or os.urandom

    def _make(self, epoch: int, rng: Callable[[int], bytes] | None = None) -> TicketKey:
        created = epoch * self._rotate_after
        if self._secret is None:
            rng = self._rng_for(rng)
            return TicketKey(rng(16), Sealer(rng(32)), created)
        material = hashlib.sha512(self._secret + b"glasstls ticket key" +
                                  epoch.to_bytes(8, "big")).digest()
        return TicketKey(material[:16], Sealer(material[16:48]), created)

    def _refreshed(self, now: float, rng: Callable[[int], bytes] | None) -> _KeyTable:
        """The sealing table at ``now``: a new key at a new epoch, retired keys past
        ``accept_for`` dropped."""
        with self._lock:
            table = self._sealing
            if now < table.until:  # another thread was first
                return table
            epoch = int(now // self._rotate_after)
            keys = table.keys
            if not keys or keys[0].created < epoch * self._rotate_after:
                keys = (self._make(epoch, rng), *keys)
            oldest = now - self._rotate_after - self._accept_for
            keys = tuple(k for i, k in enumerate(keys) if i == 0 or k.created >= oldest)
            # The next change: a new key at the next epoch, or the oldest retired one
            # dropped (an earlier time, a clock set back, changes nothing).
            retired = [k.created + self._rotate_after + self._accept_for for k in keys[1:]]
            table = self._sealing = _KeyTable(
                keys, float("-inf"), min([keys[0].created + self._rotate_after, *retired]))
            return table

    def _derived_keys(self, now: float) -> _KeyTable:
        """With a secret: the keys of every epoch still accepted, newest first,
        whether or not this process was running when each was current; one period
        of clock skew between servers is allowed ahead. A key of epoch e retires at
        (e + 1) * rotate_after and is accepted for accept_for after that."""
        rotate_after, accept_for = self._rotate_after, self._accept_for
        newest = int(now // rotate_after) + 1
        oldest = int((now - accept_for) // rotate_after)
        with self._lock:
            derived = {key.created: key for key in self._opening.keys}
            keys = tuple(derived.get(epoch * rotate_after) or self._make(epoch)
                         for epoch in range(newest, oldest - 1, -1))
            # The same epochs, newest and oldest, from ``since`` until ``until``
            # (the later and earlier of the times either changes).
            table = self._opening = _KeyTable(
                keys, max((newest - 1) * rotate_after, oldest * rotate_after + accept_for),
                min(newest * rotate_after, (oldest + 1) * rotate_after + accept_for))
            return table

    def seal(self, state: bytes, now: float, rng: Callable[[int], bytes] | None = None
             ) -> bytes:
        name, seal, nonces = self.sealing(now, rng)
        nonce = nonces(12)
        return name + nonce + seal(nonce, state, name)

    def sealing(self, now: float, rng: Callable[[int], bytes] | None = None
                ) -> tuple[bytes, Callable[[bytes, bytes, bytes], bytes], Callable[[int], bytes]]:
        """What ``seal`` looks up, once for several tickets sealed at ``now`` (a
        connection's): the current key's name, its ``Sealer.seal`` and where the
        nonces come from. A ticket is then ``name + nonce + seal(nonce, state, name)``
        with a fresh ``nonce = nonces(12)`` each (``seal(state, now, rng)``), and is
        ``TICKET_OVERHEAD`` bytes longer than its state."""
        table = self._sealing
        if now >= table.until:
            table = self._refreshed(now, rng)
        key = table.keys[0]
        return key.name, key.sealer.seal, self._rng or rng or os.urandom  # _rng_for

    def open(self, ticket: bytes, now: float, rng: Callable[[int], bytes] | None = None
             ) -> bytes | None:
        """The sealed state, or None for a ticket we cannot (or may no longer) open."""
        if len(ticket) < 16 + 12 + 16:
            return None
        if self._secret is not None:
            table = self._opening
            if not table.since <= now < table.until:
                table = self._derived_keys(now)
        else:
            table = self._sealing
            if now >= table.until:
                table = self._refreshed(now, rng)
        key = table.by_name.get(ticket[:16])
        if key is None:
            return None
        return key.sealer.open(ticket[16:28], ticket[28:], key.name)


# A ticket's bytes beyond its state's: the key name, the nonce and the AEAD's tag.
TICKET_OVERHEAD = 16 + 12 + 16


# "glasstls session" and a newline, so that ``head -1`` or ``file`` shows what it is.
SESSION_FILE_MAGIC = b"glasstls session\n"
SESSION_FILE_VERSION = 1


def _optional_text(w: Writer, text: str | None) -> None:
    w.u8(0 if text is None else 1)
    w.opaque(2, (text or "").encode())


def _read_optional_text(r: Reader) -> str | None:
    present, raw = r.u8(), r.opaque(2)
    if present > 1:
        raise DecodeError("session file holds out-of-range values")
    try:
        return raw.decode() if present else None
    except UnicodeDecodeError:
        raise DecodeError("session file holds a name that is not UTF-8") from None


def _chain(w: Writer, chain: tuple[bytes, ...]) -> None:
    with w.vector(3):
        for certificate in chain:
            w.opaque(3, certificate)


def _read_chain(r: Reader) -> tuple[bytes, ...]:
    chain = []
    with r.vector(3) as certificates:
        while certificates.remaining:
            chain.append(certificates.opaque(3))
    return tuple(chain)


@dataclass(slots=True)  # every idle client connection keeps one or two
class ClientSession:
    """A session the client can resume: a TLS 1.3 ticket, or a TLS 1.2 session id
    and/or ticket with its master secret."""

    version: ProtocolVersion
    cipher_suite: int
    secret: bytes  # TLS 1.3 PSK or TLS 1.2 master secret
    received_ms: int
    lifetime: int
    server_name: str | None
    alpn: bytes | None
    ticket: bytes = b""
    age_add: int = 0
    max_early_data_size: int = 0
    session_id: bytes = b""
    extended_master_secret: bool = False
    peer_certificates: tuple[bytes, ...] = ()
    signature_scheme: str | None = None
    # The path the server's chain was verified along, when it was (leaf first).
    verified_chain: tuple[bytes, ...] = ()
    # TLS 1.3: what the PSK alone gives, worked out the first time the session is
    # offered and kept for the next (not a field of the session's value).
    early_secrets: EarlySecrets | None = field(default=None, init=False, repr=False,
                                               compare=False)

    def expired(self, now_ms: int) -> bool:
        return now_ms - self.received_ms >= self.lifetime * 1000

    def made_for(self, server_name: str | None) -> bool:
        """Whether this session was made under ``server_name`` (without case or final
        dot). RFC 8446 §4.6.1, RFC 6066 §3: a client resumes a session only under its
        own name: a resumed handshake checks no certificate, so under another name the
        connection would pass for verified."""
        made = (self.server_name or "").rstrip(".").lower()
        return made == (server_name or "").rstrip(".").lower()

    # -- the session file (``glasstls client --sess-out`` / ``--sess-in``) -------
    # Layout (docs/session-file.md): SESSION_FILE_MAGIC, a format version byte,
    # then the fields below with the codec's integer and vector encodings. It holds
    # the resumption secret: whoever reads the file can resume the session.

    def to_bytes(self) -> bytes:
        """This session as a session file (format version 1)."""
        w = Writer()
        w.raw(SESSION_FILE_MAGIC)
        w.u8(SESSION_FILE_VERSION)
        w.u16(self.version)
        w.u16(self.cipher_suite)
        w.opaque(1, self.secret)
        w.u64(self.received_ms)
        w.u32(self.lifetime)
        _optional_text(w, self.server_name)
        w.u8(0 if self.alpn is None else 1)
        w.opaque(1, self.alpn or b"")
        w.opaque(2, self.ticket)
        w.u32(self.age_add)
        w.u32(self.max_early_data_size)
        w.opaque(1, self.session_id)
        w.u8(1 if self.extended_master_secret else 0)
        _chain(w, self.peer_certificates)
        _optional_text(w, self.signature_scheme)
        _chain(w, self.verified_chain)
        return bytes(w.buffer)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClientSession:
        """A session read back from ``to_bytes``; ``DecodeError`` for anything else
        (another format version, a truncated or altered file)."""
        if not data.startswith(SESSION_FILE_MAGIC):
            raise DecodeError("not a glasstls session file")
        with Reader(data[len(SESSION_FILE_MAGIC):]) as r:
            format_version = r.u8()
            if format_version != SESSION_FILE_VERSION:
                raise DecodeError(f"session file format {format_version} is not supported "
                                  f"(this glasstls reads format {SESSION_FILE_VERSION})")
            version, suite, secret = r.u16(), r.u16(), r.opaque(1)
            received_ms, lifetime = r.u64(), r.u32()
            server_name = _read_optional_text(r)
            has_alpn, alpn = r.u8(), r.opaque(1)
            ticket, age_add, max_early = r.opaque(2), r.u32(), r.u32()
            session_id, ems = r.opaque(1), r.u8()
            peer_certificates = _read_chain(r)
            signature_scheme = _read_optional_text(r)
            verified_chain = _read_chain(r)
        if version not in (0x0303, 0x0304) or has_alpn > 1 or ems > 1:
            raise DecodeError("session file holds out-of-range values")
        return cls(ProtocolVersion(version), suite, secret, received_ms, lifetime, server_name,
                   alpn if has_alpn else None, ticket, age_add, max_early, session_id,
                   ems == 1, peer_certificates, signature_scheme, verified_chain)


class SessionCache:
    """The client's sessions, by (server name, ALPN protocols): most recent first,
    bounded. TLS 1.3 tickets are used once each (RFC 8446 Appendix C.4)."""

    def __init__(self, max_entries: int = 256, per_server: int = 4) -> None:
        self._max = max_entries
        self._per_server = per_server
        self._entries: OrderedDict[tuple[str, tuple[str, ...]], list[ClientSession]] = (
            OrderedDict())
        self._lock = threading.Lock()

    def store(self, key: tuple[str, tuple[str, ...]], session: ClientSession) -> None:
        with self._lock:
            sessions = self._entries.pop(key, [])
            sessions.insert(0, session)
            self._entries[key] = sessions[: self._per_server]
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def take(self, key: tuple[str, tuple[str, ...]], now_ms: int) -> ClientSession | None:
        with self._lock:
            sessions = self._entries.get(key, [])
            while sessions:
                session = sessions[0]
                if session.expired(now_ms):
                    sessions.pop(0)
                    continue
                if session.version == 0x0304:
                    sessions.pop(0)
                return session
            return None

    def __len__(self) -> int:
        with self._lock:  # iterating while another thread stores would raise
            return sum(len(v) for v in self._entries.values())


class ServerSessionCache:
    """TLS 1.2 session ids on the server: bounded in size and time."""

    def __init__(self, max_entries: int = 10000, lifetime: float = 7200.0) -> None:
        self._max = max_entries
        self._lifetime = lifetime
        self._entries: OrderedDict[bytes, tuple[float, SessionState]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def lifetime(self) -> float:
        return self._lifetime

    def store(self, session_id: bytes, state: SessionState, now: float) -> None:
        with self._lock:
            self._entries[session_id] = (now, state)
            self._entries.move_to_end(session_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, session_id: bytes, now: float) -> SessionState | None:
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is None:
                return None
            if now - entry[0] > self._lifetime:
                del self._entries[session_id]
                return None
            return entry[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass
class AntiReplay:
    """RFC 8446 §8.1: each ticket may carry 0-RTT data once. A bounded set of the
    tickets seen, forgotten when they expire; when full, early data is refused
    (the safe answer) rather than forgetting live entries."""

    max_entries: int = 100000
    _seen: dict[bytes, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_use(self, ticket: bytes, expires: float, now: float) -> bool:
        digest = hashlib.sha256(ticket).digest()
        with self._lock:
            if len(self._seen) >= self.max_entries:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self.max_entries:
                    return False
            if digest in self._seen and self._seen[digest] > now:
                return False
            self._seen[digest] = expires
            return True
