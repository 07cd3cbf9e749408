"""One connection, byte by byte: records in both directions, decrypted, their
contents read into fields, and the key schedule that protects them.

``dissect(records, keys)`` takes the records as they crossed the wire, in the
order they did (from a live recording or a capture), and the secrets known.
Each record's header and protection become fields; its content (decrypted when
the keys are known) becomes messages: handshake messages are read from the
sender's reassembled handshake stream, so one may span records and a record may
hold several. Every byte of a record is covered by exactly one leaf field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..crypto.suites import SUITES, Suite
from .facts import CLIENT, SERVER, Facts
from .fields import Cursor, Field, Malformed, Span, hex_text
from .keys import ConnectionSecrets, KeyMaterial
from .messages import Message, handshake_message
from .names import alert_meaning, alert_name, content_type_name, suite_text, version_text
from .protection import Decryptor
from .schedule import Tls12Schedule, Tls13Schedule, verify_signature
from .steps import Steps

R_RECORD_13, R_RECORD_12 = "RFC 8446 §5.1", "RFC 5246 §6.2.1"
R_INNER, R_AEAD_12 = "RFC 8446 §5.2", "RFC 5246 §6.2.3.3"


@dataclass
class WireRecord:
    """One record as it crossed the wire: who sent it and its bytes (header included)."""

    sender: str
    data: bytes
    time: float | None = None


@dataclass
class Record:
    index: int
    sender: str
    wire: bytes
    time: float | None
    tree: Field
    plaintext: bytes | None = None
    content_type: int | None = None
    # The traffic secret whose keys protect it ("" for a record in the clear).
    protection: str = ""
    note: str = ""
    messages: list[int] = field(default_factory=list)


@dataclass
class Explained:
    records: list[Record]
    messages: list[Message]
    steps: Steps
    facts: Facts
    notes: list[str]

    def fields(self) -> list[Field]:
        """Every field tree: the records' framing, then the messages."""
        return [r.tree for r in self.records] + [m.tree for m in self.messages]

    def to_json(self, show_secrets: bool = False) -> dict[str, Any]:
        from .output import explained_json

        return explained_json(self, show_secrets)


