"""The engine as a transport sees it: ciphertext in and out, plaintext buffered,
and the ways a stream can end kept apart.

A ``TLSChannel`` wraps one ``ClientConnection`` or ``ServerConnection``. Blocking
sockets, ``ssl.MemoryBIO`` pairs and asyncio transports all drive it the same way:

    channel.receive(bytes_from_the_network)   # b"" when the transport hit EOF
    network.send(channel.outgoing())
    data = channel.read(65536)                # None: feed me more ciphertext

A stream ends in one of three ways, and they are never confused: the peer's
``close_notify`` (``read`` returns ``b""``), a fatal error or alert (``read``
raises the ``ssl`` exception, stored in ``failure``), or the transport ending
without ``close_notify`` (``read`` raises ``ssl.SSLEOFError``: the data may have
been truncated by an attacker). ``suppress_ragged_eofs`` (the default of
``SSLContext.wrap_socket``, as in ``ssl``) makes that last one read as ``b""``;
``ragged_eof`` still tells it apart from a clean end.
"""

from __future__ import annotations

import ssl
import weakref
from collections import deque
from typing import Any

from ..config import ClientConfig, ServerConfig
from ..connection import ClientConnection, ServerConnection
from ..crypto.suites import SUITES, suite_by_name
from ..errors import AlertReceivedError, TLSError, UnexpectedEOF, UsageError
from ..events import (
    AlertReceived,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    PeerCertificateVerified,
)
from .certinfo import certificate_dict
from .errors import eof_error, shut_down, to_ssl_error


