"""The record layer: framing, fragmentation and AEAD protection (RFC 8446 §5,
RFC 5246 §6.2, RFC 5288 §3, RFC 7905 §2).

``RecordLayer`` turns outgoing (content type, bytes) into protected records and
incoming bytes into (content type, plaintext) pairs. It knows nothing of the
handshake: the connection installs a ``Protection`` for each direction when the
key schedule produces one.
"""

from __future__ import annotations

import struct
from collections.abc import MutableSequence
from typing import Any

from .constants import MAX_PLAINTEXT, ContentType
from .crypto.in_place import SEALS_IN_PLACE
from .crypto.suites import AEAD, Suite
from .errors import (
    BadRecordMac,
    DecodeError,
    InternalError,
    PlaintextPeer,
    RecordOverflow,
    UnexpectedMessage,
)

_APPLICATION_DATA = 23
_HANDSHAKE = 22
_HEADER = 5
# A record header in one call: written from (type, version, length); read as its
# content type, major version byte and length.
_pack_header = struct.Struct(">BHH").pack
_unpack_header = struct.Struct(">BBxH").unpack_from
# A record header's content type and version major byte as one number, and its length.
_unpack_kind_length = struct.Struct(">HxH").unpack_from
_VALID_TYPES = frozenset({20, 21, 22, 23})
# RFC 8446 §5: inside TLSInnerPlaintext only alert, handshake and application_data.
_PROTECTED_TYPES = frozenset({21, 22, 23})
# RFC 8446 §5.2 (TLS 1.3) and RFC 5246 §6.2.3 (TLS 1.2): ciphertext length limits.
MAX_CIPHERTEXT_13 = MAX_PLAINTEXT + 256
MAX_CIPHERTEXT_12 = MAX_PLAINTEXT + 2048
# Every AEAD suite here has a 16-byte tag.
_TAG = 16
# The shortest authentic TLS 1.3 ciphertext: RFC 8446 §5.2, the content type and the tag.
_TLS13_MINIMUM = _TAG + 1


# RFC 8446 §5.3, RFC 5246 §6.1: a sequence number must not wrap; the last one is
# never used.
_LAST_SEQUENCE = 2**64 - 1

_TYPE_BYTES = [bytes([t]) for t in range(256)]
_APPLICATION_DATA_3 = _APPLICATION_DATA << 8 | 3  # application_data, version 3.x
_HANDSHAKE_3 = _HANDSHAKE << 8 | 3  # handshake, version 3.x
# The header of every full-size TLS 1.3 record (2^14 bytes of content, the type byte
# and the tag), packed once: most records of a bulk transfer are full.
_FULL_LENGTH_13 = MAX_PLAINTEXT + 1 + _TAG
_FULL_HEADER_13 = _pack_header(_APPLICATION_DATA, 0x0303, _FULL_LENGTH_13)
_FULL_RECORD_13 = _HEADER + _FULL_LENGTH_13  # such a record with its header
_CHANGE_CIPHER_SPEC = int(ContentType.change_cipher_spec)
# TLS 1.3's compatibility change_cipher_spec record (RFC 8446 §5, Appendix D.4): its
# one byte 1, under version 0x0303, as peers send it.
_COMPATIBILITY_CCS = bytes([_CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1])
_COMPATIBILITY_CCS_SIZE = len(_COMPATIBILITY_CCS)


def _sequence_exhausted() -> InternalError:
    return InternalError("record sequence number exhausted")


class Protection:
    """No protection: the initial state of both directions."""

    __slots__ = ("sequence",)
    encrypted = False
    tls13 = False
    # Records this protection may seal (Tls13Protection: RFC 8446 §5.5); the base
    # has none short of the sequence number's own end.
    limit = _LAST_SEQUENCE

    def __init__(self) -> None:
        self.sequence = 0

    def seal(self, content_type: int, data: bytes | bytearray | memoryview, version: bytes,
             padding: int) -> bytes:
        return bytes([content_type]) + version + len(data).to_bytes(2, "big") + data

    def open(self, header: bytes, payload: bytes | memoryview) -> tuple[int, bytes]:
        return header[0], bytes(payload)

    def open_inner(self, header: bytes, payload: bytes | memoryview
                   ) -> tuple[int, bytes, int]:
        """``open``, as (content type, bytes, length of the plaintext at their start):
        TLS 1.3's decrypted bytes end with the content type and padding, and a
        reader that can take a view of the plaintext need not slice them off."""
        content_type, plaintext = self.open(header, payload)
        return content_type, plaintext, len(plaintext)

    def open_run(self, buffer: bytes, position: int, largest: int,
                 plaintexts: MutableSequence[Any], views: bool
                 ) -> tuple[int, tuple[int, bytes] | None]:
        """``RecordLayer.next_records``'s loop: the whole application_data records
        of ``buffer`` from ``position``, of at most ``largest`` bytes after their
        header, opened and their plaintexts appended to ``plaintexts``; returned are
        where the loop stopped and, when the last record it opened is not plain
        application data (another type, or empty), that record."""
        size = len(buffer)
        payloads = memoryview(buffer)
        while size - position >= _HEADER:
            content_type, major, length = _unpack_header(buffer, position)
            start = position + _HEADER
            end = start + length
            if content_type != _APPLICATION_DATA or major != 3 or length > largest or end > size:
                break
            content_type, inner, length = self.open_inner(buffer[position:start],
                                                          payloads[start:end])
            position = end
            if content_type != _APPLICATION_DATA or not 0 < length <= MAX_PLAINTEXT:
                return position, _opened(content_type, inner[:length])
            plaintexts.append(memoryview(inner)[:length] if views else inner[:length])
        return position, None

    @property
    def exhausted(self) -> bool:
        return self.sequence >= self.limit


