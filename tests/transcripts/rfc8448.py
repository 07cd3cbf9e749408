"""RFC 8448 handshakes as data (data/transcripts.vec, from the Botan project; see
data/README.md for its source and licence), and a deterministic random source."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@cache
def sections() -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in (DATA / "transcripts.vec").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(.+)\]", line)
        if header:
            current = parsed.setdefault(header.group(1), {})
            continue
        assert current is not None, f"value outside a section: {line[:40]}"
        key, value = line.split("=", 1)
        current[key.strip()] = value.strip()
    return parsed


class Section:
    def __init__(self, name: str) -> None:
        self.name = name
        self.values = sections()[name]

    def hex(self, key: str) -> bytes:
        # One value has a stray space inside ("8c61 50 1b..."): strip all whitespace.
        return bytes.fromhex("".join(self.values[key].split()))

    def record_payload(self, key: str) -> bytes:
        """The payload of a single unprotected record."""
        data = self.hex(key)
        assert int.from_bytes(data[3:5], "big") == len(data) - 5, f"{key} is not one record"
        return data[5:]

    @property
    def timestamp(self) -> float:
        """CurrentTimestamp, in seconds (the file has milliseconds)."""
        return int(self.values["CurrentTimestamp"]) / 1000


class PoolRng:
    """A config ``rng`` that hands out the given pieces of a pool, in order, and fails
    the test if asked for more or for a different size than the next piece."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = list(pieces)

    def __call__(self, n: int) -> bytes:
        assert self.pieces, f"the random pool is used up (asked for {n} more bytes)"
        piece = self.pieces.pop(0)
        assert len(piece) == n, f"asked for {n} random bytes; the next piece has {len(piece)}"
        return piece


def p256_scalar_rng(scalar: int) -> PoolRng:
    """An ``rng`` that makes glasstls's P-256 key generation produce ``scalar``.

    glasstls draws 32 + 8 bytes and reduces them: ``d = value % (n - 1) + 1``
    (FIPS 186-5 A.2.1); so the 40 bytes holding ``scalar - 1`` give ``scalar``.
    """
    return PoolRng((scalar - 1).to_bytes(40, "big"))
