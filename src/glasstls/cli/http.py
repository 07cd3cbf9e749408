"""``glasstls client --http PATH``: one GET over the TLS connection, in the protocol
ALPN chose: HTTP/1.1 (also when no ALPN was negotiated) or HTTP/2 (``h2``, with the
``h2`` package from the ``cli`` extra). Any other protocol is refused: sending
HTTP/1.1 bytes into an h2 or IMAP connection only produces garbage.

    response = http_get(sock, "example.com", "/", negotiated_alpn)
    response.status, response.headers, response.body
"""

from __future__ import annotations

import importlib.util
import ssl
from dataclasses import dataclass, field
from typing import Any

from ..io import TLSSocket
from . import exitcodes
from .failures import CommandError

# Largest response head we read before giving up (a test client, not a browser).
MAX_HEAD = 64 * 1024
_READ = 65536
# How long to wait for the end of the connection after a complete response.
_END_WAIT = 1.0


@dataclass
class Response:
    protocol: str  # "HTTP/1.1", "HTTP/1.0", "h2"
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # The bytes of the head as received (HTTP/1.x), shown as they came.
    raw_head: bytes = b""
    complete: bool = True  # False: the server closed before the announced length
    # The server ended the TCP connection without close_notify: as curl does, the
    # response is still shown (with a warning); only a visibly cut one fails.
    ragged_eof: bool = False

    def head_text(self) -> str:
        """The status line and headers as text (an HTTP/2 response in curl's style)."""
        if self.raw_head:
            return self.raw_head.decode("latin-1")
        lines = [f"HTTP/2 {self.status}"] + [f"{name}: {value}" for name, value in self.headers]
        return "\r\n".join(lines) + "\r\n\r\n"


def _bad_answer(message: str) -> CommandError:
    """The server's answer (not our options) went wrong: a network-class failure."""
    return CommandError(message, exitcodes.NETWORK)


def h2_available() -> bool:
    return importlib.util.find_spec("h2") is not None


def check_protocol(alpn: str | None) -> None:
    """Refuse ``--http`` over a protocol it does not speak, before sending a byte."""
    if alpn in (None, "http/1.1", "http/1.0"):
        return
    if alpn == "h2":
        if not h2_available():
            raise CommandError("the server chose h2 (HTTP/2), which needs the h2 package: "
                               "pip install 'glasstls[cli]'")
        return
    raise CommandError(f"the server chose the ALPN protocol {alpn!r}; --http speaks only "
                       "http/1.1 and h2 (leave out --http to talk to it yourself)")


class _Stream:
    """``recv`` on the TLS socket, with an end without close_notify (``SSLEOFError``)
    read as an end of stream and remembered."""

    def __init__(self, sock: TLSSocket) -> None:
        self.sock = sock
        self.ragged_eof = False

    def recv(self, size: int) -> bytes:
        try:
            return self.sock.recv(size)
        except ssl.SSLEOFError:
            self.ragged_eof = True
            return b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_for_end(self) -> None:
        """We asked for ``Connection: close``: after a complete response, wait a
        moment for the server's end of stream, to tell whether it sent close_notify."""
        timeout = self.sock.gettimeout()
        self.sock.settimeout(_END_WAIT if timeout is None else min(timeout, _END_WAIT))
        try:
            while self.recv(_READ):
                pass  # nothing belongs after the response; it is not shown
        except (TimeoutError, OSError):
            pass
        finally:
            self.sock.settimeout(timeout)


def http_get(sock: TLSSocket, host: str, path: str, alpn: str | None) -> Response:
    """GET ``path`` from ``host`` over ``sock`` in the negotiated protocol."""
    check_protocol(alpn)
    if not path.startswith("/"):
        path = "/" + path
    stream = _Stream(sock)
    if alpn == "h2":
        response = _h2_get(stream, host, path)
    else:
        stream.sendall(request_bytes(host, path))
        response = read_response(stream)
        stream.wait_for_end()
    response.ragged_eof = stream.ragged_eof
    return response