_UNPROTECTED = Protection()


class _FullRecord:
    """Where a TLS 1.3 read protection decrypts full-size records for ``open_run``:
    a TLSInnerPlaintext of 2^14 bytes of content and its type byte, with a view of
    the whole (the AEAD's output) and of the content (what is copied out). Made on
    the first full-size record a connection opens that way, so that one that never
    receives bulk data does not hold 16 KiB for it."""

    __slots__ = ("buffer", "content", "inner")

    def __init__(self) -> None:
        self.buffer = bytearray(MAX_PLAINTEXT + 1)
        self.inner = memoryview(self.buffer)
        self.content = self.inner[:MAX_PLAINTEXT]

    def forget(self) -> None:
        """Overwrite what a record that failed authentication left here."""
        self.inner[:] = bytes(len(self.buffer))


class Tls13Protection(Protection):
    """RFC 8446 §5.2-5.3: TLSInnerPlaintext under AEAD, nonce = iv XOR sequence."""

    __slots__ = ("_aead", "_full", "_iv", "limit")
    encrypted = True
    tls13 = True
    minimum = _TLS13_MINIMUM

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self.sequence = 0
        # The primitive itself, not its bound methods: a server keeps thousands of
        # these, and calling a method of a C type binds nothing per call anyway.
        self._aead = suite.new_primitive(key)
        self._iv = int.from_bytes(iv, "big")
        self.limit = suite.record_limit
        self._full: _FullRecord | None = None  # open_run's buffer, once it needs one

    def seal(self, content_type: int, data: bytes | bytearray | memoryview, version: bytes,
             padding: int) -> bytes:
        # A slice of the caller's buffer (memoryview, bytearray): join copies it once.
        inner = (data + _TYPE_BYTES[content_type] if type(data) is bytes
                 else b"".join((data, _TYPE_BYTES[content_type])))
        if padding:
            inner += bytes(padding)
        length = len(inner) + _TAG
        header = (_FULL_HEADER_13 if length == _FULL_LENGTH_13
                  else _pack_header(_APPLICATION_DATA, 0x0303, length))
        sequence = self.sequence
        if sequence >= _LAST_SEQUENCE:
            raise _sequence_exhausted()
        # RFC 8446 §5.3: the nonce is the IV XOR the sequence number (inline: per record).
        sealed = self._aead.encrypt((self._iv ^ sequence).to_bytes(12, "big"), inner, header)
        self.sequence = sequence + 1
        return header + sealed

    def seal_all(self, content_type: int, data: memoryview, fragment: int) -> bytearray:
        """``data`` cut into records of ``fragment`` bytes (the last one shorter),
        sealed side by side into one new buffer, without padding (the bulk path)."""
        size = len(data)
        count = -(-size // fragment)
        if not count:
            return bytearray()
        sequence = self.sequence
        # RFC 8446 §5.3: no record may take the last sequence number; checked once
        # for the run, so that nothing is sealed if one would.
        if sequence + count > _LAST_SEQUENCE:
            raise _sequence_exhausted()
        type_byte = _TYPE_BYTES[content_type]
        full_header = _pack_header(_APPLICATION_DATA, 0x0303, fragment + 1 + _TAG)
        encrypt_into = self._aead.encrypt_into
        iv = self._iv
        if SEALS_IN_PLACE:
            # The records laid out with their plaintexts in place (one copy, into a
            # buffer nobody zero-fills first), then each sealed over itself.
            chunks = [data[start : start + fragment] for start in range(0, size, fragment)]
            headers = [full_header] * count
            headers[-1] = _pack_header(_APPLICATION_DATA, 0x0303, len(chunks[-1]) + 1 + _TAG)
            tail = type_byte + bytes(_TAG)  # the inner content type, and room for the tag
            parts: list[bytes | memoryview] = []
            for header, chunk in zip(headers, chunks, strict=True):
                parts += (header, chunk, tail)
            records = bytearray().join(parts)
            out = memoryview(records)
            body = _HEADER
            for header, chunk in zip(headers, chunks, strict=True):
                end = body + len(chunk) + 1  # the end of this TLSInnerPlaintext
                encrypt_into((iv ^ sequence).to_bytes(12, "big"), out[body:end], header,
                             out[body : end + _TAG])
                sequence += 1
                body = end + _TAG + _HEADER
        else:
            # Each ciphertext written by the AEAD straight after its header.
            records = bytearray(size + count * (_HEADER + 1 + _TAG))
            out = memoryview(records)
            position = 0
            for start in range(0, size, fragment):
                chunk = data[start : start + fragment]
                header = (full_header if len(chunk) == fragment else
                          _pack_header(_APPLICATION_DATA, 0x0303, len(chunk) + 1 + _TAG))
                body = position + _HEADER
                position = body + len(chunk) + 1 + _TAG
                out[body - _HEADER : body] = header
                encrypt_into((iv ^ sequence).to_bytes(12, "big"),
                             b"".join((chunk, type_byte)), header, out[body:position])
                sequence += 1
        self.sequence = sequence
        return records

    def open(self, header: bytes, payload: bytes | memoryview) -> tuple[int, bytes]:
        content_type, inner, length = self.open_inner(header, payload)
        return content_type, inner[:length]

    def open_inner(self, header: bytes, payload: bytes | memoryview
                   ) -> tuple[int, bytes, int]:
        if header[0] != _APPLICATION_DATA:
            raise UnexpectedMessage(
                f"unprotected {ContentType(header[0]).name} record after keys were installed")
        sequence = self.sequence
        if sequence >= _LAST_SEQUENCE:
            raise _sequence_exhausted()
        try:
            inner = self._aead.decrypt((self._iv ^ sequence).to_bytes(12, "big"), payload, header)
        except AEAD.failure:
            raise BadRecordMac("record too short to be authentic" if len(payload) < self.minimum
                               else "record authentication failed") from None
        # Counted only once authentic, so that skipped 0-RTT records leave it alone.
        self.sequence = sequence + 1
        length = len(inner) - 1
        if 0 <= length <= MAX_PLAINTEXT and inner[length] in _PROTECTED_TYPES:
            # The usual record: its content type last, no padding, within the limit
            # (what _inner_plaintext finds of it, without the call); any other is
            # checked there.
            return inner[length], inner, length
        return _inner_plaintext(inner)

    def open_run(self, buffer: bytes, position: int, largest: int,
                 plaintexts: MutableSequence[Any], views: bool
                 ) -> tuple[int, tuple[int, bytes] | None]:
        # Protection.open_run with open_inner written into the loop: the AEAD is
        # called per record with no Python call around it (the bulk receive path).
        size = len(buffer)
        rest = size - position
        if (_HEADER < rest < _FULL_RECORD_13 and rest - _HEADER <= largest
                and _unpack_kind_length(buffer, position) == (_APPLICATION_DATA_3,
                                                              rest - _HEADER)):
            # One whole record that is not full-size, and nothing after it: most
            # reads of a connection but the bulk ones (a request, its reply, the
            # client's first data after its Finished, a close_notify). Opened as
            # the loop below opens a record, without its set-up and per-record
            # tests (the loop's the reference: tests/unit/test_record_open_one.py).
            start = position + _HEADER
            sequence = self.sequence
            if sequence >= _LAST_SEQUENCE:
                raise _sequence_exhausted()
            try:
                inner = self._aead.decrypt((self._iv ^ sequence).to_bytes(12, "big"),
                                           memoryview(buffer)[start:], buffer[position:start])
            except AEAD.failure:
                raise BadRecordMac("record too short to be authentic" if rest - _HEADER
                                   < self.minimum else "record authentication failed"
                                   ) from None
            self.sequence = sequence + 1
            # Not full-size: at most 2^14 + 16 bytes of ciphertext, so at most 2^14 bytes
            # of TLSInnerPlaintext, and less than 2^14 of content.
            length = len(inner) - 1
            if length > 0 and inner[length] == _APPLICATION_DATA:
                plaintexts.append(memoryview(inner)[:length] if views else inner[:length])
                return size, None
            # Padded, empty, or not application data (an alert unpadded, as usual,
            # without _inner_plaintext's call).
            if length >= 0 and inner[length] in _PROTECTED_TYPES:
                content_type = inner[length]
            else:
                content_type, inner, length = _inner_plaintext(inner)
            return size, _opened(content_type, inner[:length])
        payloads = memoryview(buffer)
        decrypt = self._aead.decrypt
        iv = self._iv
        while size - position >= _HEADER:
            content_type, major, length = _unpack_header(buffer, position)
            start = position + _HEADER
            end = start + length
            if content_type != _APPLICATION_DATA or major != 3 or length > largest or end > size:
                break
            sequence = self.sequence
            if sequence >= _LAST_SEQUENCE:
                raise _sequence_exhausted()
            full = None
            if length == _FULL_LENGTH_13 and not views:
                full = self._full
                if full is None:
                    full = self._full = _FullRecord()
            try:
                if full is not None:
                    # A full-size record, as bulk data comes: decrypted into this
                    # protection's own buffer, whose content is then copied out as
                    # bytes. decrypt() would fill a new buffer with zeros first, and
                    # slicing the type byte off that one would copy it again.
                    self._aead.decrypt_into((iv ^ sequence).to_bytes(12, "big"),
                                            payloads[start:end], buffer[position:start],
                                            full.inner)
                else:
                    inner = decrypt((iv ^ sequence).to_bytes(12, "big"), payloads[start:end],
                                    buffer[position:start])
            except AEAD.failure:
                if full is not None:
                    full.forget()  # the AEAD wrote before it checked the tag
                raise BadRecordMac("record too short to be authentic" if end - start < self.minimum
                                   else "record authentication failed") from None
            self.sequence = sequence + 1
            position = end
            if full is not None:
                if full.buffer[MAX_PLAINTEXT] == _APPLICATION_DATA:
                    plaintexts.append(full.content.tobytes())
                    continue
                inner = bytes(full.buffer)  # padded, or another type: the general way
            length = len(inner) - 1
            if not (0 < length <= MAX_PLAINTEXT and inner[length] == _APPLICATION_DATA):
                # Padded, empty, or not application data: the general way (a handshake
                # message or an alert unpadded, as usual, without _inner_plaintext's call).
                if 0 <= length <= MAX_PLAINTEXT and inner[length] in _PROTECTED_TYPES:
                    content_type = inner[length]
                else:
                    content_type, inner, length = _inner_plaintext(inner)
                if content_type != _APPLICATION_DATA or not 0 < length <= MAX_PLAINTEXT:
                    return position, _opened(content_type, inner[:length])
            # A view spares the copy that slicing off the type byte makes.
            plaintexts.append(memoryview(inner)[:length] if views else inner[:length])
        return position, None

    def open_run_into(self, buffer: bytes | memoryview, position: int, largest: int,
                      target: memoryview,
                      filled: int) -> tuple[int, int, tuple[int, bytes] | None, bool]:
        """``open_run`` decrypting straight into ``target`` after its first ``filled``
        bytes, as long as each record's whole TLSInnerPlaintext fits there (the type
        byte lands just after the content, and is not counted). Returned: where the
        loop stopped, the bytes of ``target`` filled, the record opened last when it
        is not plain application data (another type, padded or empty: taken back out
        of ``target`` for the general path) and whether ``target`` may take the
        records after these (False once one went elsewhere, so none is reordered)."""
        size = len(buffer)
        payloads = memoryview(buffer)
        decrypt_into = self._aead.decrypt_into
        iv = self._iv
        room = len(target)
        sequence = self.sequence
        # RFC 8446 §5.3: no record may take the last sequence number. Checked once, for
        # as many records as the buffer could hold; so near the end, open_run checks
        # each record (and refuses the one that would).
        if sequence + size // _TLS13_MINIMUM >= _LAST_SEQUENCE:
            return position, filled, None, False
        try:
            while size - position >= _HEADER:
                # The content type and the version's major byte as one number.
                kind, length = _unpack_kind_length(buffer, position)
                start = position + _HEADER
                end = start + length
                if kind != _APPLICATION_DATA_3 or length > largest or end > size:
                    break
                inner_end = filled + length - _TAG
                if length <= _TLS13_MINIMUM or inner_end > room:
                    # Too short to be authentic, no content (an empty record), or no
                    # room left: open_run's, with its checks and alerts.
                    return position, filled, None, False
                inner = target[filled:inner_end]
                try:
                    decrypt_into((iv ^ sequence).to_bytes(12, "big"), payloads[start:end],
                                 buffer[position:start], inner)
                except AEAD.failure:
                    # The AEAD wrote the plaintext before it checked the tag: none of
                    # it stays in the caller's buffer. The record is left to open_run,
                    # which refuses it (and what came before stays counted).
                    inner[:] = bytes(len(inner))
                    return position, filled, None, False
                sequence += 1
                position = end
                last = inner_end - 1  # where the content type is, after some content
                if target[last] != _APPLICATION_DATA:
                    plaintext = bytes(inner)
                    inner[:] = bytes(len(inner))
                    content_type, plaintext, length = _inner_plaintext(plaintext)
                    return position, filled, _opened(content_type, plaintext[:length]), False
                # (length <= largest: within our read limit, so at most 2^14 bytes of
                # content.)
                filled = last
        finally:
            self.sequence = sequence  # the records opened (counted only once authentic)
        return position, filled, None, True


def _starts_a_record(buffer: bytes, position: int, largest: int) -> bool:
    """Whether what ``buffer`` holds from ``position`` is the start of one application
    data record of at most ``largest`` bytes (or part of a header) and nothing more:
    what next_record, too, would leave for the next read without a word."""
    size = len(buffer)
    if size - position < _HEADER:
        return True  # not even a header: next_record waits for the rest as well
    content_type, major, length = _unpack_header(buffer, position)
    return bool(content_type == _APPLICATION_DATA and major == 3 and length <= largest
                and size - position - _HEADER < length)


class Tls12Protection(Protection):
    """RFC 5246 §6.2.3.3 AEAD records: GCM with an explicit 8-byte nonce (RFC 5288),
    or ChaCha20-Poly1305 with nonce = iv XOR sequence (RFC 7905)."""

    __slots__ = ("_aead", "_explicit", "_iv", "_salt", "minimum")
    encrypted = True

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        super().__init__()
        self._aead = suite.new_aead(key)
        self._explicit = suite.explicit_nonce_len
        self._salt = iv
        self._iv = int.from_bytes(iv, "big")
        self.minimum = self._explicit + _TAG  # the shortest authentic ciphertext

    def _next(self) -> int:
        sequence = self.sequence
        if sequence >= _LAST_SEQUENCE:
            raise _sequence_exhausted()
        self.sequence = sequence + 1
        return sequence

    def seal(self, content_type: int, data: bytes | bytearray | memoryview, version: bytes,
             padding: int) -> bytes:
        sequence = self._next()
        seq_bytes = sequence.to_bytes(8, "big")
        aad = seq_bytes + bytes([content_type]) + version + len(data).to_bytes(2, "big")
        if self._explicit:
            sealed = seq_bytes + self._aead.seal(self._salt + seq_bytes, data, aad)
        else:
            sealed = self._aead.seal((self._iv ^ sequence).to_bytes(12, "big"), data, aad)
        return bytes([content_type]) + version + len(sealed).to_bytes(2, "big") + sealed

    def open(self, header: bytes, payload: bytes | memoryview) -> tuple[int, bytes]:
        sequence = self._next()
        length = len(payload) - self.minimum
        if length < 0:
            raise BadRecordMac("record too short to be authentic")
        aad = sequence.to_bytes(8, "big") + header[:3] + length.to_bytes(2, "big")
        if self._explicit:
            nonce = self._salt + bytes(payload[:8])
            return header[0], self._aead.open(nonce, payload[8:], aad)
        return header[0], self._aead.open((self._iv ^ sequence).to_bytes(12, "big"), payload, aad)


def _inner_plaintext(inner: bytes) -> tuple[int, bytes, int]:
    """A decrypted TLSInnerPlaintext as (content type, bytes, length of the content at
    their start), once checked (RFC 8446 §5.2, §5.4)."""
    if len(inner) > MAX_PLAINTEXT + 1:
        # RFC 8446 §5.2: TLSInnerPlaintext, padding included, is at most 2^14 + 1.
        raise RecordOverflow(f"record plaintext of {len(inner)} bytes exceeds 2^14 + 1")
    stripped = inner if inner and inner[-1] else inner.rstrip(b"\x00")
    if not stripped:
        # RFC 8446 §5.4: no non-zero content type byte at all.
        raise UnexpectedMessage("record has no content type")
    content_type = stripped[-1]
    if content_type not in _PROTECTED_TYPES:
        # RFC 8446 §5: a protected change_cipher_spec is unexpected_message too.
        raise UnexpectedMessage(f"protected record of inner content type {content_type}")
    return content_type, stripped, len(stripped) - 1


def _opened(content_type: int, plaintext: bytes) -> tuple[int, bytes]:
    """A record just opened, once its plaintext's length is checked."""
    if not plaintext:
        if content_type != _APPLICATION_DATA:
            # RFC 8446 §5.4 (RFC 9846 §5.4): a zero-length Handshake or Alert
            # inner plaintext MUST be refused with unexpected_message; RFC 5246
            # §6.2.1 forbids them too.
            raise UnexpectedMessage(f"empty protected {ContentType(content_type).name} record")
    elif len(plaintext) > MAX_PLAINTEXT:
        raise RecordOverflow("decrypted record exceeds 2^14 bytes")
    return content_type, plaintext


class RecordLayer:
    """Framing and protection for one connection."""

    __slots__ = (
        "_following",
        "_following_at",
        "_pending",
        "_position",
        "early_data_skip",
        "handshaking",
        "max_fragment",
        "padding_block",
        "read_limit",
        "read_protection",
        "skipping_early_data",
        "tls13",
        "write_protection",
        "write_version",
    )

    def __init__(self) -> None:
        # One shared instance: a Protection without keys holds nothing that changes.
        self.read_protection: Protection = _UNPROTECTED
        self.write_protection: Protection = _UNPROTECTED
        self.write_version = b"\x03\x03"
        self.max_fragment = MAX_PLAINTEXT
        self.padding_block = 0
        self.tls13 = True
        # While the handshake runs, a peer that failed before it had keys may send
        # its alert in the clear; afterwards only protected records are accepted.
        self.handshaking = True
        # Server that rejected 0-RTT: bytes of undecryptable records still to skip
        # (RFC 8446 §4.2.10), until the first record that decrypts.
        self.early_data_skip = 0
        self.skipping_early_data = False
        # RFC 8449: the largest TLSInnerPlaintext we accept once the peer has
        # acknowledged our record_size_limit (content type and padding included).
        self.read_limit = MAX_PLAINTEXT + 1
        # Received bytes not yet parsed: _pending[_position:], then
        # _following[_following_at:]. Records are read in place (encrypted
        # payloads as memoryviews) rather than copied out.
        self._pending = b""
        self._position = 0
        self._following = b""
        self._following_at = 0

    # -- outgoing -------------------------------------------------------------

    def seal(self, content_type: int, data: bytes | bytearray | memoryview) -> bytes:
        """Fragment and protect ``data`` into one or more records."""
        protection = self.write_protection
        if content_type == _CHANGE_CIPHER_SPEC and protection.tls13:
            # RFC 8446 §5: TLS 1.3's compatibility change_cipher_spec is never protected,
            # even once our handshake keys are in place.
            protection = _UNPROTECTED
        if len(data) <= self.max_fragment:
            # Any bytes-like object: each protection copies it as it seals it.
            padding = self._padding(len(data)) if self.padding_block else 0
            return protection.seal(content_type, data, self.write_version, padding)
        return b"".join(self.seal_records(content_type, data))

    def seal_records(self, content_type: int, data: bytes | bytearray | memoryview
                     ) -> list[bytes | bytearray]:
        """``data`` as protected records, in one or more buffers (not joined)."""
        protection = self.write_protection
        limit = self.max_fragment
        version = self.write_version
        view = memoryview(data)
        if type(protection) is Tls13Protection and not self.padding_block:
            return [protection.seal_all(content_type, view, limit)]
        records: list[bytes | bytearray] = []
        for start in range(0, len(data), limit):
            chunk = view[start : start + limit]
            padding = self._padding(len(chunk)) if self.padding_block else 0
            records.append(protection.seal(content_type, chunk, version, padding))
        return records

    def _padding(self, length: int) -> int:
        block = self.padding_block
        if not block or not self.write_protection.tls13:
            return 0
        # Pad TLSInnerPlaintext (content + type byte) up to a multiple of the block,
        # never beyond the record limit (RFC 8446 §5.4).
        padded = -(-(length + 1) // block) * block
        return max(0, min(padded, self.max_fragment + 1) - length - 1)

    # -- incoming -------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if type(data) is not bytes:
            data = bytes(data)
        if self._position >= len(self._pending) and not self._following:
            self._pending, self._position = data, 0
            return
        rest = self.take_buffer()  # usually the start of one record
        head = rest[:_HEADER] if len(rest) >= _HEADER else rest + data[: _HEADER - len(rest)]
        needed = _HEADER + ((head[3] << 8) | head[4]) - len(rest) if len(head) == _HEADER else 0
        if 0 < needed < len(data):
            # Complete only that record from the new bytes: the records after it
            # are read in place, so a large read is not copied to join a small rest.
            self._pending = rest + data[:needed]
            self._following, self._following_at = data, needed
        else:
            self._pending = rest + data
        self._position = 0

    def _current(self) -> tuple[bytes, int]:
        """The buffer the next record is read from, and where it starts."""
        if self._position >= len(self._pending) and self._following:
            self._pending, self._position = self._following, self._following_at
            self._following = b""
        return self._pending, self._position

    @property
    def buffered(self) -> int:
        following = len(self._following) - self._following_at if self._following else 0
        return len(self._pending) - self._position + following

    def next_record(self) -> tuple[int, bytes] | None:
        """The next whole record as (content type, plaintext), or None for more data.

        A change_cipher_spec record is returned as it came (never protected).
        """
        buffer, position = self._pending, self._position
        if len(buffer) - position < _HEADER and not self._following:
            return None  # no whole record (how most reads end), without the loop's tests
        protection = self.read_protection
        if (type(protection) is Tls13Protection and len(buffer) - position >= _HEADER
                and not self.skipping_early_data):
            # Under TLS 1.3 keys, the usual record (each of the peer's protected
            # handshake records, say): application_data, version 3.x, within our
            # read limit and the tag (RFC 8449), whole in this buffer. Opened without
            # the checks below, which it passes; any other record goes through them.
            kind, length = _unpack_kind_length(buffer, position)
            start = position + _HEADER
            end = start + length
            if kind == _APPLICATION_DATA_3 and length <= self.read_limit + _TAG and (
                    end <= len(buffer)):
                self._position = end
                content_type, plaintext, size = protection.open_inner(
                    buffer[position:start], memoryview(buffer)[start:end])
                if size:  # (open_inner's content is at most 2^14 bytes)
                    return content_type, plaintext[:size]
                return _opened(content_type, plaintext[:size])
        while True:  # loops only to skip rejected 0-RTT records
            buffer, position = self._pending, self._position
            if len(buffer) - position < _HEADER:
                if not self._following:
                    return None
                buffer, position = self._current()  # the read the last record came in
                if len(buffer) - position < _HEADER:
                    return None
            content_type, major, length = _unpack_header(buffer, position)
            if content_type not in _VALID_TYPES:
                if PlaintextPeer.looks_like_text(buffer[position:position + 64]):
                    raise PlaintextPeer(bytes(buffer[position:position + 64]))
                raise UnexpectedMessage(f"record of unknown content type {content_type}")
            if major != 3:
                raise DecodeError("not a TLS record: bad record version")
            protection = self.read_protection
            maximum = MAX_CIPHERTEXT_13 if self.tls13 else MAX_CIPHERTEXT_12
            if length > (maximum if protection.encrypted else MAX_PLAINTEXT):
                raise RecordOverflow(f"record of {length} bytes exceeds the limit")
            start = position + _HEADER
            end = start + length
            if len(buffer) < end:
                return None
            self._position = end
            if content_type == 20 or not protection.encrypted or (
                    content_type == 21 and length == 2 and self.handshaking and protection.tls13):
                if length == 0 and content_type != _APPLICATION_DATA:
                    # RFC 5246 §6.2.1, RFC 8446 §5.1: no empty handshake, alert or
                    # change_cipher_spec fragments.
                    raise UnexpectedMessage(f"empty {ContentType(content_type).name} record")
                if content_type == _APPLICATION_DATA and self.skipping_early_data:
                    # 0-RTT records after a HelloRetryRequest (RFC 8446 §4.2.10).
                    self._skip_early_data(length)
                    continue
                return content_type, buffer[start:end]
            header = buffer[position:start]
            payload = memoryview(buffer)[start:end]
            if protection.tls13 and length - 16 > self.read_limit:
                raise RecordOverflow(f"record of {length - 16} bytes exceeds our record_size_limit")
            try:
                # (open_inner: Tls13Protection.open without its call around it.)
                content_type, plaintext, size = protection.open_inner(header, payload)
            except BadRecordMac:
                if self.skipping_early_data:
                    # 0-RTT records under keys we do not have (RFC 8446 §4.2.10).
                    self._skip_early_data(length)
                    continue
                raise
            if self.skipping_early_data:
                self.skipping_early_data = False
            if 0 < size <= MAX_PLAINTEXT:
                return content_type, plaintext[:size]  # what _opened passes, without the call
            return _opened(content_type, plaintext[:size])

    def next_records(self, plaintexts: MutableSequence[Any], views: bool = False
                     ) -> tuple[int, bytes] | None:
        """The bulk path, ``next_record`` for a run of protected records: the whole
        records in the buffer that hold application data are opened in one loop and
        their plaintexts appended to ``plaintexts`` (bytes; with ``views``, read-only
        memoryviews of bytes nothing writes again, where that spares a copy);
        returned is the record after them, as ``next_record`` returns it (None: no
        whole record is left).

        The loop takes only ordinary application_data records; any other, or one
        over a limit, is left to ``next_record``, which checks and refuses it.
        """
        protection = self.read_protection
        if not protection.encrypted or self.skipping_early_data:
            return self.next_record()
        # RFC 8449: under TLS 1.3 keys, at most our read limit (which is never over
        # 2^14 + 1, so this is within RFC 8446 §5.2's 2^14 + 256) and the tag.
        largest = (self.read_limit + _TAG if protection.tls13
                   else MAX_CIPHERTEXT_13 if self.tls13 else MAX_CIPHERTEXT_12)
        buffer, position = self._pending, self._position
        while True:
            position, record = protection.open_run(buffer, position, largest, plaintexts, views)
            if position == len(buffer) and record is None and not self._following:
                # All of it read: let the buffer go now (what compact() would do).
                self._pending, self._position = b"", 0
                return None
            self._position = position
            if record is not None:
                return record
            if position < len(buffer):  # part of a record, or one the loop does not take
                return self.next_record()
            buffer, position = self._current()  # the read the last record came in

    def receive_records(self, data: bytes | bytearray | memoryview,
                        plaintexts: MutableSequence[Any]) -> tuple[int, bytes] | None:
        """``feed(data)``, then ``next_records(plaintexts)``: one call for the bulk
        path's usual read under TLS 1.3 keys, nothing buffered before it, whose
        records are opened straight from ``data``. Only what is left after them (part
        of a record, or a record of another kind and what follows it) is kept; when
        None is returned, what is kept is compact already (``compact()``)."""
        protection = self.read_protection
        if (type(protection) is not Tls13Protection or type(data) is not bytes
                or self._position < len(self._pending) or self._following
                or self.skipping_early_data):
            self.feed(data)
            record = self.next_records(plaintexts)
            if record is None:
                self.compact()
            return record
        # RFC 8449: at most our read limit (never over 2^14 + 1) and the tag.
        position, record = protection.open_run(data, 0, self.read_limit + _TAG, plaintexts,
                                               False)
        if record is None and position == len(data):
            return None  # whole records only: nothing to keep
        self._pending, self._position = data, position
        if record is not None:
            return record  # of another kind: the caller's general way
        # Part of a record, or one the loop does not take (next_record checks and
        # refuses it); part of one is kept alone, not the whole of data.
        record = self.next_record()
        if record is None:
            self.compact()
        return record

    def plain_first(self, data: bytes | memoryview) -> tuple[int, bytes] | None:
        """A read's first record, when it is one that needs no ``feed`` and
        ``next_record`` before it, with nothing buffered before the read: a read that
        is exactly one whole unprotected handshake record (a ClientHello, the read a
        server begins with), or, once records are protected, one that begins with
        TLS 1.3's compatibility change_cipher_spec record as peers send it (RFC 8446
        Appendix D.4: a client's last flight begins with it), the rest of the read
        then kept as ``feed`` keeps it. The record is what ``feed`` + ``next_record``
        give, after the checks next_record makes of it (content type, version 3.x,
        a length within 2^14 and not zero); None when the read is anything else, and
        then nothing of it is taken (the caller goes the general way, which judges
        it)."""
        if len(data) <= _HEADER or self._position < len(self._pending) or self._following:
            return None
        if self.read_protection.encrypted:
            # (As a client sends it: under the handshake keys it answers.)
            if data[:_COMPATIBILITY_CCS_SIZE] != _COMPATIBILITY_CCS:
                return None
            # The rest is read in place after it, as feed keeps a read (a view copied).
            self._pending = data if type(data) is bytes else bytes(data)
            self._position = _COMPATIBILITY_CCS_SIZE
            return _CHANGE_CIPHER_SPEC, b"\x01"
        kind, length = _unpack_kind_length(data, 0)
        if kind != _HANDSHAKE_3 or length != len(data) - _HEADER or length > MAX_PLAINTEXT:
            return None
        # A copy of a view (data may be a transport's buffer, filled again later);
        # of bytes, a slice.
        return _HANDSHAKE, bytes(data[_HEADER:])

    def open_alone(self, data: bytes | memoryview) -> tuple[int, bytes] | None:
        """A read that is exactly one whole protected TLS 1.3 record, with nothing
        buffered before it, opened as ``next_record`` opens it (the same checks and
        errors: ``open_inner``, ``_opened``); None when the read is anything else,
        and then nothing of it is taken (the caller goes the general way). For the
        lone small records of a connection's end (the peer's close_notify), which
        the bulk loops would take through their general machinery."""
        protection = self.read_protection
        length = len(data) - _HEADER
        # The header compared whole: application_data, 0x0303 and the read's length
        # (any other, or a record over our read limit and the tag, RFC 8449, is
        # next_record's to judge).
        if (type(protection) is not Tls13Protection or self.skipping_early_data
                or self._position < len(self._pending) or self._following
                or not 0 <= length <= self.read_limit + _TAG
                or data[:_HEADER] != (header := _pack_header(_APPLICATION_DATA, 0x0303, length))):
            return None
        content_type, inner, length = protection.open_inner(header, memoryview(data)[_HEADER:])
        return _opened(content_type, inner[:length])

    def next_records_into(self, target: memoryview, filled: int
                          ) -> tuple[int, tuple[int, bytes] | None, bool]:
        """``next_records`` for TLS 1.3, the plaintexts decrypted straight into
        ``target`` after its first ``filled`` bytes while whole records fit there
        (``Tls13Protection.open_run_into``): returned are the bytes filled, the record
        after them as ``next_record`` returns it (None: none is whole), and whether
        ``target`` may take more (False: go on with ``next_records``)."""
        protection = self.read_protection
        if type(protection) is not Tls13Protection or self.skipping_early_data:
            return filled, None, False
        # RFC 8449: at most our read limit (never over 2^14 + 1) and the tag.
        largest = self.read_limit + _TAG
        buffer, position = self._pending, self._position
        while True:
            position, filled, record, fits = protection.open_run_into(
                buffer, position, largest, target, filled)
            if position == len(buffer) and record is None and not self._following:
                self._pending, self._position = b"", 0  # all of it read
                return filled, None, fits
            self._position = position
            if record is not None or not fits:
                return filled, record, False  # another record after these: the general way
            if position < len(buffer):
                # Part of the next record, as a read most often ends, is only kept for
                # the next read (what next_record would find and do); anything else
                # goes the general way, which checks and refuses it.
                return filled, None, (not self._following
                                      and _starts_a_record(buffer, position, largest))
            buffer, position = self._current()  # the read the last record came in

    def receive_records_into(self, data: bytes | memoryview, target: memoryview, filled: int
                             ) -> tuple[int, tuple[int, bytes] | None, bool]:
        """``feed(data)``, then ``next_records_into(target, filled)``, for a ``data``
        that may be a view of the transport's read buffer, which it fills again once
        this returns: under TLS 1.3 keys its records are opened where they are, and
        only what is kept of it (part of a record, or where the general way goes on)
        is copied, not the whole read. A record begun in the read before is completed
        from ``data`` first (that record alone joined, as ``feed`` does)."""
        protection = self.read_protection
        if (type(protection) is not Tls13Protection or self.skipping_early_data
                or self._following):
            self.feed(data)  # a copy of a view
            return self.next_records_into(target, filled)
        # RFC 8449: at most our read limit (never over 2^14 + 1) and the tag.
        largest = self.read_limit + _TAG
        position = 0
        if self._position < len(self._pending):
            rest = self._pending[self._position :]
            head = rest[:_HEADER] if len(rest) >= _HEADER else rest + data[: _HEADER - len(rest)]
            needed = _HEADER + ((head[3] << 8) | head[4]) - len(rest) if len(head) == _HEADER else 0
            if not 0 < needed <= len(data):
                self.feed(data)  # not even the end of that record: kept whole (a copy)
                return self.next_records_into(target, filled)
            record_bytes = rest + data[:needed]
            end, filled, record, fits = protection.open_run_into(record_bytes, 0, largest,
                                                                 target, filled)
            if record is not None or not fits or end < len(record_bytes):
                # Not plain application data that fit: the general way, from that
                # record on (and the rest of data after it, as feed keeps it).
                self._pending, self._position = record_bytes, end
                if needed < len(data):
                    self._following, self._following_at = bytes(data[needed:]), 0
                return filled, record, False
            position = needed
        position, filled, record, fits = protection.open_run_into(data, position, largest,
                                                                  target, filled)
        # What is left of data is kept, as bytes of its own.
        self._pending, self._position = bytes(data[position:]), 0
        if record is not None or not fits:
            return filled, record, False
        return filled, None, _starts_a_record(self._pending, 0, largest)

    def compact(self) -> None:
        """Once every whole record is read: keep only what is not (at most part of one
        record), not the whole of the last read, while the connection waits."""
        if self._position and not self._following:
            self._pending, self._position = self._pending[self._position :], 0

    def skip_early_data(self, budget: int) -> None:
        """Server that rejected 0-RTT: skip up to ``budget`` ciphertext bytes of the
        client's early data records (0: stop skipping)."""
        self.early_data_skip = budget
        self.skipping_early_data = budget > 0

    def _skip_early_data(self, length: int) -> None:
        if length < _TLS13_MINIMUM:
            # Shorter than its AEAD tag: never authentic, so never 0-RTT data either.
            raise BadRecordMac(f"protected record of {length} bytes is too short to be "
                               "authentic")
        if length > self.early_data_skip:
            # BoringSSL: SSL_R_TOO_MUCH_SKIPPED_EARLY_DATA, unexpected_message.
            raise UnexpectedMessage("more rejected early data than this server skips")
        self.early_data_skip -= length

    def take_buffer(self) -> bytes:
        """Bytes received but not yet parsed as records (for handing a socket back)."""
        data = self._pending[self._position :]
        if self._following:
            data += self._following[self._following_at :]
            self._following = b""
        self._pending, self._position = b"", 0
        return data
