"""``TLSObject``: an ``ssl.SSLObject`` over a pair of ``ssl.MemoryBIO``, made and
driven by glasstls (a subclass, so that ``isinstance`` checks accept it; OpenSSL
does none of its work).

This is what ``SSLContext.wrap_bio`` returns and what asyncio's SSL protocol
drives: it writes the network's bytes into ``incoming``, calls ``do_handshake``,
``read``, ``write`` and ``unwrap``, and sends whatever appears in ``outgoing``.
"Call again when more data has arrived" is ``ssl.SSLWantReadError``; every other
outcome uses the ``ssl`` module's exception types too.

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="example.com")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        sock.sendall(outgoing.read())
        incoming.write(sock.recv(65536))
"""

from __future__ import annotations

import ssl
import weakref
from typing import Any

from .channel import TLSChannel, TLSInfo
from .errors import eof_error, want_read


class TLSObject(TLSInfo, ssl.SSLObject):
    """An in-memory TLS endpoint: an ``ssl.SSLObject`` made and driven by glasstls.
    Made by ``glasstls.SSLContext.wrap_bio()``, not directly."""

    _incoming: ssl.MemoryBIO
    _outgoing: ssl.MemoryBIO
    _unwrapped: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} has no public constructor: use "
                        "SSLContext.wrap_bio()")

    @classmethod
    def _create(cls, channel: TLSChannel, incoming: ssl.MemoryBIO,
                outgoing: ssl.MemoryBIO, context: Any = None) -> TLSObject:
        self = cls.__new__(cls)
        channel.owner = weakref.ref(self)
        self._tls_channel = channel
        self._incoming = incoming
        self._outgoing = outgoing
        self._unwrapped = False
        self._context = context
        self._flush()  # a client's ClientHello is ready at once
        return self

    @property
    def _sslobj(self) -> TLSObject:
        """Where ``ssl.SSLObject`` keeps OpenSSL's connection: here, itself."""
        return self

    def _pump(self) -> None:
        """Move the network's bytes into the engine and the engine's out."""
        data = self._incoming.read()
        if data:
            self._channel.receive(data)
        if self._incoming.eof:
            self._channel.receive(b"")
        self._flush()

    def _flush(self) -> None:
        data = self._channel.outgoing()
        if data:
            self._outgoing.write(data)

    def do_handshake(self) -> None:
        """Advance the handshake; ``SSLWantReadError`` until it is complete."""
        self._pump()
        if not self._channel.check_handshake():
            raise want_read()

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """Up to ``len`` bytes (or, with ``buffer``, their count). ``b""`` / 0 after
        the peer's close_notify; ``SSLEOFError`` if the stream was cut short."""
        self._pump()
        if buffer is not None:
            view = memoryview(buffer).cast("B")
            count = self._channel.read_into(view, len if len > 0 else view.nbytes)
            if count is None:
                raise want_read()
            return count
        data = self._channel.read(len)
        if data is None:
            raise want_read()
        return data

    def write(self, data: Any) -> int:
        """Encrypt all of ``data`` into ``outgoing``; returns its length."""
        self._pump()
        if not self._channel.check_handshake():
            raise want_read()
        payload = bytes(data)
        self._channel.write(payload)
        self._flush()
        return len(payload)

    def pending(self) -> int:
        return self._channel.pending

    def _send_engine_output(self) -> None:
        self._flush()

    def unwrap(self) -> None:
        """Send close_notify and wait (``SSLWantReadError``) for the peer's. Bytes
        that followed the peer's close_notify are left in ``incoming``."""
        channel = self._channel
        if not channel.closing:
            channel.close()
        self._pump()
        if channel.peer_closed:
            if not self._unwrapped:
                self._unwrapped = True
                leftover = channel.leftover()
                if leftover:
                    self._incoming.write(leftover)
            return
        if channel.failure is not None:
            raise channel.failure
        if channel.transport_eof:
            raise eof_error(during_handshake=not channel.handshake_complete)
        raise want_read()


__all__ = ["TLSObject"]
