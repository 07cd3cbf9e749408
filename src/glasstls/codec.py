"""The one codec: fixed-width integers and length-prefixed vectors (RFC 8446 §3).

``Reader`` never indexes past its end, never trusts a length, and fails when a
vector has bytes left over; it raises only ``DecodeError``::

    with reader.vector(2, minimum=2) as body:   # <2..2^16-1>
        while body.remaining:
            suites.append(body.u16())

``Writer`` back-fills vector lengths and checks them against their bounds::

    with writer.vector(2):
        for suite in suites:
            writer.u16(suite)
"""

from __future__ import annotations

import struct
from types import TracebackType

from .errors import DecodeError

_U32 = struct.Struct(">I")
_MAX = {1: 0xFF, 2: 0xFFFF, 3: 0xFFFFFF, 4: 0xFFFFFFFF}


class Reader:
    """Reads big-endian fields from ``data[pos:end]``; usable as a context manager
    whose exit fails if bytes are left unread."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self._data = data  # bytes (not a view): opaque() and raw() return slices of it
        self._pos = pos
        self._end = len(data) if end is None else end

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._pos != self._end:
            raise DecodeError(f"{self._end - self._pos} unexpected trailing bytes")

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def expect_end(self) -> None:
        if self._pos != self._end:
            raise DecodeError(f"{self._end - self._pos} unexpected trailing bytes")

    def _take(self, n: int) -> int:
        start = self._pos
        if n > self._end - start:
            raise self._truncated(n)
        self._pos = start + n
        return start

    def _truncated(self, n: int) -> DecodeError:
        return DecodeError(f"truncated: needed {n} bytes, {self._end - self._pos} left")

    # u8 and u16 are the codec's most frequent calls: written out in full.
    def u8(self) -> int:
        start = self._pos
        if start >= self._end:
            raise self._truncated(1)
        self._pos = start + 1
        return self._data[start]

    def u16(self) -> int:
        start = self._pos
        if start + 2 > self._end:
            raise self._truncated(2)
        self._pos = start + 2
        data = self._data
        return (data[start] << 8) | data[start + 1]

    def u24(self) -> int:
        start = self._take(3)
        return int.from_bytes(self._data[start : start + 3], "big")

    def u32(self) -> int:
        # Written out as u16 (each ticket, PSK identity and stored session has some).
        start = self._pos
        if start + 4 > self._end:
            raise self._truncated(4)
        self._pos = start + 4
        value: int = _U32.unpack_from(self._data, start)[0]
        return value

    def u64(self) -> int:
        start = self._take(8)
        return int.from_bytes(self._data[start : start + 8], "big")

    def raw(self, n: int) -> bytes:
        start = self._take(n)
        return self._data[start : start + n]

    def rest(self) -> bytes:
        return self.raw(self._end - self._pos)

    @staticmethod
    def _bad_length(n: int, minimum: int, maximum: int | None, left: int) -> DecodeError:
        if n < minimum:
            return DecodeError(f"vector of {n} bytes is shorter than its minimum {minimum}")
        if maximum is not None and n > maximum:
            return DecodeError(f"vector of {n} bytes is longer than its maximum {maximum}")
        return DecodeError(f"truncated: vector of {n} bytes, {left} left")

    # A vector's length is read and checked in full in both opaque and vector, the
    # codec's busiest calls after u8 and u16 (no helper call: see u16).
    def opaque(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> bytes:
        """A length-prefixed byte string, e.g. ``opaque x<1..2^8-1>``."""
        start = self._pos
        pos = start + length_size
        end = self._end
        if pos > end:
            raise self._truncated(length_size)
        data = self._data
        if length_size == 2:
            n = (data[start] << 8) | data[start + 1]
        elif length_size == 1:
            n = data[start]
        else:
            n = int.from_bytes(data[start:pos], "big")
        stop = pos + n
        if n < minimum or stop > end or (maximum is not None and n > maximum):
            raise self._bad_length(n, minimum, maximum, end - pos)
        self._pos = stop
        return data[pos:stop]

    def vector(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> Reader:
        """A sub-reader over a length-prefixed vector; use it with ``with``."""
        start = self._pos
        pos = start + length_size
        end = self._end
        if pos > end:
            raise self._truncated(length_size)
        data = self._data
        if length_size == 2:
            n = (data[start] << 8) | data[start + 1]
        elif length_size == 1:
            n = data[start]
        else:
            n = int.from_bytes(data[start:pos], "big")
        stop = pos + n
        if n < minimum or stop > end or (maximum is not None and n > maximum):
            raise self._bad_length(n, minimum, maximum, end - pos)
        self._pos = stop
        return Reader(data, pos, stop)

    def entry(self) -> tuple[int, Reader] | None:
        """The next ``uint16 type; opaque body<0..2^16-1>`` (an extension), its body as a
        sub-reader, or None at the end: one call per entry of an extension block, the
        handshake's busiest loop, instead of ``remaining``, ``u16`` and ``vector``."""
        start = self._pos
        end = self._end
        if start == end:
            return None
        data = self._data
        pos = start + 4
        if pos > end:
            # The message u16() or vector(2) would give; nothing is consumed.
            left = end - start
            raise DecodeError(f"truncated: needed 2 bytes, {left if left < 2 else left - 2} left")
        stop = pos + ((data[start + 2] << 8) | data[start + 3])
        if stop > end:
            raise self._bad_length(stop - pos, 0, None, end - pos)
        self._pos = stop
        return (data[start] << 8) | data[start + 1], Reader(data, pos, stop)

    def u16_list(self, length_size: int = 2, minimum: int = 0,
                 maximum_count: int | None = None) -> tuple[int, ...]:
        """A vector of uint16 values (cipher suites, groups, schemes...), of at most
        ``maximum_count`` values when given (a limit of ours, not the RFC's)."""
        data = self.opaque(length_size, minimum)
        count, odd = divmod(len(data), 2)
        if odd:
            raise DecodeError("odd length for a vector of uint16")
        if maximum_count is not None and count > maximum_count:
            raise DecodeError(f"{count} values in a list where we accept {maximum_count}")
        # One C call, however long the list: a hostile hello carries 32,000 values.
        values: tuple[int, ...] = struct.unpack(f">{count}H", data)
        return values


