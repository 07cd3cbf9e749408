"""The engine behind one connection: its record layer, transcript and outgoing
queues, and the ``Engine`` interface (handshake/engine.py) its handshake states use.

``connection.py`` owns a ``ConnectionCore`` and drives it with received records;
the states see it only as an ``Engine``. Everything a state does to its connection
goes through here: messages queued (and traced, once, as they are sent), keys
installed, record limits set, events emitted, the handshake finished. See
docs/engine.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from .config import ClientConfig, ServerConfig
from .constants import TLS12, TLS13, ContentType, HandshakeType
from .errors import AlertDescription, UnexpectedMessage
from .events import Event
from .handshake.engine import DescribedKeys, Details, Negotiated
from .handshake.transcript import FINISHED, Transcript
from .messages.handshake import ClientHello, Message, serialize
from .record import Protection, RecordLayer, Tls13Protection
from .recorder import ConnectionRecorder, RecordingRecordLayer
from .session import ClientSession
from .trace import ALERT, CHANGE_CIPHER_SPEC, ESTABLISHED, KEY_DERIVATION, LOCAL, SENT, TraceEvent

_connection_ids = itertools.count(1)
_HANDSHAKE = int(ContentType.handshake)
# A change_cipher_spec record around its version: its type, then length 1 and the byte 1.
_CHANGE_CIPHER_SPEC_TYPE = bytes([ContentType.change_cipher_spec])
_CHANGE_CIPHER_SPEC_BODY = b"\x00\x01\x01"


def _evaluated(details: Mapping[str, Any]) -> dict[str, Any]:
    """Trace values, calling those given as functions (costly to describe)."""
    return {name: value() if callable(value) else value for name, value in details.items()}


def _record_secrets(recorder: ConnectionRecorder, secrets: Mapping[str, bytes]) -> None:
    for name, value in secrets.items():
        recorder.secret(name, value)


class ConnectionCore:
    """A connection's engine: its record layer, transcript and queues, and the
    ``Engine`` interface its handshake states use (nothing else reaches them)."""

    # A server holds thousands of these: no per-instance dictionary.
    __slots__ = (
        "_pending_trace",
        "client_hello",
        "config",
        "connection_id",
        "early_data_allowance",
        "events",
        "handshake_fragments",
        "handshake_in",
        "handshake_out",
        "handshake_rest",
        "in_a_row",
        "key_update_pending",
        "negotiated",
        "offered_cipher_suites",
        "out",
        "record",
        "recorder",
        "session",
        "side",
        "tracing",
        "transcript",
        "version",
    )

    def __init__(self, config: ClientConfig | ServerConfig, side: str) -> None:
        self.config = config
        self.side = side
        # Tells apart the trace events of connections that share a config.
        self.connection_id = next(_connection_ids)
        # glasstls explain: every record both ways and every secret, when asked.
        self.recorder: ConnectionRecorder | None = None
        if config.recorder is None:
            self.record = RecordLayer()
        else:
            self.recorder = config.recorder(side, self.connection_id)
            self.record = RecordingRecordLayer(self.recorder)
        if config.record_padding_block:
            self.record.padding_block = config.record_padding_block
        self.transcript = Transcript()
        # Sealed records to send, in order: one record each, or all of a large send's
        # in one buffer; joined by data_to_send (one record needs no copy).
        self.out: list[bytes | bytearray] = []
        self.handshake_out = bytearray()
        self.handshake_in = bytearray()
        # What follows the handshake message being handled in its record.
        self.handshake_rest = 0
        # How many records the message being reassembled in handshake_in has spanned.
        self.handshake_fragments = 0
        # What the peer sent in a row without progress, by kind (limits.py).
        self.in_a_row: dict[str, int] = {}
        # A KeyUpdate of ours with no application data after it yet: it answers any
        # request for one received meanwhile (RFC 8446 §4.6.3).
        self.key_update_pending = False
        self.events: list[Event] = []
        self.version: int | None = None
        self.negotiated: Negotiated | None = None
        # Client: the session to resume with next time, once there is one.
        self.session: ClientSession | None = None
        # Client: bytes of 0-RTT data that may still be sent.
        self.early_data_allowance = 0
        # Server: the first ClientHello as received (kept after the handshake, or
        # TLS 1.3's flight, only with ServerConfig.keep_client_hello), and what it
        # offered.
        self.client_hello: ClientHello | None = None
        self.offered_cipher_suites: tuple[int, ...] = ()
        # The one tracing flag: is there a trace callback, or a recorder (which gets
        # the key schedule's inputs with the trace's secrets)?
        self.tracing = config.trace is not None or self.recorder is not None
        # The trace of the message being handled, open to notes until the next event.
        self._pending_trace: TraceEvent | None = None

    # -- the Engine interface (handshake/engine.py) --------------------------------

    def send(self, message: Message) -> bytes:
        raw = message.raw or serialize(message)
        self.transcript.add_sent(raw)
        self.handshake_out += raw
        if self.tracing:
            self.trace_message(message, SENT)
        return raw

    def send_encoded(self, raw: bytes, parse: Callable[[bytes], Message]) -> None:
        # A message this side sent: the hash before it is asked for only after a
        # ServerHello (the transcript keeps no copy of the state otherwise).
        self.transcript.add_sent(raw)
        self.handshake_out += raw
        if self.tracing:
            self.trace_message(parse(raw), SENT)

    def send_post_handshake(self, message: Message) -> bytes:
        raw = message.raw or serialize(message)
        self.handshake_out += raw
        if raw[0] == HandshakeType.key_update:
            self.key_update_pending = True
        if self.tracing:
            self.trace_message(message, SENT)
        return raw

    def send_post_handshake_encoded(self, raw: bytes, parse: Callable[[bytes], Message]
                                    ) -> None:
        if raw[0] == HandshakeType.key_update:
            self.key_update_pending = True
        self.handshake_out += raw
        if self.tracing:
            self.trace_message(parse(raw), SENT)

    def send_change_cipher_spec(self) -> None:
        self.flush_handshake()
        record = self.record
        protection = record.write_protection
        if self.tracing or (protection.encrypted and not protection.tls13):
            self.out.append(record.seal(ContentType.change_cipher_spec, b"\x01"))
            if self.tracing:
                self.trace(CHANGE_CIPHER_SPEC, SENT, {})
        else:
            # Unprotected (TLS 1.3's always, RFC 8446 §5; TLS 1.2's before its keys):
            # the record RecordLayer.seal makes, without its two calls.
            self.out.append(_CHANGE_CIPHER_SPEC_TYPE + record.write_version
                            + _CHANGE_CIPHER_SPEC_BODY)

    def send_warning(self, description: AlertDescription) -> None:
        self.flush_handshake()
        self.out.append(self.record.seal(ContentType.alert, bytes([1, description])))
        if self.tracing:
            self.trace(ALERT, SENT, {"level": "warning", "description": description.name,
                                     "meaning": description.meaning})

    def install_read(self, protection: Protection) -> None:
        # RFC 8446 §5.1: handshake messages must not span a key change.
        if self.handshake_in or self.handshake_rest:
            raise UnexpectedMessage("handshake message spans a key change")
        self.record.read_protection = protection

    def install_write(self, protection: Protection) -> None:
        self.flush_handshake()
        limit = self.config.key_update_after_records
        if limit is not None and isinstance(protection, Tls13Protection):
            # Sooner than the AEAD's limit (RFC 8446 §5.5) if asked, never later.
            protection.limit = min(limit, protection.limit)
        self.record.write_protection = protection

    def set_version(self, version: int) -> None:
        self.version = version
        self.record.tls13 = version == TLS13
        self.record.write_version = b"\x03\x03"

    def limit_records(self, max_fragment: int, read_limit: int | None) -> None:
        self.record.max_fragment = min(self.record.max_fragment, max_fragment)
        if read_limit is not None:
            self.record.read_limit = read_limit

    def skip_early_data(self, budget: int) -> None:
        self.record.skip_early_data(budget)

    def allow_early_data(self, size: int) -> None:
        self.early_data_allowance = size

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def note(self, secrets: Mapping[str, bytes] | None = None, **details: Any) -> None:
        if secrets and self.recorder is not None:
            _record_secrets(self.recorder, secrets)
        pending = self._pending_trace
        if pending is None:
            return
        pending.details.update(_evaluated(details))
        if secrets and self.config.trace_secrets:
            pending.secrets.update({name: value.hex() for name, value in secrets.items()})

    def trace(self, step: str, action: str, details: Details,
              secrets: Mapping[str, bytes] | None = None) -> None:
        if secrets and self.recorder is not None:
            _record_secrets(self.recorder, secrets)
        callback = self.config.trace
        if callback is None:
            return
        self.flush_trace()
        callback(self._trace_event(step, action, _evaluated(
            details() if callable(details) else details), secrets))

    def trace_keys(self, keys: DescribedKeys, **details: Any) -> None:
        if self.tracing:
            values, secrets = keys.describe()
            self.trace(KEY_DERIVATION, LOCAL, {**values, **details}, secrets)

    def keylog(self, label: str, client_random: bytes, secret: bytes) -> None:
        if self.recorder is not None:
            self.recorder.secret(label, secret)
        callback = self.config.keylog
        if callback is not None:
            self.flush_trace()  # what was traced happened before
            callback(f"{label} {client_random.hex()} {secret.hex()}")

    def new_session(self, session: ClientSession) -> None:
        self.session = session

    def hello_answered(self) -> None:
        if isinstance(self.config, ServerConfig) and not self.config.keep_client_hello:
            self.client_hello = None

    def finish(self, negotiated: Negotiated) -> None:
        self.record.handshaking = False
        self.transcript = FINISHED  # one shared, empty transcript for every connection
        self.hello_answered()
        self.negotiated = negotiated
        summary = negotiated.summary
        if self.tracing:
            details: dict[str, Any] = {"version": summary.version,
                                       "cipher_suite": summary.cipher_suite}
            if negotiated.version == TLS12:
                details["key_exchange"] = summary.key_exchange
            details |= {"group": summary.group, "signature_scheme": summary.signature_scheme,
                        "alpn": summary.alpn_protocol}
            if negotiated.version == TLS12:
                details["extended_master_secret"] = summary.extended_master_secret
            details["resumed"] = summary.resumed
            self.trace(ESTABLISHED, LOCAL, details)
        self.events.append(summary)

    # -- for the connection ---------------------------------------------------------

    def _trace_event(self, step: str, action: str, details: dict[str, Any],
                     secrets: Mapping[str, bytes] | None) -> TraceEvent:
        shown = ({name: value.hex() for name, value in secrets.items()}
                 if secrets and self.config.trace_secrets else {})
        return TraceEvent(step, self.side, action, self.config.monotonic(), details, shown,
                          self.connection_id)

    def trace_message(self, message: Message, action: str) -> None:
        """The message's trace, sent to the callback at the next event (so that the
        state handling it can ``note`` what it found)."""
        if self.config.trace is None:
            return  # tracing only for a recorder, which wants secrets, not messages
        self.flush_trace()
        self._pending_trace = self._trace_event(message.name, action, message.describe(), None)

    def flush_trace(self) -> None:
        pending = self._pending_trace
        callback = self.config.trace
        if pending is not None and callback is not None:
            self._pending_trace = None
            callback(pending)

    def flush_handshake(self) -> None:
        data = self.handshake_out
        if data:
            # The buffer itself is sealed (every protection copies what it seals) and
            # a new one takes its place: no copy of it made first.
            self.handshake_out = bytearray()
            record = self.record
            if len(data) <= record.max_fragment and not (record.padding_block
                                                         or self.tracing):
                # One record, sealed by the protection itself: RecordLayer.seal's
                # usual case, without its call (a recorded connection, traced, goes
                # through RecordLayer.seal, which records it).
                self.out.append(record.write_protection.seal(
                    _HANDSHAKE, data, record.write_version, 0))
            else:
                self.out.append(record.seal(ContentType.handshake, data))
            # RFC 8446 §5.1: 0x0301 is for the initial ClientHello's records only.
            self.record.write_version = b"\x03\x03"

    def take_events(self) -> list[Event]:
        events = self.events
        self.events = []
        return events


__all__ = ["ConnectionCore"]
