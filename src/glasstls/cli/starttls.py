"""``glasstls client --starttls PROTOCOL``: the plain-text exchange that turns a
mail or file-transfer connection into TLS, as ``openssl s_client -starttls`` does.

    smtp  220 greeting, EHLO, STARTTLS in the EHLO answer, STARTTLS, 220   (RFC 3207)
    imap  * OK greeting, a1 STARTTLS, a1 OK                                (RFC 9051 §6.2.1)
    pop3  +OK greeting, STLS, +OK                                          (RFC 2595 §4)
    ftp   220 greeting, AUTH TLS, 234                                      (RFC 4217 §4)

Each answer is read line by line and nothing may follow the last one before our
ClientHello: bytes the server sent early would otherwise be read as if they came
over TLS (the STARTTLS command injection of CVE-2011-0411), so they end the
connection with an error.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from . import exitcodes
from .failures import CommandError

PROTOCOLS = ("smtp", "imap", "pop3", "ftp")
DEFAULT_PORTS = {"smtp": 25, "imap": 143, "pop3": 110, "ftp": 21}
_MAX_LINE = 8192
_MAX_LINES = 200

# Called with ("S", line) for what the server sent and ("C", line) for ours.
Transcript = Callable[[str, str], None]


class _Lines:
    """Reads CRLF-terminated lines from a plain socket, remembering any surplus."""

    def __init__(self, sock: socket.socket, transcript: Transcript) -> None:
        self.sock = sock
        self.transcript = transcript
        self.buffer = b""

    def read(self) -> str:
        while b"\n" not in self.buffer:
            if len(self.buffer) > _MAX_LINE:
                raise _failure("sent a line longer than 8192 bytes")
            data = self.sock.recv(4096)
            if not data:
                raise _failure("closed the connection before STARTTLS finished")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        self.transcript("S", text)
        return text

    def send(self, line: str) -> None:
        self.transcript("C", line)
        self.sock.sendall(line.encode() + b"\r\n")

    def reply(self, multiline_code: bool) -> list[str]:
        """One reply: SMTP and FTP continue lines with "NNN-" until "NNN "."""
        lines = [self.read()]
        while multiline_code and len(lines[-1]) > 3 and lines[-1][3] == "-":
            if len(lines) > _MAX_LINES:
                raise _failure("sent an endless reply")
            lines.append(self.read())
        return lines


def _failure(what: str) -> CommandError:
    return CommandError(f"STARTTLS: the server {what}", exitcodes.TLS)


def _expect(lines: list[str], prefix: str, doing: str) -> None:
    if not lines[-1].startswith(prefix):
        raise _failure(f"refused {doing}: {lines[-1][:120]!r}")


def negotiate(sock: socket.socket, protocol: str, transcript: Transcript) -> None:
    """Run ``protocol``'s plain-text exchange on ``sock`` up to the point where the
    server waits for our ClientHello."""
    lines = _Lines(sock, transcript)
    if protocol == "smtp":
        _expect(lines.reply(True), "220", "the session (greeting)")
        local = sock.getsockname()[0]
        # RFC 5321 §4.1.3: an address literal where we have no domain name.
        lines.send(f"EHLO [{'IPv6:' if ':' in local else ''}{local}]")
        answer = lines.reply(True)
        _expect(answer, "250", "EHLO")
        if not any(line[4:].strip().upper().startswith("STARTTLS") for line in answer):
            raise _failure("does not offer STARTTLS (not in its EHLO answer)")
        lines.send("STARTTLS")
        _expect(lines.reply(True), "220", "STARTTLS")
    elif protocol == "imap":
        greeting = lines.read()
        if not greeting.upper().startswith("* OK"):
            raise _failure(f"did not greet with '* OK': {greeting[:120]!r}")
        lines.send("a1 STARTTLS")
        tagged = lines.read()
        while tagged.startswith("* "):  # untagged data before the tagged answer
            tagged = lines.read()
        _expect([tagged.upper()], "A1 OK", "STARTTLS")
    elif protocol == "pop3":
        _expect([lines.read()], "+OK", "the session (greeting)")
        lines.send("STLS")
        _expect([lines.read()], "+OK", "STLS")
    elif protocol == "ftp":
        _expect(lines.reply(True), "220", "the session (greeting)")
        lines.send("AUTH TLS")
        _expect(lines.reply(True), "234", "AUTH TLS")
    else:
        raise CommandError(f"unknown STARTTLS protocol {protocol!r}")
    if lines.buffer:
        raise _failure(f"sent {len(lines.buffer)} bytes after its STARTTLS answer, before "
                       "the TLS handshake (refused: they could be an injection)")


__all__ = ["DEFAULT_PORTS", "PROTOCOLS", "negotiate"]
