"""The sans-I/O engine's front door: ``ClientConnection`` and ``ServerConnection``.

Bytes in with ``receive_data``, events out; bytes out with ``data_to_send``.
Nothing here touches a socket, a thread or the clock (time and randomness come
from the config). Every failure passes one boundary (``_fail``): the alert is
queued, the connection is closed for good, and a ``TLSError`` is raised.

    client = ClientConnection(config, server_name="example.com")
    sock.sendall(client.data_to_send())
    while not client.handshake_complete:
        for event in client.receive_data(sock.recv(65536)):
            ...
        sock.sendall(client.data_to_send())
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from .config import ClientConfig, ServerConfig
from .constants import TLS12, TLS13, ContentType, HandshakeType
from .crypto.suites import Suite
from .errors import (
    AlertDescription,
    AlertReceivedError,
    ConnectionClosedError,
    DecodeError,
    GlassTLSError,
    PeerMisbehaved,
    TLSError,
    UsageError,
)
from .events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    Event,
    HandshakeComplete,
)
from .handshake.common import Closed, State
from .handshake.transcript import Transcript
from .keyschedule import DeferredSecret, exporter
from .messages.handshake import Message, serialize
from .record import Protection, RecordLayer, Tls13Protection
from .recorder import ConnectionRecorder, RecordingRecordLayer
from .session import ClientSession
from .trace import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    CLOSE,
    RECEIVED,
    SENT,
    TraceEvent,
)

# A handshake message may not exceed this (certificate chains are the big ones).
MAX_HANDSHAKE_MESSAGE = 2**18
_connection_ids = itertools.count(1)
# Bytes kept after the peer's close_notify for whoever takes over the socket.
MAX_AFTER_CLOSE = 2**20


class _Connection:
    side = "?"
    # A server holds thousands of these: no per-instance dictionary.
    __slots__ = (
        "__weakref__", "_config", "_error", "_events", "_handshake_in", "_handshake_out",
        "_handshake_rest", "_out", "_peer_closed", "_sent_close", "_state", "_trace_enabled",
        "client_random", "connection_id", "exporter_secret", "negotiated", "record", "recorder",
        "resumed", "session", "suite", "tls12_exporter", "tracing", "transcript", "version",
    )

    def __init__(self, config: ClientConfig | ServerConfig) -> None:
        self._config = config
        # Tells apart the trace events of connections that share a config.
        self.connection_id = next(_connection_ids)
        self.recorder: ConnectionRecorder | None = None
        if config.recorder is None:
            self.record = RecordLayer()
        else:
            self.recorder = config.recorder(self.side, self.connection_id)
            self.record = RecordingRecordLayer(self.recorder)
        if config.record_padding_block:
            self.record.padding_block = config.record_padding_block
        self.transcript = Transcript()
        self._state: State = Closed()
        self._events: list[Event] = []
        # Records to send, joined by data_to_send (one record needs no copy).
        self._out: list[bytes] = []
        self._handshake_out = bytearray()
        self._handshake_in = bytearray()
        self._handshake_rest = 0
        self._error: GlassTLSError | None = None
        self._sent_close = False
        self._peer_closed = False
        self.version: int | None = None
        self.negotiated: HandshakeComplete | None = None
        # Filled in by the handshake for post-handshake work (key updates, exporters).
        self.suite: Suite | None = None
        self.exporter_secret: DeferredSecret | None = None
        self.tls12_exporter: Any = None
        self.client_random = b""
        # The session to resume with next time (client side), once there is one.
        self.session: ClientSession | None = None
        self.resumed = False
        self._trace_enabled = config.trace is not None
        # A recorder gets the key schedule's inputs with the trace's secrets.
        self.tracing = self._trace_enabled or self.recorder is not None

    # -- public API -------------------------------------------------------------

    @property
    def config(self) -> ClientConfig | ServerConfig:
        return self._config

    @property
    def handshake_complete(self) -> bool:
        return self.negotiated is not None

    @property
    def closed(self) -> bool:
        return self._error is not None or (self._sent_close and self._peer_closed)

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; returns the events they produced, in order.

        Raises ``TLSError`` (after queuing the alert to send) when the peer
        misbehaves; the error carries the events decoded before it in ``events``.
        """
        if self._error is not None:
            raise self._error
        if data:
            if self._peer_closed and self.record.buffered + len(data) > MAX_AFTER_CLOSE:
                # Kept for unwrap(), but not without bound.
                raise PeerMisbehaved("too much data after close_notify",
                                     AlertDescription.unexpected_message)
            self.record.feed(data)
        next_record = self.record.next_record
        events = self._events
        try:
            while not self._peer_closed:
                record = next_record()
                if record is None:
                    break
                content_type, payload = record
                if (content_type == 23 and self._state.plain_application_data
                        and not self._handshake_in and not self._trace_enabled):
                    # The bulk path: application data in an established connection.
                    if payload:
                        events.append(ApplicationData(payload))
                    continue
                self._process_record(content_type, payload)
            if self._handshake_out:
                self._flush_handshake()
        except TLSError as error:
            self._fail(error)
            error.events = self._take_events()
            raise
        return self._take_events()

    def data_to_send(self) -> bytes:
        """Bytes to write to the peer (possibly empty)."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Queue application data (it must be after the handshake); any bytes-like
        object, split into records of at most 2^14 bytes."""
        if self._state.plain_application_data and not (
                self._sent_close or self._trace_enabled or self._error):
            # The bulk path; the checks below cover everything else.
            if data:
                if len(data) <= self.record.max_fragment:
                    self._out.append(self.record.seal(ContentType.application_data, data))
                else:
                    self._out += self.record.seal_records(ContentType.application_data, data)
                if self.record.write_protection.exhausted:
                    self._write_limit_reached()
            return
        self._check_usable()
        if not self.handshake_complete or not self._state.accepts_application_data:
            raise UsageError("send() before the handshake is complete")
        if self._sent_close:
            raise ConnectionClosedError("send() after close()")
        if not data:
            return
        self._out.append(self.record.seal(ContentType.application_data, data))
        if self._trace_enabled:
            # One event per record, as the records go on the wire.
            limit = self.record.max_fragment
            for start in range(0, len(data), limit):
                self.trace(APPLICATION_DATA, SENT, {"bytes": min(limit, len(data) - start)})
        if self.record.write_protection.exhausted:
            self._write_limit_reached()

    def close(self) -> None:
        """Send close_notify. Received data can still be read in TLS 1.3."""
        if self._sent_close or self._error is not None:
            return
        self._sent_close = True
        close_notify = bytes([1, AlertDescription.close_notify])
        self._out.append(self.record.seal(ContentType.alert, close_notify))
        if self._trace_enabled:
            self.trace(CLOSE, SENT, {"alert": "close_notify"})

    def take_unprocessed_data(self) -> bytes:
        """Bytes received after the peer's close_notify (or not yet parsed): what
        belongs to the protocol that continues in the clear after ``unwrap``."""
        return self.record.take_buffer()

    def key_update(self, request_peer_update: bool = True) -> None:
        """TLS 1.3: switch to new sending keys, and ask the peer to do the same."""
        self._check_usable()
        if self.version != TLS13 or not self.handshake_complete:
            raise UsageError("key_update() needs an established TLS 1.3 connection")
        self._state.send_key_update(self, request_peer_update)  # type: ignore[attr-defined]
        self._flush_handshake()

    def export_keying_material(self, label: str, context: bytes | None, length: int) -> bytes:
        """RFC 8446 §7.5 / RFC 5705 exporter."""
        if not self.handshake_complete or self.suite is None:
            raise UsageError("export_keying_material() needs a completed handshake")
        if self.version == TLS13:
            assert self.exporter_secret is not None
            return exporter(self.suite, self.exporter_secret.value, label.encode(),
                            context or b"", length)
        exporter12 = self.tls12_exporter
        return bytes(exporter12(label.encode(), context, length))

    # -- what handshake states use ----------------------------------------------

    def send_handshake(self, message: Message) -> bytes:
        raw = message.raw if message.raw else serialize(message)
        self.transcript.add(raw)
        self._handshake_out += raw
        return raw

    def send_raw_handshake(self, raw: bytes) -> None:
        """A handshake message already serialised (the server's Certificate)."""
        self.transcript.add(raw)
        self._handshake_out += raw

    def send_post_handshake(self, message: Message) -> bytes:
        """A post-handshake message: not part of any transcript."""
        raw = message.raw if message.raw else serialize(message)
        self._handshake_out += raw
        return raw

    def send_alert(self, description: AlertDescription, fatal: bool) -> None:
        self._flush_handshake()
        alert = bytes([2 if fatal else 1, description])
        self._out.append(self.record.seal(ContentType.alert, alert))

    def send_change_cipher_spec(self) -> None:
        self._flush_handshake()
        self._out.append(self.record.seal(ContentType.change_cipher_spec, b"\x01"))
        if self._trace_enabled:
            self.trace(CHANGE_CIPHER_SPEC, SENT, {})

    def install_read(self, protection: Protection) -> None:
        # RFC 8446 §5.1: handshake messages must not span a key change.
        if self._handshake_in or self._handshake_rest:
            raise PeerMisbehaved("handshake message spans a key change",
                                 AlertDescription.unexpected_message)
        self.record.read_protection = protection

    def install_write(self, protection: Protection) -> None:
        self._flush_handshake()
        limit = self._config.key_update_after_records
        if limit is not None and isinstance(protection, Tls13Protection):
            # Sooner than the AEAD's limit (RFC 8446 §5.5) if asked, never later.
            protection.limit = min(limit, protection.limit)
        self.record.write_protection = protection

    def emit(self, event: Event) -> None:
        self._events.append(event)

    def trace(self, step: str, action: str, details: dict[str, Any],
              secrets: dict[str, bytes] | None = None) -> None:
        if secrets and self.recorder is not None:
            for name, value in secrets.items():
                self.recorder.secret(name, value)
        callback = self._config.trace
        if callback is None:
            return
        shown = ({name: value.hex() for name, value in secrets.items()}
                 if secrets and self._config.trace_secrets else {})
        callback(TraceEvent(step, self.side, action, self._config.monotonic(), details, shown,
                            self.connection_id))

    def keylog(self, label: str, client_random: bytes, secret: bytes) -> None:
        if self.recorder is not None:
            self.recorder.secret(label, secret)
        callback = self._config.keylog
        if callback is not None:
            callback(f"{label} {client_random.hex()} {secret.hex()}")

    def new_session(self, session: ClientSession,
                    cache_key: tuple[str, tuple[str, ...]] | None) -> None:
        self.session = session
        cache = getattr(self._config, "session_cache", None)
        if cache_key is not None and cache is not None and hasattr(cache, "take"):
            cache.store(cache_key, session)

    def set_version(self, version: int) -> None:
        self.version = version
        self.record.tls13 = version == TLS13
        self.record.write_version = b"\x03\x03"

    def handshake_done(self, state: State) -> None:
        self.record.handshaking = False
        self.transcript.release()

    def complete(self, event: HandshakeComplete) -> None:
        self.negotiated = event
        self.resumed = event.resumed
        self.emit(event)

    # -- internals --------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._error is not None:
            raise ConnectionClosedError(f"the connection has failed: {self._error}")

    def _take_events(self) -> list[Event]:
        events = self._events
        self._events = []
        return events

    def _flush_handshake(self) -> None:
        if self._handshake_out:
            data = bytes(self._handshake_out)
            self._handshake_out.clear()
            self._out.append(self.record.seal(ContentType.handshake, data))
            # RFC 8446 §5.1: 0x0301 is for the initial ClientHello's records only.
            self.record.write_version = b"\x03\x03"

    def _process_record(self, content_type: int, payload: bytes) -> None:
        if content_type == ContentType.application_data:
            self._application_data(payload)
        elif content_type == ContentType.handshake:
            self._handshake_data(payload)
        elif content_type == ContentType.alert:
            self._alert(payload)
        else:
            self._change_cipher_spec(payload)

    def _application_data(self, payload: bytes) -> None:
        state = self._state
        if not state.accepts_application_data or self._handshake_in:
            skip = self.record.early_data_skip
            if skip >= len(payload) and not self.record.read_protection.encrypted:
                # 0-RTT records after a HelloRetryRequest: skipped (RFC 8446 §4.2.10).
                self.record.early_data_skip = skip - len(payload)
                return
            raise PeerMisbehaved("application data before the handshake completed",
                                 AlertDescription.unexpected_message)
        if payload:
            early = getattr(state, "early_data", False)
            if early:
                state.account_early_data(len(payload))  # type: ignore[attr-defined]
            self._events.append(ApplicationData(payload, early))
            if self._trace_enabled:
                self.trace(APPLICATION_DATA, RECEIVED, {"bytes": len(payload), "early": early})

    def _change_cipher_spec(self, payload: bytes) -> None:
        if payload != b"\x01":
            raise PeerMisbehaved("malformed ChangeCipherSpec", AlertDescription.unexpected_message)
        if self._handshake_in:
            raise PeerMisbehaved("ChangeCipherSpec inside a handshake message",
                                 AlertDescription.unexpected_message)
        state = self._state
        if state.ignores_change_cipher_spec and not self.record.read_protection.encrypted:
            return
        if state.ignores_change_cipher_spec and self.record.read_protection.tls13:
            # RFC 8446 §5: ignored until the peer's Finished, encrypted or not.
            return
        self._state = state.handle_change_cipher_spec(self)
        if self._trace_enabled:
            self.trace(CHANGE_CIPHER_SPEC, RECEIVED, {})

    def _alert(self, payload: bytes) -> None:
        if self._handshake_in:
            # RFC 8446 §5.1: nothing may come between fragments of a handshake message.
            raise PeerMisbehaved("alert inside a fragmented handshake message",
                                 AlertDescription.unexpected_message)
        if len(payload) != 2:
            raise DecodeError("malformed alert record")
        level, value = payload[0], payload[1]
        try:
            description = AlertDescription(value)
        except ValueError:
            raise DecodeError(f"unknown alert description {value}") from None
        if level not in (1, 2):
            raise PeerMisbehaved(f"alert level {level}", AlertDescription.illegal_parameter)
        if self._trace_enabled:
            self.trace(ALERT, RECEIVED, {"level": "fatal" if level == 2 else "warning",
                                         "description": description.name,
                                         "meaning": description.meaning})
        if description == AlertDescription.close_notify:
            self._peer_closed = True
            self._events.append(ConnectionClosed())
            if self._trace_enabled:
                self.trace(CLOSE, RECEIVED, {"alert": "close_notify"})
            return
        # Before the version is known, a peer we might speak TLS 1.2 with may send
        # warnings (OpenSSL's unrecognized_name after a ClientHello, say).
        tls13 = self.version == TLS13 or (
            self.version is None and TLS12 not in self._config.versions)
        if description == AlertDescription.user_canceled or (level == 1 and not tls13):
            # RFC 8446 §6.1: user_canceled is followed by close_notify; TLS 1.2
            # warnings are informational.
            self._events.append(AlertReceived(description, fatal=False))
            return
        # RFC 8446 §6: in TLS 1.3 every other alert is fatal, whatever its level.
        self._events.append(AlertReceived(description, fatal=True))
        self._error = AlertReceivedError(description)
        self._state = Closed()
        self._peer_closed = True

    def _handshake_data(self, payload: bytes) -> None:
        buffer = self._handshake_in
        if buffer:
            buffer += payload
            data: bytes | bytearray = buffer
        else:
            data = payload  # the usual case: whole messages, read in place
        position, size = 0, len(data)
        try:
            while size - position >= 4:
                length = (data[position + 1] << 16) | (data[position + 2] << 8) | (
                    data[position + 3])
                if length > MAX_HANDSHAKE_MESSAGE:
                    raise DecodeError(f"handshake message of {length} bytes is too large")
                end = position + 4 + length
                if size < end:
                    break
                raw = bytes(data[position:end])
                position = end
                if data is buffer:
                    del buffer[:position]
                    position, size = 0, len(buffer)
                # What follows this message in the record, for the key-change check.
                self._handshake_rest = size - position
                self._handshake_message(raw)
                if self._error is not None:
                    return
        finally:
            self._handshake_rest = 0
            if data is not buffer and position < size:
                buffer += data[position:]  # a fragment waits for the next record

    def _handshake_message(self, raw: bytes) -> None:
        state = self._state
        msg_type = raw[0]
        if (msg_type == HandshakeType.hello_request and self.side == "client"
                and self.version != TLS13 and not state.connected and raw == b"\x00" * 4):
            # RFC 5246 §7.4.1.1: ignored while negotiating, and not hashed.
            return
        parser = state.expects.get(msg_type)
        if parser is None:
            try:
                name = HandshakeType(msg_type).name
            except ValueError:
                name = f"unknown handshake type {msg_type}"
            raise PeerMisbehaved(f"received {name} while {state.describe()}",
                                 AlertDescription.unexpected_message)
        message = parser(raw)
        if not state.connected:
            self.transcript.add(raw)
        self._state = state.handle(self, message)

    def _write_limit_reached(self) -> None:
        if self.version == TLS13:
            # RFC 8446 §5.5: rekey before the AEAD's safety margin is used up.
            self._state.send_key_update(self, False)  # type: ignore[attr-defined]
            self._flush_handshake()
        else:
            raise TLSError("TLS 1.2 record limit reached; reconnect",
                           AlertDescription.internal_error)

    def _fail(self, error: TLSError) -> None:
        if self._error is None:
            self._error = error
        if isinstance(error, AlertReceivedError):
            return
        self._state = Closed()
        self._handshake_out.clear()
        with contextlib.suppress(TLSError):
            self._out.append(self.record.seal(ContentType.alert, bytes([2, error.alert])))
        if self._trace_enabled:
            self.trace(ALERT, SENT, {"level": "fatal", "description": error.alert.name,
                                     "meaning": error.alert.meaning, "reason": str(error)})

    def _start_failed(self, error: TLSError) -> None:
        self._fail(error)
        raise error


