"""Live recording: the engine's records and secrets, ready to dissect.

    recorder = Recorder()
    config = dataclasses.replace(config, recorder=recorder)
    ... connect ...
    explained = recorder.recordings[0].explain()

Each connection made with the config gets a ``Recording`` (the engine calls the
``Recorder`` once per connection). The records are those the engine sent and
received, in the order it did; the secrets are its key log lines and the key
schedule's inputs, which let the dissector recompute every step.
"""

from __future__ import annotations

import threading
import time

from .dissect import Explained, WireRecord, dissect
from .facts import CLIENT, SERVER
from .keys import NSS_LABELS, KeyMaterial

# Recordings a Recorder keeps at most (a server may accept many connections).
MAX_RECORDINGS = 256
# Bytes of records one recording keeps at most; a long transfer is cut (and says so).
MAX_BYTES = 1 << 22


class Recording:
    """One connection as its engine saw it."""

    def __init__(self, side: str, connection_id: int, max_bytes: int = MAX_BYTES) -> None:
        self.side = side
        self.connection_id = connection_id
        self.records: list[WireRecord] = []
        self.logged: dict[str, bytes] = {}
        self.engine: dict[str, bytes] = {}
        self.dropped = 0
        self._room = max_bytes
        self._lock = threading.Lock()

    def record(self, sent: bool, data: bytes) -> None:
        sender = self.side if sent else (SERVER if self.side == CLIENT else CLIENT)
        with self._lock:
            if len(data) <= self._room and not self.dropped:
                self._room -= len(data)
                self.records.append(WireRecord(sender, data, time.time()))
            else:
                self.dropped += 1

    def secret(self, name: str, value: bytes) -> None:
        with self._lock:
            (self.logged if name in NSS_LABELS else self.engine)[name] = value

    def key_material(self, keys: KeyMaterial | None = None) -> KeyMaterial:
        """This connection's secrets (added to ``keys``, which may hold PSKs from
        earlier connections)."""
        keys = keys or KeyMaterial()
        with self._lock:
            records = list(self.records)
            logged, engine = dict(self.logged), dict(self.engine)
        client_random = _client_random(records)
        if client_random is not None:
            secrets = keys.secrets(client_random)
            secrets.logged.update(logged)
            secrets.engine.update(engine)
            secrets.recorded_by = self.side
        return keys

    def explain(self, keys: KeyMaterial | None = None) -> Explained:
        with self._lock:
            records = list(self.records)
        explained = dissect(records, self.key_material(keys))
        if self.dropped:
            explained.notes.append(f"{self.dropped} later records were not kept (the "
                                   "recording's size limit)")
        return explained


def _client_random(records: list[WireRecord]) -> bytes | None:
    """The random of the first ClientHello (secrets are keyed by it)."""
    for record in records:
        data = record.data
        if record.sender == CLIENT and data[:1] == b"\x16" and len(data) >= 43 and data[5] == 1:
            return data[11:43]
    return None


class Recorder:
    """A config's ``recorder``: a ``Recording`` for each connection made with it."""

    def __init__(self, limit: int = MAX_RECORDINGS, max_bytes: int = MAX_BYTES) -> None:
        self.recordings: list[Recording] = []
        self._limit = limit
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def __call__(self, side: str, connection_id: int) -> Recording:
        recording = Recording(side, connection_id, self._max_bytes)
        with self._lock:
            self.recordings.append(recording)
            del self.recordings[: -self._limit]
        return recording

    def explain_all(self) -> list[Explained]:
        """Every recorded connection in order; tickets of one give the PSKs of the next."""
        keys = KeyMaterial()
        with self._lock:
            recordings = list(self.recordings)
        return [recording.explain(keys) for recording in recordings]
