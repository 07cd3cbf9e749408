"""Certificate compression (RFC 8879): the three codecs, decompression with a hard
cap on the output, and the cache of compressed Certificate messages.

zlib comes with Python; brotli and zstd need the ``brotli`` and ``zstandard``
packages (``pip install glasstls[compression]``) and are offered only when those
import. A compressed message is the Certificate message's body (no handshake
header) run through the codec, as BoringSSL, OpenSSL and Chromium do.
"""

from __future__ import annotations

import importlib
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .constants import CertificateCompressionAlgorithm as A
from .errors import BadCertificate, ConfigError
from .limits import MAX_HANDSHAKE_MESSAGE

# RFC 8879 §4: the output is cut at the announced uncompressed_length (a uint24). We
# also refuse to announce or produce more than the largest handshake message the
# engine accepts uncompressed: a compressed chain may not be a bigger one.
MAX_UNCOMPRESSED_LENGTH = MAX_HANDSHAKE_MESSAGE


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_brotli: Any = _optional("brotli")
_zstandard: Any = _optional("zstandard")


def _zlib_decompress(data: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj()
    output = decompressor.decompress(data, limit + 1)
    if decompressor.unused_data or (not decompressor.eof and not decompressor.unconsumed_tail):
        # Bytes after the end of the stream, or a stream that stops short.
        raise ValueError("not exactly one complete zlib stream")
    return output


def _brotli_decompress(data: bytes, limit: int) -> bytes:
    decompressor = _brotli.Decompressor()
    # The buffer stops growing at the limit (give or take one of its blocks), so a
    # bomb is cut short after at most limit + a block of output.
    output: bytes = decompressor.process(data, output_buffer_limit=limit + 1)
    if len(output) <= limit and not decompressor.is_finished():
        output += decompressor.process(b"", output_buffer_limit=1)
        if len(output) <= limit and not decompressor.is_finished():
            raise ValueError("truncated brotli stream")
    return output


def _zstd_decompress(data: bytes, limit: int) -> bytes:
    # A reader bounds the output whatever the frame header claims about its size.
    reader = _zstandard.ZstdDecompressor().stream_reader(data)
    output: bytes = reader.read(limit + 1)
    return output


def _zstd_compress(data: bytes) -> bytes:
    compressed: bytes = _zstandard.ZstdCompressor(level=19).compress(data)
    return compressed


@dataclass(frozen=True, slots=True)
class Codec:
    algorithm: int
    name: str
    compress: Callable[[bytes], bytes]
    # decompress(data, limit) returns the output, or more than ``limit`` bytes of it
    # when the output would be longer; raises on malformed input.
    decompress: Callable[[bytes, int], bytes]
    errors: tuple[type[Exception], ...]


def _codecs() -> dict[int, Codec]:
    codecs: dict[int, Codec] = {A.zlib: Codec(A.zlib, "zlib", lambda data: zlib.compress(data, 9),
                            _zlib_decompress, (zlib.error, ValueError))}
    if _brotli is not None:
        codecs[A.brotli] = Codec(A.brotli, "brotli", lambda data: bytes(_brotli.compress(data)),
                                 _brotli_decompress, (_brotli.error, ValueError))
    if _zstandard is not None:
        codecs[A.zstd] = Codec(A.zstd, "zstd", _zstd_compress, _zstd_decompress,
                               (_zstandard.ZstdError, ValueError))
    return codecs


CODECS: dict[int, Codec] = _codecs()
# Our preference: brotli (what browsers offer), then zstd, then zlib.
DEFAULT_ALGORITHMS: tuple[int, ...] = tuple(a for a in (A.brotli, A.zstd, A.zlib) if a in CODECS)
_PACKAGES = {"brotli": "brotli", "zstd": "zstandard"}


def check_algorithms(algorithms: tuple[int, ...]) -> None:
    """A config's ``certificate_compression``: known, installed, each once."""
    for algorithm in algorithms:
        if algorithm not in A.__members__.values():
            raise ConfigError(f"unknown certificate compression algorithm {algorithm} "
                              "(zlib 1, brotli 2, zstd 3)")
        if algorithm not in CODECS:
            name = A(algorithm).name
            raise ConfigError(f"certificate compression with {name} needs the "
                              f"{_PACKAGES[name]!r} package (pip install glasstls[compression])")
    if len(set(algorithms)) != len(algorithms):
        raise ConfigError("certificate_compression lists an algorithm twice")


def algorithms_by_name(names: tuple[str, ...]) -> tuple[int, ...]:
    """Code points for configured names; an unknown or uninstalled codec is a
    ``ConfigError`` that says what to install."""
    algorithms = []
    for name in names:
        try:
            algorithms.append(int(A[name]))
        except KeyError:
            raise ConfigError(f"unknown certificate compression algorithm {name!r} "
                              "(zlib, brotli, zstd)") from None
    check_algorithms(tuple(algorithms))
    return tuple(algorithms)


def choose(ours: tuple[int, ...], theirs: tuple[int, ...]) -> int | None:
    """RFC 8879 §3: an algorithm the peer can decompress, in our order of preference."""
    if not theirs:
        return None  # most peers offer none: no generator to run
    return next((algorithm for algorithm in ours if algorithm in theirs), None)


def decompress(algorithm: int, data: bytes, uncompressed_length: int,
               limit: int = MAX_UNCOMPRESSED_LENGTH) -> bytes:
    """The Certificate message body inside a CompressedCertificate.

    RFC 8879 §4: output longer than the announced length, or than ``limit``, or a
    stream that fails to decompress, is ``bad_certificate``; decompression stops as
    soon as the output passes the cap, so a bomb costs no more than the cap.
    """
    codec = CODECS[algorithm]
    if uncompressed_length > limit:
        raise BadCertificate(f"CompressedCertificate announces {uncompressed_length} bytes, "
                             f"more than the limit of {limit}")
    try:
        output = codec.decompress(data, uncompressed_length)
    except codec.errors as error:
        raise BadCertificate(f"CompressedCertificate does not decompress with {codec.name}: "
                             f"{error}") from None
    if len(output) != uncompressed_length:
        longer = len(output) > uncompressed_length
        raise BadCertificate(
            f"CompressedCertificate decompresses to {'more than ' if longer else ''}"
            f"{len(output)} bytes, not the {uncompressed_length} it announces")
    return output


def compress(algorithm: int, body: bytes) -> bytes:
    """``body`` compressed with ``algorithm``. A function of its own so that recorded
    transcripts can replay its output: a codec's bytes may change with its version."""
    return CODECS[algorithm].compress(body)


class CompressionCache:
    """Compressed Certificate bodies by (algorithm, message): a server's chain is the
    same bytes in every handshake, so it is compressed once per codec. Bounded;
    shared between threads."""

    __slots__ = ("_entries", "_lock", "maximum")

    def __init__(self, maximum: int = 64) -> None:
        self.maximum = maximum
        self._entries: dict[tuple[int, bytes], bytes] = {}
        self._lock = threading.Lock()

    def compress(self, algorithm: int, message: bytes) -> bytes:
        """The body of ``message`` (a whole Certificate message, header included)
        compressed with ``algorithm``. Keyed by the message itself: the caller keeps
        it, so its hash is computed once."""
        key = (algorithm, message)
        compressed = self._entries.get(key)
        if compressed is None:
            compressed = compress(algorithm, message[4:])
            with self._lock:
                if len(self._entries) >= self.maximum:
                    # Oldest first: dicts keep insertion order.
                    del self._entries[next(iter(self._entries))]
                self._entries[key] = compressed
        return compressed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


SHARED_CACHE = CompressionCache()

__all__ = ["CODECS", "DEFAULT_ALGORITHMS", "MAX_UNCOMPRESSED_LENGTH", "CompressionCache",
           "algorithms_by_name", "check_algorithms", "choose", "decompress"]