class ClientConnection(_Connection):
    """A TLS client. The ClientHello is ready in ``data_to_send()`` at once.

    >>> client = ClientConnection(ClientConfig(), server_name="example.com")
    >>> hello = client.data_to_send()
    """

    side = "client"
    __slots__ = ("early_data_allowance", "server_name")

    def __init__(self, config: ClientConfig, server_name: str | None = None,
                 session: Any = None) -> None:
        if not isinstance(config, ClientConfig):
            raise UsageError("ClientConnection needs a ClientConfig")
        super().__init__(config)
        self.server_name = server_name
        # Bytes of 0-RTT data that may still be sent (set when early data is offered).
        self.early_data_allowance = 0
        # RFC 8446 §5.1: the first ClientHello's record says TLS 1.0 for old middleboxes.
        self.record.write_version = b"\x03\x01"
        from .handshake.client13 import start_client

        if session is not None and not isinstance(session, ClientSession):
            raise TypeError("session must be a ClientSession from an earlier connection")
        try:
            self._state = start_client(self, server_name, session)
            self._flush_handshake()
        except TLSError as error:
            self._start_failed(error)

    def send_early_data(self, data: bytes) -> int:
        """Queue 0-RTT data with the first flight; returns how many bytes were taken.

        Only possible when resuming a ticket that allows early data, with
        ``enable_early_data`` on, before the server's reply arrives. Early data can
        be replayed by an attacker (RFC 8446 §8): send only idempotent requests.
        Whether the server took it is in ``HandshakeComplete.early_data_accepted``.
        """
        self._check_usable()
        if self.early_data_allowance <= 0:
            raise UsageError("early data is not possible now (no 0-RTT ticket, or too late)")
        taken = data[: self.early_data_allowance]
        self.early_data_allowance -= len(taken)
        self._out.append(self.record.seal(ContentType.application_data, taken))
        if self._trace_enabled:
            self.trace(APPLICATION_DATA, SENT, {"bytes": len(taken), "early": True})
        return len(taken)

    @property
    def client_config(self) -> ClientConfig:
        assert isinstance(self._config, ClientConfig)
        return self._config


