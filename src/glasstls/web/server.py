"""The HTTPS server behind ``glasstls serve``: each visitor sees its own handshake.

It runs on ``glasstls.serve`` (the handshakes on one thread, each connection
then on a worker thread; at most ``max_connections`` at once, the rest wait in
the listen backlog). Each
connection gets a config of its own whose trace callback is a fresh
``HandshakeRecorder``, so what a page shows comes from that connection alone:
its ClientHello (kept by its ``ServerConnection``), its negotiated parameters
and its trace. Nothing outlives the connection, so memory is bounded by the
number of connections served at once, whatever the number of visitors.

Robustness: a handshake must finish within ``handshake_timeout``; between
requests a connection may stay idle ``idle_timeout`` seconds; a request head must
arrive whole within ``request_timeout`` of its first byte; a response that the
client does not read within ``request_timeout`` is abandoned. A failed handshake
or a malformed request closes that connection only.

    server = start_server(ServerConfig(certificates=(certified,)), "127.0.0.1", 8443)
    server.serve_forever()
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import ServerConfig
from ..connection import ServerConnection
from ..io.server import TLSServer, serve
from ..io.sockets import TLSSocket
from .http import HTTPError, Request, RequestReader, response
from .ja4 import ja4
from .page import render_page
from .report import HandshakeRecorder, handshake_report

Log = Callable[[str], None]

# The only application protocol served; a client offering h2 first gets http/1.1.
ALPN_PROTOCOLS = ("http/1.1",)
MAX_USER_AGENT = 512
# The bytes view keeps at most this much of a connection's records (its handshake
# and first requests fit; a long-lived connection's later records are counted).
RECORDED_BYTES = 1 << 18


@dataclass(frozen=True)
class WebOptions:
    """Limits of the page server (seconds and counts)."""

    handshake_timeout: float = 10.0
    idle_timeout: float = 15.0
    request_timeout: float = 10.0
    max_connections: int = 64
    max_requests_per_connection: int = 100


def web_config(config: ServerConfig) -> ServerConfig:
    """The config the page is served with: ``config``, speaking HTTP/1.1 over ALPN."""
    return dataclasses.replace(config, alpn_protocols=ALPN_PROTOCOLS, keep_client_hello=True)


def _with_recorder(config: ServerConfig) -> ServerConfig:
    # Imported here: glasstls.explain reads code point names from this package.
    from ..explain.recorder import Recorder

    return dataclasses.replace(config, trace=HandshakeRecorder(),
                               recorder=Recorder(limit=1, max_bytes=RECORDED_BYTES))


def _address_text(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = f"[{address[0]}]" if ":" in str(address[0]) else str(address[0])
        return f"{host}:{address[1]}"
    return str(address)


class PageHandler:
    """Serves the requests of one connection at a time (called on its worker thread)."""

    def __init__(self, options: WebOptions, log: Log | None = None) -> None:
        self.options = options
        self._log = log
        self._log_lock = threading.Lock()

    def log(self, line: str) -> None:
        if self._log is not None:
            with self._log_lock:
                self._log(line)

    def __call__(self, sock: TLSSocket, address: Any) -> None:
        connection = sock.connection
        recorder = connection.config.trace
        if not isinstance(connection, ServerConnection) or not isinstance(
                recorder, HandshakeRecorder):
            raise TypeError("PageHandler needs connections made by start_server()")
        client = _address_text(address)
        negotiated = connection.negotiated
        if negotiated is not None and connection.client_hello is not None:
            self.log(f"{client} {negotiated.version} {negotiated.cipher_suite} "
                     f"{negotiated.group or '-'} JA4 {ja4(connection.client_hello).fingerprint}"
                     f"{' resumed' if negotiated.resumed else ''}")
        options = self.options
        reader = RequestReader(sock, idle_timeout=options.idle_timeout,
                               request_timeout=options.request_timeout)
        try:
            for number in range(1, options.max_requests_per_connection + 1):
                if not self._serve_request(sock, reader, connection, recorder, client, number):
                    return
        except OSError:
            return  # the client went away, or the connection failed: nothing to answer

    def _serve_request(self, sock: TLSSocket, reader: RequestReader,
                       connection: ServerConnection, recorder: HandshakeRecorder,
                       client: str, number: int) -> bool:
        """Read and answer one request; False when the connection is to close."""
        try:
            request = reader.next_request()
        except HTTPError as error:
            self._send(sock, response(error.status, f"{error}\n".encode(),
                                      "text/plain; charset=utf-8", keep_alive=False))
            self.log(f"{client} bad request: {error.status} {error}")
            return False
        if request is None:
            return False
        keep_alive = request.keep_alive and number < self.options.max_requests_per_connection
        status, body, content_type, extra = self._route(request, connection, recorder,
                                                        client, number)
        self._send(sock, response(status, body, content_type, keep_alive=keep_alive,
                                  head_only=request.method == "HEAD", extra=extra))
        self.log(f"{client} {request.method} {request.path} {status}")
        return keep_alive

    def _send(self, sock: TLSSocket, data: bytes) -> None:
        sock.settimeout(self.options.request_timeout)
        sock.sendall(data)

    def _route(self, request: Request, connection: ServerConnection,
               recorder: HandshakeRecorder, client: str, number: int
               ) -> tuple[int, bytes, str, tuple[tuple[str, str], ...]]:
        if request.method not in ("GET", "HEAD"):
            return (405, b"only GET and HEAD are served here\n", "text/plain; charset=utf-8",
                    (("Allow", "GET, HEAD"),))
        if request.path == "/bytes":
            return 200, self._bytes_page(connection, client), "text/html; charset=utf-8", ()
        if request.path not in ("/", "/api/handshake"):
            return (404, b"not found: try /, /bytes or /api/handshake\n",
                    "text/plain; charset=utf-8", ())
        agent = request.header("user-agent")
        report = handshake_report(connection, recorder, {
            "connection": {"client_address": client, "request_number": number,
                           "application_records": recorder.application_records},
            "request": {"method": request.method, "path": request.path,
                        "http_version": request.version,
                        "user_agent": agent[:MAX_USER_AGENT] if agent else None},
        })
        if request.path == "/api/handshake":
            body = json.dumps(report, indent=2, ensure_ascii=True, default=str).encode() + b"\n"
            return 200, body, "application/json", ()
        return 200, render_page(report).encode("utf-8"), "text/html; charset=utf-8", ()


    @staticmethod
    def _bytes_page(connection: ServerConnection, client: str) -> bytes:
        """Every byte of this connection so far (its ClientHello, the server's flight,
        this request), decrypted by the server and explained; secrets as fingerprints."""
        from ..explain.html import render_html
        from ..explain.recorder import Recording

        recording = connection.recorder
        if not isinstance(recording, Recording):
            return b"this connection was not recorded\n"
        title = f"Your connection, byte by byte ({client})"
        return render_html([(title, recording.explain())], title=title).encode("utf-8")


def start_server(config: ServerConfig, host: str = "127.0.0.1", port: int = 8443,
                 options: WebOptions | None = None, log: Log | None = None) -> TLSServer:
    """Start serving the page on ``(host, port)`` (port 0: any free port; read it
    from ``server.address``); returns the running ``TLSServer``."""
    options = options or WebOptions()
    return serve((host, port), PageHandler(options, log), config=web_config(config),
                 handshake_timeout=options.handshake_timeout,
                 timeout=options.request_timeout, max_connections=options.max_connections,
                 connection_config=_with_recorder)


__all__ = ["ALPN_PROTOCOLS", "PageHandler", "WebOptions", "start_server", "web_config"]
