"""The messages a TLS 1.3 client reads in every full handshake, in the shapes servers
send them, read straight from their bytes: the ServerHello, EncryptedExtensions with
no extension, a Certificate whose entries carry none, the CertificateVerify, and the
NewSessionTicket.

The codec reads a message through ``Reader``: a call per field, a sub-reader per
vector and per extension, an end check per body; for a ServerHello that was about
400 bytecodes and for each ticket about 250, of a client's ~15,000 per connection
(``bench/engine_client_bytecodes.py``). Here the shapes servers send (OpenSSL's and
glasstls's: a ServerHello with supported_versions, key_share and pre_shared_key; a
ticket with no extension or early_data alone) are read with offsets.

As ``hello_block.py`` for the ClientHello, these readers only ever accept: anything
else (a HelloRetryRequest, a TLS 1.2 ServerHello, an extension of another type, a
length that does not add up) makes them give up, and the message is read again by the
codec, which raises the exact alert and message it always did. A message they accept,
the codec reads to equal fields (tests/unit/test_server_reads.py checks both on
hostile messages with hypothesis).
"""

from __future__ import annotations

import struct

from ..constants import HELLO_RETRY_REQUEST_RANDOM, ExtensionType as X
from .extensions import (
    SH,
    EarlyDataIndication,
    Extension,
    ExtensionBlock,
    KeyShare,
    KeyShareEntry,
    PreSharedKey,
    SupportedVersions,
)

_TYPE_AND_LENGTH = struct.Struct(">HH")  # an extension's type and length
# A ticket's lifetime and age_add, then its nonce's length.
_TICKET_HEAD = struct.Struct(">IIB")
# A ticket's extensions when it holds early_data alone: the block's length (8), then
# early_data's type, length (4) and max_early_data_size.
_EARLY_DATA_ONLY = struct.Struct(">HHHI")

ServerHelloFields = tuple[int, bytes, bytes, int, int, tuple[Extension, ...]]
TicketFields = tuple[int, int, bytes, bytes, tuple[Extension, ...]]
CertificateFields = tuple[bytes, list[tuple[bytes, tuple[Extension, ...]]]]


def _no_extensions() -> ExtensionBlock:
    """An empty extension block, as ``parse_extensions`` reads one."""
    block = ExtensionBlock()
    block.by_type = {}
    return block


def read_encrypted_extensions(raw: bytes) -> tuple[Extension, ...] | None:
    """An EncryptedExtensions' extensions when it has none (OpenSSL's answer to a
    client that asked for nothing the server takes up); None otherwise."""
    if raw[1:] != b"\x00\x00\x02\x00\x00":  # the header's length (2), an empty block
        return None
    return _no_extensions()


def read_certificate(raw: bytes) -> CertificateFields | None:
    """A TLS 1.3 Certificate's request context and entries (cert_data, extensions)
    when no entry has an extension (a server's chain without staples or SCTs); None
    otherwise."""
    end = len(raw)
    # The header's length, certificate_request_context<0..2^8-1>, then
    # CertificateEntry certificate_list<0..2^24-1>, which fills the rest.
    if end < 5:
        return None
    list_at = 5 + raw[4] + 3
    if (raw[1] << 16 | raw[2] << 8 | raw[3]) != end - 4 or list_at > end or (
            list_at + (raw[list_at - 3] << 16 | raw[list_at - 2] << 8 | raw[list_at - 1])
            != end):
        return None
    entries: list[tuple[bytes, tuple[Extension, ...]]] = []
    pos = list_at
    while pos < end:
        # opaque cert_data<1..2^24-1>, then an empty Extension extensions<0..2^16-1>.
        start = pos + 3
        if start > end:
            return None
        stop = start + (raw[pos] << 16 | raw[pos + 1] << 8 | raw[pos + 2])
        if stop == start or stop + 2 > end or raw[stop] or raw[stop + 1]:
            return None
        entries.append((raw[start:stop], _no_extensions()))
        pos = stop + 2
    return raw[5:list_at - 3], entries