class ServerConnection(_Connection):
    """A TLS server: feed it the client's bytes.

    >>> server = ServerConnection(ServerConfig(certificates=(certified_key,)))
    """

    side = "server"
    __slots__ = ("client_hello", "offered_cipher_suites")

    def __init__(self, config: ServerConfig) -> None:
        if not isinstance(config, ServerConfig):
            raise UsageError("ServerConnection needs a ServerConfig")
        super().__init__(config)
        from .handshake.server13 import ExpectClientHello

        # The ClientHello as received; kept after the handshake only with
        # ServerConfig.keep_client_hello.
        self.client_hello: Any = None
        # What the client offered, kept for ssl's shared_ciphers().
        self.offered_cipher_suites: tuple[int, ...] = ()
        self._state = ExpectClientHello()

    def request_client_certificate(self) -> None:
        """TLS 1.3 post-handshake authentication (RFC 8446 §4.6.2): ask the client
        for a certificate now. The answer arrives as a ``PeerCertificateVerified``
        event (or a failure per ``client_auth``)."""
        self._check_usable()
        if self.version != TLS13 or not self.handshake_complete:
            raise UsageError("request_client_certificate() needs an established TLS 1.3 "
                             "connection")
        self._state.request_certificate(self)  # type: ignore[attr-defined]
        self._flush_handshake()

    def handshake_done(self, state: State) -> None:
        super().handshake_done(state)
        if not self.server_config.keep_client_hello:
            self.client_hello = None

    @property
    def server_config(self) -> ServerConfig:
        assert isinstance(self._config, ServerConfig)
        return self._config


__all__ = ["ClientConnection", "ServerConnection"]
