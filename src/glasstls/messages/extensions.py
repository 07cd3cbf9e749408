"""Extensions: typed where known, opaque where not (RFC 8446 §4.2, RFC 5246 §7.4.1.4).

The same extension type has different bodies in different messages (key_share
in ClientHello, ServerHello and HelloRetryRequest), so each block is parsed
with the message it sits in (``where``). Duplicates are rejected here; whether an
extension is allowed in a message at all is checked by ``check_allowed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sized
from typing import ClassVar, TypeVar

from ..codec import Reader, Writer
from ..constants import CertificateStatusType, ExtensionType as X
from ..errors import (
    DecodeError,
    IllegalParameter,
)
from ..immutable import frozen

# Where an extension block sits.
CH, SH, HRR, EE, CT, CR, NST = "CH", "SH", "HRR", "EE", "CT", "CR", "NST"

# How many entries of each ClientHello list a server reads before it refuses the
# hello (decode_error). The RFCs set no count, only the 2^16-byte vectors, which hold
# 32,000 groups or 13,000 key shares; clients send far fewer (browsers: about 16
# suites, 20 extensions, 10 groups, 3 key shares, one PSK), and no server should walk
# a hostile hello's lists entry by entry (issue 12 item 11).
MAX_CIPHER_SUITES = 512
MAX_EXTENSIONS = 128
MAX_GROUPS = 256  # supported_groups
MAX_SIGNATURE_SCHEMES = 256  # signature_algorithms, signature_algorithms_cert
MAX_KEY_SHARES = 32
MAX_PSK_IDENTITIES = 32
MAX_ALPN_PROTOCOLS = 64
MAX_CERTIFICATE_AUTHORITIES = 256


def _check_count(entries: Sized, limit: int | None, what: str) -> None:
    """Before reading one more entry of a list capped at ``limit`` (None: no cap)."""
    if limit is not None and len(entries) >= limit:
        raise DecodeError(f"more than {limit} {what} in a ClientHello")


@frozen
class UnknownExtension:
    """Any extension we do not interpret; kept byte for byte."""

    type: int
    data: bytes

    def write(self, w: Writer) -> None:
        w.raw(self.data)


@frozen
class Empty:
    """An extension whose presence is its whole meaning (extended_master_secret...)."""

    type: int

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> Empty:
        return cls(ext_type)

    def write(self, w: Writer) -> None:
        pass


@frozen
class ServerNameList:
    type: ClassVar[int] = X.server_name
    host_name: bytes  # RFC 6066 §3: at most one host_name
    others: tuple[tuple[int, bytes], ...] = ()

    @classmethod
    def parse(cls, r: Reader) -> ServerNameList:
        host_name = b""
        others: list[tuple[int, bytes]] = []
        seen: set[int] = set()
        names = r.vector(2, minimum=1)  # read to its end: no ``with`` needed
        while names.remaining:
            name_type = names.u8()
            name = names.opaque(2, minimum=1)
            if name_type in seen:
                # RFC 6066 §3: at most one name of each name_type (so at most 256).
                raise IllegalParameter(f"two names of type {name_type} in server_name")
            seen.add(name_type)
            if name_type == 0:
                host_name = _checked_host_name(name)
            else:
                others.append((name_type, name))
        return cls(host_name, tuple(others))

    def write(self, w: Writer) -> None:
        names_at = w.open_vector(2)  # every ClientHello's: no scope object
        if self.host_name:
            w.u8(0)
            w.opaque(2, self.host_name)
        for name_type, name in self.others:
            w.u8(name_type)
            w.opaque(2, name)
        w.close_vector(names_at, 2)


# RFC 6066 §3: a HostName is an ASCII DNS name: letters, digits and hyphens in labels
# of 1 to 63 bytes, joined by dots, with an optional trailing dot (RFC 1123 §2.1).
# The underscore, outside that grammar, is accepted as OpenSSL and the browsers do
# (names such as "my_host.example" are in use); nothing else is handed to the
# application: no control character, NUL, space or non-ASCII byte.
# One match by the re module's C code rather than a split and three checks in Python
# (a server reads a name in every handshake); the pattern cannot backtrack (labels
# end at dots, which no label holds), and the length is checked before it runs.
_HOST_NAME = re.compile(rb"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")
_MAX_HOST_NAME = 253


def is_host_name(name: bytes) -> bool:
    return len(name) <= _MAX_HOST_NAME + 1 and _HOST_NAME.fullmatch(name) is not None


def _checked_host_name(name: bytes) -> bytes:
    if not is_host_name(name):
        # RFC 6066 names no alert for a malformed name: illegal_parameter, as for any
        # field of the wrong form (BoringSSL sends unrecognized_name for NUL, empty or
        # over 255 bytes, and accepts the rest).
        shown = name[:64].decode("ascii", "backslashreplace")
        raise IllegalParameter(f"server_name {shown!r} is not a DNS host name")
    return name


@frozen
class U16List:
    """supported_groups, signature_algorithms(_cert): a uint16 vector <2..2^16-2>."""

    type: int
    values: tuple[int, ...]

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> U16List:
        limit = None
        if where == CH:
            limit = MAX_GROUPS if ext_type == X.supported_groups else MAX_SIGNATURE_SCHEMES
        return cls(ext_type, r.u16_list(2, minimum=2, maximum_count=limit))

    def write(self, w: Writer) -> None:
        w.u16_list(self.values)


@frozen
class U8List:
    """ec_point_formats, psk_key_exchange_modes: a uint8 vector <1..2^8-1>."""

    type: int
    values: bytes

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> U8List:
        return cls(ext_type, r.opaque(1, minimum=1))

    def write(self, w: Writer) -> None:
        w.opaque(1, self.values)


@frozen
class ALPN:
    type: ClassVar[int] = X.application_layer_protocol_negotiation
    protocols: tuple[bytes, ...]

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> ALPN:
        limit = MAX_ALPN_PROTOCOLS if where == CH else None
        protocols: list[bytes] = []
        with r.vector(2, minimum=2) as names:
            while names.remaining:
                _check_count(protocols, limit, "ALPN protocols")
                protocols.append(names.opaque(1, minimum=1))
        return cls(tuple(protocols))

    def write(self, w: Writer) -> None:
        with w.vector(2):
            for name in self.protocols:
                w.opaque(1, name)


@frozen
class SupportedVersions:
    """ClientHello: the offered list; ServerHello/HRR: the one selected."""

    type: ClassVar[int] = X.supported_versions
    versions: tuple[int, ...]
    selected: bool = False

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> SupportedVersions:
        if where != CH:
            return cls((r.u16(),), selected=True)
        # ProtocolVersion versions<2..254>: whole uint16 values only.
        return cls(r.u16_list(1, minimum=2))

    def write(self, w: Writer) -> None:
        if self.selected:
            w.u16(self.versions[0])
        else:
            w.u16_list(self.versions, length_size=1)


@frozen
class KeyShareEntry:
    group: int
    key_exchange: bytes

    @classmethod
    def parse(cls, r: Reader) -> KeyShareEntry:
        return cls(r.u16(), r.opaque(2, minimum=1))

    def write(self, w: Writer) -> None:
        w.u16(self.group)
        w.opaque(2, self.key_exchange)


@frozen
class KeyShare:
    """ClientHello: ``entries``; ServerHello: one entry; HRR: ``selected_group`` only."""

    type: ClassVar[int] = X.key_share
    entries: tuple[KeyShareEntry, ...] = ()
    selected_group: int | None = None
    where: str = CH

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> KeyShare:
        if where == HRR:
            return cls(selected_group=r.u16(), where=HRR)
        if where == SH:
            return cls((KeyShareEntry.parse(r),), where=SH)
        entries: dict[int, KeyShareEntry] = {}  # by group, in wire order
        body = r.vector(2)  # read to its end: no ``with`` needed
        while body.remaining:
            _check_count(entries, MAX_KEY_SHARES, "key shares")
            group = body.u16()
            if group in entries:
                # RFC 8446 §4.2.8: clients MUST NOT offer two shares for one group;
                # servers MAY abort with illegal_parameter (the stricter reading).
                raise IllegalParameter(f"key_share offers group 0x{group:04x} twice")
            entries[group] = KeyShareEntry(group, body.opaque(2, minimum=1))
        return cls(tuple(entries.values()), where=CH)

    def write(self, w: Writer) -> None:
        if self.where == HRR:
            assert self.selected_group is not None
            w.u16(self.selected_group)
        elif self.where == SH:
            self.entries[0].write(w)
        else:
            entries_at = w.open_vector(2)  # every ClientHello's: no scope object
            for entry in self.entries:
                w.u16(entry.group)
                w.opaque(2, entry.key_exchange)
            w.close_vector(entries_at, 2)


@frozen
class Opaque16:
    """cookie: opaque<1..2^16-1>."""

    type: int
    data: bytes

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> Opaque16:
        return cls(ext_type, r.opaque(2, minimum=1))

    def write(self, w: Writer) -> None:
        w.opaque(2, self.data)


@frozen
class RenegotiationInfo:
    type: ClassVar[int] = X.renegotiation_info
    renegotiated_connection: bytes

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> RenegotiationInfo:
        return cls(r.opaque(1))

    def write(self, w: Writer) -> None:
        w.opaque(1, self.renegotiated_connection)


@frozen
class RecordSizeLimit:
    type: ClassVar[int] = X.record_size_limit
    limit: int

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> RecordSizeLimit:
        limit = r.u16()
        # RFC 8449 §4: values below 64 are illegal_parameter.
        if limit < 64:
            raise IllegalParameter(f"record_size_limit {limit} is below 64")
        return cls(limit)

    def write(self, w: Writer) -> None:
        w.u16(self.limit)


@frozen
class PskIdentity:
    identity: bytes
    obfuscated_ticket_age: int


@frozen
class PreSharedKey:
    """ClientHello: identities and binders; ServerHello: ``selected_identity``."""

    type: ClassVar[int] = X.pre_shared_key
    identities: tuple[PskIdentity, ...] = ()
    binders: tuple[bytes, ...] = ()
    selected_identity: int | None = None

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> PreSharedKey:
        if where == SH:
            return cls(selected_identity=r.u16())
        # Both vectors are read to their ends: no ``with`` needed.
        identities: list[PskIdentity] = []
        body = r.vector(2, minimum=7)
        while body.remaining:
            _check_count(identities, MAX_PSK_IDENTITIES, "PSK identities")
            identities.append(PskIdentity(body.opaque(2, minimum=1), body.u32()))
        binders: list[bytes] = []
        body = r.vector(2, minimum=33)
        while body.remaining:
            _check_count(binders, MAX_PSK_IDENTITIES, "PSK binders")
            binders.append(body.opaque(1, minimum=32))
        if len(binders) != len(identities):
            raise IllegalParameter("pre_shared_key: binders and identities differ in number")
        return cls(tuple(identities), tuple(binders))

    def write(self, w: Writer) -> None:
        if self.selected_identity is not None:
            w.u16(self.selected_identity)
            return
        # Every resuming ClientHello's (twice: with the binders' placeholders, then
        # the binders alone): vectors without scope objects.
        identities_at = w.open_vector(2)
        for identity in self.identities:
            w.opaque(2, identity.identity)
            w.u32(identity.obfuscated_ticket_age)
        w.close_vector(identities_at, 2)
        self.write_binders(w)

    def write_binders(self, w: Writer) -> None:
        binders_at = w.open_vector(2)
        for binder in self.binders:
            w.opaque(1, binder)
        w.close_vector(binders_at, 2)

    @property
    def binders_length(self) -> int:
        return 2 + len(self.binders) + sum(map(len, self.binders))


@frozen
class EarlyDataIndication:
    """Empty in ClientHello and EncryptedExtensions; a size in NewSessionTicket."""

    type: ClassVar[int] = X.early_data
    max_early_data_size: int | None = None

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> EarlyDataIndication:
        return cls(r.u32() if where == NST else None)

    def write(self, w: Writer) -> None:
        if self.max_early_data_size is not None:
            w.u32(self.max_early_data_size)


@frozen
class CertificateAuthorities:
    type: ClassVar[int] = X.certificate_authorities
    names: tuple[bytes, ...]  # DER-encoded distinguished names

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> CertificateAuthorities:
        # In a CertificateRequest a server may list hundreds of CAs; only the hello
        # is capped.
        limit = MAX_CERTIFICATE_AUTHORITIES if where == CH else None
        names: list[bytes] = []
        with r.vector(2, minimum=3) as body:
            while body.remaining:
                _check_count(names, limit, "certificate authorities")
                names.append(body.opaque(2, minimum=1))
        return cls(tuple(names))

    def write(self, w: Writer) -> None:
        with w.vector(2):
            for name in self.names:
                w.opaque(2, name)


@frozen
class CompressCertificate:
    """RFC 8879 §3: the algorithms a peer can decompress, ``<2..2^8-2>``."""

    type: ClassVar[int] = X.compress_certificate
    algorithms: tuple[int, ...]

    @classmethod
    def parse(cls, ext_type: int, where: str, r: Reader) -> CompressCertificate:
        return cls(r.u16_list(1, minimum=2))

    def write(self, w: Writer) -> None:
        w.u16_list(self.algorithms, length_size=1)


@frozen
class StatusRequest:
    """RFC 6066 §8, in ClientHello: the certificate status wanted. For OCSP, the
    responders trusted (DER ResponderIDs) and request extensions (DER Extensions),
    both usually empty; another status type's request is kept as bytes."""

    type: ClassVar[int] = X.status_request
    status_type: int = CertificateStatusType.ocsp
    responder_id_list: tuple[bytes, ...] = ()
    request_extensions: bytes = b""
    other_request: bytes = b""

    @classmethod
    def parse(cls, r: Reader) -> StatusRequest:
        status_type = r.u8()
        if status_type != CertificateStatusType.ocsp:
            return cls(status_type, other_request=r.rest())
        responders = []
        with r.vector(2) as body:
            while body.remaining:
                responders.append(body.opaque(2, minimum=1))
        return cls(status_type, tuple(responders), r.opaque(2))

    def write(self, w: Writer) -> None:
        w.u8(self.status_type)
        if self.status_type != CertificateStatusType.ocsp:
            w.raw(self.other_request)
            return
        with w.vector(2):
            for responder in self.responder_id_list:
                w.opaque(2, responder)
        w.opaque(2, self.request_extensions)


