"""The page server's HTTP/1.1: request heads parsed strictly, limits, deadlines."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.web.http import (
    MAX_HEAD,
    HTTPError,
    RequestReader,
    parse_head,
    response,
)


def test_a_request_head() -> None:
    request = parse_head(b"GET /api/handshake?x=1 HTTP/1.1\r\nHost: localhost\r\n"
                         b"User-Agent:  curl/8  \r\nConnection: keep-alive")
    assert (request.method, request.path, request.version) == ("GET", "/api/handshake",
                                                                 "HTTP/1.1")
    assert request.header("user-agent") == "curl/8"
    assert request.header("HOST") == "localhost"
    assert request.keep_alive


@pytest.mark.parametrize(("head", "keep_alive"), [
    (b"GET / HTTP/1.1", True),
    (b"GET / HTTP/1.1\r\nConnection: close", False),
    (b"GET / HTTP/1.1\r\nConnection: Upgrade, Close", False),
    (b"GET / HTTP/1.0", False),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive", True),
])
def test_keep_alive(head: bytes, keep_alive: bool) -> None:
    assert parse_head(head).keep_alive is keep_alive


@pytest.mark.parametrize(("head", "status"), [
    (b"GET /", 400),
    (b"GET  / HTTP/1.1", 400),
    (b"GET / HTTP/1.1 extra", 400),
    (b"G(T / HTTP/1.1", 400),
    (b"GET http://example.com/ HTTP/1.1", 400),
    (b"GET /\x01 HTTP/1.1", 400),
    (b"GET / HTTP/1.1\r\nNo colon here", 400),
    (b"GET / HTTP/1.1\r\nBad name: x", 400),
    (b"GET / HTTP/1.1\r\nX: a\r\n folded", 400),  # RFC 9112 §5.2: no line folding
    (b"GET / HTTP/1.1\r\nX: a\x00b", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 5", 413),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked", 501),
    (b"PRI * HTTP/2.0", 505),  # the HTTP/2 preface, from a client without ALPN
    (b"GET / HTTP/2.0", 505),
    (b"GET / HTTP/1.1" + b"\r\nX: y" * 65, 431),
])
def test_bad_heads_get_an_error_status(head: bytes, status: int) -> None:
    with pytest.raises(HTTPError) as raised:
        parse_head(head)
    assert raised.value.status == status


def test_a_response_has_its_length_and_the_security_headers() -> None:
    data = response(200, b"<p>hi</p>", "text/html; charset=utf-8", keep_alive=True)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 9" in head
    assert b"Connection: keep-alive" in head
    assert b"Content-Security-Policy: default-src 'none'" in head
    assert body == b"<p>hi</p>"
    head_only = response(200, b"<p>hi</p>", "text/html", keep_alive=False, head_only=True)
    assert head_only.endswith(b"\r\n\r\n") and b"Content-Length: 9" in head_only


class FakeSocket:
    """Chunks to return from recv, in order; ``TimeoutError`` entries raise it."""

    def __init__(self, *chunks: bytes | type[TimeoutError]) -> None:
        self.chunks: deque[bytes | type[TimeoutError]] = deque(chunks)
        self.timeouts: list[float | None] = []

    def recv(self, size: int) -> bytes:
        chunk = self.chunks.popleft() if self.chunks else b""
        if chunk is TimeoutError:
            raise TimeoutError("timed out")
        assert isinstance(chunk, bytes)
        return chunk

    def settimeout(self, timeout: float | None) -> None:
        self.timeouts.append(timeout)


def reader(*chunks: bytes | type[TimeoutError]) -> tuple[RequestReader, FakeSocket]:
    sock = FakeSocket(*chunks)
    return RequestReader(sock, idle_timeout=15.0, request_timeout=10.0), sock


def test_pipelined_and_split_requests() -> None:
    requests, _ = reader(b"\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTT", b"P/1.1\r\nX: 1\r\n", b"\r\n")
    first = requests.next_request()
    second = requests.next_request()
    assert first is not None and first.path == "/a"
    assert second is not None and second.path == "/b" and second.header("x") == "1"
    assert requests.next_request() is None  # then the client closed


def test_idle_connection_ends_quietly() -> None:
    requests, sock = reader(TimeoutError)
    assert requests.next_request() is None
    assert sock.timeouts == [15.0]  # the idle timeout, before the first byte


def test_a_request_started_then_stalled_is_a_408() -> None:
    requests, sock = reader(b"GET / HT", TimeoutError)
    with pytest.raises(HTTPError) as raised:
        requests.next_request()
    assert raised.value.status == 408
    # After the first byte, the wait is what is left of the request timeout.
    assert sock.timeouts[0] == 15.0 and sock.timeouts[1] is not None
    assert sock.timeouts[1] <= 10.0


def test_an_endless_head_is_a_431() -> None:
    requests, _ = reader(*[b"X" * 1024] * (MAX_HEAD // 1024 + 2))
    with pytest.raises(HTTPError) as raised:
        requests.next_request()
    assert raised.value.status == 431


def test_a_connection_cut_inside_a_request_is_a_400() -> None:
    requests, _ = reader(b"GET / HTTP/1.1\r\nHost")
    with pytest.raises(HTTPError) as raised:
        requests.next_request()
    assert raised.value.status == 400


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_any_bytes_are_a_request_or_an_http_error(head: bytes) -> None:
    try:
        request = parse_head(head)
    except HTTPError as error:
        assert error.status in (400, 413, 431, 501, 505)
    else:
        assert request.path.startswith("/")
        request.keep_alive  # noqa: B018 - must not raise
