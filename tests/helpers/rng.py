"""A deterministic config ``rng`` for tests that must reproduce a connection."""

from __future__ import annotations

import hashlib


class SeededRng:
    """SHA-256 in counter mode over a seed: the same seed gives the same bytes, in
    any process (deterministic, not secret)."""

    def __init__(self, seed: str) -> None:
        self._seed = hashlib.sha256(seed.encode()).digest()
        self._counter = 0
        self._buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = self._seed + self._counter.to_bytes(8, "big")
            self._buffer += hashlib.sha256(block).digest()
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out