def parse_certificate_status(r: Reader) -> bytes:
    """RFC 6066 §8 CertificateStatus (also the TLS 1.3 per-certificate extension,
    RFC 8446 §4.4.2.1): the DER OCSPResponse, ``<1..2^24-1>``."""
    status_type = r.u8()
    if status_type != CertificateStatusType.ocsp:
        raise DecodeError(f"certificate status of unknown type {status_type}")
    return r.opaque(3, minimum=1)


@frozen
class OCSPStatus:
    """TLS 1.3: the OCSP response stapled to one CertificateEntry (status_request)."""

    type: ClassVar[int] = X.status_request
    ocsp_response: bytes

    @classmethod
    def parse(cls, r: Reader) -> OCSPStatus:
        return cls(parse_certificate_status(r))

    def write(self, w: Writer) -> None:
        w.u8(CertificateStatusType.ocsp)
        w.opaque(3, self.ocsp_response)


Extension = (
    UnknownExtension | Empty | ServerNameList | U16List | U8List | ALPN | SupportedVersions
    | KeyShare | Opaque16 | RenegotiationInfo | RecordSizeLimit | PreSharedKey
    | EarlyDataIndication | CertificateAuthorities | CompressCertificate | StatusRequest
    | OCSPStatus
)

# RFC 8446 §4.2 (table): where each TLS 1.3 extension may appear. TLS 1.2-only
# extensions may appear in ClientHello and ServerHello.
ALLOWED: dict[int, frozenset[str]] = {
    X.server_name: frozenset({CH, SH, EE}),
    X.max_fragment_length: frozenset({CH, SH, EE}),
    X.status_request: frozenset({CH, CR, CT}),
    X.compress_certificate: frozenset({CH, CR}),
    X.supported_groups: frozenset({CH, SH, EE}),
    X.signature_algorithms: frozenset({CH, CR}),
    X.use_srtp: frozenset({CH, EE}),
    X.heartbeat: frozenset({CH, EE}),
    X.application_layer_protocol_negotiation: frozenset({CH, SH, EE}),
    X.signed_certificate_timestamp: frozenset({CH, SH, CR, CT}),
    X.client_certificate_type: frozenset({CH, EE}),
    X.server_certificate_type: frozenset({CH, EE}),
    X.padding: frozenset({CH}),
    X.record_size_limit: frozenset({CH, SH, EE}),
    X.pre_shared_key: frozenset({CH, SH}),
    X.early_data: frozenset({CH, EE, NST}),
    X.supported_versions: frozenset({CH, SH, HRR}),
    X.cookie: frozenset({CH, HRR}),
    X.psk_key_exchange_modes: frozenset({CH}),
    X.certificate_authorities: frozenset({CH, CR}),
    X.oid_filters: frozenset({CR}),
    X.post_handshake_auth: frozenset({CH}),
    X.signature_algorithms_cert: frozenset({CH, CR}),
    X.key_share: frozenset({CH, SH, HRR}),
    X.extended_master_secret: frozenset({CH, SH}),
    X.ec_point_formats: frozenset({CH, SH}),
    X.renegotiation_info: frozenset({CH, SH}),
    X.session_ticket: frozenset({CH, SH}),
    X.encrypt_then_mac: frozenset({CH, SH}),
}


