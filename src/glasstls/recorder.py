"""Recording a connection byte by byte, for ``glasstls explain``.

A config's ``recorder`` is called once per connection with the connection's side
and id; it returns a ``ConnectionRecorder`` to which the engine hands every record
it sends or receives (exactly as on the wire) and every secret it derives. When
``recorder`` is None (the default) nothing here is used: the connection keeps the
plain ``RecordLayer``, so recording costs nothing when off.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence
from typing import Any, Protocol

from .record import RecordLayer


class ConnectionRecorder(Protocol):
    def record(self, sent: bool, data: bytes) -> None:
        """One whole record (header included), sent or received."""

    def secret(self, name: str, value: bytes) -> None:
        """A secret: an NSS key log label (``CLIENT_HANDSHAKE_TRAFFIC_SECRET``...) or an
        input of the key schedule (``shared_secret``, ``pre_master_secret``...)."""


# Called with ("client" or "server", connection id) for each new connection.
RecorderFactory = Callable[[str, int], ConnectionRecorder]


def split_records(data: bytes | bytearray | memoryview) -> list[bytes]:
    """Whole records out of bytes that hold only whole records."""
    records, position = [], 0
    while len(data) - position >= 5:
        end = position + 5 + int.from_bytes(data[position + 3 : position + 5], "big")
        records.append(bytes(data[position:end]))
        position = end
    return records


class RecordingRecordLayer(RecordLayer):
    """The record layer of a recorded connection: every record it seals or reads
    also goes to the recorder."""

    __slots__ = ("_recorder",)

    def __init__(self, recorder: ConnectionRecorder) -> None:
        super().__init__()
        self._recorder = recorder

    def seal(self, content_type: int, data: bytes | bytearray | memoryview) -> bytes:
        if len(data) > self.max_fragment:
            return super().seal(content_type, data)  # via seal_records, recorded there
        sealed = super().seal(content_type, data)
        self._recorder.record(True, sealed)
        return sealed

    def seal_records(self, content_type: int, data: bytes | bytearray | memoryview
                     ) -> list[bytes | bytearray]:
        buffers = super().seal_records(content_type, data)
        for buffer in buffers:
            for record in split_records(buffer):
                self._recorder.record(True, record)
        return buffers

    def next_records(self, plaintexts: MutableSequence[Any], views: bool = False
                     ) -> tuple[int, bytes] | None:
        # One record at a time, each recorded as it is read.
        return self.next_record()

    def plain_first(self, data: bytes | memoryview) -> tuple[int, bytes] | None:
        # Never taken alone: the read goes through next_record, which records it.
        return None

    def open_alone(self, data: bytes | memoryview) -> tuple[int, bytes] | None:
        # As plain_first (a lone close_notify read with a sink went past the recording).
        return None

    def next_record(self) -> tuple[int, bytes] | None:
        buffer, start = self._current()
        try:
            return super().next_record()
        finally:
            # Whatever was consumed: a record, skipped 0-RTT records, or one that failed.
            if self._pending is buffer and self._position > start:
                for record in split_records(memoryview(buffer)[start : self._position]):
                    self._recorder.record(False, record)
