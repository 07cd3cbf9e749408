"""asyncio over glasstls: ``open_connection`` and ``start_server`` give the
standard ``asyncio.StreamReader`` / ``StreamWriter`` pairs.

    reader, writer = await glasstls.aio.open_connection("example.com", 443)
    writer.write(b"GET / HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n")
    await writer.drain()
    print(writer.get_extra_info("cipher"), await reader.read(4096))
    writer.close()                # sends close_notify
    await writer.wait_closed()    # until the peer's close_notify (or a timeout)

A protocol here sits between the socket transport and the application's
protocol, so flow control is the socket's own: ``drain()`` waits while the socket
cannot keep up, and a full ``StreamReader`` pauses reading from the socket.

Endings are reported as they happened: the peer's close_notify is end of stream
(``reader.read()`` returns ``b""``); a connection cut without it makes reads raise
``ssl.SSLEOFError`` (a possible truncation attack); a fatal alert raises the
``ssl.SSLError`` for it. In TLS 1.3 a connection may be half-closed:
``writer.write_eof()`` sends close_notify and keeps reading, and a peer's
close_notify does not stop us writing until we close.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import ClientConfig, ServerConfig
from .channel import TLSChannel, TLSInfo
from .errors import eof_error
from .keylog import with_environment_keylog
from .sockets import acknowledge_now

logger = logging.getLogger("glasstls.io")

_DEFAULT_LIMIT = 2**16
# What the engine answers while reading (KeyUpdate replies, refusals), written while
# the socket cannot keep up (writing paused: the peer does not read); past this many
# bytes the connection ends (issue 12 item 15).
MAX_UNREAD_REPLIES = 2**16
HANDSHAKE_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 30.0

_HANDSHAKING, _OPEN, _CLOSING, _CLOSED = "handshaking", "open", "closing", "closed"

# Ciphertext is read into one buffer per thread (an event loop runs in one thread),
# shared by all its connections: the socket transport fills it and hands it back in
# the same call, and the engine opens the records there (what it keeps of a read, it
# copies). A plain protocol would get a new 256 KiB bytes object per read instead
# (mmap, page faults, mremap, munmap). The socket transport reads as much as the
# buffer takes: 1 MiB, so that a bulk download costs one read, one loop turn and one
# feed of the application per MiB rather than four (the receiver's CPU per MiB
# -15 % against 256 KiB reads, ssl's size). An application slower than its data
# then has up to one such read more in its StreamReader than its limit; while it
# has paused reading, a read is at most _HELD_READ bytes.
_READ_SIZE = 2**20
_HELD_READ = 2**16
_read_buffers = threading.local()


def _read_buffer() -> memoryview:
    buffer: memoryview | None = getattr(_read_buffers, "buffer", None)
    if buffer is None:
        buffer = _read_buffers.buffer = memoryview(bytearray(_READ_SIZE))
    return buffer


# An established connection's records are decrypted into one more buffer per thread
# (the engine's decrypt_into), as far as whole records fit, and copied out of it once
# for the application: no new object per record, none joined. A record's plaintext is
# shorter than its ciphertext, but the records a read completes can start in the read
# before it: room for one more record (its ciphertext is under 2^15 bytes), so that a
# full read's last record does not miss the buffer by its content type byte and go
# the slow way (into the channel, joined, handed on apart).
_PLAINTEXT_SIZE = _READ_SIZE + 2**15


def _plaintext_buffer() -> memoryview:
    buffer: memoryview | None = getattr(_read_buffers, "plaintext", None)
    if buffer is None:
        buffer = _read_buffers.plaintext = memoryview(bytearray(_PLAINTEXT_SIZE))
    return buffer


def _read_nothing() -> None:
    pass


def _forget_read_callback(transport: asyncio.BaseTransport | None) -> None:
    """asyncio's selector socket transport keeps the read callback it picked for its
    protocol as a bound method of itself, a reference cycle that outlives the
    connection. Once the transport has called ``connection_lost`` it reads no more:
    the callback is replaced by a plain function, when this Python's transport has
    one (tests/io/test_asyncio.py checks that a closed connection's transport is
    freed without the garbage collector)."""
    attributes = getattr(transport, "__dict__", None)
    callback = attributes.get("_read_ready_cb") if attributes is not None else None
    if getattr(callback, "__self__", None) is transport:
        attributes["_read_ready_cb"] = _read_nothing  # type: ignore[index]


class _StreamProtocol(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, as ``open_connection`` and ``start_server`` make it
    (always over asyncio's own ``StreamReader``): its ``data_received`` copies what
    it is given into the reader's buffer before it returns (``feed_data`` extends a
    bytearray), so it is given a view of the plaintext buffer rather than a bytes
    object made for it."""


