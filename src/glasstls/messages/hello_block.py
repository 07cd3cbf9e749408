"""A ClientHello read straight from its bytes, extensions included.

The codec reads a message through ``Reader``: a call per field, a sub-reader per
vector and per extension, an end check per body (``parse_extensions``). For the one
message a server parses in every handshake, the ClientHello, that plumbing was about
a third of the parse (callgrind, issue 16). Here its fixed fields and the
extensions clients send in every hello are read with offsets into the one buffer,
each extension by a small function that returns the same typed extension
``parse_extensions`` would; the few others a ClientHello may carry typed go to
their codec parsers, in place.

These readers only ever accept: anything they do not find plainly well-formed (a
length that does not add up, a list over our caps, a duplicate, a bad host name)
makes them give up, and ``ClientHello.parse`` reads the message again with the
codec, which raises the exact alert and message it always did, checks in the same
order. A hello they accept, the codec parses to equal fields
(tests/unit/test_hello_block.py checks both on hostile hellos with hypothesis).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..codec import Reader
from ..constants import ExtensionType as X
from .extensions import (
    ALPN,
    CH,
    CLIENT_HELLO_PARSERS,
    MAX_ALPN_PROTOCOLS,
    MAX_CIPHER_SUITES,
    MAX_EXTENSIONS,
    MAX_GROUPS,
    MAX_KEY_SHARES,
    MAX_PSK_IDENTITIES,
    MAX_SIGNATURE_SCHEMES,
    CompressCertificate,
    EarlyDataIndication,
    Empty,
    Extension,
    ExtensionBlock,
    KeyShare,
    KeyShareEntry,
    PreSharedKey,
    PskIdentity,
    ServerNameList,
    SupportedVersions,
    U8List,
    U16List,
    UnknownExtension,
    is_host_name,
)

_U32 = struct.Struct(">I")
_TYPE_AND_LENGTH = struct.Struct(">HH")  # an extension's type and length
# A vector's length, then its first entry's u8 type (server_name) or u16 group
# (key_share) and u16 length.
_LIST_AND_ENTRY = struct.Struct(">HBH")
_TWO_U16_AND_LENGTH = struct.Struct(">HHH")
# pre_shared_key's identities length, then its first identity's length; and after
# that identity, its age, the binders list's length and the first binder's.
_TWO_U16 = struct.Struct(">HH")
_AGE_AND_BINDERS = struct.Struct(">IHB")


class _U16Vectors(dict[int, struct.Struct]):
    """The Struct that reads a vector of u16 values, by its byte length (even): the
    vectors clients send (suites, groups, schemes, versions: a few dozen values at
    most) are read by Structs kept here; a longer one gets a Struct made for the call
    (struct's own cache of formats then: a format string and a look-up)."""

    def __missing__(self, size: int) -> struct.Struct:
        return struct.Struct(f">{size >> 1}H")


_U16_VECTORS = _U16Vectors({size: struct.Struct(f">{size >> 1}H") for size in range(0, 129, 2)})

# reader(ext_type, data, start, end) -> the extension in data[start:end], or None
# when it is not plainly well-formed.
_Read = Callable[[int, bytes, int, int], Extension | None]


HelloFields = tuple[int, bytes, bytes, tuple[int, ...], bytes, tuple[Extension, ...]]


def read_client_hello(raw: bytes) -> HelloFields | None:
    """A ClientHello's fields (legacy_version, random, legacy_session_id,
    cipher_suites, legacy_compression_methods, extensions), or None when it is not
    plainly well-formed."""
    end = len(raw)
    # The header's length, legacy_version, random, then legacy_session_id<0..32>.
    if end < 39 or (raw[1] << 16 | raw[2] << 8 | raw[3]) != end - 4 or raw[38] > 32:
        return None
    suites_at = 39 + raw[38]
    if suites_at + 2 > end:
        return None
    # CipherSuite cipher_suites<2..2^16-2>, at most MAX_CIPHER_SUITES of them.
    n = (raw[suites_at] << 8) | raw[suites_at + 1]
    compression_at = suites_at + 2 + n
    if n < 2 or n & 1 or n > 2 * MAX_CIPHER_SUITES or compression_at >= end:
        return None
    # opaque legacy_compression_methods<1..2^8-1>.
    extensions_at = compression_at + 1 + raw[compression_at]
    if extensions_at == compression_at + 1 or extensions_at > end:
        return None
    extensions: tuple[Extension, ...] = ()
    if extensions_at < end:  # RFC 5246 §7.4.1.2: the block may be left out
        if (extensions_at + 2 > end or extensions_at + 2
                + ((raw[extensions_at] << 8) | raw[extensions_at + 1]) != end):
            return None
        block = _read_block(raw, extensions_at + 2)
        if block is None:
            return None
        extensions = block
    return ((raw[4] << 8) | raw[5], raw[6:38], raw[39:suites_at],
            _U16_VECTORS[n].unpack_from(raw, suites_at + 2),
            raw[compression_at + 1:extensions_at], extensions)


def _read_block(data: bytes, pos: int) -> ExtensionBlock | None:
    """The extensions from ``pos`` to the end of ``data`` (the block ends the message)."""
    extensions: dict[int, Extension] = {}  # by type, in wire order
    readers = _READERS
    unpack = _TYPE_AND_LENGTH.unpack_from
    end = len(data)
    # Each extension takes 4 bytes at least: a block of at most 4 * MAX_EXTENSIONS
    # bytes cannot hold more than MAX_EXTENSIONS, and its loop needs no count (the
    # block of every hello we see; the count costs ~5 bytecodes per extension).
    counted = end - pos > 4 * MAX_EXTENSIONS
    try:
        while pos < end:
            if counted and len(extensions) >= MAX_EXTENSIONS:
                return None
            # Fewer than 4 bytes left: struct.error (the block ends the buffer, so an
            # extension's header is never read from beyond it), and the codec reads
            # the hello again.
            ext_type, size = unpack(data, pos)
            body = pos + 4
            pos = body + size
            if pos > end or ext_type in extensions:
                return None
            extension = readers.get(ext_type, _other)(ext_type, data, body, pos)
            if extension is None:
                return None
            extensions[ext_type] = extension
    except struct.error:
        return None
    block = ExtensionBlock(extensions.values())
    block.by_type = extensions
    return block


def _u16_list(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # supported_groups, signature_algorithms(_cert): uint16 values<2..2^16-2>, the
    # vector filling the extension, of at most _U16_LIST_BYTES[ext_type] bytes.
    size = end - start - 2  # the values' bytes
    if (size <= 0 or size & 1 or size > _U16_LIST_BYTES[ext_type]
            or (data[start] << 8 | data[start + 1]) != size):
        return None
    return U16List(ext_type, _U16_VECTORS[size].unpack_from(data, start + 2))


def _short_u16_list(data: bytes, start: int, end: int) -> tuple[int, ...] | None:
    # uint16 values<2..254>, the vector filling the extension: supported_versions,
    # compress_certificate.
    size = end - start - 1
    if size <= 0 or size & 1 or data[start] != size:
        return None
    # (A u8-length vector: up to 254 bytes, past the kept Structs' 128 only when hostile.)
    values: tuple[int, ...] = _U16_VECTORS[size].unpack_from(data, start + 1)
    return values


def _supported_versions(ext_type: int, data: bytes, start: int, end: int
                        ) -> Extension | None:
    versions = _short_u16_list(data, start, end)
    return None if versions is None else SupportedVersions(versions)


def _compress_certificate(ext_type: int, data: bytes, start: int, end: int
                          ) -> Extension | None:
    algorithms = _short_u16_list(data, start, end)
    return None if algorithms is None else CompressCertificate(algorithms)


def _u8_list(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # ec_point_formats, psk_key_exchange_modes: uint8 values<1..2^8-1>.
    if end - start < 2 or start + 1 + data[start] != end:
        return None
    return U8List(ext_type, data[start + 1:end])


def _empty(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    return _EMPTY[ext_type] if start == end else None


def _early_data(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    return EarlyDataIndication() if start == end else None  # empty in a ClientHello


def _server_name(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # ServerName server_name_list<1..2^16-1>: at most one name of each type
    # (RFC 6066 §3), the host_name a DNS name.
    size = end - start
    if size > 5:
        # What clients send: the list holds one host_name, filling it.
        list_length, name_type, name_length = _LIST_AND_ENTRY.unpack_from(data, start)
        if list_length == size - 2 and name_type == 0 and name_length == size - 5:
            name = data[start + 5:end]
            return ServerNameList(name, ()) if is_host_name(name) else None
    if size < 2 or start + 2 + ((data[start] << 8) | data[start + 1]) != end:
        return None
    host_name = b""
    others: dict[int, bytes] = {}
    pos = start + 2
    if pos == end:
        return None
    while pos < end:
        if pos + 3 > end:
            return None
        name_type = data[pos]
        stop = pos + 3 + ((data[pos + 1] << 8) | data[pos + 2])
        if stop == pos + 3 or stop > end or name_type in others:
            return None
        name = data[pos + 3:stop]
        if name_type == 0:
            if not is_host_name(name):
                return None
            others[0] = name  # seen, for the duplicate check
            host_name = name
        else:
            others[name_type] = name
        pos = stop
    others.pop(0, None)
    return ServerNameList(host_name, tuple(others.items()))


def _key_share(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # KeyShareEntry client_shares<0..2^16-1>, one per group (RFC 8446 §4.2.8).
    size = end - start
    if size > 6:
        # What most clients send: one share, filling the list.
        list_length, group, share_length = _TWO_U16_AND_LENGTH.unpack_from(data, start)
        if list_length == size - 2 and share_length == size - 6:
            return KeyShare((KeyShareEntry(group, data[start + 6:end]),))
    if size < 2 or start + 2 + ((data[start] << 8) | data[start + 1]) != end:
        return None
    entries: dict[int, KeyShareEntry] = {}
    pos = start + 2
    while pos < end:
        stop = pos + 4
        if stop > end or len(entries) >= MAX_KEY_SHARES:
            return None
        group = (data[pos] << 8) | data[pos + 1]
        stop += (data[pos + 2] << 8) | data[pos + 3]
        if stop == pos + 4 or stop > end or group in entries:
            return None
        entries[group] = KeyShareEntry(group, data[pos + 4:stop])
        pos = stop
    return KeyShare(tuple(entries.values()))


def _pre_shared_key(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # PskIdentity identities<7..2^16-1>; PskBinderEntry binders<33..2^16-1>, as many
    # (RFC 8446 §4.2.11).
    size = end - start
    if size > 9:
        # What resuming clients send: one identity<1..2^16-1> and its age, then one
        # binder<32..255>, each list filled by its entry.
        identities_length, identity_length = _TWO_U16.unpack_from(data, start)
        stop = start + 4 + identity_length  # the identity's end: its age, then the binders
        if identities_length == identity_length + 6 and identity_length and stop + 7 <= end:
            age, binders_length, binder_length = _AGE_AND_BINDERS.unpack_from(data, stop)
            if binders_length == end - stop - 6 and binder_length == binders_length - 1 >= 32:
                return PreSharedKey((PskIdentity(data[start + 4:stop], age),),
                                    (data[stop + 7:end],))
    if size < 2:
        return None
    pos = start + 2
    identities_end = pos + ((data[start] << 8) | data[start + 1])
    if identities_end - pos < 7 or identities_end + 2 > end:
        return None
    identities: list[PskIdentity] = []
    while pos < identities_end:
        stop = pos + 2 + ((data[pos] << 8) | data[pos + 1]) if pos + 2 <= identities_end else 0
        if (stop <= pos + 2 or stop + 4 > identities_end
                or len(identities) >= MAX_PSK_IDENTITIES):
            return None
        identities.append(PskIdentity(data[pos + 2:stop], _U32.unpack_from(data, stop)[0]))
        pos = stop + 4
    pos = identities_end + 2
    if pos + ((data[identities_end] << 8) | data[identities_end + 1]) != end or end - pos < 33:
        return None
    binders: list[bytes] = []
    while pos < end:
        stop = pos + 1 + data[pos]
        if stop - pos < 33 or stop > end or len(binders) >= len(identities):
            return None
        binders.append(data[pos + 1:stop])
        pos = stop
    if len(binders) != len(identities):
        return None
    return PreSharedKey(tuple(identities), tuple(binders))


def _alpn(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # ProtocolName protocol_name_list<2..2^16-1>, each <1..2^8-1>.
    if end - start < 4 or start + 2 + ((data[start] << 8) | data[start + 1]) != end:
        return None
    protocols: list[bytes] = []
    pos = start + 2
    while pos < end:
        stop = pos + 1 + data[pos]
        if stop == pos + 1 or stop > end or len(protocols) >= MAX_ALPN_PROTOCOLS:
            return None
        protocols.append(data[pos + 1:stop])
        pos = stop
    return ALPN(tuple(protocols))


def _other(ext_type: int, data: bytes, start: int, end: int) -> Extension | None:
    # An extension without a reader of its own (_READERS).
    if ext_type in _REFERENCE_ONLY:
        # Parsed (and refused) as the reference reading would at this point: every
        # check before it has passed the same way.
        reader = Reader(data, start, end)
        extension = CLIENT_HELLO_PARSERS[ext_type](ext_type, CH, reader)
        reader.expect_end()
        return extension
    return UnknownExtension(ext_type, data[start:end])


# The extensions clients send in every hello; the others a ClientHello may carry
# typed (cookie, renegotiation_info, record_size_limit, certificate_authorities,
# status_request) are parsed by their codec parsers.
_READERS: dict[int, _Read] = {
    X.server_name: _server_name,
    X.supported_groups: _u16_list,
    X.signature_algorithms: _u16_list,
    X.signature_algorithms_cert: _u16_list,
    X.supported_versions: _supported_versions,
    X.compress_certificate: _compress_certificate,
    X.key_share: _key_share,
    X.psk_key_exchange_modes: _u8_list,
    X.ec_point_formats: _u8_list,
    X.pre_shared_key: _pre_shared_key,
    X.application_layer_protocol_negotiation: _alpn,
    X.extended_master_secret: _empty,
    X.encrypt_then_mac: _empty,
    X.post_handshake_auth: _empty,
    X.early_data: _early_data,
}

# The byte limits of the vectors ``_u16_list`` reads: the codec's caps on the count
# of values (``U16List.parse`` in a ClientHello), two bytes each.
_U16_LIST_BYTES: dict[int, int] = {X.supported_groups: 2 * MAX_GROUPS,
                                   X.signature_algorithms: 2 * MAX_SIGNATURE_SCHEMES,
                                   X.signature_algorithms_cert: 2 * MAX_SIGNATURE_SCHEMES}

# The empty extensions read by ``_empty`` (extended_master_secret, encrypt_then_mac,
# post_handshake_auth): each is its type alone, an immutable value, made once and
# shared.
_EMPTY = {ext_type: Empty(ext_type) for ext_type, read in _READERS.items() if read is _empty}

# Typed in a ClientHello but not read here: parsed with their codec parsers.
_REFERENCE_ONLY = frozenset(CLIENT_HELLO_PARSERS) - frozenset(_READERS)
