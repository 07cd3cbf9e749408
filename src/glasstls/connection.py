"""The sans-I/O engine's front door: ``ClientConnection`` and ``ServerConnection``.

Bytes in with ``receive_data``, events out; bytes out with ``data_to_send``.
Nothing here touches a socket, a thread or the clock (time and randomness come
from the config). Every failure passes one boundary (``_fail``): the alert is
queued, the connection is closed for good, and a ``TLSError`` is raised. An
exception that is not a ``TLSError`` is a bug: it fails the connection the same
way, as an ``InternalError`` (``internal_error`` alert).

    client = ClientConnection(config, server_name="example.com")
    sock.sendall(client.data_to_send())
    while not client.handshake_complete:
        for event in client.receive_data(sock.recv(65536)):
            ...
        sock.sendall(client.data_to_send())

The handshake states (``handshake/``) see a connection only through the ``Engine``
interface, implemented by its ``ConnectionCore`` (core.py); see docs/engine.md.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, MutableSequence
from typing import NoReturn

from .config import ClientConfig, ServerConfig
from .constants import TLS12, TLS13, ContentType, HandshakeType
from .core import ConnectionCore
from .errors import (
    AlertDescription,
    AlertReceivedError,
    ConnectionClosedError,
    DecodeError,
    GlassTLSError,
    IllegalParameter,
    InternalError,
    TLSError,
    UnexpectedEOF,
    UnexpectedMessage,
    UsageError,
)
from .events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    received_data,
)
from .handshake.client import start_client
from .handshake.engine import Closed, Parser, State
from .handshake.server import ExpectClientHello
from .limits import (
    CERTIFICATE_REQUESTS,
    EMPTY_RECORDS,
    KEY_UPDATES,
    MAX_AFTER_CLOSE,
    MAX_HANDSHAKE_MESSAGE,
    MAX_MESSAGE,
    NEW_SESSION_TICKETS,
    RENEGOTIATION_REQUESTS,
    RESET_BY_HANDSHAKE,
    WARNING_ALERTS,
    count_in_a_row,
    max_fragments,
)
from .messages.handshake import ClientHello
from .recorder import ConnectionRecorder
from .session import ClientSession
from .trace import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    CLOSE,
    RECEIVED,
    SENT,
)

# Plain ints: cheaper to compare per record and per message than the enums.
_APPLICATION_DATA = int(ContentType.application_data)
_HANDSHAKE = int(ContentType.handshake)
_ALERT = int(ContentType.alert)
# The alert descriptions by value: a lookup, not an enum call (~20 bytecodes of
# enum.py per received alert; every clean close receives one).
_ALERT_DESCRIPTIONS: dict[int, AlertDescription] = {
    description.value: description for description in AlertDescription}
# A TLS 1.3 record holding one alert: header, the alert's two bytes, the content type
# byte and the AEAD tag.
_ALERT_RECORD = 5 + 2 + 1 + 16
_SERVER = "server"  # ConnectionCore.side of a server
# The alert close() sends (warning level).
_CLOSE_NOTIFY = bytes([1, AlertDescription.close_notify])
# A handshake message's header (type, 24-bit length) as one big-endian number.
_unpack_message_header = struct.Struct(">I").unpack_from

# What a handshake message resets of the counts in a row, as a set (limits.py).
_RESET_BY_HANDSHAKE = frozenset(RESET_BY_HANDSHAKE)
# Post-handshake messages a peer may not send without bound (limits.py).
_POST_HANDSHAKE_COUNTED: dict[int, str] = {
    HandshakeType.key_update: KEY_UPDATES,
    HandshakeType.new_session_ticket: NEW_SESSION_TICKETS,
    HandshakeType.certificate_request: CERTIFICATE_REQUESTS,
    HandshakeType.hello_request: RENEGOTIATION_REQUESTS,
    HandshakeType.client_hello: RENEGOTIATION_REQUESTS,
}


def _count_fragment(core: ConnectionCore, buffer: bytearray) -> None:
    """One more record for the handshake message being reassembled in ``buffer``:
    bounded, so that 2^18 bytes in one-byte records are refused."""
    core.handshake_fragments += 1
    length = int.from_bytes(buffer[1:4], "big") if len(buffer) >= 4 else 0
    if core.handshake_fragments > max_fragments(length):
        # No RFC or implementation sets this bound: unexpected_message, as for the
        # other floods of records that make no progress (BoringSSL's empty records).
        raise UnexpectedMessage(f"a handshake message of {length} bytes spread over more "
                                f"than {max_fragments(length)} records")


def _unexpected(state: State, msg_type: int) -> NoReturn:
    try:
        name = HandshakeType(msg_type).name
    except ValueError:
        name = f"unknown handshake type {msg_type}"
    raise UnexpectedMessage(f"received {name} while {state.describe()}")


def _may_ignore(state: State, core: ConnectionCore, msg_type: int) -> bool:
    # RFC 5246 §7.4.1.1: a TLS 1.2 client ignores HelloRequest while negotiating.
    return (msg_type == HandshakeType.hello_request and core.side == "client"
            and core.version != TLS13 and not state.connected)


def _expected(state: State, core: ConnectionCore, msg_type: int, length: int) -> Parser | None:
    """The parser for a ``msg_type`` message of ``length`` bytes, checked from its
    header alone: a message the state does not expect, or one larger than it may be,
    is refused before it is buffered. None: a HelloRequest the state ignores."""
    parser = state.expects.get(msg_type)
    if parser is None and not _may_ignore(state, core, msg_type):
        _unexpected(state, msg_type)
    if length > MAX_MESSAGE.get(msg_type, MAX_HANDSHAKE_MESSAGE):
        # BoringSSL and OpenSSL: SSL_R_EXCESSIVE_MESSAGE_SIZE, illegal_parameter.
        raise IllegalParameter(f"handshake message of {length} bytes is larger "
                               "than this connection reads here")
    return parser


class _Connection:
    # A server holds thousands of these: no per-instance dictionary.
    __slots__ = ("__weakref__", "_core", "_ended", "_error", "_filled", "_peer_closed",
                 "_sent_close", "_sink", "_state", "_target")

    def __init__(self, config: ClientConfig | ServerConfig, side: str) -> None:
        self._core = ConnectionCore(config, side)
        self._state: State = Closed()
        self._error: GlassTLSError | None = None
        self._sent_close = False
        self._peer_closed = False
        self._ended = False  # the transport ended (receive_eof)
        # Where application data goes instead of ApplicationData events, once a
        # transport asked for it (collect_application_data).
        self._sink: MutableSequence[bytes | memoryview] | None = None
        # Where the next receive_data decrypts application data first (decrypt_into),
        # and how much of it that filled.
        self._target: memoryview | None = None
        self._filled = 0

    # -- public API -------------------------------------------------------------

    @property
    def handshake_complete(self) -> bool:
        return self._core.negotiated is not None

    @property
    def negotiated(self) -> HandshakeComplete | None:
        """What the handshake negotiated (the ``HandshakeComplete`` event), once done."""
        negotiated = self._core.negotiated
        return negotiated.summary if negotiated is not None else None

    @property
    def closed(self) -> bool:
        return self._error is not None or (self._sent_close and self._peer_closed)

    @property
    def recorder(self) -> ConnectionRecorder | None:
        """This connection's recording (``glasstls explain``), when the config has a
        ``recorder``."""
        return self._core.recorder

    def receive_data(self, data: bytes | memoryview) -> list[Event]:
        """Feed bytes from the peer; returns the events they produced, in order
        (application data goes to the sink instead, after ``collect_application_data``).
        ``data`` may be a view of a buffer that the caller fills again afterwards
        (a transport's read buffer): what is kept of it is copied.

        Raises ``TLSError`` (after queuing the alert to send) when the peer
        misbehaves; the error carries the events decoded before it in ``events``.
        ``b""`` means the transport ended, as in h11: it is ``receive_eof()``.
        """
        if self._error is not None:
            raise self._error
        if not data:
            return self.receive_eof()
        if self._ended:
            raise UsageError("receive_data() after the end of the stream (receive_eof)")
        core = self._core
        record = core.record
        if self._peer_closed and record.buffered + len(data) > MAX_AFTER_CLOSE:
            # Kept for unwrap(), but not without bound.
            raise UnexpectedMessage("too much data after close_notify")
        events = core.events
        sink = self._sink
        first: tuple[int, bytes] | None  # the record to handle before reading on
        try:
            if sink is None:
                if (self._state.plain_application_data and not core.handshake_in
                        and not core.tracing and not self._peer_closed):
                    # The bulk path's usual read: the bytes fed and their application data
                    # records opened in one call; the loop below takes any other record.
                    plaintexts: list[bytes] = []
                    received = record.receive_records(data, plaintexts)
                    if plaintexts:
                        # A loop, not ``events += map(...)``: a read holds one record most
                        # often, and a map and extend cost more than the loop around one.
                        for plaintext in plaintexts:
                            events.append(received_data(plaintext))
                        if core.in_a_row:  # data ends a run of empty records
                            core.in_a_row.clear()
                    if received is None:
                        # Whole records only (or what is left of one, kept compact).
                        if core.handshake_out:
                            core.flush_handshake()
                        events, core.events = core.events, []
                        return events
                    if received[0] == _ALERT:
                        # Most often the peer's close_notify, after which (as after a
                        # fatal alert) the loop below would read nothing more.
                        self._alert(received[1])
                        if self._peer_closed:
                            return core.take_events()
                        first = None
                    else:
                        first = received
                elif (first := record.plain_first(data) if core.side == _SERVER
                        else None) is None:
                    # (A server's read of one unprotected handshake record, a ClientHello
                    # most often, is taken whole, and a client's compatibility
                    # change_cipher_spec before its last flight alone; the loop below
                    # handles that record first. A client's reads are never either:
                    # not tried.)
                    record.feed(data)
            elif (self._target is not None and len(data) != _ALERT_RECORD
                    and self._state.plain_application_data and not core.handshake_in
                    and not core.tracing and not self._peer_closed):
                # decrypt_into's usual read (a transport's recv_into, an asyncio read):
                # the records opened straight from data, which may be a view of the
                # transport's buffer (only what is kept of it is copied); the loop
                # below takes any other record.
                filled = self._filled
                self._filled, first, fits = record.receive_records_into(data, self._target,
                                                                        filled)
                if core.in_a_row and self._filled > filled:
                    core.in_a_row.clear()
                if not fits:
                    self._target = None  # the rest to the sink, in order
                elif first is None:
                    # Whole records only (or part of one, kept): nothing else to do.
                    if core.handshake_out:
                        core.flush_handshake()
                    events, core.events = core.events, []
                    return events
            elif (len(data) == _ALERT_RECORD and self._state.plain_application_data
                    and not core.handshake_in and not self._peer_closed
                    and (first := record.open_alone(data)) is not None):
                # With a sink (the io transports), a read the size of one protected
                # alert (every clean close brings the peer's close_notify) that is
                # one whole record under TLS 1.3 keys: opened alone, without the
                # sink's bulk loops; an alert handled at once, anything else (two
                # bytes of data, say) below as any other record. (Only with a sink:
                # the in-memory bulk path's reads pay nothing for it.)
                if first[0] == _ALERT:  # nothing before it or after it for the loop
                    self._alert(first[1])
                    return core.take_events()
            elif (first := record.plain_first(data) if core.side == _SERVER
                    else None) is None:  # as above
                record.feed(data)
            while not self._peer_closed:
                if first is not None:  # the record read before the loop
                    received, first = first, None
                elif (self._state.plain_application_data and not core.handshake_in
                        and not core.tracing):
                    # The bulk path: the application data records of an established
                    # connection opened in one loop, up to the first record of another
                    # kind (or an empty one), which goes the general way below.
                    if sink is None:
                        plaintexts = []
                        received = record.next_records(plaintexts)
                        if plaintexts:
                            events += map(received_data, plaintexts)
                            if core.in_a_row:  # data ends a run of empty records
                                core.in_a_row.clear()
                    elif self._target is not None:
                        filled = self._filled
                        self._filled, received, fits = record.next_records_into(
                            self._target, filled)
                        if core.in_a_row and self._filled > filled:
                            core.in_a_row.clear()
                        if not fits:
                            self._target = None  # the rest to the sink, in order
                            if received is None:
                                continue
                    else:
                        before = len(sink)
                        received = record.next_records(sink, views=True)
                        if core.in_a_row and len(sink) > before:
                            core.in_a_row.clear()
                else:
                    received = record.next_record()
                if received is None:
                    break
                content_type, payload = received
                if content_type == _HANDSHAKE:  # the records of a handshake, most often
                    self._handshake_data(payload)
                elif content_type == _APPLICATION_DATA:
                    self._application_data(payload)
                elif content_type == _ALERT:
                    self._alert(payload)
                else:
                    self._change_cipher_spec(payload)
            record.compact()
            if core.handshake_out:
                core.flush_handshake()
        except TLSError as error:
            self._fail(error)
            error.events = core.take_events()
            raise
        except Exception as bug:
            internal = self._internal_error(bug)
            internal.events = core.take_events()
            raise internal from bug
        events, core.events = core.events, []  # core.take_events(), without a call
        return events

    def receive_eof(self) -> list[Event]:
        """The transport ended: the peer will send nothing more. (``receive_data(b"")``
        is the same call.)

        After the peer's close_notify this is the clean end it announced (no new
        event). Before the handshake has finished it is a failure: ``UnexpectedEOF``
        is raised and no alert is queued, since nobody is left to read it.
        Otherwise the stream ended without close_notify, which is what a truncation
        attack looks like: a ``ConnectionClosed(clean=False)`` event says so, and the
        application decides whether what it received is complete (an HTTP body
        short of its Content-Length is not). Calling it again changes nothing.
        """
        if self._error is not None:
            raise self._error
        core = self._core
        if self._ended or self._peer_closed:
            self._ended = True
            return core.take_events()
        self._ended = True
        if not self.handshake_complete:
            error = UnexpectedEOF("the peer closed the connection during the handshake")
            self._error = error
            self._state = Closed()
            core.handshake_out.clear()
            if core.tracing:
                core.trace(CLOSE, RECEIVED, {"transport": "ended during the handshake"})
            raise error
        self._peer_closed = True
        core.events.append(ConnectionClosed(clean=False))
        if core.tracing:
            details: dict[str, object] = {
                "transport": "ended without close_notify",
                "meaning": "what was received may have been cut short"}
            unread = core.record.buffered + len(core.handshake_in)
            if unread:
                details["unread"] = f"{unread} bytes of an unfinished record or message"
            core.trace(CLOSE, RECEIVED, details)
        return core.take_events()

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer (possibly empty)."""
        out = self._core.out
        if not out:
            return b""
        data = b"".join(out)  # one bytes object is returned as it is, not copied
        out.clear()
        return data

    def buffers_to_send(self) -> list[bytes | bytearray]:
        """What ``data_to_send()`` would return, as the buffers it was sealed into
        (the records of a large ``send`` share one), for transports that write a
        list (``socket.sendmsg``, ``transport.writelines``) and so need not join
        them. Each buffer is new and the caller's own."""
        core = self._core
        buffers = core.out
        core.out = []  # the queue handed over whole, not copied
        return buffers

    def work_ahead(self) -> None:
        """Work out now what the peer's next flight will need, where that is known
        before it comes: a TLS 1.3 server makes the client's Finished it expects and
        the session tickets that answer it (RFC 8446 §4.6.1). For a transport to call
        once it has written a flight, while the peer works on it: the answer to the
        peer's next flight then goes sooner. Nothing is sent or received, and the
        bytes sent later are the same; in any other state it does nothing."""
        if self._error is None and not self._state.connected:
            self._operate(lambda: self._state.work_ahead(self._core))

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Queue application data (it must be after the handshake); any bytes-like
        object, split into records of at most 2^14 bytes."""
        core = self._core
        if self._state.plain_application_data and not (
                self._sent_close or core.tracing or self._error):
            # The bulk path; the checks below cover everything else.
            if data:
                core.key_update_pending = False
                record = core.record
                protection = record.write_protection
                if len(data) <= record.max_fragment and not record.padding_block:
                    # One record, sealed by the protection itself: RecordLayer.seal's
                    # common case without its checks for other content types.
                    core.out.append(
                        protection.seal(_APPLICATION_DATA, data, record.write_version, 0))
                else:
                    core.out += record.seal_records(_APPLICATION_DATA, data)
                if protection.sequence >= protection.limit:  # .exhausted, without a call
                    self._write_limit_reached()
            return
        self._check_usable()
        if not self.handshake_complete or not self._state.accepts_application_data:
            raise UsageError("send() before the handshake is complete")
        if self._sent_close:
            raise ConnectionClosedError("send() after close()")
        if not data:
            return
        core.key_update_pending = False
        core.out.append(core.record.seal(ContentType.application_data, data))
        if core.tracing:
            # One event per record, as the records go on the wire.
            limit = core.record.max_fragment
            for start in range(0, len(data), limit):
                core.trace(APPLICATION_DATA, SENT, {"bytes": min(limit, len(data) - start)})
        if core.record.write_protection.exhausted:
            self._write_limit_reached()

    def close(self) -> None:
        """Send close_notify. Received data can still be read in TLS 1.3."""
        if self._sent_close or self._error is not None:
            return
        self._sent_close = True
        core = self._core
        record = core.record
        if core.tracing or record.padding_block:
            core.out.append(record.seal(_ALERT, _CLOSE_NOTIFY))  # (recorded, or padded)
            if core.tracing:
                core.trace(CLOSE, SENT, {"alert": "close_notify"})
        else:
            # Two bytes: RecordLayer.seal's one record, sealed by the protection itself.
            core.out.append(record.write_protection.seal(_ALERT, _CLOSE_NOTIFY,
                                                         record.write_version, 0))

    def collect_application_data(self, sink: MutableSequence[bytes | memoryview]) -> None:
        """From now on, append the application data received to ``sink`` (a list or
        deque) instead of returning ``ApplicationData`` events: for transports that
        copy it onward (io/). A bulk transfer's records come as read-only memoryviews
        of bytes that nothing writes again, sparing the copy that slicing TLS 1.3's
        inner content type off each record would make. 0-RTT data is not told apart."""
        self._sink = sink

    def decrypt_into(self, buffer: memoryview) -> None:
        """Once ``collect_application_data`` is on: the application data that the
        next ``receive_data`` opens goes first straight into ``buffer`` (a writable
        byte view; for a transport's ``recv_into``), each TLS 1.3 record decrypted
        in place while its whole inner plaintext fits (its content type byte is
        written after the content, uncounted); the rest goes to the sink, in order.
        ``decrypted_into()`` then says how many bytes of ``buffer`` are data. A
        record that fails authentication leaves nothing of its plaintext there."""
        if self._sink is None:
            raise UsageError("decrypt_into() needs collect_application_data()")
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise UsageError("decrypt_into() needs a writable buffer")
        self._target, self._filled = view, 0

    def decrypted_into(self) -> int:
        """How many bytes of application data the buffer given to ``decrypt_into``
        received (valid even when ``receive_data`` raised); the buffer is let go."""
        filled = self._filled
        self._target, self._filled = None, 0
        return filled

    def take_unprocessed_data(self) -> bytes:
        """Bytes received after the peer's close_notify (or not yet parsed): what
        belongs to the protocol that continues in the clear after ``unwrap``."""
        return self._core.record.take_buffer()

    def key_update(self, request_peer_update: bool = True) -> None:
        """TLS 1.3: switch to new sending keys, and ask the peer to do the same."""
        self._operate(lambda: self._state.key_update(self._core, request_peer_update))

    def export_keying_material(self, label: str, context: bytes | None, length: int) -> bytes:
        """RFC 8446 §7.5 / RFC 5705 exporter."""
        negotiated = self._core.negotiated
        if negotiated is None:
            raise UsageError("export_keying_material() needs a completed handshake")
        return negotiated.exporter(label.encode(), context, length)

    # -- internals --------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._error is not None:
            raise ConnectionClosedError(f"the connection has failed: {self._error}")

    def _operate(self, operation: Callable[[], None]) -> None:
        """Run a state operation the application asked for, behind the same
        boundary as received bytes (a misuse is only a ``UsageError``)."""
        self._check_usable()
        core = self._core
        try:
            operation()
            core.flush_handshake()
        except UsageError:
            raise
        except TLSError as error:
            self._fail(error)
            raise
        except Exception as bug:
            raise self._internal_error(bug) from bug
        finally:
            if core.tracing:
                core.flush_trace()

    def _application_data(self, payload: bytes) -> None:
        state = self._state
        core = self._core
        if core.handshake_in:
            # RFC 8446 §5.1: nothing may come between fragments of a handshake message.
            raise UnexpectedMessage("application data inside a fragmented handshake message")
        if not state.accepts_application_data:
            # RFC 8446 §5.1: application data is never sent unprotected, nor before
            # the keys for it (an empty record included).
            raise UnexpectedMessage("application data before the handshake completed")
        if not payload:
            count_in_a_row(core.in_a_row, EMPTY_RECORDS)
            return
        core.in_a_row.clear()
        early = state.early_data
        if early:
            state.account_early_data(len(payload))
        if self._sink is not None:
            self._sink.append(payload)
            self._target = None  # what follows must not overtake it
        else:
            core.events.append(ApplicationData(payload, early))
        if core.tracing:
            core.trace(APPLICATION_DATA, RECEIVED, {"bytes": len(payload), "early": early})

    def _change_cipher_spec(self, payload: bytes) -> None:
        if payload != b"\x01":
            raise UnexpectedMessage("malformed ChangeCipherSpec")
        core = self._core
        if core.handshake_in:
            raise UnexpectedMessage("ChangeCipherSpec inside a handshake message")
        state = self._state
        read_protection = core.record.read_protection
        if state.ignores_change_cipher_spec and (
                not read_protection.encrypted or read_protection.tls13):
            # RFC 8446 §5: dropped between the first ClientHello and the peer's
            # Finished, whatever keys are installed; RFC 8446 sets no number, and
            # BoringSSL counts each as an empty record (32 in a row at most).
            in_a_row = core.in_a_row
            if in_a_row:
                count_in_a_row(in_a_row, EMPTY_RECORDS)
            else:
                in_a_row[EMPTY_RECORDS] = 1  # the first in a row (TLS 1.3's one), in bound
            return
        self._state = state.handle_change_cipher_spec(core)
        if core.tracing:
            core.trace(CHANGE_CIPHER_SPEC, RECEIVED, {})

    def _alert(self, payload: bytes) -> None:
        core = self._core
        if core.handshake_in:
            # RFC 8446 §5.1: nothing may come between fragments of a handshake message.
            raise UnexpectedMessage("alert inside a fragmented handshake message")
        if len(payload) != 2:
            raise DecodeError("malformed alert record")
        level, value = payload[0], payload[1]
        description = _ALERT_DESCRIPTIONS.get(value)
        if description is None:
            raise DecodeError(f"unknown alert description {value}")
        if level not in (1, 2):
            raise IllegalParameter(f"alert level {level}")
        if core.tracing:
            core.trace(ALERT, RECEIVED, {"level": "fatal" if level == 2 else "warning",
                                         "description": description.name,
                                         "meaning": description.meaning})
        if description == AlertDescription.close_notify:
            self._peer_closed = True
            core.events.append(ConnectionClosed())
            if core.tracing:
                core.trace(CLOSE, RECEIVED, {"alert": "close_notify"})
            return
        # Before the version is known, a peer we might speak TLS 1.2 with may send
        # warnings (OpenSSL's unrecognized_name after a ClientHello, say).
        tls13 = core.version == TLS13 or (
            core.version is None and TLS12 not in core.config.versions)
        if description == AlertDescription.user_canceled or (level == 1 and not tls13):
            # RFC 8446 §6.1: user_canceled is followed by close_notify; TLS 1.2
            # warnings are informational. Neither comes in floods (CVE-2016-8610).
            count_in_a_row(core.in_a_row, WARNING_ALERTS)
            core.events.append(AlertReceived(description, fatal=False))
            return
        # RFC 8446 §6: in TLS 1.3 every other alert is fatal, whatever its level.
        core.events.append(AlertReceived(description, fatal=True))
        self._error = AlertReceivedError(description)
        self._state = Closed()
        self._peer_closed = True

    def _handshake_data(self, payload: bytes) -> None:
        core = self._core
        in_a_row = core.in_a_row
        if in_a_row:
            if in_a_row.keys() <= _RESET_BY_HANDSHAKE:
                # Most often a TLS 1.3 client's compatibility change_cipher_spec, just
                # counted (as an empty record).
                in_a_row.clear()
            else:
                for kind in RESET_BY_HANDSHAKE:
                    in_a_row.pop(kind, None)
        buffer = core.handshake_in
        if not buffer and len(payload) >= 4:
            (header,) = _unpack_message_header(payload, 0)
            length = header & 0xFFFFFF
            if length + 4 == len(payload):
                # The usual record of a handshake's reader (a ClientHello, a Finished):
                # one whole message and nothing else, handled as it is, with the
                # loop's checks of its header; the loop below takes any other.
                parser = self._state.expects.get(header >> 24)
                if parser is None or length > MAX_MESSAGE.get(header >> 24,
                                                              MAX_HANDSHAKE_MESSAGE):
                    parser = _expected(self._state, core, header >> 24, length)
                core.handshake_fragments = 1
                self._handshake_message(payload, parser)
                return
        # Does the first message in this record begin in it?
        begins_here = not buffer
        if buffer:
            _count_fragment(core, buffer)
            buffer += payload
            data: bytes | bytearray = buffer
        else:
            data = payload  # the usual case: whole messages, read in place
        position, size = 0, len(data)
        try:
            while size - position >= 4:
                (header,) = _unpack_message_header(data, position)
                length = header & 0xFFFFFF
                # _expected's usual answer without the call: a parser for a message
                # within its bound; _expected refuses any other (or ignores it).
                parser = self._state.expects.get(header >> 24)
                if parser is None or length > MAX_MESSAGE.get(header >> 24,
                                                              MAX_HANDSHAKE_MESSAGE):
                    parser = _expected(self._state, core, header >> 24, length)
                end = position + 4 + length
                if size < end:
                    break
                raw = bytes(data[position:end])
                position = end
                if data is buffer:
                    del buffer[:position]
                    position, size = 0, len(buffer)
                # What follows this message in the record, for the key-change check.
                core.handshake_rest = size - position
                self._handshake_message(raw, parser)
                if self._error is not None:
                    return
                begins_here = True
        finally:
            core.handshake_rest = 0
            if data is not buffer and position < size:
                buffer += data[position:]  # a fragment waits for the next record
            if begins_here:
                core.handshake_fragments = 1

    def _handshake_message(self, raw: bytes, parser: Parser | None) -> None:
        """Handle one whole message, with the parser its header was checked for."""
        state = self._state
        core = self._core
        msg_type = raw[0]
        if parser is None:
            if raw != b"\x00" * 4:
                _unexpected(state, msg_type)
            # A HelloRequest ignored (_may_ignore), and not hashed; but not without bound.
            count_in_a_row(core.in_a_row, RENEGOTIATION_REQUESTS)
            return
        message = parser(raw)
        if not state.connected:
            core.transcript.add(raw)
            if msg_type == HandshakeType.client_hello and not core.offered_cipher_suites:
                core.client_hello = message
                core.offered_cipher_suites = message.cipher_suites
        else:
            counted = _POST_HANDSHAKE_COUNTED.get(msg_type)
            if counted is not None:
                count_in_a_row(core.in_a_row, counted)
        if core.tracing:
            core.trace_message(message, RECEIVED)
            self._state = state.handle(core, message)
            core.flush_trace()
        else:
            self._state = state.handle(core, message)

    def _write_limit_reached(self) -> None:
        if self._core.version == TLS13:
            # RFC 8446 §5.5: rekey before the AEAD's safety margin is used up.
            self._operate(lambda: self._state.key_update(self._core, False))
        else:
            error = InternalError("TLS 1.2 record limit reached; reconnect")
            self._fail(error)
            raise error

    def _internal_error(self, bug: Exception) -> InternalError:
        """A bug surfaced (an exception no check raised on purpose): the connection
        fails closed, as after any fatal error."""
        error = InternalError(f"internal error: {type(bug).__name__}: {bug}")
        error.__cause__ = bug
        self._fail(error)
        return error

    def _fail(self, error: TLSError) -> None:
        if self._error is None:
            self._error = error
        if isinstance(error, AlertReceivedError):
            return
        self._state = Closed()
        core = self._core
        with contextlib.suppress(TLSError):
            # What was built (and traced as sent) goes out before the alert, as
            # OpenSSL sends its flight first (docs/engine.md, "Failures").
            core.flush_handshake()
        core.handshake_out.clear()
        with contextlib.suppress(TLSError):
            core.out.append(core.record.seal(ContentType.alert, bytes([2, error.alert])))
        if core.tracing:
            core.trace(ALERT, SENT, {"level": "fatal", "description": error.alert.name,
                                     "meaning": error.alert.meaning, "reason": str(error)})


class ClientConnection(_Connection):
    """A TLS client. The ClientHello is ready in ``data_to_send()`` at once.

    >>> client = ClientConnection(ClientConfig(), server_name="example.com")
    >>> hello = client.data_to_send()
    """

    __slots__ = ()

    def __init__(self, config: ClientConfig, server_name: str | None = None,
                 session: ClientSession | None = None) -> None:
        if not isinstance(config, ClientConfig):
            raise UsageError("ClientConnection needs a ClientConfig")
        if session is not None and not isinstance(session, ClientSession):
            raise TypeError("session must be a ClientSession from an earlier connection")
        super().__init__(config, "client")
        core = self._core
        # RFC 8446 §5.1: the first ClientHello's record says TLS 1.0 for old middleboxes.
        core.record.write_version = b"\x03\x01"
        self._operate(lambda: self._start(config, server_name, session))

    def _start(self, config: ClientConfig, server_name: str | None,
               session: ClientSession | None) -> None:
        self._state = start_client(self._core, config, server_name, session)

    @property
    def config(self) -> ClientConfig:
        config = self._core.config
        assert isinstance(config, ClientConfig)
        return config

    @property
    def session(self) -> ClientSession | None:
        """The session to resume with next time (``ClientConnection(session=...)``),
        once the server has sent a ticket or a TLS 1.2 session id."""
        return self._core.session

    def send_early_data(self, data: bytes) -> int:
        """Queue 0-RTT data with the first flight; returns how many bytes were taken.

        Only possible when resuming a ticket that allows early data, with
        ``enable_early_data`` on, before the server's reply arrives. Early data can
        be replayed by an attacker (RFC 8446 §8): send only idempotent requests.
        Whether the server took it is in ``HandshakeComplete.early_data_accepted``.
        """
        self._check_usable()
        core = self._core
        if core.early_data_allowance <= 0:
            raise UsageError("early data is not possible now (no 0-RTT ticket, or too late)")
        taken = data[: core.early_data_allowance]
        core.early_data_allowance -= len(taken)
        core.out.append(core.record.seal(ContentType.application_data, taken))
        if core.tracing:
            core.trace(APPLICATION_DATA, SENT, {"bytes": len(taken), "early": True})
        return len(taken)


class ServerConnection(_Connection):
    """A TLS server: feed it the client's bytes.

    >>> server = ServerConnection(ServerConfig(certificates=(certified_key,)))
    """

    __slots__ = ()

    def __init__(self, config: ServerConfig) -> None:
        if not isinstance(config, ServerConfig):
            raise UsageError("ServerConnection needs a ServerConfig")
        super().__init__(config, "server")
        self._state = ExpectClientHello(config)

    @property
    def config(self) -> ServerConfig:
        config = self._core.config
        assert isinstance(config, ServerConfig)
        return config

    @property
    def client_hello(self) -> ClientHello | None:
        """The ClientHello as received; once answered (after the handshake, or
        TLS 1.3's whole flight) only with ``ServerConfig.keep_client_hello``."""
        return self._core.client_hello

    @property
    def offered_cipher_suites(self) -> tuple[int, ...]:
        """The cipher suites the client offered (for ``ssl``'s ``shared_ciphers()``)."""
        return self._core.offered_cipher_suites

    def request_client_certificate(self) -> None:
        """TLS 1.3 post-handshake authentication (RFC 8446 §4.6.2): ask the client
        for a certificate now. The answer arrives as a ``PeerCertificateVerified``
        event (or a failure per ``client_auth``)."""
        self._operate(lambda: self._state.request_client_certificate(self._core))


__all__ = ["ClientConnection", "ServerConnection"]