class ConnectionInfo(TLSInfo):
    """What ``get_extra_info("ssl_object")`` returns: the ``ssl.SSLObject``
    queries (``version()``, ``cipher()``, ``getpeercert()``...) for one connection."""

    def __init__(self, channel: TLSChannel, flush: Callable[[], object]) -> None:
        self._tls_channel = channel
        self._flush = flush

    def pending(self) -> int:
        return self._channel.pending

    def _send_engine_output(self) -> None:
        self._flush()


class _TLSProtocol(asyncio.BufferedProtocol):
    """Between the socket transport (below) and the application's protocol
    (above, given a ``_TLSTransport`` once the handshake is done)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, make_channel: Callable[[], TLSChannel],
                 app: asyncio.BaseProtocol, waiter: asyncio.Future[_TLSTransport] | None,
                 handshake_timeout: float, shutdown_timeout: float, context: Any = None) -> None:
        self._loop = loop
        self._make_channel = make_channel
        self.app = app
        self._waiter = waiter
        self._handshake_timeout = handshake_timeout
        self._shutdown_timeout = shutdown_timeout
        self._context = context
        self.transport: asyncio.Transport | None = None
        self.app_transport: _TLSTransport | None = None
        self._channel: TLSChannel | None = None
        self._info: ConnectionInfo | None = None
        self.state = _HANDSHAKING
        self._timer: asyncio.TimerHandle | None = None
        self._eof_delivered = False
        self._half_open = False  # the app keeps writing after the peer's close_notify
        self._lost_reason: Exception | None = None
        self._writing_paused = False
        self._unread_replies = 0  # bytes of replies written while writing is paused
        # The application's pause_reading() only marks it paused: most often it reads
        # and resumes before the socket has more (a StreamReader pauses at each read
        # past twice its limit), and the socket transport is paused (two epoll_ctl
        # calls and a loop turn) only when a read comes while the mark is on. That
        # read is received but held in the channel (not given to the application)
        # until it resumes.
        self._app_paused = False
        self._reads_held = False  # the socket transport paused for the app after a read
        self._read_into = _read_buffer()  # made in the loop's thread, read into there
        self._decrypt_into = _plaintext_buffer()

    # -- from the socket transport --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        try:
            self._channel = self._make_channel()
        except Exception as error:
            self._handshake_failed(error)
            return
        self._flush()
        self._timer = self._loop.call_later(self._handshake_timeout, self._handshake_timed_out)

    def get_buffer(self, sizehint: int) -> memoryview:
        # (The socket transport asks with no size hint: -1.)
        return self._read_into if not self._app_paused else self._read_into[:_HELD_READ]

    def buffer_updated(self, nbytes: int) -> None:
        channel = self._channel
        if self.state == _OPEN and channel is not None and not self._app_paused:
            # Established: the records' application data decrypted into the plaintext
            # buffer, then handed on from there (what did not go there, in order after).
            # The engine opens the records in the read buffer itself and copies only
            # what it keeps (part of a record), not the whole read.
            filled = channel.receive_into(self._read_into[:nbytes], self._decrypt_into)
            self._answer(channel)
            self._deliver(filled)
            return
        data = bytes(self._read_into[:nbytes])
        if self.state == _OPEN and channel is not None:
            self._hold(channel, data)
        else:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        channel = self._channel
        if channel is None or self.state == _CLOSED:
            return
        channel.receive(data)
        if self.state == _HANDSHAKING:
            if channel.failure is not None:
                self._handshake_failed(channel.failure)
                return
            if not channel.handshake_complete:
                if self._answer(channel):
                    # While the peer works on our flight, what its answer will need:
                    # after what else this loop turn has to do (other connections'
                    # flights go first), before the reads of the next.
                    self._loop.call_soon(self._work_ahead)
                return
            self._handshake_done()
            if channel.server_side and not channel.pending:
                # A server whose client sent its Finished alone (OpenSSL's clients
                # do; the request follows in a segment of its own): no answer is
                # coming in the next loop turn, so the session tickets go now, as
                # OpenSSL sends them. Their segment also acknowledges the Finished,
                # which a Nagle client waits for before it sends its request. With
                # nothing to send (a TLS 1.2 resumption, whose last flight was ours;
                # TLS 1.3 with no tickets), Linux is asked to acknowledge it at once:
                # else the request waits ~40 ms for the delayed acknowledgement, as
                # it does with OpenSSL's servers.
                if not self._answer(channel):
                    self._acknowledge_now()
            else:
                # What the engine answered to the peer's last flight (a client's
                # Finished; a server's tickets when data came with the Finished) is
                # written after the callbacks that the handshake's end just
                # scheduled: the application's first write (the request, the answer
                # to the data) then goes out with it, in one segment, instead of a
                # write of its own after it.
                self._loop.call_soon(self._answer_later)
        else:
            self._answer(channel)
        self._deliver()

    def eof_received(self) -> bool:
        channel = self._channel
        if channel is None:
            return False
        channel.receive(b"")
        if self.state == _HANDSHAKING:
            self._handshake_failed(eof_error(during_handshake=True))
            return False
        if channel.peer_closed:
            # Its close_notify came first: keep writing only if the app asked to.
            return self.state == _OPEN and self._half_open
        if self.state == _OPEN:
            if channel.suppress_ragged_eofs:
                self._peer_finished()
                return self._half_open
            self._lost_reason = eof_error(during_handshake=False)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        transport = self.transport
        self._cancel_timer()
        was = self.state
        self.state = _CLOSED
        self._settle_waiter(error=exc or ConnectionResetError(
            "the connection closed during the TLS handshake"))
        if was != _HANDSHAKING and self.app_transport is not None:
            reason = exc if exc is not None else self._lost_reason
            self.app.connection_lost(reason)
        # What refers back to this protocol is let go of, so that a closed connection's
        # objects are freed as soon as the application drops them rather than waiting
        # in reference cycles for the garbage collector (whose passes, triggered by the
        # objects piling up, cost ~10 us per connection on a busy server). The
        # application's transport keeps this protocol: its queries still answer.
        self.transport = None
        self.app_transport = None
        self._info = None
        _forget_read_callback(transport)

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self.app_transport is not None:
            self.app.pause_writing()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._unread_replies = 0
        if self.app_transport is not None:
            self.app.resume_writing()

    # -- the handshake -------------------------------------------------------------------

    def _handshake_done(self) -> None:
        self._cancel_timer()
        self.state = _OPEN
        self.app_transport = app_transport = _TLSTransport(self)
        self.app.connection_made(app_transport)
        self._settle_waiter(app_transport)
        if self._writing_paused:
            self.app.pause_writing()

    def _handshake_failed(self, error: Exception) -> None:
        self._cancel_timer()
        if not self._settle_waiter(error=error):
            logger.info("TLS handshake failed: %s", error)
        self._flush()  # our alert, if there is one
        self.state = _CLOSED
        if self.transport is not None:
            self.transport.close()

    def _settle_waiter(self, transport: _TLSTransport | None = None,
                       error: Exception | None = None) -> bool:
        """Give ``create_connection`` its transport or error, once; False when nothing
        waits. The future is let go of: its result refers back to this protocol."""
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return False
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(transport)  # type: ignore[arg-type]
        return True

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self.state == _HANDSHAKING:
            self._handshake_failed(TimeoutError(
                f"the TLS handshake took longer than {self._handshake_timeout} seconds"))
            if self.transport is not None:
                self.transport.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- data to the application ---------------------------------------------------------

    def _hold(self, channel: TLSChannel, data: bytes) -> None:
        """A read while the application has paused reading: received (its plaintext
        kept in the channel, replies written), the socket transport paused, nothing
        handed on until the application resumes."""
        channel.receive(data)
        self._answer(channel)
        self._reads_held = True
        if self.transport is not None:
            self.transport.pause_reading()

    def _release(self) -> None:
        """After the application resumed reading: what was held, then the socket
        (unless what was held paused the application again)."""
        if self._app_paused or not self._reads_held:
            return  # paused again before this ran
        if self.state == _OPEN:
            self._deliver()
        if not self._app_paused:
            self._reads_held = False
            if self.transport is not None:
                self.transport.resume_reading()

    def _deliver(self, filled: int = 0) -> None:
        """Hand the application what was decrypted: the first ``filled`` bytes of the
        plaintext buffer, then what the channel holds."""
        channel = self._channel
        assert channel is not None
        if filled and self.state == _OPEN:
            # Copied out of the shared buffer at once, into the application's buffers
            # or into the one bytes object that data_received gets.
            decrypted = self._decrypt_into[:filled]
            app = self.app
            if type(app) is _StreamProtocol:
                # What _to_app would do, one call less (a view: see _StreamProtocol).
                app.data_received(decrypted)  # type: ignore[arg-type]
            elif isinstance(app, asyncio.BufferedProtocol):
                self._to_app(decrypted)
            else:
                self._to_app(bytes(decrypted) + channel.read_all())
        data = channel.read_all()
        if data and self.state == _OPEN:
            self._to_app(data)
        if channel.failure is not None:
            self._lost_reason = channel.failure
            self._close_transport()
        elif channel.peer_closed:
            if self.state == _CLOSING:
                self._close_transport()
            elif self.state == _OPEN:
                self._peer_finished()

    def _to_app(self, data: bytes | memoryview) -> None:
        app = self.app
        if not isinstance(app, asyncio.BufferedProtocol):
            app.data_received(data)  # type: ignore[attr-defined]
            return
        view = memoryview(data)
        while view:
            buffer = memoryview(app.get_buffer(len(view))).cast("B")
            count = min(len(buffer), len(view))
            buffer[:count] = view[:count]
            app.buffer_updated(count)
            view = view[count:]

    def _peer_finished(self) -> None:
        """The peer will send no more: tell the app, and close unless it wants to
        keep writing (TLS 1.3 only: TLS 1.2 answers close_notify at once)."""
        if self._eof_delivered:
            return
        self._eof_delivered = True
        keep_open = bool(self.app.eof_received())  # type: ignore[attr-defined]
        channel = self._channel
        assert channel is not None
        negotiated = channel.connection.negotiated
        if keep_open and (negotiated is None or negotiated.version != "TLSv1.2"):
            self._half_open = True
        else:
            self.app_close()

    def _flush(self) -> bool:
        """Write what the engine queued; True when there was something to write."""
        channel = self._channel
        if channel is None:
            return False
        # What the engine queued is taken first: most flushes after a read find
        # nothing (then the transport is not asked about). Once the transport is
        # closing or gone it writes nothing more, so what is taken then is dropped.
        buffers = channel.outgoing_buffers()
        if not buffers:
            return False
        transport = self.transport
        if transport is None or transport.is_closing():
            return True
        # One write per flush. A large write's records share one buffer, written as is
        # (not joined) and through a view, so that what the socket does not take at
        # once is not copied before the transport buffers it.
        transport.write(memoryview(buffers[0] if len(buffers) == 1 else b"".join(buffers)))
        return True

    def _work_ahead(self) -> None:
        channel = self._channel
        if channel is None or self.state != _HANDSHAKING:
            return
        channel.work_ahead()
        if channel.failure is not None:
            self._handshake_failed(channel.failure)

    def _acknowledge_now(self) -> None:
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            acknowledge_now(sock)

    def _answer_later(self) -> None:
        channel = self._channel
        if channel is not None and self.state != _CLOSED:
            self._answer(channel)

    def _answer(self, channel: TLSChannel) -> bool:
        """Write what the engine answered to received records, unless the peer has let
        too much of it pile up unread: then the connection ends. True when it
        answered anything."""
        transport = self.transport
        if not self._writing_paused or transport is None:
            return self._flush()
        replies = channel.outgoing()
        self._unread_replies += len(replies)
        if self._unread_replies > MAX_UNREAD_REPLIES:
            self._lost_reason = channel.abandon(
                f"the peer does not read; more than {MAX_UNREAD_REPLIES} bytes of replies "
                "wait")
            transport.abort()
        elif replies and not transport.is_closing():
            transport.write(replies)
        return bool(replies)

    def _close_transport(self) -> None:
        self._cancel_timer()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- what the application's transport does -----------------------------------------

    def app_write(self, data: Any) -> None:
        channel = self._channel
        if self.state != _OPEN or channel is None:
            return  # like a socket transport after close(): dropped
        if channel.closing:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data:
            return
        channel.write(bytes(data))
        self._flush()

    def app_write_eof(self) -> None:
        channel = self._channel
        if self.state != _OPEN or channel is None or channel.closing:
            return
        channel.close()
        self._flush()
        if channel.peer_closed and self.transport is not None:
            self._close_transport()

    def app_close(self) -> None:
        """close_notify, then wait (at most the shutdown timeout) for the
        peer's before closing the socket, so that neither side's last data is
        destroyed by a reset."""
        channel = self._channel
        if self.state in (_CLOSING, _CLOSED) or channel is None:
            return
        self.state = _CLOSING
        if not channel.closing:
            channel.close()
        self._flush()
        if channel.peer_closed or channel.failure is not None or channel.transport_eof:
            self._close_transport()
            return
        if self.transport is not None:
            self.transport.resume_reading()
        self._timer = self._loop.call_later(self._shutdown_timeout, self._close_transport)

    def app_pause_reading(self) -> None:
        self._app_paused = True

    def app_resume_reading(self) -> None:
        self._app_paused = False
        if self._reads_held:
            # Handed on from the loop, not from inside the application's call (a
            # StreamReader resumes from its read()); nothing else is read before.
            self._loop.call_soon(self._release)

    def app_is_reading(self) -> bool:
        transport = self.transport
        return not self._app_paused and transport is not None and (
            self._reads_held or transport.is_reading())

    def app_abort(self) -> None:
        self.state = _CLOSED if self.state == _HANDSHAKING else self.state
        if self.transport is not None:
            self.transport.abort()

    def extra_info(self, name: str, default: Any = None) -> Any:
        channel = self._channel
        if name in ("ssl_object", "peercert", "cipher", "compression", "negotiated"):
            if channel is None:
                return default
            if self._info is None:
                self._info = ConnectionInfo(channel, self._flush)
            info = self._info
            if name == "ssl_object":
                return info
            if name == "peercert":
                return info.getpeercert()
            if name == "cipher":
                return info.cipher()
            if name == "negotiated":
                return info.negotiated
            return None
        if name == "sslcontext":
            return self._context if self._context is not None else default
        if self.transport is None:
            return default
        return self.transport.get_extra_info(name, default)


class _TLSTransport(asyncio.Transport):
    """The application's view: a transport carrying plaintext."""

    def __init__(self, tls: _TLSProtocol) -> None:
        super().__init__()
        self._tls = tls

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._tls.extra_info(name, default)

    def is_closing(self) -> bool:
        return self._tls.state in (_CLOSING, _CLOSED)

    def close(self) -> None:
        self._tls.app_close()

    def write(self, data: Any) -> None:
        self._tls.app_write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._tls.app_write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self._tls.app_write_eof()

    def can_write_eof(self) -> bool:
        return True

    def abort(self) -> None:
        self._tls.app_abort()

    def _raw(self) -> asyncio.Transport | None:
        return self._tls.transport

    def pause_reading(self) -> None:
        self._tls.app_pause_reading()

    def resume_reading(self) -> None:
        self._tls.app_resume_reading()

    def is_reading(self) -> bool:
        return self._tls.app_is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        raw = self._raw()
        if raw is not None:
            raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        raw = self._raw()
        return raw.get_write_buffer_size() if raw is not None else 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        raw = self._raw()
        return raw.get_write_buffer_limits() if raw is not None else (0, 0)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._tls.app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._tls.app


