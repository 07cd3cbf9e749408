"""glasstls.SSLContext where Python code takes an ssl.SSLContext: urllib,
http.client and httpx, against a server on Python's ssl and openssl s_server."""

from __future__ import annotations

import http.client
import re
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    VERSION_NAMES,
    VERSIONS,
    glass_context,
    openssl_server,
    python_https_server,
)

import glasstls
from glasstls import TLSSocket
from peers import require_module
from pki import pki

pytestmark = pytest.mark.interop


def capture_sockets(context: glasstls.SSLContext) -> list[TLSSocket]:
    """Record the sockets the context wraps (http.client keeps its own)."""
    made: list[TLSSocket] = []
    wrap = context.wrap_socket

    def recording_wrap(*args: Any, **kwargs: Any) -> TLSSocket:
        sock = wrap(*args, **kwargs)
        made.append(sock)
        return sock

    context.wrap_socket = recording_wrap  # type: ignore[method-assign]
    return made


def _server_saw(body: bytes) -> tuple[str, str]:
    """(version, suite) as the Python server reported them in its response."""
    match = re.search(rb"version=(\S+) cipher=(\S+)", body)
    assert match, body[:200]
    return match.group(1).decode(), match.group(2).decode()


@pytest.mark.parametrize("version", VERSIONS)
def test_urlopen_against_python_ssl(files: dict[str, Path], version: int) -> None:
    context = glass_context(files, version)
    sockets = capture_sockets(context)
    with python_https_server(files, version) as port, urllib.request.urlopen(
            f"https://localhost:{port}/via-urllib", context=context, timeout=10) as response:
        body = response.read()
        assert response.status == 200
    assert body.startswith(b"path=/via-urllib ")
    assert len(body) == int(response.headers["Content-Length"])
    [sock] = sockets
    assert _server_saw(body) == (VERSION_NAMES[version], sock.cipher()[0])  # type: ignore[index]


@pytest.mark.parametrize("version", VERSIONS)
def test_http_client_keeps_the_connection_alive(files: dict[str, Path], version: int) -> None:
    context = glass_context(files, version)
    with python_https_server(files, version) as port:
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
        for path in ("/first", "/second"):
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200 and body.startswith(f"path={path} ".encode())
        sock = connection.sock
        assert isinstance(sock, TLSSocket)
        assert sock.version() == VERSION_NAMES[version]
        assert _server_saw(body) == (VERSION_NAMES[version], sock.cipher()[0])  # type: ignore[index]
        connection.close()


def test_urlopen_rejects_an_untrusted_server(files: dict[str, Path]) -> None:
    context = glasstls.SSLContext()
    context.load_verify_locations(cadata=pki("rsa-2048").ca.certificate_pem().decode())
    with python_https_server(files) as port, pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(f"https://localhost:{port}/", context=context, timeout=10)
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)


@pytest.mark.parametrize("version", VERSIONS)
def test_urlopen_against_openssl_s_server(files: dict[str, Path], version: int) -> None:
    context = glass_context(files, version)
    sockets = capture_sockets(context)
    with openssl_server(files, version) as server, urllib.request.urlopen(
            f"https://localhost:{server.port}/", context=context, timeout=10) as response:
        body = response.read().decode()
    [sock] = sockets
    # s_server -www describes the session it negotiated in its page.
    assert f"Protocol  : {VERSION_NAMES[version]}" in body
    assert f"Cipher    : {sock.cipher()[0]}" in body  # type: ignore[index]


@pytest.mark.parametrize("version", VERSIONS)
def test_http_client_against_openssl_s_server(files: dict[str, Path], version: int) -> None:
    context = glass_context(files, version)
    context.set_alpn_protocols(["http/1.1"])
    with openssl_server(files, version) as server:
        connection = http.client.HTTPSConnection("localhost", server.port, context=context,
                                                 timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200
        assert f"Protocol  : {VERSION_NAMES[version]}" in body
        connection.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_httpx_uses_a_glasstls_context(files: dict[str, Path], version: int) -> None:
    httpx = require_module("httpx")
    context = glass_context(files, version)
    sockets = capture_sockets(context)
    with python_https_server(files, version) as port, httpx.Client(
            verify=context, timeout=10) as client:
        first = client.get(f"https://localhost:{port}/httpx-1")
        second = client.get(f"https://localhost:{port}/httpx-2")
    assert first.status_code == second.status_code == 200
    assert first.content.startswith(b"path=/httpx-1 ")
    assert second.content.startswith(b"path=/httpx-2 ")
    assert _server_saw(second.content)[0] == VERSION_NAMES[version]
    assert first.http_version == "HTTP/1.1"
    assert len(sockets) == 1  # one glasstls connection, reused for both requests


def test_httpx_against_openssl_s_server(files: dict[str, Path]) -> None:
    httpx = require_module("httpx")
    context = glass_context(files, 0x0304)
    with openssl_server(files, 0x0304) as server, httpx.Client(
            verify=context, timeout=10) as client:
        response = client.get(f"https://localhost:{server.port}/")
    assert response.status_code == 200
    assert "Protocol  : TLSv1.3" in response.text
