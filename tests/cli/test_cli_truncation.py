"""``glasstls client --http`` against servers that close without close_notify, as
curl treats them: the body is printed, a warning says it may be truncated, and
the exit status is 0 unless the response is visibly incomplete."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import run_glasstls

from helpers.pyssl import python_tls_listener

pytestmark = pytest.mark.interop

WARNING = "the server closed without close_notify (the response may be truncated)"


def answer_then_cut(answer: bytes) -> Callable[[ssl.SSLSocket], None]:
    """Read the request, send ``answer``, close the TCP connection without
    close_notify (as http.server over ssl does)."""
    def serve(tls: ssl.SSLSocket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += tls.recv(4096)
        tls.sendall(answer)
        tls.shutdown(socket.SHUT_RDWR)  # ssl's shutdown sends no close_notify

    return serve


def fetch(pem: dict[str, Path], answer: bytes) -> tuple[int, str, str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem["cert"], pem["key"])
    with python_tls_listener(context, answer_then_cut(answer)) as port:
        result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                              "--http", "/")
    return result.code, result.stdout, result.stderr




def test_close_delimited_body_is_printed_with_a_warning_and_exit_0(
        pem: dict[str, Path]) -> None:
    code, stdout, stderr = fetch(pem, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                                      b"the whole body\n")
    assert code == 0, stderr
    assert stdout.endswith("\nthe whole body\n")
    assert WARNING in stderr
    assert "error" not in stderr


def test_a_body_short_of_its_content_length_fails(pem: dict[str, Path]) -> None:
    code, stdout, stderr = fetch(pem, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                                      b"only this")
    assert code == 3, stderr
    assert stdout.endswith("only this")
    assert WARNING in stderr
    assert "the response is incomplete" in stderr


def test_a_chunked_body_without_its_last_chunk_fails(pem: dict[str, Path]) -> None:
    code, _, stderr = fetch(pem, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\nhello\r\n")
    assert code == 3, stderr
    complete, _, stderr = fetch(pem, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     b"5\r\nhello\r\n0\r\n\r\n")
    assert complete == 0, stderr
    assert WARNING in stderr


def test_content_length_complete_without_close_notify_is_fine(pem: dict[str, Path]) -> None:
    code, stdout, stderr = fetch(pem, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert code == 0, stderr
    assert stdout.endswith("hello")