async def create_connection(
    protocol_factory: Callable[[], asyncio.BaseProtocol], host: str | None = None,
    port: int | None = None, *, config: ClientConfig | None = None,
    server_hostname: str | None = None, ssl_handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ssl_shutdown_timeout: float = SHUTDOWN_TIMEOUT, suppress_ragged_eofs: bool = False,
    session: Any = None, **kwargs: Any,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    """``loop.create_connection`` with glasstls: returns once the handshake is
    done. Extra keyword arguments go to ``loop.create_connection``.

    >>> transport, protocol = await create_connection(MyProtocol, "example.com", 443)
    """
    loop = asyncio.get_running_loop()
    client_config = with_environment_keylog(config if config is not None else ClientConfig())
    name = server_hostname if server_hostname is not None else host
    app = protocol_factory()
    waiter: asyncio.Future[_TLSTransport] = loop.create_future()

    def make_channel() -> TLSChannel:
        return TLSChannel.client(client_config, name, suppress_ragged_eofs, session)

    address: Any = (host, port)  # both None when kwargs has sock=
    transport, _ = await loop.create_connection(
        lambda: _TLSProtocol(loop, make_channel, app, waiter, ssl_handshake_timeout,
                             ssl_shutdown_timeout),
        *address, **kwargs)
    try:
        return await waiter, app
    except BaseException:
        transport.abort()
        raise


async def open_connection(
    host: str | None = None, port: int | None = None, *, config: ClientConfig | None = None,
    server_hostname: str | None = None, limit: int = _DEFAULT_LIMIT,
    ssl_handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ssl_shutdown_timeout: float = SHUTDOWN_TIMEOUT, suppress_ragged_eofs: bool = False,
    session: Any = None, **kwargs: Any,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` with glasstls (``config`` defaults to
    ``ClientConfig()``: system trust; ``server_hostname`` to ``host``).

    >>> reader, writer = await glasstls.aio.open_connection("example.com", 443)
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    transport, protocol = await create_connection(
        lambda: _StreamProtocol(reader, loop=loop), host, port, config=config,
        server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
        ssl_shutdown_timeout=ssl_shutdown_timeout, suppress_ragged_eofs=suppress_ragged_eofs,
        session=session, **kwargs)
    assert isinstance(protocol, asyncio.StreamReaderProtocol)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def create_server(
    protocol_factory: Callable[[], asyncio.BaseProtocol], host: Any = None,
    port: int | None = None, *, config: ServerConfig,
    ssl_handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ssl_shutdown_timeout: float = SHUTDOWN_TIMEOUT, **kwargs: Any,
) -> asyncio.Server:
    """``loop.create_server`` with glasstls: each protocol's ``connection_made``
    comes after its handshake. Extra keyword arguments go to ``loop.create_server``.

    >>> server = await create_server(EchoProtocol, "127.0.0.1", 8443, config=config)
    """
    loop = asyncio.get_running_loop()
    server_config = with_environment_keylog(config)

    def make_channel() -> TLSChannel:
        return TLSChannel.server(server_config)

    def factory() -> _TLSProtocol:
        return _TLSProtocol(loop, make_channel, protocol_factory(), None,
                            ssl_handshake_timeout, ssl_shutdown_timeout)

    return await loop.create_server(factory, host, port, **kwargs)


ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None]


async def start_server(
    client_connected_cb: ClientConnected, host: Any = None, port: int | None = None, *,
    config: ServerConfig, limit: int = _DEFAULT_LIMIT,
    ssl_handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ssl_shutdown_timeout: float = SHUTDOWN_TIMEOUT, **kwargs: Any,
) -> asyncio.Server:
    """``asyncio.start_server`` with glasstls: ``client_connected_cb(reader,
    writer)`` runs for each client whose handshake succeeded.

    >>> server = await glasstls.aio.start_server(handle, "127.0.0.1", 8443, config=config)
    >>> async with server:
    ...     await server.serve_forever()
    """
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.StreamReaderProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return _StreamProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(factory, host, port, config=config,
                               ssl_handshake_timeout=ssl_handshake_timeout,
                               ssl_shutdown_timeout=ssl_shutdown_timeout, **kwargs)


__all__ = ["ConnectionInfo", "create_connection", "create_server", "open_connection",
           "start_server"]
