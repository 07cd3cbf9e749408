"""Opening protected records with the keys of the schedule: TLS 1.3's
TLSInnerPlaintext (RFC 8446 §5.2-5.4) and TLS 1.2's AEAD records (RFC 5246
§6.2.3.3, RFC 5288 §3, RFC 7905 §2). The fields of the protection (nonce, tag,
inner content type, padding) are added to the record's tree.

TLS 1.3 keys change at points the records do not show (0-RTT data that the
server refused is followed by handshake records of the same sender), so a
record is tried with the sender's current keys and then with the next ones in
the schedule's order; keys only move forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import BadRecordMac
from .facts import CLIENT, SERVER
from .fields import Field, hex_text
from .names import content_type_name

if TYPE_CHECKING:
    from .dissect import Record
    from .schedule import Tls12Schedule, Tls13Schedule
    from .steps import Steps

_TAG = 16


def _leaf(record: Record, buffer: str, name: str, start: int, end: int, **details: Any
          ) -> None:
    record.tree.children.append(Field(name, start, end, spans=[(record.index, buffer, start,
                                                                end)], **details))


class Decryptor:
    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.after_change_cipher_spec = {CLIENT: False, SERVER: False}
        self._epoch = {CLIENT: 0, SERVER: 0}
        self._sequence: dict[tuple[str, str], int] = {}

    def open(self, record: Record, schedule: Tls13Schedule | Tls12Schedule | None,
             version: int | None) -> tuple[int, bytes] | None:
        """The record's (content type, content), or None (with ``record.note`` saying why)."""
        from .schedule import Tls13Schedule

        if schedule is None:
            record.note = "the cipher suite is unknown or not one glasstls implements"
            return None
        if isinstance(schedule, Tls13Schedule):
            return self._open13(record, schedule)
        return self._open12(record, schedule)

    def _protects(self, record: Record, *step_names: str) -> None:
        for name in step_names:
            step = self.steps.get(name)
            if step is not None:
                step.protects.append(record.index)

    def _open13(self, record: Record, schedule: Tls13Schedule) -> tuple[int, bytes] | None:
        sender, wire = record.sender, record.wire
        epochs = schedule.epochs[sender]
        if len(wire) < 5 + _TAG + 1:
            record.note = "too short to hold a tag and a content type"
            return None
        for position in range(self._epoch[sender], len(epochs)):
            secret = epochs[position]
            key_name, key, iv_name, iv = schedule.traffic_keys(secret)
            sequence = self._sequence.get((sender, secret), 0)
            nonce = (int.from_bytes(iv, "big") ^ sequence).to_bytes(12, "big")
            try:
                inner = schedule.suite.new_aead(key).open(nonce, wire[5:], wire[:5])
            except BadRecordMac:
                continue
            self._epoch[sender] = position
            self._sequence[(sender, secret)] = sequence + 1
            break
        else:
            record.note = ("no key of the " + sender + " decrypts it" if epochs else
                           "the key log has no traffic secret for the " + sender)
            return None
        record.protection = secret
        record.plaintext = inner
        self._protects(record, key_name, iv_name)
        rfc = "RFC 8446 §5.2"
        _leaf(record, "wire", "encrypted_record", 5, len(wire) - _TAG, rfc=rfc,
              text=hex_text(wire[5:-_TAG]),
              meaning=f"TLSInnerPlaintext encrypted with {key_name} (AEAD, nonce = iv XOR "
              f"sequence number {sequence}; the header is the additional data)")
        _leaf(record, "wire", "authentication tag", len(wire) - _TAG, len(wire), rfc=rfc,
              meaning="the AEAD tag: proves the record was not altered",
              value=wire[-_TAG:].hex(), text=wire[-_TAG:].hex())
        content_end = len(inner.rstrip(b"\x00")) - 1
        if content_end < 0:
            record.note = "decrypts to zeros only: no content type (unexpected_message)"
            _leaf(record, "plaintext", "zeros", 0, len(inner), rfc="RFC 8446 §5.4",
                  meaning="padding with no content type after it")
            return None
        content_type = inner[content_end]
        _leaf(record, "plaintext", "type", content_end, content_end + 1, rfc=rfc,
              value=content_type, text=f"{content_type} ({content_type_name(content_type)})",
              meaning="the real content type, hidden inside the encryption")
        if content_end + 1 < len(inner):
            _leaf(record, "plaintext", "zeros", content_end + 1, len(inner),
                  rfc="RFC 8446 §5.4", text=f"{len(inner) - content_end - 1} zero bytes",
                  meaning="padding: hides the true length of the content")
        return content_type, inner[:content_end]

    def _open12(self, record: Record, schedule: Tls12Schedule) -> tuple[int, bytes] | None:
        sender, wire = record.sender, record.wire
        if not schedule.ready:
            schedule.key_exchange_done([])
        keys = schedule.keys_for(sender)
        if keys is None:
            record.note = "no master secret for this connection (key log line missing)"
            return None
        key_name, key, iv_name, iv = keys
        suite = schedule.suite
        explicit = suite.explicit_nonce_len
        sequence = self._sequence.get((sender, key_name), 0)
        self._sequence[(sender, key_name)] = sequence + 1
        if len(wire) < 5 + explicit + _TAG:
            record.note = "too short to hold a nonce and a tag"
            return None
        length = len(wire) - 5 - explicit - _TAG
        aad = sequence.to_bytes(8, "big") + wire[:3] + length.to_bytes(2, "big")
        if explicit:
            nonce = iv + wire[5 : 5 + explicit]
        else:
            nonce = (int.from_bytes(iv, "big") ^ sequence).to_bytes(12, "big")
        try:
            content = suite.new_aead(key).open(nonce, wire[5 + explicit :], aad)
        except BadRecordMac:
            record.note = f"authentication failed with {key_name} (sequence {sequence})"
            return None
        record.protection = key_name
        record.plaintext = content
        self._protects(record, key_name, iv_name)
        rfc = "RFC 5246 §6.2.3.3"
        if explicit:
            _leaf(record, "wire", "nonce_explicit", 5, 5 + explicit, rfc="RFC 5288 §3",
                  value=wire[5 : 5 + explicit].hex(), text=wire[5 : 5 + explicit].hex(),
                  meaning="the per-record part of the GCM nonce (the other 4 bytes are the "
                  "write IV)")
        _leaf(record, "wire", "encrypted content", 5 + explicit, len(wire) - _TAG, rfc=rfc,
              text=hex_text(wire[5 + explicit : -_TAG]),
              meaning=f"the content, encrypted with {key_name} (additional data: sequence "
              f"number {sequence}, type, version, length)")
        _leaf(record, "wire", "authentication tag", len(wire) - _TAG, len(wire), rfc=rfc,
              value=wire[-_TAG:].hex(), text=wire[-_TAG:].hex(),
              meaning="the AEAD tag: proves the record was not altered")
        return wire[0], content
