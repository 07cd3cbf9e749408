"""Blocking sockets: ``connect()`` and ``TLSSocket``.

``TLSSocket`` is an ``ssl.SSLSocket`` (a subclass, so that code checking
``isinstance(sock, ssl.SSLSocket)`` accepts it) whose every method is glasstls's:
OpenSSL does none of its work. ``recv``/``send``/``sendall``/``makefile`` carry
plaintext, ``close()`` and ``shutdown()`` send close_notify, ``unwrap()`` hands
back the plain socket. Like ``ssl.SSLSocket`` it takes over the file descriptor of
the socket it wraps, so ``fileno()``, ``settimeout()``, ``getpeername()`` and
``select`` work.

    with glasstls.connect(("example.com", 443), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\\r\\nHost: example.com\\r\\nConnection: close\\r\\n\\r\\n")
        print(sock.version(), sock.cipher(), sock.recv(4096))

Timeouts work as in ``ssl``: one deadline covers a whole ``recv``/``sendall``
/handshake, however many network reads it takes, and expiry raises
``TimeoutError``. With ``settimeout(0.0)`` the socket is non-blocking and raises
``ssl.SSLWantReadError`` / ``ssl.SSLWantWriteError``.

One thread may read while another writes. Reads never wait for writes: bytes the
engine must send while reading (a KeyUpdate reply, an alert) are sent only when
the socket can take them at once, otherwise by the next write.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

from ..config import ClientConfig
from .channel import TLSChannel, TLSInfo, request_client_certificate
from .errors import eof_error, want_read, want_write
from .keylog import with_environment_keylog

# Network reads ask for at most this much: a few full records per system call.
_RECV_SIZE = 256 * 1024
# ... or this much after a read that found less than it asked for (the reader is faster
# than the data comes). A read's bytes object is allocated at the size asked for, then
# shrunk: above glibc's mmap threshold (128 KiB, until a larger block is freed whole)
# that is an mmap, an mremap, an munmap and a page fault per 4 KiB received, each read.
_SHORT_RECV_SIZE = 2**17 - 512
_HEADER = 5  # a TLS record's header: type, version, length
# Looked at (MSG_PEEK) to find where the next record ends; enough of a peer that is
# not speaking TLS to name it ("SSH-2.0-OpenSSH...", "HTTP/1.1 400..."), and for the
# record that follows a short one (a ChangeCipherSpec).
_PEEK = 512
_CHANGE_CIPHER_SPEC = 20  # a record's content type
# A server's reads of the client's first flight: a ClientHello or two (larger ones take
# more reads); under the allocator's mmap threshold, unlike _RECV_SIZE, whose bytes
# object would be mapped, shrunk with mremap and unmapped for a few hundred bytes.
_FIRST_FLIGHT_READ = 2**15
# Plaintext sealed per step of send/sendall: bounds the ciphertext held in memory.
_SEND_CHUNK = 256 * 1024
# close() sends close_notify, but waits at most this long for the socket to take it.
_CLOSE_TIMEOUT = 1.0
# What the engine answers while reading (KeyUpdate replies, refusals) waits in _out for
# a peer that does not read; past this many bytes the connection ends (issue 12 item
# 15). Honest peers provoke a few dozen bytes of these between two reads.
MAX_UNREAD_REPLIES = 2**16
# Plain ints: socket's MSG_* constants are IntFlag members, and ``|`` on one runs
# enum's Python (~44 bytecodes for the peek's flags, once per server handshake).
_DONTWAIT: int = int(getattr(socket, "MSG_DONTWAIT", 0))
_MSG_PEEK: int = int(socket.MSG_PEEK)
_QUICKACK: int = getattr(socket, "TCP_QUICKACK", 0)


def acknowledge_now(sock: Any) -> None:
    """Ask Linux to acknowledge what ``sock`` read at once (``TCP_QUICKACK``), for
    when we send nothing back after the peer's last handshake flight: a TLS 1.2
    resumption's (ours went first), TLS 1.3 with no tickets. A peer with Nagle's
    algorithm on (Python's ssl, by default) holds its first data until that flight
    is acknowledged, and the delayed acknowledgement comes only ~40 ms later
    (OpenSSL's servers leave it so). Any socket-like object with ``setsockopt``."""
    if _QUICKACK:
        try:  # noqa: SIM105
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        except OSError:  # not TCP
            pass


def _ready(fd: int, writing: bool, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``fd`` to be readable (or writable)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLOUT if writing else select.POLLIN)
        return bool(poller.poll(max(0, int(timeout * 1000 + 0.999))))
    readable, writable, _ = select.select([] if writing else [fd], [fd] if writing else [],
                                          [], timeout)
    return bool(readable or writable)


class _RecordBoundary:
    """Where the record being received ends, followed through the bytes read."""

    __slots__ = ("_header", "_length", "_remaining")

    def __init__(self) -> None:
        self._header = b""  # a header read in part
        self._length = 0  # the body length of the record being read
        self._remaining = 0  # bytes of that body not read yet

    @property
    def to_complete(self) -> int:
        """Bytes that finish the current record (a header's, between records)."""
        return self._remaining or _HEADER - len(self._header)

    @property
    def carried(self) -> int:
        """Bytes of the current record already read."""
        if self._remaining:
            return _HEADER + self._length - self._remaining
        return len(self._header)

    def whole_records(self, size: int) -> int:
        """``size``, or less so that a read of that many bytes ends where a record
        ends if the records after the current one are as long as it is (as long as
        the last one, between records), as bulk data comes: a record cut between two
        reads costs the engine two more copies of it (it is joined from both)."""
        first = self._remaining  # what finishes the current record (0 between two)
        if self._header or not self._length or size < first:
            return size  # no length to go by (yet), or not even this record's end in reach
        record = _HEADER + self._length
        return first + (size - first) // record * record or size

    def read_size(self, wanted: int, limit: int) -> int:
        """The size of a read for ``wanted`` bytes of records counted from the current
        record's start, at most ``limit`` past them: ``max(to_complete,
        whole_records(min(limit, wanted - carried)))``, in one call (each read of a
        ``recv`` asks it)."""
        remaining = self._remaining
        if not remaining and not self._header:  # between records, as most reads start
            size = limit if limit < wanted else wanted
            length = self._length
            if length:
                record = _HEADER + length
                size = size // record * record or size
            return size if size > _HEADER else _HEADER
        header = self._header
        if header:  # no length to go by
            return max(_HEADER - len(header), min(limit, wanted - len(header)))
        length = self._length
        size = min(limit, wanted - (_HEADER + length - remaining))
        if size >= remaining:
            record = _HEADER + length
            size = remaining + (size - remaining) // record * record or size
        return max(remaining, size)

    def ended(self, length: int) -> None:
        """What ``feed`` does with whole records, between records, the last of which
        is ``length`` bytes long (they were looked at: no walk is needed)."""
        self._length = length

    def feed(self, data: bytes) -> None:
        size = len(data)
        if size >= _HEADER and not (self._header or self._remaining):
            # Between records, a read of exactly one record (as handshake messages, a
            # small write, an alert come): its header says so, without the walk below.
            length = (data[3] << 8) | data[4]
            if size == _HEADER + length:
                self._length = length
                return
        position = 0
        if self._header:  # complete the header read in part
            position = _HEADER - len(self._header)
            self._header += data[:position]
            if len(self._header) < _HEADER:
                return
            self._length = self._remaining = (self._header[3] << 8) | self._header[4]
            self._header = b""
        position += self._remaining  # past the body being read
        length = self._length
        while position + _HEADER <= size:  # then from header to header
            length = (data[position + 3] << 8) | data[position + 4]
            position += _HEADER + length
        if position < size:
            self._header, self._remaining = data[position:], 0
        else:
            self._length, self._remaining = length, position - size


class TLSSocket(TLSInfo, ssl.SSLSocket):
    """A TLS connection: an ``ssl.SSLSocket`` made and driven by glasstls.

    Made by ``glasstls.connect()``, ``glasstls.serve()`` or
    ``glasstls.SSLContext.wrap_socket()``, not directly.

    >>> sock = glasstls.connect(("localhost", 8443), config=config)
    >>> sock.sendall(b"ping"); sock.recv(4)
    """

    _make_channel: Callable[[], TLSChannel]
    _server_side: bool
    _server_hostname: str | None
    do_handshake_on_connect: bool
    suppress_ragged_eofs: bool
    _out: deque[bytes | bytearray | memoryview]
    _unread_replies: int
    _boundary: _RecordBoundary
    _send_lock: threading.Lock
    _engine_lock: threading.Lock
    _first_flight: bool
    _drained: bool
    _loop_flags: int
    _holding: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{type(self).__name__} has no public constructor: use "
                        "glasstls.connect() or SSLContext.wrap_socket()")

    @classmethod
    def _create(cls, sock: socket.socket, *, make_channel: Callable[[], TLSChannel],
                server_side: bool, server_hostname: str | None = None,
                do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = False,
                context: Any = None, accepted: bool = False) -> TLSSocket:
        """``accepted``: ``sock`` came from ``accept()`` (connected: not asked)."""
        if sock.type != socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        timeout = sock.gettimeout()
        connected = accepted or cls._is_connected(sock)
        self = cls.__new__(cls)
        socket.socket.__init__(self, sock.family, sock.type, sock.proto, sock.detach())
        self.settimeout(timeout)
        self._init_state(make_channel, server_side, server_hostname, do_handshake_on_connect,
                         suppress_ragged_eofs, context)
        if connected:
            try:
                self._adopt(make_channel())
                if do_handshake_on_connect:
                    if timeout == 0.0:
                        raise ValueError("do_handshake_on_connect should not be "
                                         "specified for non-blocking sockets")
                    self.do_handshake()
            except BaseException:
                self.close()
                raise
        return self

    @classmethod
    def _accepted(cls, fd: int, family: int, proto: int,
                  make_channel: Callable[[], TLSChannel]) -> TLSSocket:
        """A non-blocking server connection on ``fd``, just accepted (by serve()),
        made without a plain socket object first: making one asks the kernel for the
        descriptor's name, and reading its ``family`` and ``type`` converts enums.

        Where the system has ``MSG_DONTWAIT`` the descriptor stays blocking and
        each of the handshake's reads and writes is made with that flag instead
        (``_loop_flags``) until ``_leave_loop()``: no ``ioctl`` to make it
        non-blocking and another to make it blocking again for the handler, each a
        system call on the loop that lets go of the GIL (to a waiting worker)."""
        self = cls.__new__(cls)
        try:
            socket.socket.__init__(self, family, socket.SOCK_STREAM, proto, fd)
        except BaseException:
            os.close(fd)
            raise
        try:
            self._init_state(make_channel, True, None, False, False, None)
            if _DONTWAIT and self.gettimeout() is None:
                self._loop_flags = _DONTWAIT
            else:  # no flag, or socket.setdefaulttimeout() made it non-blocking already
                self.setblocking(False)
            self._adopt(make_channel())
        except BaseException:
            self.close()
            raise
        return self

    def _init_state(self, make_channel: Callable[[], TLSChannel], server_side: bool,
                    server_hostname: str | None, do_handshake_on_connect: bool,
                    suppress_ragged_eofs: bool, context: Any) -> None:
        self._make_channel = make_channel
        self._server_side = server_side
        self._server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._context = context
        # Ciphertext sealed but not yet on the wire, in the order it was sealed, and
        # the bytes of replies queued since it was last empty.
        self._out = deque()
        self._unread_replies = 0
        self._boundary = _RecordBoundary()
        self._send_lock = threading.Lock()  # one writer to the wire at a time
        self._engine_lock = threading.Lock()  # one caller into the engine at a time
        # A server that has written nothing yet: all that the client has sent is its
        # first flight (its ClientHello, maybe early data), which the handshake needs
        # whole, so it is read without looking for record boundaries.
        self._first_flight = server_side
        # The last read took all the kernel held (a non-blocking handshake does not try
        # again; a bulk read asks for less).
        self._drained = False
        # MSG_DONTWAIT while serve()'s loop drives a blocking descriptor (see
        # _accepted): the socket then acts as a non-blocking one.
        self._loop_flags = 0
        # _out holds only what serve()'s loop left unsent at the handshake's end (see
        # _hold): it goes with the first write, or before a read waits.
        self._holding = False
        self._tls_channel = None

    @staticmethod
    def _is_connected(sock: socket.socket) -> bool:
        try:
            sock.getpeername()
        except OSError as error:
            if error.errno != errno.ENOTCONN:
                raise
            return False
        return True

    def _adopt(self, channel: TLSChannel) -> None:
        channel.owner = weakref.ref(self)
        self._tls_channel = channel

    def _leave_loop(self, timeout: float | None) -> None:
        """serve()'s loop is done with the socket: from now on it follows
        ``timeout`` (None: blocking), as for the handler."""
        self._loop_flags = 0
        if self.gettimeout() != timeout:  # a system call: only when it changes
            self.settimeout(timeout)

    def _hold(self) -> None:
        """serve()'s loop leaves what a TLS 1.3 handshake's last step wrote (the
        NewSessionTickets, which RFC 8446 §4.6.1 lets go any time after the client's
        Finished) to go with the handler's first write: the client then wakes once
        for both. A read that would wait sends it first, as does any other write.
        Nothing then goes from the loop after the client's Finished, so Linux is
        asked to acknowledge the Finished now, as the tickets' segment would have:
        a client with Nagle's algorithm on holds its first data until then."""
        self._holding = bool(self._out)
        acknowledge_now(self)

    # -- what ssl.SSLSocket has ---------------------------------------------------

    @property
    def server_side(self) -> bool:  # type: ignore[override]
        return self._server_side

    @property
    def server_hostname(self) -> str | None:  # type: ignore[override]
        return self._server_hostname

    @property
    def _sslobj(self) -> TLSSocket | None:
        """Where ``ssl.SSLSocket`` keeps OpenSSL's connection, and where some
        libraries look for it (httpcore reads the ALPN protocol there to choose
        HTTP/2): here, the socket itself once it is connected."""
        return self if self._tls_channel is not None else None

    def do_handshake(self, block: bool = False) -> None:
        """Run the handshake (done by connect/accept unless do_handshake_on_connect
        is off). ``block=True`` blocks even on a non-blocking socket."""
        timeout = self.gettimeout()
        try:
            if block:
                self.settimeout(None)
            self._handshake(self._deadline())
        finally:
            if block:
                self.settimeout(timeout)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        """Up to ``buflen`` bytes of plaintext; ``b""`` once the peer sent
        close_notify. A connection cut without close_notify raises
        ``ssl.SSLEOFError``, or with ``suppress_ragged_eofs`` (``wrap_socket``'s
        default) reads as ``b""`` too: ``ragged_eof`` tells the two apart."""
        if flags:  # (tested here: the call is for the error alone)
            self._check_flags(flags, "recv")
        channel, deadline = self._established()
        while True:
            with self._engine_lock:
                data = channel.read(buflen)
            if data is not None:
                return data
            self._receive_more(channel, deadline, buflen)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if flags:
            self._check_flags(flags, "recv_into")
        view = memoryview(buffer).cast("B")
        if not nbytes or nbytes < 0 or nbytes > view.nbytes:
            nbytes = view.nbytes
        channel, deadline = self._established()
        while True:
            with self._engine_lock:
                count = channel.read_into(view, nbytes)
            if count is not None:
                return count
            # Decrypted straight into the caller's buffer, as far as whole records fit.
            count = self._receive_more(channel, deadline, nbytes, view[:nbytes])
            if count:
                return count

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """``ssl.SSLSocket.read``: ``recv``, or ``recv_into`` with a buffer."""
        if buffer is not None:
            return self.recv_into(buffer, len)
        return self.recv(len)

    def write(self, data: Any) -> int:
        """``ssl.SSLSocket.write``: ``send``."""
        return self.send(data)

    def send(self, data: Any, flags: int = 0) -> int:
        """Encrypt and send some of ``data`` (up to 256 KiB); returns how much was
        taken. Non-blocking: ``SSLWantWriteError`` if nothing could be taken."""
        if flags:
            self._check_flags(flags, "send")
        channel, deadline = self._established()
        return self._send_some(channel, memoryview(data).cast("B"), deadline)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send all of ``data``, any size, in records of at most 16 KiB."""
        if flags:
            self._check_flags(flags, "sendall")
        channel, deadline = self._established()
        view = memoryview(data).cast("B")
        sent = self._send_some(channel, view, deadline)  # most often all of it
        total = view.nbytes
        while sent < total:
            sent += self._send_some(channel, view[sent:], deadline)
        if self._out:  # (non-blocking: the rest goes, or SSLWantWriteError)
            self._push(deadline)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """Send a file's bytes through TLS (never the kernel's zero-copy path)."""
        if offset:
            file.seek(offset)
        total = 0
        while count is None or total < count:
            wanted = _SEND_CHUNK if count is None else min(_SEND_CHUNK, count - total)
            chunk = file.read(wanted)
            if not chunk:
                break
            self.sendall(chunk)
            total += len(chunk)
        if total and hasattr(file, "seek"):
            file.seek(offset + total)
        return total

    def pending(self) -> int:
        """Decrypted bytes that ``recv`` can return without reading the network."""
        channel = self._tls_channel
        return channel.pending if channel is not None else 0

    def unwrap(self) -> socket.socket:
        """Close TLS (send close_notify, wait for the peer's) and return the plain
        socket. Bytes the peer sent after its close_notify are the first that the
        returned socket's ``recv`` returns."""
        channel = self._connected_channel()
        deadline = self._deadline()
        with self._engine_lock:
            if not channel.closing:
                channel.close()
                self._queue(channel.outgoing())
        self._push(deadline)
        while not channel.peer_closed:
            with self._engine_lock:
                if channel.failure is not None:
                    raise channel.failure
                if channel.transport_eof:
                    raise eof_error(during_handshake=False)
            self._receive_more(channel, deadline, 0)
        leftover = channel.leftover()
        timeout = self.gettimeout()
        family, kind, proto = self.family, self.type, self.proto
        fileno = self.detach()
        plain = (_PrefixedSocket(leftover, family, kind, proto, fileno) if leftover
                 else socket.socket(family, kind, proto, fileno))
        plain.settimeout(timeout)
        return plain

    def shutdown(self, how: int) -> None:
        """Shutting down the write side (SHUT_WR, SHUT_RDWR) sends close_notify
        first; with SHUT_WR the peer's data can still be read (a half-close)."""
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._send_close_notify(self._deadline())
        socket.socket.shutdown(self, how)

    def verify_client_post_handshake(self) -> None:
        """Server side, TLS 1.3: send a CertificateRequest now; ``getpeercert()``
        shows the client's certificate once a later ``recv`` has read it."""
        channel = self._connected_channel()
        with self._engine_lock:
            request_client_certificate(channel)
            self._queue(channel.outgoing())
        self._push(self._deadline())

    def key_update(self, request_peer_update: bool = True) -> None:
        """TLS 1.3: switch to new sending keys (and ask the peer to do the same)."""
        channel = self._connected_channel()
        with self._engine_lock:
            channel.connection.key_update(request_peer_update)
            self._queue(channel.outgoing())
        self._push(self._deadline())

    # -- connecting and accepting ---------------------------------------------------

    def connect(self, address: Any) -> None:
        self._real_connect(address, False)

    def connect_ex(self, address: Any) -> int:
        return self._real_connect(address, True)

    def _real_connect(self, address: Any, connect_ex: bool) -> int:
        if self._server_side:
            raise ValueError("can't connect in server-side mode")
        if self._tls_channel is not None:
            raise ValueError("attempt to connect an already-connected TLSSocket")
        self._adopt(self._make_channel())
        if connect_ex:
            status = socket.socket.connect_ex(self, address)
        else:
            status = 0
            socket.socket.connect(self, address)
        if status == 0 and self.do_handshake_on_connect:
            self.do_handshake()
        return status

    def accept(self) -> tuple[TLSSocket, Any]:
        """On a listening server socket: accept a client and (by default) run the
        handshake before returning it."""
        plain, address = socket.socket.accept(self)
        try:
            tls = type(self)._create(
                plain, make_channel=self._make_channel, server_side=True,
                do_handshake_on_connect=self.do_handshake_on_connect,
                suppress_ragged_eofs=self.suppress_ragged_eofs, context=self._context,
                accepted=True)
        except BaseException:
            plain.close()
            raise
        return tls, address

    def dup(self) -> TLSSocket:
        raise NotImplementedError(f"can't dup() {type(self).__name__} instances")

    def _checkClosed(self, msg: str | None = None) -> None:
        """(ssl.SSLSocket's hook for spurious closes: nothing to check.)"""

    def _check_connected(self) -> None:
        if self._tls_channel is None:
            self.getpeername()  # raises ENOTCONN

    def recvfrom(self, buflen: int = 1024, flags: int = 0) -> NoReturn:
        raise ValueError(f"recvfrom not allowed on instances of {type(self).__name__}")

    def recvfrom_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0
                      ) -> NoReturn:
        raise ValueError(f"recvfrom_into not allowed on instances of {type(self).__name__}")

    def sendto(self, *args: Any) -> NoReturn:
        raise ValueError(f"sendto not allowed on instances of {type(self).__name__}")

    def recvmsg(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"recvmsg not allowed on instances of {type(self).__name__}")

    def recvmsg_into(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(
            f"recvmsg_into not allowed on instances of {type(self).__name__}")

    def sendmsg(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(f"sendmsg not allowed on instances of {type(self).__name__}")

    def _real_close(self) -> None:
        # socket.close() calls this once the last makefile() reference is gone.
        # If the peer is gone it will see a truncation, as it should.
        # (try, not contextlib.suppress: fewer bytecodes on each served connection.)
        try:
            self._send_close_notify(time.monotonic() + _CLOSE_TIMEOUT, bounded=True)
            self._discard_unread()
        except (OSError, ValueError):
            pass
        socket.socket._real_close(self)  # type: ignore[attr-defined]

    # -- internals ----------------------------------------------------------------

    def _discard_unread(self) -> None:
        """Empty the kernel's receive queue before closing: closing a TCP socket
        with unread data (say, session tickets never read) sends a reset, which
        can destroy our close_notify before the peer reads it."""
        channel = self._tls_channel
        if channel is not None and channel.peer_closed:
            return  # nothing follows a close_notify (RFC 8446 §6.1): no look needed
        for _ in range(64):
            if not _ready(self.fileno(), False, 0):
                return
            if not socket.socket.recv(self, _RECV_SIZE, _DONTWAIT):
                return

    @staticmethod
    def _check_flags(flags: int, name: str) -> None:
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to {name}() on TLSSocket")

    def _connected_channel(self) -> TLSChannel:
        channel = self._tls_channel
        if channel is None:
            raise OSError(errno.ENOTCONN, "the TLS socket is not connected")
        return channel

    def _established(self) -> tuple[TLSChannel, float | None]:
        """For a read or a write: the channel, its handshake done first if it is
        not yet (as OpenSSL's SSL_read/SSL_write do), and the call's deadline."""
        channel = self._connected_channel()
        deadline = self._deadline()
        if not channel.handshake_complete:
            self._handshake(deadline)
        return channel, deadline

    def _deadline(self) -> float | None:
        timeout = self.gettimeout()
        return time.monotonic() + timeout if timeout else None

    def _wait(self, writing: bool, deadline: float | None) -> None:
        assert deadline is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not _ready(self.fileno(), writing, remaining):
            raise TimeoutError(f"The {'write' if writing else 'read'} operation timed out")

    def _handshake(self, deadline: float | None) -> None:
        channel = self._connected_channel()
        with self._engine_lock:
            self._queue(channel.outgoing())
        while True:
            try:
                self._push(deadline)
            except (BrokenPipeError, ConnectionResetError):
                if channel.failure is None:
                    raise
            with self._engine_lock:
                if channel.check_handshake():
                    return
                # What was sent is with the peer: what its answer will need, meanwhile.
                channel.work_ahead()
                if channel.failure is not None:  # (a bug's internal_error alert)
                    self._queue(channel.outgoing())
                    continue
            if self._drained and (self._loop_flags or self.gettimeout() == 0.0):
                # The last read emptied the kernel's queue: another would only fail.
                self._drained = False
                raise want_read()
            data = self._raw_recv(deadline, 0)
            with self._engine_lock:
                channel.receive(data)
                answer = channel.outgoing()
                self._queue(answer)  # sent at the loop's top
                if not answer and channel.handshake_complete:
                    acknowledge_now(self)
            del data  # not held while waiting for the next read

    def _loop_handshake(self, send: bool = True) -> bool:
        """serve()'s loop's step of the handshake: ``_handshake(None)`` for a socket
        that never waits (``_loop_flags``, or non-blocking), but it returns False
        instead of raising ``SSLWantReadError`` when the last read emptied the
        kernel's queue, as every step but the last ends (True: done). The rest of
        ``_handshake``'s work goes too: nothing waits in the engine at a step's
        start (the server's engine writes only when given data, and each step
        queues all it wrote), the engine lock is taken once per step and the send
        lock not at all (no other thread has the socket before its handler).
        A step starts with a read, unless the last one left bytes to send (the
        socket was full) or emptied the kernel's queue: otherwise it ended with the
        handshake unfinished and nothing queued, so a send and a look at the
        handshake then would find nothing."""
        channel = self._connected_channel()
        with self._engine_lock:
            read = not (self._out or self._drained)
            while True:
                if read:
                    channel.receive(self._raw_recv(None, 0))
                    self._queue(channel.outgoing())
                read = True
                if send or channel.failure is not None:  # an alert goes at once
                    try:
                        self._loop_send()
                    except (BrokenPipeError, ConnectionResetError):
                        if channel.failure is None:
                            raise
                if channel.check_handshake():
                    return True
                if self._drained:
                    self._drained = False
                    return False

    def _loop_send(self) -> None:
        """serve()'s loop's sends of what its steps queued (``_loop_handshake(send=False)``):
        as far as the socket takes them at once, else ``want_write()``."""
        self._send_queued(self._loop_flags, 0.0, None)

    def _raw_recv(self, deadline: float | None, wanted: int) -> bytes:
        """Ciphertext for a read of ``wanted`` plaintext bytes (0: just finish the
        record being received). It never reaches past what that read can return,
        so that the records after it stay in the kernel, where ``select()`` sees
        them, as with OpenSSL; not decrypted here, where it cannot."""
        boundary = self._boundary
        first = self._first_flight
        if first:  # all that the client sent, wherever its records end
            size = _FIRST_FLIGHT_READ
        elif not wanted:  # (what the general case comes to, without its four calls)
            size = boundary.to_complete
        else:
            size = boundary.read_size(wanted, _SHORT_RECV_SIZE if self._drained else _RECV_SIZE)
        if self._holding:
            data = self._recv_holding(size, deadline)
            if data is not None:
                return data
        if self.gettimeout():
            self._wait(False, deadline)
        if size == _HEADER and not first and not boundary.carried:
            return self._recv_records()
        try:
            data = socket.socket.recv(self, size, self._loop_flags)
        except BlockingIOError:
            raise want_read() from None
        boundary.feed(data)
        self._drained = len(data) < size
        return data

    def _recv_records(self) -> bytes:
        """``_raw_recv`` between records when no more than one is wanted: the next
        record, found by a look at its header (MSG_PEEK: looked at, not taken); if
        what arrived is no TLS record, all of it, for the engine to say what it is."""
        flags = self._loop_flags
        try:
            head = socket.socket.recv(self, _PEEK, _MSG_PEEK | flags)
            seen = len(head)  # how much the kernel holds, as far as the look tells
            # RFC 8446 §5.1: a content type (20..24) and a legacy version 3.x.
            if seen >= _HEADER and 20 <= head[0] <= 24 and head[1] == 3:
                last = (head[3] << 8) | head[4]  # the body length of the last record read
                size = _HEADER + last
                if head[0] == _CHANGE_CIPHER_SPEC and size + _HEADER <= seen:
                    # A ChangeCipherSpec is never the last record of a handshake (it
                    # comes before the encrypted flight, RFC 8446 §5 and D.4; before
                    # Finished, RFC 5246 §7.1): the record after it is read with it.
                    after = (head[size + 3] << 8) | head[size + 4]
                    if size + _HEADER + after <= seen:
                        size += _HEADER + after
                        last = after
            else:
                last = -1  # no record: the boundary finds out what it can
                size = max(seen, 1)  # (at the end of the stream, b"" says so)
            data = socket.socket.recv(self, size, flags)
        except BlockingIOError:
            raise want_read() from None
        if len(data) == size and last >= 0:
            self._boundary.ended(last)  # whole records, as the look found them
        else:
            self._boundary.feed(data)
        self._drained = len(data) < size or (seen < _PEEK and len(data) == seen)
        return data

    def _receive_more(self, channel: TLSChannel, deadline: float | None, wanted: int,
                      into: memoryview | None = None) -> int:
        """Read from the network into the engine (its application data first into
        ``into``, if given: returned is how many bytes went there); send what it
        answers if the socket can take it now (a reader never waits for the writer)."""
        data = self._raw_recv(deadline, wanted)
        filled = 0
        with self._engine_lock:
            if into is None:
                channel.receive(data)
            else:
                filled = channel.receive_into(data, into)
            answer = channel.outgoing()
            if answer:
                self._unread_replies = len(answer) + (self._unread_replies if self._out else 0)
                if self._unread_replies > MAX_UNREAD_REPLIES:
                    error = channel.abandon(f"the peer does not read; more than "
                                            f"{MAX_UNREAD_REPLIES} bytes of replies wait")
                    if filled:
                        return filled  # the data received first; the next read raises
                    raise error
                self._out.append(answer)
                self._holding = False
        if answer:
            self._push_without_waiting()
        return filled

    def _queue(self, data: bytes) -> None:
        if data:
            self._out.append(data)
            self._first_flight = False
            self._holding = False

    def _recv_holding(self, size: int, deadline: float | None) -> bytes | None:
        """``_raw_recv`` while what the handshake left waits (``_hold``): what is
        there to read already, or None once the held bytes are sent (the read may
        wait then). A read that finds nothing costs no more than a look would;
        but with a timeout, Python's recv() first waits for data: a look then."""
        if _DONTWAIT and not self.gettimeout():
            try:
                data = socket.socket.recv(self, size, _DONTWAIT)
            except BlockingIOError:
                pass
            else:
                self._boundary.feed(data)
                self._drained = len(data) < size
                return data
        elif _ready(self.fileno(), False, 0):
            return None  # (no flag for it: the blocking read will not wait)
        with self._engine_lock:
            held, self._holding = self._holding, False
        if held:  # (unless a write took them meanwhile)
            self._push(deadline)
        return None

    def _send_some(self, channel: TLSChannel, view: memoryview,
                   deadline: float | None) -> int:
        if not view.nbytes:
            return 0
        # Ciphertext from an earlier call goes first; in non-blocking mode, taking
        # nothing new until it is gone is how "try again" is signalled.
        if self._out and not self._holding:
            self._push(deadline)
        # No copy: the engine seals it into records before write() returns.
        chunk = view[:_SEND_CHUNK]
        with self._engine_lock:
            channel.write(chunk)
            # Queued as the engine sealed them (a large send's records share one
            # buffer): nothing is joined, and each buffer goes in one call.
            buffers = channel.outgoing_buffers()
            if self._holding:  # what the handshake left goes in the same call
                self._holding = False
                buffers[0] = b"".join((*self._out, buffers[0]))
                self._out.clear()
            self._out.extend(buffers)
        # Taken: in non-blocking mode the rest of its ciphertext goes out next call.
        # (try, not contextlib.suppress: ~30 bytecodes fewer for each write.)
        try:  # noqa: SIM105
            self._push(deadline)
        except ssl.SSLWantWriteError:
            pass
        return len(chunk)

    def _push(self, deadline: float | None) -> None:
        """Send all queued ciphertext (waiting per the socket's timeout)."""
        while self._out:
            with self._send_lock:
                self._send_queued(self._loop_flags, self.gettimeout(), deadline)

    def _send_queued(self, flags: int, timeout: float | None,
                     deadline: float | None) -> None:
        """The queue's sends, by a thread that may send (under the send lock, or
        the loop's, which alone has the socket); where the socket is full and
        may not wait (``flags``, or a zero timeout), ``want_write()``."""
        out = self._out
        while out:
            chunk = out[0]
            if timeout is None and not flags:
                socket.socket.sendall(self, chunk)
                out.popleft()
                continue
            if timeout:
                self._wait(True, deadline)
            try:
                sent = socket.socket.send(self, chunk, flags)
            except BlockingIOError:
                raise want_write() from None
            if sent == len(chunk):
                out.popleft()
            else:
                out[0] = memoryview(chunk)[sent:]

    def _push_without_waiting(self) -> None:
        """Send what is queued as far as the socket takes it at once; nothing while
        another thread is sending."""
        out = self._out
        # A send on a socket with a timeout first polls for that long: look instead.
        look = bool(self.gettimeout()) or not _DONTWAIT
        while out and self._send_lock.acquire(blocking=False):
            try:
                while out:
                    if look and not _ready(self.fileno(), True, 0):
                        return
                    chunk = out[0]
                    try:
                        sent = socket.socket.send(self, chunk, _DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        return
                    except OSError:
                        return  # broken: reading will report why
                    if sent == len(chunk):
                        out.popleft()
                    else:
                        out[0] = memoryview(chunk)[sent:]
            finally:
                self._send_lock.release()

    def _send_close_notify(self, deadline: float | None, bounded: bool = False) -> None:
        channel = self._tls_channel
        if (channel is None or not channel.handshake_complete or channel.closing
                or channel.failure is not None or self.fileno() < 0):
            return
        with self._engine_lock:
            channel.close()
            self._queue(channel.outgoing())
        if bounded:
            timeout = self.gettimeout()
            if _DONTWAIT and not timeout:
                # Most often the socket takes it at once: then no timeout is set
                # (with one, every send would first poll()).
                self._push_without_waiting()
                if not self._out:
                    return
            if timeout is None or timeout > _CLOSE_TIMEOUT:
                self.settimeout(_CLOSE_TIMEOUT)
        self._push(deadline if self.gettimeout() else None)


class _PrefixedSocket(socket.socket):
    """A plain socket whose first reads return bytes already taken off the wire
    (what followed the peer's close_notify when ``unwrap`` read past it)."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: bytes, family: int, kind: int, proto: int, fileno: int) -> None:
        super().__init__(family, kind, proto, fileno)
        self._prefix = prefix

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._prefix and not flags & socket.MSG_PEEK:
            data, self._prefix = self._prefix[:bufsize], self._prefix[bufsize:]
            return data
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if self._prefix and not flags & socket.MSG_PEEK:
            view = memoryview(buffer).cast("B")
            count = min(len(self._prefix), nbytes or view.nbytes, view.nbytes)
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        return super().recv_into(buffer, nbytes, flags)


def connect(address: tuple[str, int], *, config: ClientConfig | None = None,
            server_hostname: str | None = None, timeout: float | None = None,
            source_address: tuple[str, int] | None = None,
            suppress_ragged_eofs: bool = False, session: Any = None) -> TLSSocket:
    """Open a TCP connection, run the TLS handshake, return the ``TLSSocket``.

    ``server_hostname`` (SNI and the name the certificate must match) defaults to
    the host in ``address``. ``config`` defaults to ``ClientConfig()``: the
    system's trust store, TLS 1.3 and 1.2. ``timeout`` covers the TCP connect,
    the handshake, and then each later operation. Keys are logged to
    ``$SSLKEYLOGFILE`` when it is set and the config has no ``keylog``.
    Connections made with the same config resume sessions through its
    ``session_cache``; ``session=`` (an earlier socket's ``.session``) picks one.
    The TCP connection has ``TCP_NODELAY`` set, as ``serve()``'s and asyncio's do.

    >>> with glasstls.connect(("example.com", 443)) as sock:
    ...     sock.version()
    'TLSv1.3'
    """
    name = server_hostname if server_hostname is not None else address[0]
    sock = socket.create_connection(address, timeout, source_address)
    try:
        # TLS writes whole records already. With Nagle's algorithm, a request
        # written after a TLS 1.2 resumption's last flight (ours, the client's
        # Finished) waits until the server acknowledges that flight: with
        # OpenSSL's servers, which send nothing then, the delayed ACK, ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return start_tls(sock, config=config, server_hostname=name,
                         suppress_ragged_eofs=suppress_ragged_eofs, session=session)
    except BaseException:
        sock.close()
        raise


def start_tls(sock: socket.socket, *, config: ClientConfig | None = None,
              server_hostname: str | None = None, suppress_ragged_eofs: bool = False,
              session: Any = None) -> TLSSocket:
    """Run the client handshake on an already connected TCP socket, e.g. after a
    protocol's plain-text STARTTLS exchange; ``sock`` is taken over (detached).

    >>> plain = socket.create_connection(("mail.example", 25))  # ... EHLO, STARTTLS ...
    >>> tls = glasstls.io.start_tls(plain, server_hostname="mail.example")
    """
    client_config = with_environment_keylog(config if config is not None else ClientConfig())
    return TLSSocket._create(
        sock, server_side=False, server_hostname=server_hostname,
        make_channel=lambda: TLSChannel.client(client_config, server_hostname,
                                               suppress_ragged_eofs, session))


__all__ = ["TLSSocket", "connect", "start_tls"]