def request_bytes(host: str, path: str) -> bytes:
    """An HTTP/1.1 GET that asks the server to close after its answer."""
    host_header = f"[{host}]" if ":" in host else host
    return (f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: glasstls\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode()


def read_response(sock: Any) -> Response:
    """One HTTP/1.x response: by Content-Length, chunked, or until the server closes."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_HEAD:
            raise _bad_answer(f"the response head is larger than {MAX_HEAD} bytes")
        chunk = sock.recv(_READ)
        if not chunk:
            if not buffer:
                raise _bad_answer("the server closed the connection without answering")
            raise _bad_answer("the server closed the connection in the middle of the "
                              "response head")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _bad_answer(f"not an HTTP response: {lines[0][:60]!r}")
    headers = [(name.strip(), value.strip()) for name, _, value in
               (line.partition(":") for line in lines[1:])]
    response = Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "",
                        headers, raw_head=head + b"\r\n\r\n")
    fields = {name.lower(): value for name, value in headers}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        response.body, response.complete = _read_chunked(sock, rest)
    elif fields.get("content-length", "").isdigit():
        response.body, response.complete = _read_length(sock, rest,
                                                        int(fields["content-length"]))
    else:
        response.body = rest + _read_to_end(sock)
    return response


def _read_to_end(sock: Any) -> bytes:
    data = bytearray()
    while chunk := sock.recv(_READ):
        data += chunk
    return bytes(data)


def _read_length(sock: Any, data: bytes, length: int) -> tuple[bytes, bool]:
    body = bytearray(data)
    while len(body) < length:
        chunk = sock.recv(_READ)
        if not chunk:
            return bytes(body), False
        body += chunk
    return bytes(body[:length]), True


def _read_chunked(sock: Any, data: bytes) -> tuple[bytes, bool]:
    """RFC 9112 §7.1: size lines in hex, each chunk, a zero size, trailers."""
    buffer, body = bytearray(data), bytearray()

    def need(predicate: Any) -> bool:
        while not predicate():
            chunk = sock.recv(_READ)
            if not chunk:
                return False
            buffer.extend(chunk)
        return True

    while True:
        if not need(lambda: b"\r\n" in buffer):
            return bytes(body), False
        line, _, _ = bytes(buffer).partition(b"\r\n")
        del buffer[:len(line) + 2]
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _bad_answer(f"bad chunk size {size_text[:20]!r} in the response") from None
        if size == 0:
            need(lambda: b"\r\n\r\n" in b"\r\n" + buffer)  # trailers, if any
            return bytes(body), True
        if not need(lambda size=size: len(buffer) >= size + 2):
            body += buffer
            return bytes(body), False
        body += buffer[:size]
        del buffer[:size + 2]


def _h2_get(sock: _Stream, host: str, path: str) -> Response:
    """A minimal HTTP/2 GET with the h2 package: one stream, then GOAWAY."""
    import h2.config
    import h2.connection
    import h2.events

    connection = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8"))
    connection.initiate_connection()
    stream = connection.get_next_available_stream_id()
    authority = f"[{host}]" if ":" in host else host
    connection.send_headers(stream, [(":method", "GET"), (":scheme", "https"),
                                     (":authority", authority), (":path", path),
                                     ("user-agent", "glasstls"), ("accept", "*/*")],
                            end_stream=True)
    sock.sendall(connection.data_to_send())
    response = Response("h2", 0, "")
    body = bytearray()
    while True:
        data = sock.recv(_READ)
        if not data:
            response.complete = False
            break
        done = False
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                headers = [(str(name), str(value)) for name, value in event.headers]
                response.status = int(dict(headers).get(":status", "0"))
                response.headers = [(n, v) for n, v in headers if not n.startswith(":")]
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                body += event.data
                connection.acknowledge_received_data(event.flow_controlled_length, stream)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                done = True
            elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                raise _bad_answer(f"the server reset the HTTP/2 stream (error "
                                  f"{event.error_code!s})")
            elif isinstance(event, h2.events.ConnectionTerminated):
                done = True
                response.complete = response.status != 0
        if done:
            break
        sock.sendall(connection.data_to_send())
    connection.close_connection()
    sock.sendall(connection.data_to_send())
    response.body = bytes(body)
    return response


__all__ = ["MAX_HEAD", "Response", "check_protocol", "h2_available", "http_get",
           "read_response", "request_bytes"]