def _server_name(ext_type: int, where: str, r: Reader) -> Extension:
    # RFC 6066 §3: the server's answer is empty.
    return ServerNameList.parse(r) if where == CH else Empty(ext_type)


def _status_request(ext_type: int, where: str, r: Reader) -> Extension:
    # RFC 6066 §8: a request in the ClientHello, an empty acknowledgement in a TLS 1.2
    # ServerHello, the OCSP response in a TLS 1.3 CertificateEntry.
    if where == CH:
        return StatusRequest.parse(r)
    return Empty(ext_type) if where == SH else OCSPStatus.parse(r)


# How each extension we interpret is parsed: parse(type, where, body); the body
# must be read to its end (parse_extensions checks).
_PARSERS: dict[int, Callable[[int, str, Reader], Extension]] = {
    X.extended_master_secret: Empty.parse,
    X.post_handshake_auth: Empty.parse,
    X.encrypt_then_mac: Empty.parse,
    X.server_name: _server_name,
    X.supported_groups: U16List.parse,
    X.signature_algorithms: U16List.parse,
    X.signature_algorithms_cert: U16List.parse,
    X.ec_point_formats: U8List.parse,
    X.psk_key_exchange_modes: U8List.parse,
    X.application_layer_protocol_negotiation: ALPN.parse,
    X.supported_versions: SupportedVersions.parse,
    X.key_share: KeyShare.parse,
    X.cookie: Opaque16.parse,
    X.renegotiation_info: RenegotiationInfo.parse,
    X.record_size_limit: RecordSizeLimit.parse,
    X.pre_shared_key: PreSharedKey.parse,
    X.early_data: EarlyDataIndication.parse,
    X.certificate_authorities: CertificateAuthorities.parse,
    X.compress_certificate: CompressCertificate.parse,
    X.status_request: _status_request,
}

