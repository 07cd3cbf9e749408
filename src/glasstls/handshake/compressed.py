"""Certificate compression in the TLS 1.3 handshake (RFC 8879), for both roles and
both directions: the compress_certificate extension a ClientHello or a
CertificateRequest carries, a Certificate sent compressed when the peer can
decompress it, and a CompressedCertificate received in place of a Certificate.

The transcript holds the CompressedCertificate as sent (RFC 8879 §4), which the
engine does for every message; the states then read the Certificate inside it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .. import compression
from ..constants import CertificateCompressionAlgorithm, ExtensionType as X, HandshakeType as H
from ..errors import IllegalParameter
from ..messages.extensions import CompressCertificate, Extension, find_typed
from ..messages.handshake import (
    Certificate13,
    CompressedCertificate,
    Message,
    Serialized,
    serialize,
)
from .engine import Engine, Parser

# A Certificate from the peer, compressed or not.
ReceivedCertificate = Certificate13 | CompressedCertificate


def extension(algorithms: tuple[int, ...]) -> list[Extension]:
    """RFC 8879 §3: the algorithms we can decompress, when there are any."""
    return [CompressCertificate(algorithms)] if algorithms else []


def peer_algorithms(extensions: tuple[Extension, ...]) -> tuple[int, ...]:
    """What the peer can decompress, from its ClientHello or CertificateRequest."""
    offered = find_typed(extensions, X.compress_certificate, CompressCertificate)
    return offered.algorithms if offered is not None else ()


def certificate_parsers(offered: tuple[int, ...]) -> dict[int, Parser]:
    """What a state waiting for the peer's Certificate accepts: a CompressedCertificate
    too, once we offered to decompress one (otherwise it is unexpected_message)."""
    if not offered:
        return {H.certificate: Certificate13.parse}
    return {H.certificate: Certificate13.parse,
            H.compressed_certificate: CompressedCertificate.parse}


def send_certificate(engine: Engine, message: bytes, theirs: tuple[int, ...],
                     ours: tuple[int, ...], send: Callable[[Message], bytes] | None = None,
                     cached: bool = True) -> int | None:
    """Send a serialized Certificate ``message``, compressed with the first of our
    algorithms the peer offered when that makes it smaller; returns that algorithm
    (None: sent as it is).
    ``cached``: the message is the same in every handshake (a server's chain), so
    its compressed form is kept."""
    send = send or engine.send
    algorithm = compression.choose(ours, theirs)
    if algorithm is None:
        send(Serialized(message))
        return None
    compressed = (compression.SHARED_CACHE.compress(algorithm, message) if cached
                  else compression.compress(algorithm, message[4:]))
    if len(compressed) >= len(message) - 4:
        # A chain that does not compress (a lone small certificate is mostly key and
        # signature bytes) goes as it is: RFC 8879 §3 says a peer MAY compress.
        send(Serialized(message))
        return None
    send(_cached_message(algorithm, len(message) - 4, compressed) if cached
         else CompressedCertificate(algorithm, len(message) - 4, compressed))
    return algorithm


@functools.lru_cache(maxsize=16)
def _cached_message(algorithm: int, uncompressed_length: int, compressed: bytes
                    ) -> CompressedCertificate:
    """A server's CompressedCertificate, serialised once per chain and algorithm: it is
    the same bytes in every handshake (keyed by the compressed body, which the shared
    cache hands out as the same object each time)."""
    message = CompressedCertificate(algorithm, uncompressed_length, compressed)
    return CompressedCertificate(algorithm, uncompressed_length, compressed, serialize(message))


def received_certificate(message: ReceivedCertificate, offered: tuple[int, ...]
                         ) -> Certificate13:
    """The Certificate a peer sent, decompressed if it came compressed."""
    if isinstance(message, Certificate13):
        return message
    if message.algorithm not in offered:
        # RFC 8879 §4: only an algorithm the receiver listed may be used.
        name = compression.CODECS[message.algorithm].name if (
            message.algorithm in compression.CODECS) else str(message.algorithm)
        raise IllegalParameter(f"CompressedCertificate uses {name}, which was not offered")
    return _decompressed(message.algorithm, message.uncompressed_length,
                         message.compressed_certificate_message)


# A server compresses its chain once and sends the same bytes to every client (and
# a client meets the same servers again): the most recent Certificates are kept by
# what they were decompressed from, which is all they are made of. What fails to
# decompress or parse raises, and is not kept. (lru_cache is safe across threads.)
_DECOMPRESSED_KEPT = 16


@functools.lru_cache(maxsize=_DECOMPRESSED_KEPT)
def _decompressed(algorithm: int, uncompressed_length: int, data: bytes) -> Certificate13:
    body = compression.decompress(algorithm, data, uncompressed_length)
    length = len(body).to_bytes(3, "big")
    return Certificate13.parse(bytes([H.certificate]) + length + body)


def algorithm_name(algorithm: int | None) -> str | None:
    return CertificateCompressionAlgorithm(algorithm).name if algorithm is not None else None


__all__ = ["ReceivedCertificate", "algorithm_name", "certificate_parsers", "extension",
           "peer_algorithms", "received_certificate", "send_certificate"]