def read_certificate_verify(raw: bytes) -> tuple[int, bytes] | None:
    """A CertificateVerify's algorithm and signature<0..2^16-1>, or None when its
    lengths do not add up."""
    end = len(raw)
    if (end < 8 or (raw[1] << 16 | raw[2] << 8 | raw[3]) != end - 4
            or (raw[6] << 8 | raw[7]) != end - 8):
        return None
    return (raw[4] << 8 | raw[5]), raw[8:]


def read_server_hello(raw: bytes) -> ServerHelloFields | None:
    """A TLS 1.3 ServerHello's fields (legacy_version, random, legacy_session_id_echo,
    cipher_suite, legacy_compression_method, extensions), or None when it is not of
    the usual shape or not plainly well-formed."""
    end = len(raw)
    # The header's length, legacy_version, random, then legacy_session_id_echo<0..32>.
    if end < 39 or (raw[1] << 16 | raw[2] << 8 | raw[3]) != end - 4 or raw[38] > 32:
        return None
    random = raw[6:38]
    if random == HELLO_RETRY_REQUEST_RANDOM:
        return None  # its extensions are of another kind: the codec's
    # cipher_suite, legacy_compression_method, then the extensions block, which fills
    # the rest (TLS 1.3's always has supported_versions).
    suite_at = 39 + raw[38]
    start = suite_at + 5
    if start > end or start + ((raw[suite_at + 3] << 8) | raw[suite_at + 4]) != end:
        return None
    extensions: dict[int, Extension] = {}  # by type, in wire order
    pos = start
    while pos < end:
        body = pos + 4
        if body > end:
            return None
        ext_type, size = _TYPE_AND_LENGTH.unpack_from(raw, pos)
        pos = body + size
        if pos > end or ext_type in extensions:
            return None
        extension: Extension
        if (ext_type == X.key_share and size > 4
                and (raw[body + 2] << 8 | raw[body + 3]) == size - 4):
            # KeyShareEntry server_share: the group, key_exchange<1..2^16-1>.
            extension = KeyShare((KeyShareEntry(raw[body] << 8 | raw[body + 1],
                                                raw[body + 4:pos]),), where=SH)
        elif ext_type == X.supported_versions and size == 2:
            extension = SupportedVersions((raw[body] << 8 | raw[body + 1],), selected=True)
        elif ext_type == X.pre_shared_key and size == 2:
            extension = PreSharedKey(selected_identity=raw[body] << 8 | raw[body + 1])
        else:
            return None
        extensions[ext_type] = extension
    block = ExtensionBlock(extensions.values())
    block.by_type = extensions
    return ((raw[4] << 8) | raw[5], random, raw[39:suite_at],
            (raw[suite_at] << 8) | raw[suite_at + 1], raw[suite_at + 2], block)


def read_new_session_ticket(raw: bytes) -> TicketFields | None:
    """A TLS 1.3 NewSessionTicket's fields (ticket_lifetime, ticket_age_add,
    ticket_nonce, ticket, extensions), or None when it is not of the usual shape or
    not plainly well-formed."""
    end = len(raw)
    # The header's length, the lifetime, age_add, then ticket_nonce<0..255>.
    if end < 13 or (raw[1] << 16 | raw[2] << 8 | raw[3]) != end - 4:
        return None
    lifetime, age_add, nonce_length = _TICKET_HEAD.unpack_from(raw, 4)
    ticket_at = 13 + nonce_length + 2
    # opaque ticket<1..2^16-1>, then the extensions block, which fills the rest.
    if ticket_at > end:
        return None
    block_at = ticket_at + ((raw[ticket_at - 2] << 8) | raw[ticket_at - 1])
    if block_at == ticket_at or block_at + 2 > end:
        return None
    extensions: dict[int, Extension] = {}
    if end - block_at == 2 + 8:
        # early_data alone: its max_early_data_size (RFC 8446 §4.2.10).
        length, ext_type, size, max_early_data_size = _EARLY_DATA_ONLY.unpack_from(
            raw, block_at)
        if length != 8 or ext_type != X.early_data or size != 4:
            return None
        extensions[X.early_data] = EarlyDataIndication(max_early_data_size)
    elif end - block_at != 2 or raw[block_at] or raw[block_at + 1]:
        return None  # not an empty block either
    block = ExtensionBlock(extensions.values())
    block.by_type = extensions
    return (lifetime, age_add, raw[13:ticket_at - 2], raw[ticket_at:block_at], block)