# Extensions whose body we interpret only in some messages; elsewhere kept opaque.
_TYPED_WHERE: dict[int, frozenset[str]] = {
    X.key_share: frozenset({CH, SH, HRR}),
    X.supported_versions: frozenset({CH, SH, HRR}),
    X.pre_shared_key: frozenset({CH, SH}),
    X.early_data: frozenset({CH, EE, NST}),
    X.server_name: frozenset({CH, SH, EE}),
    X.compress_certificate: frozenset({CH, CR}),
    X.status_request: frozenset({CH, SH, CT}),
}


# The parsers for each kind of block: those of _PARSERS whose body is interpreted
# there (one look-up per extension instead of two).
_PARSERS_IN: dict[str, dict[int, Callable[[int, str, Reader], Extension]]] = {
    where: {ext_type: parse for ext_type, parse in _PARSERS.items()
            if where in _TYPED_WHERE.get(ext_type, (where,))}
    for where in (CH, SH, HRR, EE, CT, CR, NST)
}


# The extensions a ClientHello's block interprets, with their parsers (the others
# are kept opaque).
CLIENT_HELLO_PARSERS = _PARSERS_IN[CH]


class ExtensionBlock(tuple[Extension, ...]):
    """A parsed extension block: its extensions in wire order, as a tuple, with the
    table by type that parsing built (``find`` looks types up in it: a server asks
    a ClientHello for a dozen of them)."""

    by_type: dict[int, Extension]


