"""Fields: what every dissected byte belongs to.

A ``Field`` names a byte range, its value, what it means in words and the RFC
section that defines it; parents (a vector, an extension, a message) hold the
fields inside them, and the leaves of a record's trees cover each of its bytes
exactly once. ``Cursor`` reads a structure the way ``codec.Reader`` does, but
writes down a field for everything it reads::

    with cursor.vector("cipher_suites", 2, "the suites the client offers", RFC8446_CH) as v:
        while v.remaining:
            v.uint("cipher_suite", 2, "one offered suite", RFC8446_CH, describe=suite_text)

Malformed input raises ``Malformed``; the dissector then shows the bytes it could
not read as one field instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Describe = Callable[[int], str]
# Where a field's bytes are: (record index, "wire" or "plaintext", start, end).
Span = tuple[int, str, int, int]

_MAX = {1: 0xFF, 2: 0xFFFF, 3: 0xFFFFFF, 4: 0xFFFFFFFF}


class Malformed(Exception):
    """The bytes do not follow the structure being read."""


@dataclass(eq=False)
class Field:
    name: str
    start: int
    end: int
    value: Any = None
    text: str = ""
    meaning: str = ""
    rfc: str = ""
    children: list[Field] = field(default_factory=list)
    grease: bool = False
    # A check made on the value (a Finished or binder recomputed, a signature verified).
    check: str = ""
    # Filled in when the field is placed in records (see ``places``).
    spans: list[Span] = field(default_factory=list)
    id: int = 0

    @property
    def length(self) -> int:
        return self.end - self.start

    def leaves(self) -> Iterator[Field]:
        if not self.children:
            yield self
            return
        for child in self.children:
            yield from child.leaves()

    def walk(self) -> Iterator[Field]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, name: str) -> Field | None:
        """The first field called ``name`` in this tree (depth first)."""
        return next((f for f in self.walk() if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "length": self.length,
                                "spans": [list(span) for span in self.spans]}
        for key in ("value", "text", "meaning", "rfc", "check"):
            attribute = getattr(self, key)
            if attribute not in (None, ""):
                data[key] = attribute
        if self.grease:
            data["grease"] = True
        if self.children:
            data["children"] = [child.to_json() for child in self.children]
        return data


def hex_text(data: bytes, limit: int = 24) -> str:
    """Bytes as hex, shortened in the middle when long."""
    if len(data) <= limit:
        return data.hex()
    half = limit // 2
    return f"{data[:half].hex()}\u2026{data[-4:].hex()} ({len(data)} bytes)"


class Cursor:
    """Reads ``data[position:end]``, adding a field to ``parent`` for each thing read.
    Offsets in fields are ``base`` plus the position in ``data``."""

    __slots__ = ("_data", "_end", "_pos", "base", "parent")

    def __init__(self, data: bytes, parent: Field, start: int = 0, end: int | None = None,
                 base: int = 0) -> None:
        self._data = data
        self._pos = start
        self._end = len(data) if end is None else end
        self.parent = parent
        self.base = base

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def peek(self, n: int) -> bytes:
        return bytes(self._data[self._pos : min(self._pos + n, self._end)])

    def _take(self, n: int, what: str) -> int:
        start = self._pos
        if n > self._end - start:
            raise Malformed(f"{what}: needed {n} bytes, {self._end - start} left")
        self._pos = start + n
        return start

    def add(self, name: str, start: int, end: int, **details: Any) -> Field:
        leaf = Field(name, self.base + start, self.base + end, **details)
        self.parent.children.append(leaf)
        return leaf

    def uint(self, name: str, size: int, meaning: str, rfc: str,
             describe: Describe | None = None, **details: Any) -> int:
        start = self._take(size, name)
        value = int.from_bytes(self._data[start : start + size], "big")
        text = describe(value) if describe is not None else str(value)
        self.add(name, start, start + size, value=value, text=text, meaning=meaning, rfc=rfc,
                 **details)
        return value

    def opaque(self, name: str, n: int, meaning: str, rfc: str, text: str | None = None,
               **details: Any) -> bytes:
        start = self._take(n, name)
        data = bytes(self._data[start : start + n])
        self.add(name, start, start + n, value=data.hex(),
                 text=hex_text(data) if text is None else text, meaning=meaning, rfc=rfc,
                 **details)
        return data

    def rest(self, name: str, meaning: str, rfc: str, text: str | None = None,
             **details: Any) -> bytes:
        return self.opaque(name, self.remaining, meaning, rfc, text, **details)

    def _length(self, name: str, length_size: int, minimum: int, maximum: int | None) -> int:
        start = self._take(length_size, f"{name} length")
        n = int.from_bytes(self._data[start : start + length_size], "big")
        if n > self._end - self._pos:
            raise Malformed(f"{name}: vector of {n} bytes, {self._end - self._pos} left")
        if n < minimum or n > (maximum if maximum is not None else _MAX[length_size]):
            raise Malformed(f"{name}: vector of {n} bytes is outside its bounds "
                            f"<{minimum}..{maximum if maximum is not None else _MAX[length_size]}>")
        self.add("length", start, start + length_size, value=n,
                 text="1 byte" if n == 1 else f"{n} bytes",
                 meaning=f"length of {name} that follows", rfc="RFC 8446 §3.4")
        return n

    @contextmanager
    def vector(self, name: str, length_size: int, meaning: str, rfc: str, minimum: int = 0,
               maximum: int | None = None, **details: Any) -> Iterator[Cursor]:
        """A length-prefixed vector as a parent field; its content must be read whole."""
        node = Field(name, self.base + self._pos, self.base + self._pos, meaning=meaning,
                     rfc=rfc, **details)
        self.parent.children.append(node)
        outer, self.parent = self.parent, node
        try:
            n = self._length(name, length_size, minimum, maximum)
        finally:
            self.parent = outer
        inner = Cursor(self._data, node, self._pos, self._pos + n, self.base)
        self._pos += n
        node.end = self.base + self._pos
        yield inner
        if inner.remaining:
            raise Malformed(f"{name}: {inner.remaining} bytes left over")

    def opaque_vector(self, name: str, length_size: int, meaning: str, rfc: str,
                      minimum: int = 0, maximum: int | None = None, text: str | None = None,
                      **details: Any) -> bytes:
        """``opaque name<..>``: a length and, when not empty, the bytes."""
        with self.vector(name, length_size, meaning, rfc, minimum, maximum) as v:
            data = v.peek(v.remaining)
            if v.remaining:
                v.rest(f"{name} value", meaning, rfc, text, **details)
        node = self.parent.children[-1]
        node.value, node.text = data.hex(), hex_text(data) if text is None else text
        return data

    @contextmanager
    def group(self, name: str, meaning: str, rfc: str, **details: Any) -> Iterator[Cursor]:
        """A parent field without a length of its own: it spans what is read inside."""
        node = Field(name, self.base + self._pos, self.base + self._pos, meaning=meaning,
                     rfc=rfc, **details)
        self.parent.children.append(node)
        inner = Cursor(self._data, node, self._pos, self._end, self.base)
        yield inner
        self._pos = inner._pos
        node.end = self.base + self._pos