class TLSChannel:
    """One TLS connection between the engine and a transport (not thread-safe)."""

    __slots__ = ("_chunks", "_offset", "closing", "connection", "failure",
                 "owner", "peer_closed", "post_handshake_peer", "ragged_eof",
                 "server_hostname", "suppress_ragged_eofs", "transport_eof")

    def __init__(self, connection: ClientConnection | ServerConnection, *,
                 server_hostname: str | None = None, suppress_ragged_eofs: bool = False) -> None:
        self.connection = connection
        self.server_hostname = server_hostname
        self.suppress_ragged_eofs = suppress_ragged_eofs
        # Decrypted application data not read yet: whole records (never empty), and
        # how far into the first one the reader has got. The engine appends them
        # itself, most as views of its decrypted records (copied only when read).
        self._chunks: deque[bytes | memoryview] = deque()
        self._offset = 0
        connection.collect_application_data(self._chunks)
        self.peer_closed = False  # the peer's close_notify arrived
        self.transport_eof = False  # the transport reported end of stream
        # ...after the handshake and without close_notify: the engine's
        # ConnectionClosed(clean=False). What was received may have been cut short.
        self.ragged_eof = False
        self.closing = False  # we sent (or queued) our close_notify
        self.failure: ssl.SSLError | None = None  # sticky: the connection is over
        # The client's chain when it authenticated after the handshake (TLS 1.3).
        self.post_handshake_peer: tuple[bytes, ...] = ()
        # The TLSSocket / TLSObject this channel belongs to, for callbacks that
        # are handed it (ssl's sni_callback); weak, so that no cycle keeps a
        # socket open.
        self.owner: weakref.ref[Any] | None = None

    @classmethod
    def client(cls, config: ClientConfig, server_hostname: str | None,
               suppress_ragged_eofs: bool = False, session: Any = None) -> TLSChannel:
        try:
            connection = ClientConnection(config, server_name=server_hostname, session=session)
        except TLSError as error:
            raise to_ssl_error(error) from error
        return cls(connection, server_hostname=server_hostname,
                   suppress_ragged_eofs=suppress_ragged_eofs)

    @classmethod
    def server(cls, config: ServerConfig, suppress_ragged_eofs: bool = False) -> TLSChannel:
        return cls(ServerConnection(config), suppress_ragged_eofs=suppress_ragged_eofs)

    # -- driving ----------------------------------------------------------------

    @property
    def server_side(self) -> bool:
        return isinstance(self.connection, ServerConnection)

    @property
    def handshake_complete(self) -> bool:
        return self.connection.handshake_complete

    def receive(self, data: bytes) -> None:
        """Ciphertext from the transport; ``b""`` means the transport ended (the
        engine's ``receive_eof``). Never raises: a failure is kept in ``failure``
        (its alert is in ``outgoing()``)."""
        if not data:
            self.transport_eof = True
        if self.failure is not None:
            return
        self._receive(data)

    def receive_into(self, data: bytes | memoryview, buffer: memoryview) -> int:
        """``receive``, the application data decrypted first straight into ``buffer``
        (the engine's ``decrypt_into``) when nothing decrypted waits to be read;
        returns how many bytes of ``buffer`` it filled (the rest is buffered).
        ``data`` may be a view of the transport's read buffer: what the engine keeps
        of it, it copies."""
        if not data or self._chunks or self.failure is not None:
            self.receive(bytes(data))
            return 0
        connection = self.connection
        connection.decrypt_into(buffer)
        try:
            self._receive(data)
        finally:
            filled = connection.decrypted_into()
        return filled

    def _receive(self, data: bytes | memoryview) -> None:
        try:
            events = self.connection.receive_data(data)
        except UnexpectedEOF as error:
            # The transport ended during the handshake: ssl's SSLEOFError.
            self.failure = eof_error(during_handshake=True)
            self.failure.__cause__ = error
            return
        except TLSError as error:
            self._handle(error.events)
            if self.failure is None:
                self.failure = to_ssl_error(error)
            return
        if events:  # most records bring none (application data is collected apart)
            self._handle(events)

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ConnectionClosed):
                if event.clean:
                    self.peer_closed = True
                else:
                    self.ragged_eof = True
            elif isinstance(event, PeerCertificateVerified):
                self.post_handshake_peer = event.peer_certificates
            elif isinstance(event, AlertReceived) and event.fatal:
                error = AlertReceivedError(event.description)
                self.failure = to_ssl_error(error)

    def outgoing(self) -> bytes:
        """Ciphertext to write to the transport (handshake, data, alerts)."""
        return self.connection.data_to_send()

    def outgoing_buffers(self) -> list[bytes | bytearray]:
        """``outgoing()`` as the buffers the engine sealed it into (not joined)."""
        return self.connection.buffers_to_send()

    def work_ahead(self) -> None:
        """After a handshake flight went out: the engine's ``work_ahead`` (what the
        peer's answer will need, made while the peer works). Never raises: a failure
        is kept in ``failure``, as ``receive`` keeps one."""
        if self.failure is not None:
            return
        try:
            self.connection.work_ahead()
        except TLSError as error:
            self.failure = to_ssl_error(error)

    def abandon(self, reason: str) -> ssl.SSLError:
        """End the connection for a reason of the transport's own (no alert is sent:
        the peer is not reading); reads and writes raise the error returned."""
        if self.failure is None:
            self.failure = ssl.SSLError(f"connection abandoned: {reason}")
        return self.failure

    def check_handshake(self) -> bool:
        """True once the handshake is done; False while it needs more data.
        Raises the failure, or ``SSLEOFError`` if the transport ended first."""
        if self.connection.handshake_complete:
            return True
        if self.failure is not None:
            raise self.failure
        if self.transport_eof:
            raise eof_error(during_handshake=True)
        return False

    def _end_of_data(self) -> bool:
        """No plaintext is buffered: True at a clean end, False when more
        ciphertext is needed; raises for a failure or a truncation."""
        if self.failure is None and not (self.peer_closed or self.transport_eof):
            return False  # nothing has ended (handshake done or not): the common case
        if not self.check_handshake():
            return False
        if self.failure is not None:
            raise self.failure
        if self.peer_closed:
            return True
        if self.transport_eof:
            if self.suppress_ragged_eofs:
                return True
            raise eof_error(during_handshake=False)
        return False

    def read(self, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of plaintext; ``b""`` after the peer's
        close_notify; None when more ciphertext is needed."""
        if limit < 0:
            raise ValueError("negative read length")
        if self._chunks and limit:
            return self._take(limit)
        if self._end_of_data() or limit == 0:
            return b""
        return None

    def read_into(self, buffer: memoryview, limit: int) -> int | None:
        """Like ``read``, into ``buffer``; returns the count (0 at the end)."""
        if self._chunks and limit > 0:
            return self._take_into(buffer, limit)
        if self._end_of_data() or limit <= 0:
            return 0
        return None

    def read_all(self) -> bytes:
        return self._take(self.pending) if self._chunks else b""

    @property
    def pending(self) -> int:
        """Decrypted bytes waiting to be read."""
        return sum(map(len, self._chunks)) - self._offset

    def _take(self, limit: int) -> bytes:
        chunks = self._chunks
        if len(chunks) == 1 and not self._offset and len(chunks[0]) <= limit:
            # The one record waiting, whole (a small message's read): what the loop
            # below comes to, without it.
            return bytes(chunks.popleft())
        parts: list[bytes | memoryview] = []
        start = self._offset  # into the first chunk
        while chunks and limit:
            chunk = chunks[0]
            end = min(len(chunk), start + limit)
            whole = start == 0 and end == len(chunk)
            parts.append(chunk if whole else memoryview(chunk)[start:end])
            limit -= end - start
            if end == len(chunk):
                chunks.popleft()
                start = 0
            else:
                start = end
        self._offset = start
        # The one copy (none for a single whole record that is bytes: join returns it).
        return b"".join(parts)

    def _take_into(self, buffer: memoryview, limit: int) -> int:
        wanted = min(limit, len(buffer))
        chunks = self._chunks
        done = 0
        start = self._offset  # into the first chunk
        while chunks and done < wanted:
            chunk = chunks[0]
            end = min(len(chunk), start + wanted - done)
            # Copied straight from the decrypted record (a view, or bytes whose
            # whole slice chunk[0:len] is the object itself).
            buffer[done:done + end - start] = chunk[start:end]
            done += end - start
            if end == len(chunk):
                chunks.popleft()
                start = 0
            else:
                start = end
        self._offset = start
        return done

    def write(self, data: bytes | memoryview) -> None:
        """Encrypt ``data`` (after the handshake); the records are in ``outgoing()``."""
        if self.failure is not None:
            raise self.failure
        if self.closing:
            raise shut_down()
        try:
            self.connection.send(data)
        except TLSError as error:
            self.failure = to_ssl_error(error)
            raise self.failure from error
        except UsageError as error:
            raise shut_down() from error

    def close(self) -> None:
        """Queue our close_notify (nothing more can be written)."""
        self.closing = True
        if self.failure is None:
            self.connection.close()

    def leftover(self) -> bytes:
        """Ciphertext received after the peer's close_notify (for ``unwrap``)."""
        return self.connection.take_unprocessed_data()


def request_client_certificate(channel: TLSChannel) -> None:
    """Queue a post-handshake CertificateRequest (server side, TLS 1.3)."""
    connection = channel.connection
    if not isinstance(connection, ServerConnection):
        raise ssl.SSLError(ssl.SSL_ERROR_SSL, "[SSL] not a server-side connection")
    try:
        connection.request_client_certificate()
    except UsageError as error:
        raise ssl.SSLError(ssl.SSL_ERROR_SSL, f"[SSL: WRONG_SSL_VERSION] {error}") from error


class TLSInfo:
    """What ``ssl.SSLSocket`` and ``ssl.SSLObject`` tell about a connection, for
    every transport here: ``version()``, ``cipher()``, ``getpeercert()``, ..."""

    _tls_channel: TLSChannel | None = None
    _context: Any = None
    # True only while a server's sni_callback runs: the one moment at which the
    # connection may switch to another context (another certificate).
    _context_switchable = False

    @property
    def _channel(self) -> TLSChannel:
        channel = self._tls_channel
        if channel is None:
            raise ValueError("the TLS connection is not established (not connected)")
        return channel

    @property
    def connection(self) -> ClientConnection | ServerConnection:
        """The engine behind this connection, for inspection: a server's
        ``connection.client_hello`` is the ClientHello as received, and
        ``connection.config`` the config it runs with. Driving it directly
        (``send``, ``receive_data``) would desynchronise the transport."""
        return self._channel.connection

    @property
    def negotiated(self) -> HandshakeComplete | None:
        """glasstls's own record of the handshake (None until it completes)."""
        channel = self._tls_channel
        return channel.connection.negotiated if channel is not None else None

    def _completed(self) -> HandshakeComplete:
        negotiated = self.negotiated
        if negotiated is None:
            raise ValueError("handshake not done yet")
        return negotiated

    @property
    def context(self) -> Any:
        """The ``SSLContext`` this connection was made from (None when it was made
        by ``glasstls.connect``/``serve``/``aio``). Inside a server's
        ``sni_callback``, assigning another ``glasstls.SSLContext`` here makes the
        server answer with that context's certificates, as with ``ssl``."""
        return self._context

    @context.setter
    def context(self, context: Any) -> None:
        if not isinstance(context, ssl.SSLContext):
            raise TypeError("The value must be a SSLContext")
        if not self._context_switchable:
            raise ValueError("a glasstls connection can switch to another context only "
                             "inside the server's sni_callback, before its certificate "
                             "is chosen")
        self._context = context

    @property
    def ragged_eof(self) -> bool:
        """True when the peer's stream ended without close_notify after the
        handshake: what was received may have been truncated. With
        ``suppress_ragged_eofs`` (``wrap_socket``'s default, as in ``ssl``) reads
        then return ``b""`` as at a clean end; this tells the two apart."""
        channel = self._tls_channel
        return channel is not None and channel.ragged_eof

    @property
    def server_side(self) -> bool:
        return self._channel.server_side

    @property
    def server_hostname(self) -> str | None:
        return self._channel.server_hostname

    def version(self) -> str | None:
        """``"TLSv1.3"`` or ``"TLSv1.2"``; None before the handshake."""
        negotiated = self.negotiated
        return negotiated.version if negotiated is not None else None

    def cipher(self) -> tuple[str, str, int] | None:
        """(OpenSSL suite name, protocol version, secret bits), as ``ssl`` gives."""
        negotiated = self.negotiated
        if negotiated is None:
            return None
        suite = suite_by_name(negotiated.cipher_suite)
        return suite.openssl_name, negotiated.version, suite.key_len * 8

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """Server side: the suites the client offered that we support."""
        connection = self._channel.connection
        offered = getattr(connection, "offered_cipher_suites", ())
        if not offered:
            return None
        ours = connection.config.cipher_suites
        shared = [SUITES[s] for s in offered if s in SUITES and s in ours]
        return [(s.openssl_name, "TLSv1.3" if s.is_tls13 else "TLSv1.2", s.key_len * 8)
                for s in shared]

    def compression(self) -> None:
        return None

    def selected_alpn_protocol(self) -> str | None:
        negotiated = self.negotiated
        return negotiated.alpn_protocol if negotiated is not None else None

    def selected_npn_protocol(self) -> None:
        return None

    def _peer_chain(self) -> tuple[bytes, ...]:
        negotiated = self._completed()
        return self._channel.post_handshake_peer or negotiated.peer_certificates

    def _peer_verified(self) -> bool:
        """Whether the configuration made the peer's chain pass verification (a
        handshake, resumed or not, only completes if it did)."""
        channel = self._channel
        config = channel.connection.config
        if isinstance(config, ClientConfig):
            return config.verify_certificates
        # Post-handshake authentication always checks against client_trust.
        return config.client_auth != "none" or bool(channel.post_handshake_peer)

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate: a dict like ``ssl``'s (empty if it was not
        verified), its DER bytes with ``binary_form=True``, or None if it sent none."""
        chain = self._peer_chain()
        if not chain:
            return None
        if binary_form:
            return chain[0]
        if not self._peer_verified():
            return {}
        return certificate_dict(chain[0])

    def get_unverified_chain(self) -> list[bytes]:
        """The chain as the peer sent it (DER, leaf first)."""
        return list(self._peer_chain())

    def get_verified_chain(self) -> list[bytes]:
        """The verified path to a trust anchor (DER, leaf first); empty if
        verification did not run."""
        return list(self._completed().verified_chain)

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """None: the engine does not expose the Finished message that tls-unique
        needs (and RFC 9266 leaves tls-unique undefined for TLS 1.3)."""
        if cb_type not in ssl.CHANNEL_BINDING_TYPES:
            raise ValueError(f"{cb_type} channel binding type not implemented")
        return None

    def export_keying_material(self, label: str, context: bytes | None, length: int) -> bytes:
        """RFC 8446 §7.5 / RFC 5705 keying material exporter."""
        self._completed()
        return self._channel.connection.export_keying_material(label, context, length)

    @property
    def session(self) -> Any:
        """Client side: the engine's session (a ``glasstls.session.ClientSession``)
        from this connection, to pass as ``session=`` to a later one; None until
        the server sent a ticket (or a TLS 1.2 session id)."""
        channel = self._tls_channel
        return getattr(channel.connection, "session", None) if channel is not None else None

    @session.setter
    def session(self, session: Any) -> None:
        raise ValueError("glasstls takes the session to resume when the connection is "
                         "made: pass it as wrap_socket(..., session=) or wrap_bio(..., "
                         "session=)")

    @property
    def session_reused(self) -> bool:
        negotiated = self.negotiated
        return bool(negotiated is not None and negotiated.resumed)

    def verify_client_post_handshake(self) -> None:
        """Server side, TLS 1.3: ask the client for a certificate now (it must have
        offered post-handshake authentication); checked per the context's
        ``verify_mode``. ``getpeercert()`` returns it once it has arrived."""
        request_client_certificate(self._channel)
        self._send_engine_output()

    def _send_engine_output(self) -> None:
        """Send what the engine queued outside a read or write (each transport)."""


__all__ = ["TLSChannel", "TLSInfo", "request_client_certificate"]
