"""An explained connection as annotated text for a terminal.

Each record: its direction and header, then its fields with their bytes in hex,
their values, what they mean and the RFC section; the messages it holds, field
by field; then the key schedule, step by step, with the records each key
protects. Secrets are fingerprints unless ``show_secrets``.
"""

from __future__ import annotations

from collections.abc import Iterator

from .dissect import Explained, Record
from .fields import Field
from .output import summary
from .steps import Step, shown

# Bytes of hex shown for one field before it is cut short, and the column they fill.
_HEX_BYTES = 8
_HEX_WIDTH = 40
_ARROW = {"client": "client \u2192 server", "server": "server \u2192 client"}


def _bytes_of(field: Field, explained: Explained) -> bytes:
    data = b""
    for record_index, buffer, start, end in field.spans:
        record = explained.records[record_index]
        source = record.wire if buffer == "wire" else (record.plaintext or b"")
        data += source[start:end]
    return data


def _hex(data: bytes) -> str:
    shown_bytes = " ".join(f"{b:02x}" for b in data[:_HEX_BYTES])
    if len(data) > _HEX_BYTES:
        shown_bytes += f" \u2026 ({len(data)} bytes)"
    return shown_bytes


def _field_lines(field: Field, explained: Explained, depth: int, verbose: bool
                 ) -> Iterator[str]:
    indent = "  " * depth
    mark = " [GREASE]" if field.grease else ""
    rfc = f"  ({field.rfc})" if field.rfc else ""
    if field.children:
        text = f" \u2014 {field.text}" if field.text else ""
        yield f"{'':<{_HEX_WIDTH}}{indent}{field.name}{mark}{text}{rfc}"
        for child in field.children:
            yield from _field_lines(child, explained, depth + 1, verbose)
    else:
        value = field.text or (str(field.value) if field.value is not None else "")
        meaning = f" \u2014 {field.meaning}" if verbose and field.meaning else ""
        hex_text = _hex(_bytes_of(field, explained))
        yield f"{hex_text:<{_HEX_WIDTH}}{indent}{field.name}{mark}: {value}{meaning}{rfc}"
    if field.check:
        symbol = "\u2714" if field.check.startswith(("verified", "matches")) else "\u2718"
        yield f"{'':<{_HEX_WIDTH}}{indent}  {symbol} {field.check}"


def _record_lines(record: Record, explained: Explained, verbose: bool) -> Iterator[str]:
    protection = f", protected by {record.protection}" if record.protection else ""
    yield (f"#{record.index}  {_ARROW.get(record.sender, record.sender)}  {record.tree.text}"
           f"{protection}")
    for field in record.tree.children:
        yield from _field_lines(field, explained, 0, verbose)
    if record.note:
        yield f"  ! {record.note}"
    for index in record.messages:
        message = explained.messages[index]
        first = message.records[0] == record.index if message.records else True
        if not first:
            yield f"  ({message.name} continues from record #{message.records[0]})"
            continue
        yield from _field_lines(message.tree, explained, 0, verbose)
    yield ""


def _step_line(step: Step, show_secrets: bool) -> Iterator[str]:
    args = []
    for item in step.inputs:
        if item.ref:
            args.append(f"{item.role} = {item.ref}")
        elif item.value is not None:
            value = shown(item.value, item.secret, show_secrets)
            args.append(f"{item.role} = {item.text} [{value}]" if item.text
                        else f"{item.role} = {value}")
        else:
            args.append(f"{item.role} = {item.text}")
    label = f'"{step.label}", ' if step.label else ""
    yield f"  {step.name} = {step.operation}({label}{'; '.join(args)})"
    source = "" if step.source == "computed" else f"  [{step.source}]"
    yield f"      \u2192 {shown(step.output, step.secret, show_secrets)}{source}  ({step.rfc})"
    if step.check:
        yield f"      {step.check}"
    if step.protects:
        yield "      protects records " + ", ".join(f"#{i}" for i in step.protects)


def render_text(explained: Explained, show_secrets: bool = False, verbose: bool = True
                ) -> str:
    about = summary(explained)
    lines = [
        "glasstls explain: " + ", ".join(str(about[k]) for k in ("version", "cipher_suite",
                                                                  "group") if about[k]),
        f"{about['records']} records, {about['decrypted_records']} decrypted"
        + (", HelloRetryRequest" if about["hello_retry_request"] else "")
        + (", resumed" if about["resumed"] else "")
        + (f", 0-RTT {about['early_data']}" if about["early_data"] else ""),
        "",
    ]
    lines += [f"note: {note}" for note in explained.notes]
    for record in explained.records:
        lines += _record_lines(record, explained, verbose)
    lines.append("Key schedule" + ("" if show_secrets else
                                    " (secrets as fingerprints; --show-secrets for values)"))
    for step in explained.steps.items:
        lines += _step_line(step, show_secrets)
    return "\n".join(lines) + "\n"