# The recognised extensions each message may not carry (ALLOWED, the other way round).
_NOT_ALLOWED: dict[str, frozenset[int]] = {
    where: frozenset(ext_type for ext_type, allowed in ALLOWED.items() if where not in allowed)
    for where in frozenset().union(*ALLOWED.values())}


def _check_before_body(block: Reader, extensions: dict[int, Extension], limit: int | None
                       ) -> None:
    """For an entry whose length is bad: the checks that come before its body is read,
    in their order (so a hostile block gets the alert it always got)."""
    if limit is not None and len(extensions) >= limit:
        raise DecodeError(f"more than {limit} extensions in a ClientHello")
    if block.remaining >= 2 and (ext_type := block.u16()) in extensions:
        raise IllegalParameter(f"duplicate extension {ext_type}")


def parse_extensions(r: Reader, where: str) -> tuple[Extension, ...]:
    """Parse an ``Extension extensions<0..2^16-1>`` block, rejecting duplicates."""
    extensions: dict[int, Extension] = {}  # by type, in wire order
    parsers = _PARSERS_IN[where]
    limit = MAX_EXTENSIONS if where == CH else None
    # Not ``with``: the loop reads the block to its end, and a parser that raises
    # needs no end check (this loop is the handshake's busiest parsing code).
    block = r.vector(2)
    while True:
        try:
            entry = block.entry()
        except DecodeError:
            _check_before_body(block, extensions, limit)
            raise
        if entry is None:
            break
        if limit is not None and len(extensions) >= limit:
            raise DecodeError(f"more than {limit} extensions in a ClientHello")
        ext_type, body = entry
        if ext_type in extensions:
            # RFC 8446 §4.2: no more than one extension of a type in a block.
            raise IllegalParameter(f"duplicate extension {ext_type}")
        parse = parsers.get(ext_type)
        if parse is None:
            extensions[ext_type] = UnknownExtension(ext_type, body.rest())
        else:
            extensions[ext_type] = parse(ext_type, where, body)
            body.expect_end()
    block_read = ExtensionBlock(extensions.values())
    block_read.by_type = extensions
    return block_read


