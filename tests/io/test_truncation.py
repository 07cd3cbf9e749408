"""Truncation: a connection cut without close_notify is reported as such
(ssl.SSLEOFError), never as a clean end of stream, on every transport."""

from __future__ import annotations

import asyncio
import http.client
import queue
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    VERSIONS,
    client_config,
    glass_context,
    openssl_server,
    python_client_context,
    python_tls_listener,
    server_config,
)

import glasstls
from glasstls import TLSSocket

pytestmark = pytest.mark.interop

RESPONSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"


def cut_mid_response(tls: ssl.SSLSocket) -> None:
    """Python ssl server: half a response, then TCP closes with no close_notify."""
    tls.recv(65536)
    tls.sendall(RESPONSE_HEAD + b"a" * 500)
    tls.shutdown(socket.SHUT_RDWR)  # ssl's shutdown drops TLS: no close_notify


def cut_body_delimited_by_close(tls: ssl.SSLSocket) -> None:
    tls.recv(65536)
    tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbalance: 10")
    tls.shutdown(socket.SHUT_RDWR)  # "00" never arrives


@pytest.mark.parametrize("version", VERSIONS)
def test_tls_socket_recv_raises_eof_error(files: dict[str, Path], version: int) -> None:
    with python_tls_listener(files, cut_mid_response, version) as port:
        sock = glass_context(files).wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                server_hostname="localhost")
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        received = b""
        with pytest.raises(ssl.SSLEOFError, match="without close_notify"):
            while True:
                data = sock.recv(65536)
                assert data, "a truncation was reported as a clean end of stream"
                received += data
        sock.close()
    assert received == RESPONSE_HEAD + b"a" * 500


def test_suppress_ragged_eofs_is_an_explicit_opt_in(files: dict[str, Path]) -> None:
    with python_tls_listener(files, cut_mid_response) as port:
        sock = glass_context(files).wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                server_hostname="localhost",
                                                suppress_ragged_eofs=True)
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        received = b""
        while data := sock.recv(65536):
            received += data
        sock.close()
    assert received == RESPONSE_HEAD + b"a" * 500


@pytest.mark.parametrize("server", [cut_mid_response, cut_body_delimited_by_close])
def test_http_client_sees_the_truncation(files: dict[str, Path], server: Any) -> None:
    with python_tls_listener(files, server) as port:
        connection = http.client.HTTPSConnection("localhost", port, context=glass_context(files),
                                                 timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        with pytest.raises(ssl.SSLEOFError):
            response.read()
        connection.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_aio_reader_raises_eof_error(files: dict[str, Path], version: int) -> None:
    async def main(port: int) -> bytes:
        reader, writer = await glasstls.aio.open_connection(
            "127.0.0.1", port, config=client_config(version), server_hostname="localhost")
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        received = b""
        with pytest.raises(ssl.SSLEOFError):
            while True:
                data = await reader.read(65536)
                assert data, "a truncation was reported as a clean end of stream"
                received += data
        writer.close()
        return received

    with python_tls_listener(files, cut_mid_response, version) as port:
        received = asyncio.run(asyncio.wait_for(main(port), 30))
    # Data before the cut may or may not have been read before the error (as with
    # any asyncio stream error); whatever was read is a prefix of what was sent.
    assert (RESPONSE_HEAD + b"a" * 500).startswith(received)


@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_peer_killed_mid_stream(files: dict[str, Path], version: int) -> None:
    """openssl s_server relays its stdin to the client; killing it closes TCP with
    no close_notify."""
    with openssl_server(files, version, extra=("-quiet",)) as server:
        sock = glass_context(files).wrap_socket(server.connect(), server_hostname="localhost")
        sock.settimeout(10)
        assert server.process.stdin is not None
        server.process.stdin.write(b"first part of the answer\n")
        server.process.stdin.flush()
        received = b""
        while b"\n" not in received:
            received += sock.recv(100)
        assert received == b"first part of the answer\n"
        server.process.kill()
        server.process.wait(10)
        with pytest.raises(ssl.SSLEOFError):
            while sock.recv(100):
                pass
        sock.close()


def test_server_handler_sees_a_client_that_vanished(files: dict[str, Path]) -> None:
    outcome: queue.Queue[Any] = queue.Queue()

    def handler(sock: TLSSocket, address: Any) -> None:
        try:
            outcome.put(sock.recv(100))
            sock.sendall(b"ack")
            outcome.put(sock.recv(100))
        except Exception as error:
            outcome.put(error)

    with glasstls.serve(("127.0.0.1", 0), handler, config=server_config()) as server:
        context = python_client_context(files)
        tls = context.wrap_socket(socket.create_connection(server.address),
                                  server_hostname="localhost")
        tls.sendall(b"partial request")
        assert tls.recv(3) == b"ack"  # the server has read the request
        tls.shutdown(socket.SHUT_RDWR)  # no close_notify
        tls.close()
        assert outcome.get(timeout=10) == b"partial request"
        error = outcome.get(timeout=10)
    assert isinstance(error, ssl.SSLEOFError)
