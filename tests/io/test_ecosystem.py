"""Real programs given a glasstls.SSLContext, on 127.0.0.1: what they do must be
what they do with ``ssl``.

- urllib and requests read a close-delimited HTTP/1.0 body from Python's own
  ``http.server`` wrapped in ``ssl`` (which ends without close_notify);
- httpx with ``http2=True`` speaks HTTP/2 to hypercorn, whether hypercorn's TLS
  is Python's ``ssl`` or glasstls (hypercorn's own setup code, handed glasstls);
- the websockets sync server and client run over glasstls contexts.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from io_helpers import glass_context, python_client_context, python_https_server

import glasstls
from glasstls.trace import TraceEvent
from peers import require_module

pytestmark = pytest.mark.interop

BODY = b"a body that ends where the connection ends\n" * 200


class CloseDelimited(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 with no Content-Length: the body ends when the connection does
    (and Python's ssl server closes without close_notify)."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_urllib_reads_a_close_delimited_body_as_with_ssl(files: dict[str, Path]) -> None:
    with python_https_server(files, handler=CloseDelimited) as port:
        url = f"https://localhost:{port}/"
        with urllib.request.urlopen(url, context=python_client_context(files),
                                    timeout=10) as response:
            with_ssl = response.read()
        context = glass_context(files)
        steps: list[TraceEvent] = []
        context.trace = steps.append
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            assert response.status == 200
            tls = response.fp.raw._sock
            assert isinstance(tls, glasstls.TLSSocket)
            with_glasstls = response.read()
            assert tls.ragged_eof  # the truncation is visible to whoever asks
    assert with_ssl == with_glasstls == BODY
    ends = [e.details for e in steps if e.step == "Close" and e.action == "received"]
    assert ends == [{"transport": "ended without close_notify",
                     "meaning": "what was received may have been cut short"}]


def test_requests_reads_a_close_delimited_body(files: dict[str, Path]) -> None:
    requests = require_module("requests")
    from requests.adapters import HTTPAdapter

    steps: list[str] = []
    context = glass_context(files)
    context.trace = lambda event: steps.append(event.step)

    class GlassAdapter(HTTPAdapter):
        """The usual way to give requests an SSLContext."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

    with python_https_server(files, handler=CloseDelimited) as port, requests.Session() as session:
        session.mount("https://", GlassAdapter())
        response = session.get(f"https://localhost:{port}/", timeout=10,
                               verify=str(files["ca"]))
        assert response.status_code == 200
        assert response.content == BODY
    assert steps.count("Established") == 1  # glasstls made the connection


# -- httpx HTTP/2 against hypercorn ----------------------------------------------------


async def report_http_version(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering with the HTTP version and TLS it was reached over."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = f"HTTP/{scope['http_version']} over {scope['scheme']}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Served:
    port: int
    steps: list[str] = field(default_factory=list)


@contextlib.contextmanager
def hypercorn_server(files: dict[str, Path], tls: str,
                     monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """hypercorn on a thread of its own; with ``tls="glasstls"`` hypercorn's own
    create_ssl_context builds a glasstls context (whose trace steps are kept),
    with "ssl" Python's."""
    hypercorn_asyncio = require_module("hypercorn.asyncio")
    import hypercorn.config

    served = Served(0)
    steps = served.steps
    if tls == "glasstls":
        def traced_context(*args: Any, **kwargs: Any) -> glasstls.SSLContext:
            context = glasstls.create_default_context(*args, **kwargs)
            context.trace = lambda event: steps.append(event.step)
            return context

        monkeypatch.setattr(hypercorn.config, "create_default_context", traced_context)
    config = hypercorn.config.Config()
    config.certfile, config.keyfile = str(files["cert"]), str(files["key"])
    listener = socket.create_server(("127.0.0.1", 0))
    served.port = listener.getsockname()[1]
    config.bind = [f"fd://{listener.detach()}"]
    config.accesslog = config.errorlog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, daemon=True, args=(
        hypercorn_asyncio.serve(report_http_version, config, shutdown_trigger=stop.wait),))
    thread.start()
    try:
        yield served
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def httpx_over_http2(port: int, context: ssl.SSLContext, count: int = 3) -> list[Any]:
    httpx = require_module("httpx")
    require_module("h2")
    with httpx.Client(verify=context, http2=True, timeout=10) as client:
        return [client.get(f"https://localhost:{port}/{n}") for n in range(count)]


@pytest.mark.parametrize("server_tls", ["ssl", "glasstls"])
def test_httpx_speaks_http2_to_hypercorn(files: dict[str, Path], server_tls: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    client_steps: list[str] = []
    context = glass_context(files)
    context.trace = lambda event: client_steps.append(event.step)
    with hypercorn_server(files, server_tls, monkeypatch) as server:
        responses = httpx_over_http2(server.port, context)
    for response in responses:
        assert response.status_code == 200
        assert response.http_version == "HTTP/2"
        assert response.text == "HTTP/2 over https"
    assert client_steps.count("Established") == 1  # one connection, three streams
    if server_tls == "glasstls":
        assert server.steps.count("Established") == 1


def test_httpx_http2_against_hypercorn_with_ssl_for_comparison(
        files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same requests with ssl on both sides: what glasstls must match."""
    with hypercorn_server(files, "ssl", monkeypatch) as server:
        responses = httpx_over_http2(server.port, python_client_context(files), count=1)
    assert (responses[0].http_version, responses[0].text) == ("HTTP/2", "HTTP/2 over https")


# -- websockets (sync) ---------------------------------------------------------------


def test_websockets_sync_server_and_client_over_glasstls(files: dict[str, Path]) -> None:
    require_module("websockets")
    from websockets.sync.client import connect
    from websockets.sync.server import ServerConnection, serve

    seen: list[Any] = []

    def echo(connection: ServerConnection) -> None:
        seen.append(connection.socket)
        for message in connection:
            connection.send(f"echo: {message}")

    with serve(echo, "127.0.0.1", 0, ssl=glass_context(files, server=True)) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        try:
            with connect(f"wss://localhost:{port}/", ssl=glass_context(files),
                         open_timeout=10) as client:
                client.send("hello")
                assert client.recv(timeout=10) == "echo: hello"
                client.send("again")
                assert client.recv(timeout=10) == "echo: again"
                assert isinstance(client.socket, glasstls.TLSSocket)
                assert client.socket.version() == "TLSv1.3"
        finally:
            server.shutdown()
            thread.join(10)
    assert isinstance(seen[0], glasstls.TLSSocket)