class Writer:
    """Builds a message; ``vector()`` back-fills the length prefix on exit."""

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = bytearray()

    def u8(self, value: int) -> None:
        self.buffer.append(value)

    def u16(self, value: int) -> None:
        self.buffer += value.to_bytes(2, "big")

    def u24(self, value: int) -> None:
        self.buffer += value.to_bytes(3, "big")

    def u32(self, value: int) -> None:
        self.buffer += value.to_bytes(4, "big")

    def u64(self, value: int) -> None:
        self.buffer += value.to_bytes(8, "big")

    def raw(self, data: bytes) -> None:
        self.buffer += data

    def opaque(self, length_size: int, data: bytes) -> None:
        n = len(data)
        if n > _MAX[length_size]:
            raise ValueError(f"{n} bytes do not fit a {length_size}-byte length")
        self.buffer += n.to_bytes(length_size, "big") + data

    def u16_list(self, values: tuple[int, ...] | list[int], length_size: int = 2) -> None:
        n = 2 * len(values)
        if n > _MAX[length_size]:
            raise ValueError(f"{n} bytes do not fit a {length_size}-byte length")
        self.buffer += n.to_bytes(length_size, "big")
        self.buffer += struct.pack(f">{len(values)}H", *values)

    def vector(self, length_size: int) -> _VectorScope:
        """A length-prefixed vector whose length is filled in when the block ends."""
        return _VectorScope(self, length_size)

    # ``vector`` without its scope object, for the writers every handshake runs
    # (a message's header, an extension block): two calls instead of four.
    def open_vector(self, length_size: int) -> int:
        """Reserves a vector's length; returns where it is, for ``close_vector``."""
        buffer = self.buffer
        start = len(buffer)
        buffer += _ZEROS[length_size]
        return start

    def close_vector(self, start: int, length_size: int) -> None:
        """Fills in the length of the vector opened at ``start``."""
        buffer = self.buffer
        n = len(buffer) - start - length_size
        if n > _MAX[length_size]:
            raise ValueError(f"{n} bytes do not fit a {length_size}-byte length")
        buffer[start : start + length_size] = n.to_bytes(length_size, "big")

    def getvalue(self) -> bytes:
        return bytes(self.buffer)


class _VectorScope:
    """``with writer.vector(n):`` — reserves the length, back-fills it on exit."""

    __slots__ = ("_size", "_start", "_writer")

    def __init__(self, writer: Writer, size: int) -> None:
        self._writer = writer
        self._size = size
        self._start = writer.open_vector(size)

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._writer.close_vector(self._start, self._size)


_ZEROS = {1: b"\x00", 2: b"\x00\x00", 3: b"\x00\x00\x00", 4: b"\x00\x00\x00\x00"}
