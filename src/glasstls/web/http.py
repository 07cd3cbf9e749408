"""Just enough HTTP/1.1 for the page: request heads in, whole responses out.

Requests have no body (only GET and HEAD are served), so a request is its head:
a request line and header fields, at most ``MAX_HEAD`` bytes. Anything this
server cannot or will not parse becomes an ``HTTPError`` with the status to
answer (400, 405, 413, 431, 501, 505), after which the connection is closed.
``RequestReader`` reads one connection's requests with two deadlines: how long
the connection may sit idle between requests, and how long a client may take to
send a whole request head once it has started (slow clients are cut off).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Protocol

MAX_HEAD = 8192
MAX_HEADERS = 64

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")

REASONS = {
    200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Content Too Large",
    431: "Request Header Fields Too Large", 501: "Not Implemented",
    505: "HTTP Version Not Supported",
}

# No script, no frame, nothing from elsewhere: only the page's own inline style.
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
     "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


class HTTPError(Exception):
    """A request this server answers with an error status and then closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: tuple[tuple[str, str], ...]  # names lower-cased, in order

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        tokens = {token.strip().lower()
                  for token in (self.header("connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


def parse_head(head: bytes) -> Request:
    """A request head (without its final blank line) as a ``Request``."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise HTTPError(400, "malformed request line")
    method, target, version = parts
    match = _VERSION.match(version)
    if not _TOKEN.match(method) or match is None:
        raise HTTPError(400, "malformed request line")
    if match.group(1) != b"1":
        # An HTTP/2 preface ("PRI * HTTP/2.0") without ALPN lands here too.
        raise HTTPError(505, f"{version.decode()} is not spoken here: HTTP/1.1 only")
    if not target.startswith(b"/") or not all(0x21 <= b <= 0x7E for b in target):
        raise HTTPError(400, "the request target must be a path")
    if len(lines) - 1 > MAX_HEADERS:
        raise HTTPError(431, "too many header fields")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            # RFC 9112 §5.2: obsolete line folding (and any other oddity) is rejected.
            raise HTTPError(400, "malformed header field")
        if any((b < 0x20 and b != 0x09) or b == 0x7F for b in value):
            raise HTTPError(400, "control character in a header field")
        headers.append((name.decode("ascii").lower(),
                        value.strip(b" \t").decode("latin-1")))
    request = Request(method.decode("ascii"), target.decode("ascii"),
                      version.decode("ascii"), tuple(headers))
    if request.header("transfer-encoding") is not None:
        raise HTTPError(501, "request bodies are not accepted")
    length = request.header("content-length")
    if length is not None and length.strip() != "0":
        raise HTTPError(413, "request bodies are not accepted")
    return request


def response(status: int, body: bytes, content_type: str, *, keep_alive: bool,
             head_only: bool = False, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A whole HTTP/1.1 response, head and body."""
    fields = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Connection", "keep-alive" if keep_alive else "close"),
        ("Server", "glasstls"),
        *SECURITY_HEADERS,
        *extra,
    ]
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
    return head.encode("latin-1") + (b"" if head_only else body)


class Receiver(Protocol):
    def recv(self, size: int) -> bytes: ...

    def settimeout(self, timeout: float | None) -> None: ...


class RequestReader:
    """The requests of one connection, in order (pipelined ones included)."""

    def __init__(self, sock: Receiver, *, idle_timeout: float, request_timeout: float) -> None:
        self._sock = sock
        self._idle_timeout = idle_timeout
        self._request_timeout = request_timeout
        self._buffer = bytearray()

    def next_request(self) -> Request | None:
        """The next request; None when the client closed the connection or stayed
        idle too long before starting one. Raises ``HTTPError`` for a bad or slow
        request (408 when the head did not arrive in time), ``OSError`` when the
        connection failed."""
        started: float | None = time.monotonic() if self._buffer else None
        while True:
            end = self._buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            if end >= 0:
                head = bytes(self._buffer[:end])
                del self._buffer[:end + 4]
                return parse_head(head)
            if len(self._buffer) >= MAX_HEAD + 4:
                raise HTTPError(431, "request head too large")
            now = time.monotonic()
            if started is None:
                self._sock.settimeout(self._idle_timeout)
            else:
                remaining = started + self._request_timeout - now
                if remaining <= 0:
                    raise HTTPError(408, "the request head took too long")
                self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(MAX_HEAD)
            except TimeoutError:
                if started is None:
                    return None
                raise HTTPError(408, "the request head took too long") from None
            if not data:
                if self._buffer.strip():
                    raise HTTPError(400, "the connection ended inside a request")
                return None
            if started is None:
                started = now
            self._buffer += data
            # RFC 9112 §2.2: ignore empty lines before a request line.
            while self._buffer.startswith(b"\r\n"):
                del self._buffer[:2]


__all__ = ["HTTPError", "Request", "RequestReader", "parse_head", "response"]
