"""The TLS 1.3 server's own messages, made with their bytes (RFC 8446 §4.1.3,
§4.3.1, §4.4.3, §4.4.4, §4.6.1).

A server sends the same few shapes of ServerHello, EncryptedExtensions,
CertificateVerify, Finished and NewSessionTicket in every handshake. Each is
encoded here with one ``struct`` pack of its fixed fields rather than field by field
through the codec's ``Writer`` (building and encoding a resumed flight's four
messages takes about a third of the time), and an EncryptedExtensions, which
depends only on the answers it carries, is encoded once per answer.

ServerHello, CertificateVerify, Finished and NewSessionTicket are returned as their
bytes alone: the engine sends and hashes bytes, and only a trace reads a message's
fields, so ``Engine.send_encoded`` parses the bytes back into the message (the
codec's reading, which the client's side of the same handshake makes) when, and only
when, a trace wants it. Not building the message objects and their extensions is
~150 bytecodes per full server handshake (round ten). The bytes are what the codec
would serialise from the parsed fields (tests/unit/test_flight13.py checks both
ways for every shape).
"""

from __future__ import annotations

import struct
from functools import lru_cache

from ..constants import TLS12, TLS13, ExtensionType as X, HandshakeType as H
from ..messages.extensions import (
    ALPN,
    EarlyDataIndication,
    Empty,
    Extension,
    RecordSizeLimit,
)
from ..messages.handshake import EncryptedExtensions

# type(1) || length(3), as one big-endian u32.
_HEADER = struct.Struct(">I")
# cipher_suite, legacy_compression_method, extensions length.
_SUITE_TO_EXTENSIONS = struct.Struct(">HBH")
# extension type, length, group, key_exchange length.
_KEY_SHARE = struct.Struct(">HHHH")
# extension type and length (of an empty extension); a scheme and a signature length.
_TWO_U16 = struct.Struct(">HH")
# extension type, length, and one u16 (selected_identity, record_size_limit).
_U16_EXTENSION = struct.Struct(">HHH")
# A CertificateVerify's header, then its scheme and signature length.
_CERTIFICATE_VERIFY_HEADER = struct.Struct(">IHH")
# A ServerHello's header, then legacy_version.
_SERVER_HELLO_HEAD = struct.Struct(">IH")
# A NewSessionTicket's header, then ticket_lifetime, ticket_age_add, ticket_nonce length.
_TICKET_HEAD = struct.Struct(">IIIB")
# A NewSessionTicket's extensions when it allows 0-RTT: the block's length (8), then
# early_data's type, length (4) and max_early_data_size.
_TICKET_EARLY_DATA = struct.Struct(">HHHI")

_SELECTED_TLS13_BYTES = _U16_EXTENSION.pack(X.supported_versions, 2, TLS13)


def _header(msg_type: int, length: int) -> bytes:
    if length > 0xFFFFFF:
        raise ValueError(f"a handshake message of {length} bytes does not fit its header")
    return _HEADER.pack(msg_type << 24 | length)


def server_hello(random: bytes, session_id: bytes, suite: int,
                 share: tuple[int, bytes] | None, psk_index: int | None) -> bytes:
    """A TLS 1.3 ServerHello's bytes: supported_versions, then key_share (absent for
    psk_ke; ``share`` is its group and key_exchange) and pre_shared_key (when
    resuming), in the order OpenSSL sends them."""
    block = [_SELECTED_TLS13_BYTES]
    if share is not None:
        group, key_exchange = share
        size = len(key_exchange)
        block += (_KEY_SHARE.pack(X.key_share, size + 4, group, size), key_exchange)
    if psk_index is not None:
        block.append(_U16_EXTENSION.pack(X.pre_shared_key, 2, psk_index))
    encoded = b"".join(block)
    length = 2 + 32 + 1 + len(session_id) + 5 + len(encoded)
    # The header packed here, not by _header: a session id is at most 255 bytes
    # (bytes() refuses more) and the extensions' block fits its u16 (struct refuses
    # more), so the message fits its header.
    return b"".join((_SERVER_HELLO_HEAD.pack(H.server_hello << 24 | length, TLS12), random,
                     bytes((len(session_id),)), session_id,
                     _SUITE_TO_EXTENSIONS.pack(suite, 0, len(encoded)), encoded))


@lru_cache(maxsize=64)
def encrypted_extensions(server_name: bool, alpn: bytes | None, record_size_limit: int | None,
                         early_data: bool) -> EncryptedExtensions:
    """EncryptedExtensions for these answers, encoded once per answer: nothing in it
    is secret or belongs to one connection (the ALPN protocol is one of the
    server's, so the answers are few)."""
    extensions: list[Extension] = []
    block: list[bytes] = []
    if server_name:
        extensions.append(Empty(X.server_name))
        block.append(_TWO_U16.pack(X.server_name, 0))
    if alpn is not None:
        extensions.append(ALPN((alpn,)))
        block.append(_U16_EXTENSION.pack(X.application_layer_protocol_negotiation,
                                         len(alpn) + 3, len(alpn) + 1)
                     + bytes((len(alpn),)) + alpn)
    if record_size_limit is not None:
        extensions.append(RecordSizeLimit(record_size_limit))
        block.append(_U16_EXTENSION.pack(X.record_size_limit, 2, record_size_limit))
    if early_data:
        extensions.append(EarlyDataIndication())
        block.append(_TWO_U16.pack(X.early_data, 0))
    encoded = b"".join(block)
    raw = _header(H.encrypted_extensions, 2 + len(encoded)) + len(encoded).to_bytes(2, "big")
    return EncryptedExtensions(tuple(extensions), raw + encoded)


def certificate_verify(scheme: int, signature: bytes) -> bytes:
    # The header packed here, not by _header: a signature's length fits its u16
    # (struct refuses more), so the message's fits its header.
    length = len(signature)
    return _CERTIFICATE_VERIFY_HEADER.pack(H.certificate_verify << 24 | length + 4, scheme,
                                           length) + signature


def finished(verify_data: bytes) -> bytes:
    # verify_data is one hash long: its header needs no size check.
    return _HEADER.pack(H.finished << 24 | len(verify_data)) + verify_data


def new_session_ticket(lifetime: int, age_add: int, nonce: bytes, ticket: bytes,
                       max_early_data_size: int) -> bytes:
    """A NewSessionTicket's bytes, with the early_data extension when 0-RTT is allowed."""
    tail = (_TICKET_EARLY_DATA.pack(8, X.early_data, 4, max_early_data_size)
            if max_early_data_size else b"\x00\x00")
    length = 9 + len(nonce) + 2 + len(ticket) + len(tail)
    # The header packed with the fixed fields, not by _header: a nonce over 255
    # bytes (struct) or a ticket over 65,535 (to_bytes) is refused below, so no
    # message too long for its header is ever made.
    return b"".join((_TICKET_HEAD.pack(H.new_session_ticket << 24 | length, lifetime, age_add,
                                       len(nonce)), nonce,
                     len(ticket).to_bytes(2, "big"), ticket, tail))