class _Stream:
    """A sender's handshake bytes, and which record buffer each piece came from."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.chunks: list[tuple[int, int, int, str, int]] = []  # start, end, record, buf, at
        self.parsed = 0

    def append(self, record: int, buffer: str, offset: int, content: bytes) -> None:
        start = len(self.data)
        self.data += content
        self.chunks.append((start, len(self.data), record, buffer, offset))

    def spans(self, start: int, end: int) -> list[Span]:
        spans = []
        for chunk_start, chunk_end, record, buffer, offset in self.chunks:
            low, high = max(start, chunk_start), min(end, chunk_end)
            if low < high:
                spans.append((record, buffer, offset + low - chunk_start,
                              offset + high - chunk_start))
        return spans


def _place(tree: Field, locate: Any) -> None:
    for node in tree.walk():
        node.spans = locate(node.start, node.end)


def _leaf(parent: Field, record: int, buffer: str, name: str, start: int, end: int,
          **details: Any) -> Field:
    node = Field(name, start, end, spans=[(record, buffer, start, end)], **details)
    parent.children.append(node)
    return node


class _Dissector:
    def __init__(self, keys: KeyMaterial) -> None:
        self.keys = keys
        self.facts = Facts()
        self.steps = Steps()
        self.records: list[Record] = []
        self.messages: list[Message] = []
        self.notes: list[str] = []
        self.streams = {CLIENT: _Stream(), SERVER: _Stream()}
        self.transcript: list[Message] = []
        self.handshake_done = False
        self.finished_count = 0
        self.schedule: Tls13Schedule | Tls12Schedule | None = None
        self.decryptor = Decryptor(self.steps)
        self.secrets = ConnectionSecrets()
        # From a first look at the server's hello, before any record is decrypted.
        self.version: int | None = None
        self.suite: Suite | None = None

    # -- records ------------------------------------------------------------------

    def record(self, wire: WireRecord) -> None:
        index, data = len(self.records), wire.data
        tls13 = self.version == 0x0304
        tree = Field("TLSCiphertext" if data[:1] == b"\x17" and tls13 else "TLSPlaintext",
                     0, len(data), rfc=R_RECORD_13 if self.version != 0x0303 else R_RECORD_12,
                     meaning="one record: a 5-byte header and its fragment")
        record = Record(index, wire.sender, data, wire.time, tree)
        self.records.append(record)
        c = Cursor(data, Field("header", 0, 0))
        try:
            opaque = tls13 and data[0] == 23
            content_type = c.uint("opaque_type" if opaque else "content_type", 1,
                                  "always application_data for an encrypted TLS 1.3 record: "
                                  "the real type is inside" if opaque else
                                  "what the fragment holds",
                                  tree.rfc, lambda t: f"{t} ({content_type_name(t)})")
            c.uint("legacy_record_version", 2, "0x0303, or 0x0301 in a first ClientHello's "
                   "record; ignored by receivers", tree.rfc, version_text)
            length = c.uint("length", 2, "length of the fragment that follows", tree.rfc,
                            lambda n: f"{n} bytes")
            if length != len(data) - 5:
                raise Malformed(f"the header says {length} bytes, {len(data) - 5} follow")
        except Malformed as error:
            tree.children.clear()
            _leaf(tree, index, "wire", "truncated record", 0, len(data),
                  meaning=f"not a whole record: {error}", rfc=tree.rfc)
            record.note = str(error)
            return
        for leaf in c.parent.children:
            leaf.spans = [(index, "wire", leaf.start, leaf.end)]
            tree.children.append(leaf)
        tree.text = f"{content_type_name(content_type)}, {length} bytes"
        if not self._encrypted(wire.sender, content_type):
            record.content_type = content_type
            self._content(record, content_type, data[5:], "wire", 5)
            return
        opened = self.decryptor.open(record, self.schedule, self.version)
        if opened is None:
            _leaf(tree, index, "wire", "encrypted_record", 5, len(data),
                  meaning=f"ciphertext that could not be decrypted: {record.note}",
                  rfc=R_INNER, text=hex_text(data[5:]))
            return
        content_type, content = opened
        record.content_type = content_type
        tree.text = f"{content_type_name(content_type)} (encrypted), {len(content)} bytes"
        self._content(record, content_type, content, "plaintext", 0)

    def _encrypted(self, sender: str, content_type: int) -> bool:
        if self.version == 0x0304:
            return content_type == 23
        return self.decryptor.after_change_cipher_spec[sender] and content_type != 20

    # -- contents -------------------------------------------------------------------

    def _content(self, record: Record, content_type: int, content: bytes, buffer: str,
                 offset: int) -> None:
        if content_type == 22:
            stream = self.streams[record.sender]
            stream.append(record.index, buffer, offset, content)
            self._handshake(record.sender, stream)
            return
        tree = Field(content_type_name(content_type), 0, len(content), value=content_type)
        c = Cursor(content, tree)
        try:
            if content_type == 21:
                self._alert(c, tree)
            elif content_type == 20:
                c.uint("change_cipher_spec", 1, "always 1. TLS 1.2: the sender's next records "
                       "are encrypted; TLS 1.3: a relic kept for middleboxes, ignored",
                       "RFC 5246 §7.1" if self.version == 0x0303 else "RFC 8446 §D.4",
                       lambda v: str(v))
                if c.remaining:
                    raise Malformed("a change_cipher_spec record holds one byte")
                self._change_cipher_spec(record.sender)
            elif content_type == 23:
                self._application_data(c, tree, record)
            elif content:
                c.rest("data", "the fragment of a record of unknown content type", R_RECORD_13)
        except Malformed as error:
            tree.children.clear()
            Cursor(content, tree).rest("malformed", f"does not parse: {error}", R_RECORD_13)
        message = Message(content_type, content, tree, record.sender,
                          kind=content_type_name(content_type), index=len(self.messages),
                          records=[record.index])
        _place(tree, lambda s, e: [(record.index, buffer, offset + s, offset + e)]
               if e > s else [])
        record.messages.append(message.index)
        self.messages.append(message)

    def _alert(self, c: Cursor, tree: Field) -> None:
        rfc = "RFC 8446 §6"
        level = c.uint("level", 1, "1 warning, 2 fatal (TLS 1.3: implied by the "
                       "description)", rfc, lambda v: {1: "warning", 2: "fatal"}.get(
                           v, f"invalid ({v})"))
        description = c.uint("description", 1, "which alert", rfc,
                             lambda v: f"{v} ({alert_name(v)}): {alert_meaning(v)}")
        if c.remaining:
            raise Malformed("an alert is two bytes")
        tree.text = f"{'fatal' if level == 2 else 'warning'} {alert_name(description)}"

    def _application_data(self, c: Cursor, tree: Field, record: Record) -> None:
        early = "early" in record.protection
        data = c.peek(c.remaining)
        printable = data[:80].decode("utf-8", "replace")
        preview = printable.split("\r\n", 1)[0] if printable.isprintable() or "\r\n" in (
            printable) else hex_text(data)
        if c.remaining:
            c.rest("application_data", "data of the application (0-RTT early data)" if early
                   else "data of the application, e.g. HTTP", R_INNER, preview)
        tree.text = f"{len(data)} bytes" + (" of 0-RTT data" if early else "")

    def _change_cipher_spec(self, sender: str) -> None:
        if self.version != 0x0303:
            return
        if isinstance(self.schedule, Tls12Schedule):
            self.schedule.key_exchange_done(self.transcript)
        self.decryptor.after_change_cipher_spec[sender] = True

    # -- handshake messages -----------------------------------------------------------

    def _handshake(self, sender: str, stream: _Stream) -> None:
        data = stream.data
        while len(data) - stream.parsed >= 4:
            start = stream.parsed
            length = int.from_bytes(data[start + 1 : start + 4], "big")
            if len(data) - start < 4 + length:
                return
            raw = bytes(data[start : start + 4 + length])
            stream.parsed = start + 4 + length
            message = handshake_message(raw, start, sender, self.facts)
            message.index = len(self.messages)
            _place(message.tree, stream.spans)
            message.records = sorted({span[0] for span in message.tree.spans})
            for index in message.records:
                self.records[index].messages.append(message.index)
            self.messages.append(message)
            self._after(message)

    def _after(self, message: Message) -> None:
        facts = self.facts
        if not self.handshake_done and message.msg_type != 0:
            self.transcript.append(message)
        if message.msg_type == 1:
            if self.schedule is None and self.suite is not None:
                self._start_schedule()
            if isinstance(self.schedule, Tls13Schedule):
                self.schedule.client_hello(self.transcript)
        elif message.msg_type == 2 and message.name != "HelloRetryRequest":
            if facts.cipher_suite in SUITES:
                self.suite = SUITES[facts.cipher_suite]
                self.version = facts.version
                if self.schedule is None or self.schedule.suite is not self.suite:
                    self._start_schedule()
            if isinstance(self.schedule, Tls13Schedule):
                self.schedule.server_hello(self.transcript)
        elif message.msg_type == 12:
            self._check_server_key_exchange(message)
        elif message.msg_type == 15:
            self._check_certificate_verify(message)
        elif message.msg_type == 16 and isinstance(self.schedule, Tls12Schedule):
            self.schedule.key_exchange_done(self.transcript)
        elif message.msg_type == 20:
            self._finished(message)
        elif message.msg_type == 24 and isinstance(self.schedule, Tls13Schedule):
            self.schedule.key_update(message.sender)
        elif message.msg_type == 4 and facts.tickets:
            facts.tickets[-1].message = message.index

    def _start_schedule(self) -> None:
        assert self.suite is not None
        self.secrets = self.keys.secrets(self.facts.client_random)
        kind = Tls13Schedule if self.version == 0x0304 else Tls12Schedule
        self.schedule = kind(self.suite, self.facts, self.secrets, self.keys, self.steps)

    def _finished(self, message: Message) -> None:
        self.finished_count += 1
        if self.schedule is not None and not self.handshake_done:
            self.schedule.finished(message.sender, self.transcript,
                                   message.tree.find("verify_data"))
        tls13_done = self.version == 0x0304 and message.sender == CLIENT
        if tls13_done or self.finished_count >= 2:
            self.handshake_done = True

    def _check_certificate_verify(self, message: Message) -> None:
        scheme, signature = message.tree.find("algorithm"), message.tree.find("signature value")
        if scheme is None or signature is None or self.handshake_done:
            return
        if isinstance(self.schedule, Tls13Schedule):
            self.schedule.certificate_verify(message.sender, self.transcript, scheme.value,
                                             signature)
        elif self.version == 0x0303:
            # RFC 5246 §7.4.8: the signature covers every handshake message before it.
            content = b"".join(m.raw for m in self.transcript[:-1])
            signature.check = verify_signature(self.facts, message.sender, scheme.value,
                                               content, bytes.fromhex(signature.value))

    def _check_server_key_exchange(self, message: Message) -> None:
        params = message.tree.find("params")
        scheme = message.tree.find("signature_algorithm")
        signature = message.tree.find("signature value")
        if params is None or scheme is None or signature is None:
            return
        base = message.tree.start
        signed = (self.facts.client_random + self.facts.server_random
                  + message.raw[params.start - base : params.end - base])
        signature.check = verify_signature(self.facts, SERVER, scheme.value, signed,
                                           bytes.fromhex(signature.value))

    # -- end ------------------------------------------------------------------------

    def finish(self) -> Explained:
        for sender, stream in self.streams.items():
            if stream.parsed < len(stream.data):
                tree = Field("incomplete handshake message", stream.parsed, len(stream.data),
                             meaning="the start of a handshake message whose rest was not "
                             "captured", rfc="RFC 8446 §4",
                             text=hex_text(bytes(stream.data[stream.parsed:])))
                _place(tree, stream.spans)
                message = Message(-1, bytes(stream.data[stream.parsed:]), tree, sender,
                                  index=len(self.messages),
                                  records=sorted({s[0] for s in tree.spans}))
                for index in message.records:
                    self.records[index].messages.append(message.index)
                self.messages.append(message)
        if isinstance(self.schedule, Tls13Schedule):
            for ticket in self.facts.tickets:
                self.schedule.new_session_ticket(ticket.ticket, ticket.nonce)
        if self.suite is None and self.records:
            self.notes.append("no ServerHello: the connection's suite and version are unknown")
        _number(self.records, self.messages)
        return Explained(self.records, self.messages, self.steps, self.facts, self.notes)


def _number(records: list[Record], messages: list[Message]) -> None:
    """Give every field an id, unique in the connection (the HTML links by it)."""
    next_id = 1
    for tree in [r.tree for r in records] + [m.tree for m in messages]:
        for node in tree.walk():
            node.id = next_id
            next_id += 1


def _first_server_hello(records: list[WireRecord]) -> Facts | None:
    """The server's hello, read before any decryption: version and suite decide how
    the records in between (0-RTT data, say) are protected."""
    data = b""
    for record in records:
        if record.sender != SERVER or len(record.data) < 5:
            continue
        if record.data[0] == 20:
            break
        if record.data[0] == 22:
            data += record.data[5:]
    facts = Facts()
    position = 0
    while len(data) - position >= 4:
        end = position + 4 + int.from_bytes(data[position + 1 : position + 4], "big")
        if end > len(data):
            break
        raw = data[position:end]
        position = end
        if raw[0] == 2:
            handshake_message(raw, 0, SERVER, facts)
            if not facts.hello_retry or facts.server_random:
                return facts
            facts.hello_retry = False
    return None


def dissect(records: Iterable[WireRecord], keys: KeyMaterial | None = None) -> Explained:
    """Read one connection's records (in wire order) with the secrets in ``keys``."""
    records = list(records)
    dissector = _Dissector(keys or KeyMaterial())
    hello = _first_server_hello(records)
    if hello is not None and hello.cipher_suite in SUITES:
        dissector.version = hello.version
        dissector.suite = SUITES[hello.cipher_suite]
    elif hello is not None:
        dissector.notes.append(
            f"the server chose {suite_text(hello.cipher_suite or 0)}, which glasstls "
            "cannot decrypt: records after the hellos are shown encrypted")
        dissector.version = hello.version
    for record in records:
        dissector.record(record)
    return dissector.finish()


__all__ = ["Explained", "Record", "WireRecord", "dissect"]
