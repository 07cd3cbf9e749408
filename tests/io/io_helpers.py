"""Shared pieces for the transport tests: configs for both versions, PKI files,
and real peers (``openssl s_server``, an HTTPS server on Python's ``ssl``).

(tests/io has no ``__init__.py``: a package named ``io`` would shadow the
standard library's.)
"""

from __future__ import annotations

import contextlib
import http.server
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import glasstls
from glasstls import ClientConfig, ServerConfig, TLSServer, TLSSocket
from glasstls.constants import TLS12, TLS13
from helpers import pyssl
from peers import require_binary
from pki import pki

KEY_TYPE = "ecdsa-p256"

VERSIONS = [pytest.param(TLS13, id="TLS1.3"), pytest.param(TLS12, id="TLS1.2")]
VERSION_NAMES = {TLS13: "TLSv1.3", TLS12: "TLSv1.2"}
SSL_VERSIONS = {TLS13: ssl.TLSVersion.TLSv1_3, TLS12: ssl.TLSVersion.TLSv1_2}
OPENSSL_VERSION_FLAGS = {TLS13: "-tls1_3", TLS12: "-tls1_2"}


def client_config(version: int | None = None, **overrides: Any) -> ClientConfig:
    versions = (version,) if version is not None else (TLS13, TLS12)
    return ClientConfig(trust=pki(KEY_TYPE).trust, versions=versions, **overrides)


def server_config(version: int | None = None, **overrides: Any) -> ServerConfig:
    versions = (version,) if version is not None else (TLS13, TLS12)
    return ServerConfig(certificates=(pki(KEY_TYPE).certified,), versions=versions,
                        **overrides)


def python_server_context(files: dict[str, Path], version: int | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["cert"], files["key"])
    if version is not None:
        context.minimum_version = context.maximum_version = SSL_VERSIONS[version]
    return context


def python_client_context(files: dict[str, Path], version: int | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(files["ca"]))
    if version is not None:
        context.minimum_version = context.maximum_version = SSL_VERSIONS[version]
    return context


@dataclass
class OpenSSLServer:
    """``openssl s_server`` on 127.0.0.1 with a port it chose itself."""

    process: subprocess.Popen[bytes]
    port: int
    banner: list[str] = field(default_factory=list)

    def connect(self, timeout: float = 10.0) -> socket.socket:
        """A TCP connection to the server, retried while it is still starting
        (with -quiet it does not say when it is listening)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
            except ConnectionRefusedError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def openssl_server(files: dict[str, Path], version: int, extra: Sequence[str] = ("-www",),
                   ) -> Iterator[OpenSSLServer]:
    """Start ``openssl s_server`` for one version; stopped (killed) on exit.

    Without ``-quiet`` it picks its port and says so on stdout. With ``-quiet``
    it relays the client's bytes to its stdout and its stdin to the client, and
    says nothing: the port is chosen here, and ``server.connect()`` retries
    until it listens.
    """
    openssl = require_binary("openssl")
    quiet = "-quiet" in extra
    port = free_port() if quiet else 0
    argv = [openssl, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(files["cert"]),
            "-key", str(files["key"]), OPENSSL_VERSION_FLAGS[version], *extra]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL if quiet else subprocess.STDOUT)
    server = None
    try:
        if quiet:
            server = OpenSSLServer(process, port)
            yield server
            return
        banner: list[str] = []
        stream = process.stdout
        assert stream is not None
        while True:
            line = stream.readline().decode(errors="replace")
            if not line:
                raise AssertionError(f"s_server exited before listening: {banner}")
            banner.append(line)
            match = re.search(r"ACCEPT .*:(\d+)", line)
            if match:
                break
        server = OpenSSLServer(process, int(match.group(1)), banner)
        yield server
    finally:
        if server is not None:
            server.stop()
        elif process.poll() is None:
            process.kill()
            process.wait(10)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        tls = self.connection
        assert isinstance(tls, ssl.SSLSocket)
        cipher = tls.cipher()
        body = (f"path={self.path} version={tls.version()} "
                f"cipher={cipher[0] if cipher else None}\n").encode() * 50
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def python_https_server(files: dict[str, Path], version: int | None = None,
                        handler: type[http.server.BaseHTTPRequestHandler] = _Handler,
                        ) -> Iterator[int]:
    """An HTTPS server on Python's ``ssl`` in a thread; yields its port. By
    default each response says which path, version and suite the server saw."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.socket = python_server_context(files, version).wrap_socket(
        httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def python_tls_listener(files: dict[str, Path], handler: Any, version: int | None = None,
                        context: ssl.SSLContext | None = None
                        ) -> contextlib.AbstractContextManager[int]:
    """One connection served by ``handler(ssl_socket)`` on Python's ``ssl`` in a
    thread; yields the port. Exceptions in the handler fail the test at exit."""
    return pyssl.python_tls_listener(
        context if context is not None else python_server_context(files, version), handler)


def glass_context(files: dict[str, Path], version: int | None = None,
                  server: bool = False) -> Any:
    import glasstls

    if server:
        context = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files["cert"], files["key"])
    else:
        context = glasstls.SSLContext()
        context.load_verify_locations(files["ca"])
    if version is not None:
        context.minimum_version = context.maximum_version = SSL_VERSIONS[version]
    return context


class BioPair:
    """A glasstls client and server TLSObject joined by hand-carried BIOs."""

    def __init__(self, client_context: Any, server_context: Any,
                 server_hostname: str = "localhost") -> None:
        self.c_in, self.c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.s_in, self.s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = client_context.wrap_bio(self.c_in, self.c_out,
                                              server_hostname=server_hostname)
        self.server = server_context.wrap_bio(self.s_in, self.s_out, server_side=True)

    def carry(self) -> None:
        data = self.c_out.read()
        if data:
            self.s_in.write(data)
        data = self.s_out.read()
        if data:
            self.c_in.write(data)

    def handshake(self) -> None:
        for _ in range(10):
            done = 0
            for side in (self.client, self.server):
                try:
                    side.do_handshake()
                    done += 1
                except ssl.SSLWantReadError:
                    pass
            self.carry()
            if done == 2:
                return
        raise AssertionError("handshake did not finish")


def free_port() -> int:
    """A port that was free a moment ago (for peers that cannot report port 0)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


__all__ = ["VERSIONS", "client_config", "openssl_server", "python_https_server",
           "server_config"]


def echo(sock: TLSSocket, address: Any) -> None:
    """A glasstls.serve() handler that echoes until the client closes."""
    while data := sock.recv(65536):
        sock.sendall(data)


@contextlib.contextmanager
def serving(handler: Any = echo, **options: Any) -> Iterator[TLSServer]:
    """glasstls.serve() on a free port with the test PKI (closed with abort)."""
    server = glasstls.serve(("127.0.0.1", 0), handler, config=server_config(), **options)
    try:
        yield server
    finally:
        server.close(abort_connections=True)


def echoes(server: TLSServer, message: bytes = b"still accepting") -> bool:
    """Whether a new client of ``server`` gets ``message`` echoed."""
    with glasstls.connect(server.address, config=client_config(), server_hostname="localhost",
                          timeout=30) as sock:
        sock.sendall(message)
        return sock.recv(100) == message
