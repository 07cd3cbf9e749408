"""Talking to the page server from tests: HTTP/1.1 over any socket-like object,
the page server started in-process, and ``glasstls serve`` started as a command.

    with page_server() as (server, port):
        with glass_connect(port) as sock:
            response = get(sock, "/api/handshake")
            report = response.json()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import glasstls
from glasstls import ClientConfig, ServerConfig, TLSServer, TLSSocket
from glasstls.trace import TraceEvent
from glasstls.web.server import WebOptions, start_server
from pki import pki

# Seconds a test waits for anything that should happen at once (a generous bound
# for a loaded CI machine, never an assertion about speed).
PATIENCE = 30.0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def read_response(sock: Any, head_only: bool = False) -> Response:
    """One HTTP/1.1 response (with a Content-Length, as this server always sends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed inside a response head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response body")
        body += chunk
    return Response(status, headers, body[:length])


def get(sock: Any, path: str, *, method: str = "GET", keep_alive: bool = False,
        headers: str = "") -> Response:
    connection = "keep-alive" if keep_alive else "close"
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
                 f"Connection: {connection}\r\n{headers}\r\n".encode())
    return read_response(sock, head_only=method == "HEAD")


def client_config(**overrides: Any) -> ClientConfig:
    return ClientConfig(**{"trust": pki().trust, **overrides})


def server_config(**overrides: Any) -> ServerConfig:
    return ServerConfig(**{"certificates": (pki().certified,), **overrides})


@contextlib.contextmanager
def page_server(options: WebOptions | None = None, **config: Any
                ) -> Iterator[tuple[TLSServer, int]]:
    server = start_server(server_config(**config), "127.0.0.1", 0,
                          options or WebOptions(handshake_timeout=PATIENCE,
                                                idle_timeout=PATIENCE,
                                                request_timeout=PATIENCE))
    try:
        yield server, server.address[1]
    finally:
        server.close(abort_connections=True)


@dataclass
class ClientTrace:
    """A client-side trace callback: what the glasstls client itself sent."""

    events: list[TraceEvent] = field(default_factory=list)

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def sent_hello(self) -> dict[str, Any]:
        return next(e.details for e in self.events
                    if e.step == "ClientHello" and e.action == "sent")


def glass_connect(port: int, config: ClientConfig | None = None,
                  server_hostname: str = "localhost") -> TLSSocket:
    return glasstls.connect(("127.0.0.1", port), config=config or client_config(),
                            server_hostname=server_hostname, timeout=PATIENCE)


class ServeProcess:
    """``glasstls serve`` running as a command; its output is read as it comes
    (so that the pipe never fills) and kept in ``lines``."""

    def __init__(self, process: subprocess.Popen[str], state_dir: Path) -> None:
        self.process = process
        self.state_dir = state_dir
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for_line(self, pattern: str) -> re.Match[str]:
        """The first output line matching ``pattern`` (waiting for it)."""
        deadline = time.monotonic() + PATIENCE
        with self._changed:
            while True:
                for line in self.lines:
                    match = re.search(pattern, line)
                    if match:
                        return match
                if (self.lines and self.lines[-1] == "") or time.monotonic() > deadline:
                    raise AssertionError(f"no line matching {pattern!r} in the output of "
                                         f"glasstls serve:\n{self.output}")
                self._changed.wait(timeout=1.0)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def url(self) -> str:
        return self.wait_for_line(r"handshake at (https://\S+/)").group(1)

    @property
    def banner(self) -> str:
        self.wait_for_line(r"^Ctrl-C stops the server")
        return self.output

    @property
    def port(self) -> int:
        match = re.search(r":(\d+)/$", self.url)
        assert match, self.url
        return int(match.group(1))

    @property
    def ca(self) -> Path:
        return self.state_dir / "ca.pem"

    @property
    def spki_pin(self) -> str:
        match = re.search(r"--ignore-certificate-errors-spki-list=(\S+)", self.banner)
        assert match, self.banner
        return match.group(1)

    def stop(self) -> int:
        self.process.terminate()
        try:
            code = self.process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout=PATIENCE)
        return code


def serve_environment(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GLASSTLS_STATE_DIR"] = str(state_dir)
    env.pop("SSLKEYLOGFILE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def serve_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "glasstls", "serve", *args]


@contextlib.contextmanager
def serve_command(state_dir: Path, *args: str) -> Iterator[ServeProcess]:
    """``glasstls serve --port 0 ARGS`` running until the block ends; the block
    starts once its banner is out."""
    process = subprocess.Popen(serve_argv("--port", "0", *args), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env=serve_environment(state_dir))
    served = ServeProcess(process, state_dir)
    try:
        served.url  # noqa: B018 - waits until the server is listening (--quiet too)
        yield served
    finally:
        served.stop()
        if process.stdout is not None:
            process.stdout.close()