def write_extensions(w: Writer, extensions: Iterable[Extension]) -> None:
    block_at = w.open_vector(2)
    write_each_extension(w, extensions)
    w.close_vector(block_at, 2)


def write_each_extension(w: Writer, extensions: Iterable[Extension]) -> None:
    """Extensions as they appear inside a block (whose length is the caller's)."""
    buffer = w.buffer
    for extension in extensions:
        # Each extension's type and length written in place, its length filled
        # in after its body: the work of a ``w.vector(2)`` scope without the
        # calls one costs (some fifteen extensions per handshake).
        start = len(buffer)
        buffer += extension.type.to_bytes(2, "big") + b"\x00\x00"
        extension.write(w)
        length = len(buffer) - start - 4
        if length > 0xFFFF:
            raise ValueError(f"{length} bytes do not fit a 2-byte length")
        buffer[start + 2 : start + 4] = length.to_bytes(2, "big")


def check_allowed(extensions: Iterable[Extension], where: str, tls13: bool = True) -> None:
    """RFC 8446 §4.2: a recognised extension in a message that may not carry it is
    ``illegal_parameter``."""
    if not tls13:
        return
    if type(extensions) is ExtensionBlock and _NOT_ALLOWED[where].isdisjoint(
            extensions.by_type):
        # A parsed block's types, checked by one C call against the few types the
        # message may not carry (for a ClientHello, only oid_filters); the loop
        # below names the first offender when there is one.
        return
    for extension in extensions:
        allowed = ALLOWED.get(extension.type)
        if allowed is not None and where not in allowed:
            raise IllegalParameter(f"extension {X(extension.type).name} is not allowed in {where}")


E = TypeVar("E")


# A parsed block (ExtensionBlock) looks a type up in its table; a plain tuple of
# extensions (a message made in code) is searched. The table is tried first, the
# tuple's AttributeError costing nothing until raised: a server looks a dozen types
# up in every ClientHello, and the type test before the lookup was a third of each.


def find(extensions: tuple[Extension, ...], ext_type: int) -> Extension | None:
    try:
        return extensions.by_type.get(ext_type)  # type: ignore[attr-defined, no-any-return]
    except AttributeError:
        pass
    for extension in extensions:
        if extension.type == ext_type:
            return extension
    return None


def find_typed(extensions: tuple[Extension, ...], ext_type: int, kind: type[E]) -> E | None:
    """The extension of ``ext_type``, which must have been parsed as ``kind``."""
    try:
        extension = extensions.by_type.get(ext_type)  # type: ignore[attr-defined]
    except AttributeError:
        extension = find(extensions, ext_type)
    if extension is not None and not isinstance(extension, kind):
        raise DecodeError(f"extension {ext_type} has an unexpected form")
    return extension
