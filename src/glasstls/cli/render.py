"""Rendering trace events for people (text, coloured on a terminal) and for programs
(JSON lines). Every command that shows a handshake goes through here, so a step
looks the same whichever side observed it and whichever command printed it.

    view = open_view(sys.stdout, json_lines=False)
    config = ClientConfig(trace=view.event)
    ...
    view.summary([("version", "TLSv1.3")], {"version": "TLSv1.3"})

Secret values are printed only when the event carries them, which the engine
does only with ``trace_secrets=True`` (``--show-secrets``). ``redact`` strips
them and gives short fingerprints instead, so that two sides' keys can be
compared by eye without showing them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, TextIO

from .. import trace as t
from ..crypto.groups import hybrid_parts
from ..trace import TraceEvent

Segment = str | tuple[str, str]

# Width of the detail labels under an event.
_LABEL_WIDTH = 24
# Hex longer than this is folded over several lines.
_HEX_LINE = 64
_HEX = re.compile(r"^[0-9a-f]+$")

# How detail keys read in text; anything else is its key with spaces.
_LABELS = {
    "supported_versions": "versions",
    "supported_groups": "groups",
    "signature_algorithms": "signature algorithms",
    "session_id": "session id",
    "session_id_echo": "session id (echoed)",
    "legacy_version": "legacy version",
    "server_name": "server name (SNI)",
    "alpn": "ALPN",
    "ca_names": "CA names",
    "extended_master_secret": "extended master secret",
    "trust_anchor": "trust anchor",
    "path_length": "path length",
    "host_name": "host name checked",
    "signature_scheme": "signature scheme",
    "key_exchange": "key exchange",
    "cipher_suite": "cipher suite",
    "cipher_suites": "cipher suites",
    "key_shares": "key shares",
    "selected_group": "selected group",
    "server_key": "encrypted to key",
    "prf_hash": "PRF hash",
    "downgrade_sentinel": "downgrade sentinel",
    "secure_renegotiation": "secure renegotiation",
    "max_early_data_size": "max early data",
    "lifetime_hint": "lifetime hint (s)",
    "lifetime": "lifetime (s)",
    "uncompressed_length": "uncompressed (bytes)",
    "compressed_length": "compressed (bytes)",
    "ocsp_staple_bytes": "OCSP staple",
    "ocsp_response_bytes": "OCSP response",
    "this_update": "this update",
    "next_update": "next update",
    "must_staple": "must staple (RFC 7633)",
}

# The order details are shown in, per step (others follow in the engine's order).
_ORDER = {
    t.CLIENT_HELLO: ("supported_versions", "cipher_suites", "supported_groups", "key_shares",
                     "signature_algorithms", "alpn", "server_name", "extensions", "random",
                     "session_id", "legacy_version"),
    t.SERVER_HELLO: ("version", "cipher_suite", "group", "key_exchange", "random"),
    t.CERTIFICATE_VERIFICATION: ("result", "reason", "trust_anchor", "host_name", "path_length"),
}

_ACTION_WORDS = {t.SENT: "sent", t.RECEIVED: "received", t.LOCAL: "local"}

_STYLES = {
    "client": "bold cyan",
    "server": "bold magenta",
    "step": "bold",
    "label": "dim",
    "time": "dim",
    "ok": "green",
    "bad": "bold red",
    "secret": "yellow",
    "note": "italic",
    "heading": "bold underline",
    "warning": "bold yellow",
}


def fingerprint(secret_hex: str) -> str:
    """A short, one-way fingerprint of a secret value (the first 8 bytes of its
    SHA-256), for comparing two sides' keys without showing them.

    >>> fingerprint("00" * 32)
    '66687aadf862bd77'
    """
    return hashlib.sha256(bytes.fromhex(secret_hex)).hexdigest()[:16]


def redact(event: TraceEvent, show_secrets: bool) -> tuple[TraceEvent, dict[str, str]]:
    """``event`` as it may be shown, and fingerprints of the secrets removed.

    With ``show_secrets`` the event is unchanged and no fingerprints are made.

    >>> shown, prints = redact(TraceEvent("KeyExchange", "client", "local", 0.0,
    ...                                   secrets={"shared_secret": "00" * 32}), False)
    >>> shown.secrets, prints
    ({}, {'shared_secret': '66687aadf862bd77'})
    """
    if show_secrets or not event.secrets:
        return event, {}
    prints = {name: fingerprint(value) for name, value in event.secrets.items()}
    return replace(event, secrets={}), prints


class Output:
    """Lines to a text stream, coloured with ``rich`` when ``color`` is true."""

    def __init__(self, stream: TextIO, color: bool) -> None:
        self.stream = stream
        self.color = color
        self._console: Any = None
        self._lock = threading.Lock()
        if color:
            from rich.console import Console

            self._console = Console(file=stream, highlight=False, soft_wrap=True,
                                    force_terminal=True)

    @property
    def arrow(self) -> str:
        return "→" if self.color else "->"

    def line(self, *segments: Segment) -> None:
        with self._lock:
            if self._console is not None:
                from rich.text import Text

                text = Text()
                for segment in segments:
                    if isinstance(segment, tuple):
                        text.append(segment[0], style=_STYLES.get(segment[1], segment[1]))
                    else:
                        text.append(segment)
                self._console.print(text)
            else:
                self.stream.write("".join(s[0] if isinstance(s, tuple) else s
                                          for s in segments) + "\n")
                self.stream.flush()


def wants_color(stream: TextIO) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` set, and only if ``rich``
    is installed."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class View(Protocol):
    """What commands print through: trace events, messages, a summary."""

    def event(self, event: TraceEvent, fingerprints: Mapping[str, str] | None = None,
              label: str = "") -> None: ...
    def exchange(self, timestamp: float, direction: str, title: str, text: str) -> None: ...
    def info(self, message: str, **data: Any) -> None: ...
    def warning(self, message: str) -> None: ...
    def summary(self, rows: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> None: ...


def open_view(stream: TextIO, json_lines: bool = False, color: bool | None = None,
              origin: float | None = None) -> TextView | JsonView:
    """The view for a command's output: JSON lines or text (coloured if ``stream``
    is a terminal, unless ``color`` says otherwise).

    >>> view = open_view(sys.stderr)
    >>> view.info("connected")
    """
    if json_lines:
        return JsonView(stream, origin)
    return TextView(Output(stream, wants_color(stream) if color is None else color), origin)


class JsonView:
    """One JSON object per line, each naming what it is in ``"event"``: ``"trace"``
    (a handshake step: ``TraceEvent.to_json()``), ``"exchange"``, ``"warning"``,
    ``"summary"``, ``"error"``, and the commands' own (``"connected"``, ``"listening"``,
    ...). Keys are snake_case; values are JSON's own types (``false``, ``null``,
    numbers), never words for people. docs/json-schema.json describes every line."""

    def __init__(self, stream: TextIO, origin: float | None = None) -> None:
        self.stream = stream
        self.origin = origin
        self._lock = threading.Lock()

    def write(self, data: Mapping[str, Any]) -> None:
        text = json.dumps(data, default=str)
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def event(self, event: TraceEvent, fingerprints: Mapping[str, str] | None = None,
              label: str = "") -> None:
        data: dict[str, Any] = {"event": "trace", **event.to_json()}
        if self.origin is not None:
            data["elapsed_ms"] = round((event.timestamp - self.origin) * 1000, 3)
        if fingerprints:
            data["fingerprints"] = dict(fingerprints)
        if label:
            data["label"] = label
        self.write(data)

    def exchange(self, timestamp: float, direction: str, title: str, text: str) -> None:
        self.write({"event": "exchange", "timestamp": timestamp, "direction": direction,
                    "title": title, "text": text})

    def info(self, message: str, **data: Any) -> None:
        """A line for ``message``: ``{"event": "info", "message": ...}``, or the
        event ``data`` names (``event="listening"``) with ``data`` as its fields."""
        self.write({"event": "info", "message": message, **data})

    def warning(self, message: str) -> None:
        self.write({"event": "warning", "message": message})

    def summary(self, rows: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> None:
        self.write({"event": "summary", **data})

    def error(self, message: str, exit_code: int) -> None:
        self.write({"event": "error", "message": message, "exit_code": exit_code})


class TextView:
    """Readable text: a header line per event, its values indented below.

    A received message whose values are those its sender traced shows only what
    the receiver added (e.g. "result: verified"), so that a two-sided trace reads
    without repeating every ClientHello field twice.
    """

    def __init__(self, output: Output, origin: float | None = None) -> None:
        self.out = output
        self.origin = origin
        # The details of the last message each side sent, by step, to elide
        # the same values on the receiving side.
        self._sent: dict[tuple[str, str], list[dict[str, Any]]] = {}

    # -- events -----------------------------------------------------------------

    def event(self, event: TraceEvent, fingerprints: Mapping[str, str] | None = None,
              label: str = "") -> None:
        if self.origin is None:
            self.origin = event.timestamp
        details = dict(event.details)
        elided = False
        if event.action == t.SENT:
            self._sent.setdefault((event.side, event.step), []).append(details)
        elif event.action == t.RECEIVED:
            other = "server" if event.side == "client" else "client"
            queue = self._sent.get((other, event.step))
            sent = queue.pop(0) if queue else None
            if sent is not None:
                same = {k for k, v in details.items() if k in sent and sent[k] == v}
                elided = bool(same)
                details = {k: v for k, v in details.items() if k not in same}
        self._header(event, label)
        note = step_note(event)
        if note:
            self.out.line("      ", (note, "note"))
        if elided and not details:
            self.out.line("      ", ("(the values shown where it was sent)", "label"))
        for segments in event_lines(event.step, details, event.secrets, fingerprints or {}):
            self.out.line("      ", *segments)

    def _header(self, event: TraceEvent, label: str) -> None:
        elapsed = (event.timestamp - (self.origin or event.timestamp)) * 1000
        step_style = "bad" if event.step == t.ALERT and event.details.get(
            "level") == "fatal" else "step"
        direction = event.direction
        arrow = direction.replace("->", f" {self.out.arrow} ") if direction else ""
        segments: list[Segment] = []
        if label:
            segments.append((f"[{label}] ", "label"))
        segments += [
            (f"{elapsed:9.3f} ms  ", "time"),
            (f"{event.side:<6}", event.side),
            f"  {_ACTION_WORDS.get(event.action, event.action):<8}  ",
            (f"{event.step:<24}", step_style),
        ]
        if arrow:
            segments.append((arrow, "label"))
        self.out.line(*segments)

    # -- the rest -----------------------------------------------------------------

    def exchange(self, timestamp: float, direction: str, title: str, text: str) -> None:
        if self.origin is None:
            self.origin = timestamp
        elapsed = (timestamp - self.origin) * 1000
        arrow = direction.replace("->", f" {self.out.arrow} ")
        self.out.line((f"{elapsed:9.3f} ms  ", "time"), (title, "heading"), "  ",
                      (arrow, "label"))
        for line in text.splitlines() or [""]:
            self.out.line("      | ", line)

    def info(self, message: str, **data: Any) -> None:
        self.out.line(message)

    def heading(self, message: str) -> None:
        self.out.line()
        self.out.line((message, "heading"))

    def warning(self, message: str) -> None:
        self.out.line(("WARNING: ", "warning"), message)

    def summary(self, rows: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> None:
        self.heading("Summary")
        for name, value in rows:
            lines = value.splitlines() or [""]
            self.out.line("  ", (f"{name:<{_LABEL_WIDTH}}", "label"), lines[0])
            for more in lines[1:]:
                self.out.line("  ", " " * _LABEL_WIDTH, more)


# -- one event's values as text ----------------------------------------------------


def step_note(event: TraceEvent) -> str:
    """A sentence saying what happens at a step, where the values alone do not."""
    details = event.details
    if event.step == t.CLIENT_KEY_EXCHANGE and details.get("key_exchange") == "RSA":
        if event.action == t.SENT:
            return ("RSA key transport: the client picks a random pre-master secret and "
                    "encrypts it to the server's RSA public key (from its certificate)")
        return ("the server decrypts the pre-master secret with its RSA private key (a bad "
                "padding would give a random secret instead: RFC 5246 §7.4.7.1)")
    if event.step == t.KEY_EXCHANGE and details.get("hybrid"):
        pq, classical = hybrid_parts(str(details.get("group"))) or ("ML-KEM", "ECDH")
        return (f"hybrid key exchange: {pq} (post-quantum) and {classical}, "
                "their shared secrets concatenated")
    if event.step == t.COMPRESSED_CERTIFICATE:
        return (f"certificate compression (RFC 8879): the Certificate message, "
                f"{details.get('uncompressed_length')} bytes, in "
                f"{details.get('compressed_length')} bytes of {details.get('algorithm')}")
    if event.step == t.CERTIFICATE_STATUS:
        return ("OCSP stapling (RFC 6066): the CA's signed, recent answer about the "
                "certificate, sent by the server so that the client need not ask the CA")
    if event.step == t.OCSP_STATUS and "status" in details:
        return ("the stapled OCSP response: for this certificate, signed by its issuer "
                "(or a responder it named), and current")
    return ""


def label_of(key: str) -> str:
    """The words a detail key is shown with: ``"cipher_suites"`` -> ``"cipher suites"``."""
    if key in _LABELS:
        return _LABELS[key]
    if key.endswith("_bytes"):
        key = key[: -len("_bytes")]
    return key.replace("_", " ")


def event_lines(step: str, details: Mapping[str, Any], secrets: Mapping[str, str],
                fingerprints: Mapping[str, str]) -> list[list[Segment]]:
    """The indented lines under an event header, as styled segments.

    >>> event_lines("Finished", {"verify_data_bytes": 32}, {}, {})
    [[('verify data           ', 'label'), '32 bytes']]
    """
    lines: list[list[Segment]] = []
    order = _ORDER.get(step, ())
    keys = [k for k in order if k in details] + [k for k in details if k not in order]
    shown_secrets: set[str] = set()
    for key in keys:
        value = details[key]
        if value is None or (value in ([], "") and key != "chain"):
            continue
        if key.endswith("_bytes") and key[: -len("_bytes")] in details:
            continue  # shown with the value itself
        if f"{key}_bytes" in details and isinstance(value, str):
            label = f"{label_of(key)} ({details[f'{key}_bytes']} bytes)"
            lines += _value_lines(label, value)
        elif key == "chain":
            lines += _chain_lines(value)
        elif key == "derived" and isinstance(value, Mapping):
            for name, length in value.items():
                lines.append(_derived_line(name, length, secrets, fingerprints))
                shown_secrets.add(name)
        else:
            lines += _value_lines(label_of(key), _format_value(key, value), _style_of(key, value))
    for name, value in secrets.items():
        if name not in shown_secrets:
            lines += _value_lines(name, value, "secret")
    for name, print_ in fingerprints.items():
        if name not in shown_secrets:
            lines.append([(f"{name:<{_LABEL_WIDTH}}", "label"),
                          f"fingerprint {print_} (value hidden)"])
    return lines


def _style_of(key: str, value: Any) -> str:
    if key == "result":
        if value == "no staple":
            return ""
        return "ok" if value in ("ok", "verified", "signature verified") else "bad"
    if key in ("status", "staple_status"):
        return "ok" if value == "good" else "bad"
    if key in ("reason", "alert") or key == "description":
        return "bad"
    return ""


def _derived_line(name: str, length: Any, secrets: Mapping[str, str],
                  fingerprints: Mapping[str, str]) -> list[Segment]:
    line: list[Segment] = [(f"{name:<{_LABEL_WIDTH + 12}}", "label"), f"{length:>3} bytes"]
    if name in secrets:
        line += ["  ", (secrets[name], "secret")]
    elif name in fingerprints:
        line.append(f"  fingerprint {fingerprints[name]}")
    return line


def _value_lines(label: str, text: str, style: str = "") -> list[list[Segment]]:
    pad = " " * _LABEL_WIDTH
    if len(text) > _HEX_LINE and _HEX.match(text):
        # Long hex: the label on a line of its own, the value folded below it.
        parts = [text[i:i + _HEX_LINE] for i in range(0, len(text), _HEX_LINE)]
        first: list[Segment] = [(label, "label")]
        return [first] + [[pad, (p, style) if style else p] for p in parts]
    if len(label) >= _LABEL_WIDTH:
        return [[(label, "label")], [pad, (text, style) if style else text]]
    return [[(f"{label:<{_LABEL_WIDTH}}", "label"), (text, style) if style else text]]


def _format_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in ("key", "server_key") and isinstance(value, str):
        return key_words(value)
    if isinstance(value, int) and key.endswith("_bytes"):
        return f"{value} bytes"
    if key == "key_shares" and isinstance(value, list):
        return ", ".join(f"{s.get('group')} ({s.get('bytes')} bytes)" for s in value)
    if isinstance(value, list):
        return ", ".join(_format_value("", v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_format_value(k, v)}" for k, v in value.items())
    return str(value)


def key_words(key: str) -> str:
    """A certificate key with its size: ``"ECDSA secp256r1"`` -> ``"ECDSA secp256r1
    (256-bit)"``, ``"RSA 2048"`` -> ``"RSA 2048-bit"``."""
    match = re.fullmatch(r"RSA (\d+)", key)
    if match:
        return f"RSA {match.group(1)}-bit"
    match = re.search(r"secp(\d+)r1", key)
    if match:
        return f"{key} ({match.group(1)}-bit)"
    if key == "Ed25519":
        return "Ed25519 (256-bit)"
    return key


def _date(text: str) -> str:
    return text.replace("T", " ")[:16] if text else "?"


def _chain_lines(chain: Iterable[Mapping[str, Any]]) -> list[list[Segment]]:
    lines: list[list[Segment]] = []
    entries = list(chain)
    if not entries:
        return [[("certificates", "label"), "          none"]]
    for index, certificate in enumerate(entries):
        lines.append([(f"{f'certificate {index}':<{_LABEL_WIDTH}}", "label"),
                      (str(certificate.get("subject", "")), "step")])
        rows = [
            ("issuer", str(certificate.get("issuer", ""))),
            ("key", key_words(str(certificate.get("key", "")))),
            ("valid", f"{_date(certificate.get('not_before', ''))} to "
                      f"{_date(certificate.get('not_after', ''))} UTC"),
            ("SAN", ", ".join(certificate.get("san", ())) or "(none)"),
            ("serial", str(certificate.get("serial", ""))),
        ]
        for name, text in rows:
            lines.append([(f"  {name:<{_LABEL_WIDTH - 2}}", "label"), text])
    return lines


__all__ = ["JsonView", "Output", "TextView", "View", "event_lines", "fingerprint",
           "key_words", "label_of", "open_view", "redact", "step_note", "wants_color"]
