"""Truncation: a connection cut without close_notify is never mistaken for a
clean end. glasstls's own API raises ssl.SSLEOFError; the ssl drop-in behaves as
ssl does (wrap_socket's suppress_ragged_eofs=True reads it as b"") and keeps it
visible in ``ragged_eof``; ``suppress_ragged_eofs=False`` restores the error."""

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


def read_to_end(sock: Any) -> bytes:
    received = b""
    while data := sock.recv(65536):
        received += data
    return received


@pytest.mark.parametrize("version", VERSIONS)
def test_strict_tls_socket_recv_raises_eof_error(files: dict[str, Path], version: int) -> None:
    with python_tls_listener(files, cut_mid_response, version) as port:
        sock = glass_context(files).wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                server_hostname="localhost",
                                                suppress_ragged_eofs=False)
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        received = b""
        with pytest.raises(ssl.SSLEOFError, match="without close_notify"):
            while True:
                data = sock.recv(65536)
                assert data, "a truncation was reported as a clean end of stream"
                received += data
        assert sock.ragged_eof
        sock.close()
    assert received == RESPONSE_HEAD + b"a" * 500


@pytest.mark.parametrize("version", VERSIONS)
def test_wrap_socket_suppresses_ragged_eofs_as_ssl_does(files: dict[str, Path],
                                                        version: int) -> None:
    """ssl's default: the end reads as b"" for both ssl and glasstls; glasstls
    keeps the truncation visible in ``ragged_eof``."""
    results = {}
    for name, context in (("ssl", python_client_context(files)),
                          ("glasstls", glass_context(files))):
        with python_tls_listener(files, cut_mid_response, version) as port:
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                       server_hostname="localhost")
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            results[name] = read_to_end(sock)
            if name == "glasstls":
                assert sock.ragged_eof
                assert sock.suppress_ragged_eofs
            sock.close()
    assert results["ssl"] == results["glasstls"] == RESPONSE_HEAD + b"a" * 500


def test_a_clean_end_is_not_a_ragged_eof(files: dict[str, Path]) -> None:
    def answer_and_close_notify(tls: ssl.SSLSocket) -> None:
        tls.recv(65536)
        tls.sendall(b"complete")
        tls.unwrap()

    with python_tls_listener(files, answer_and_close_notify) as port:
        sock = glass_context(files).wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                server_hostname="localhost")
        sock.sendall(b"request")
        assert read_to_end(sock) == b"complete"
        assert not sock.ragged_eof
        sock.close()


def test_op_ignore_unexpected_eof_covers_wrap_bio(files: dict[str, Path]) -> None:
    """OpenSSL's context-wide switch: a TLSObject then reads the cut as b""."""
    context = glass_context(files)
    context.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    with python_tls_listener(files, cut_mid_response) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        received = b""
        request_sent = False
        while True:
            if outgoing.pending:
                sock.sendall(outgoing.read())
            try:
                if not request_sent:
                    tls.do_handshake()
                    tls.write(b"GET / HTTP/1.1\r\n\r\n")
                    request_sent = True
                    continue
                data = tls.read(65536)
            except ssl.SSLWantReadError:
                chunk = sock.recv(65536)
                if chunk:
                    incoming.write(chunk)
                else:
                    incoming.write_eof()
                continue
            if not data:
                break
            received += data
        sock.close()
    assert received == RESPONSE_HEAD + b"a" * 500
    assert tls.ragged_eof


@pytest.mark.parametrize("server", [cut_mid_response, cut_body_delimited_by_close])
def test_http_client_sees_what_it_sees_with_ssl(files: dict[str, Path], server: Any) -> None:
    """A body cut short of its Content-Length is IncompleteRead; a body delimited
    by the connection's end is returned: with ssl and glasstls alike."""
    outcomes = {}
    for name, context in (("ssl", python_client_context(files)),
                          ("glasstls", glass_context(files))):
        with python_tls_listener(files, server) as port:
            connection = http.client.HTTPSConnection("localhost", port, context=context,
                                                     timeout=10)
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.status == 200
            try:
                outcomes[name] = response.read()
            except http.client.IncompleteRead as error:
                outcomes[name] = ("IncompleteRead", error.partial)
            connection.close()
    assert outcomes["ssl"] == outcomes["glasstls"]
    expected = (b"balance: 10" if server is cut_body_delimited_by_close
                else ("IncompleteRead", b"a" * 500))
    assert outcomes["glasstls"] == expected


@pytest.mark.parametrize("server", [cut_mid_response, cut_body_delimited_by_close])
def test_strict_http_client_sees_the_truncation(files: dict[str, Path], server: Any) -> None:
    context = glass_context(files)

    class Strict(http.client.HTTPSConnection):
        def connect(self) -> None:
            http.client.HTTPConnection.connect(self)
            self.sock = context.wrap_socket(self.sock, server_hostname=self.host,
                                            suppress_ragged_eofs=False)

    with python_tls_listener(files, server) as port:
        connection = Strict("localhost", port, timeout=10)
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
        sock = glass_context(files).wrap_socket(server.connect(), server_hostname="localhost",
                                                suppress_ragged_eofs=False)
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
