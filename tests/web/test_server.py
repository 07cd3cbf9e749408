"""The page server on 127.0.0.1 with glasstls clients: each connection sees its own
handshake, keep-alive, resumption, and robustness (timeouts, bad TLS, bad HTTP,
the connection limit)."""

from __future__ import annotations

import socket

import pytest

import glasstls
from glasstls import ClientConfig
from glasstls.constants import TLS12, NamedGroup
from glasstls.crypto.suites import suite_by_name
from glasstls.web.server import WebOptions

from .webclient import PATIENCE, ClientTrace, client_config, get, glass_connect, page_server


def test_page_and_json_describe_this_connection() -> None:
    trace = ClientTrace()
    with page_server() as (_, port), glass_connect(
            port, client_config(alpn_protocols=("h2", "http/1.1"), trace=trace)) as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        response = get(sock, "/api/handshake", keep_alive=True)
        page = get(sock, "/")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    sent = trace.sent_hello()
    assert report["client_hello"]["random"] == sent["random"]
    assert [s["name"] for s in report["client_hello"]["cipher_suites"]] == sent["cipher_suites"]
    assert report["client_hello"]["alpn"] == ["h2", "http/1.1"]
    assert report["negotiated"]["version"] == "TLSv1.3"
    assert report["request"]["path"] == "/api/handshake"
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert report["ja4"]["ja4"] in page.text
    assert "Content-Security-Policy" not in page.text  # a header, not in the body
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_concurrent_connections_each_see_their_own_handshake() -> None:
    """Two connections open at once, with different ClientHellos, asked in
    interleaved order: each report is its own connection's."""
    first_config = client_config(alpn_protocols=("http/1.1",), groups=(NamedGroup.x25519,),
                                 key_share_groups=(NamedGroup.x25519,))
    second_config = client_config(alpn_protocols=("h2", "http/1.1", "spdy/3"),
                                  groups=(NamedGroup.secp256r1,),
                                  key_share_groups=(NamedGroup.secp256r1,), versions=(TLS12,))
    with page_server() as (_, port), glass_connect(port, first_config) as first, \
            glass_connect(port, second_config, server_hostname="127.0.0.1") as second:
        reports = []
        for sock in (second, first, second, first):
            reports.append(get(sock, "/api/handshake", keep_alive=True).json())
    second_report, first_report = reports[0], reports[1]
    assert first_report["client_hello"]["alpn"] == ["http/1.1"]
    assert first_report["negotiated"]["group"] == "x25519"
    assert first_report["negotiated"]["version"] == "TLSv1.3"
    assert first_report["client_hello"]["server_name"] == "localhost"
    assert second_report["client_hello"]["alpn"] == ["h2", "http/1.1", "spdy/3"]
    assert second_report["negotiated"]["group"] == "secp256r1"
    assert second_report["negotiated"]["version"] == "TLSv1.2"
    assert second_report["client_hello"]["server_name"] is None  # no SNI for an IP
    assert first_report["client_hello"]["random"] != second_report["client_hello"]["random"]
    # Later requests on each connection: the same handshake, the next request number.
    for later, earlier in ((reports[2], second_report), (reports[3], first_report)):
        assert later["client_hello"] == earlier["client_hello"]
        assert later["connection"]["request_number"] == 2


def test_resumed_connection_says_so() -> None:
    config = client_config()
    with page_server() as (_, port):
        with glass_connect(port, config) as sock:
            first = get(sock, "/api/handshake").json()
        with glass_connect(port, config) as sock:
            response = get(sock, "/api/handshake", keep_alive=True)
            page = get(sock, "/")
    second = response.json()
    assert first["negotiated"]["resumed"] is False
    assert len(first["certificate_chain"]) == 1
    assert second["negotiated"]["resumed"] is True
    assert second["client_hello"]["pre_shared_key_identities"] == 1
    assert second["certificate_chain"] == []
    assert "resumed an earlier session" in page.text


def test_head_and_errors() -> None:
    with page_server() as (_, port), glass_connect(port) as sock:
        head = get(sock, "/", method="HEAD", keep_alive=True)
        missing = get(sock, "/nothing", keep_alive=True)
        post = get(sock, "/", method="POST", keep_alive=True)
        after = get(sock, "/api/handshake")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 0
    assert missing.status == 404
    assert post.status == 405 and post.headers["allow"] == "GET, HEAD"
    assert after.status == 200  # errors like these keep the connection


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nX: " + b"x" * 10000 + b"\r\n\r\n", 431),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 413),
])
def test_bad_request_gets_an_answer_and_the_server_goes_on(request_bytes: bytes,
                                                           status: int) -> None:
    from .webclient import read_response

    with page_server() as (_, port):
        with glass_connect(port) as sock:
            sock.sendall(request_bytes)
            response = read_response(sock)
            assert response.status == status
            assert response.headers["connection"] == "close"
            assert sock.recv(100) == b""  # then the server closed (with close_notify)
        with glass_connect(port) as sock:
            assert get(sock, "/").status == 200


def test_bad_tls_is_refused_and_the_server_goes_on() -> None:
    with page_server() as (_, port):
        for junk in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello", bytes(300)):
            with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as raw:
                raw.sendall(junk)
                answer = b""
                while chunk := raw.recv(4096):
                    answer += chunk
            # A fatal alert record, or nothing at all; then the connection is closed.
            assert answer == b"" or answer[0] == 21
        with glass_connect(port) as sock:
            assert get(sock, "/").status == 200


FAST = WebOptions(handshake_timeout=0.5, idle_timeout=0.5, request_timeout=0.5)


def test_silent_client_is_dropped_after_the_handshake_timeout() -> None:
    with page_server(FAST) as (_, port), socket.create_connection(
            ("127.0.0.1", port), timeout=PATIENCE) as raw:
        assert raw.recv(100) == b""  # closed by the server, long before PATIENCE


def test_idle_connection_is_closed_after_the_idle_timeout() -> None:
    with page_server(FAST) as (_, port), glass_connect(port) as sock:
        assert get(sock, "/", keep_alive=True).status == 200
        assert sock.recv(100) == b""  # close_notify once idle


def test_slow_request_gets_408() -> None:
    from .webclient import read_response

    with page_server(FAST) as (_, port), glass_connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")  # and never the end of the head
        assert read_response(sock).status == 408


def test_connection_limit_makes_others_wait() -> None:
    """With max_connections=1, a client holding the only slot keeps a second one
    from being served; once it leaves, the next is served."""
    options = WebOptions(max_connections=1, handshake_timeout=PATIENCE,
                         idle_timeout=PATIENCE, request_timeout=PATIENCE)
    with page_server(options) as (_, port):
        holder = glass_connect(port)
        assert get(holder, "/", keep_alive=True).status == 200
        # The kernel accepts the second client's TCP connection (the listen
        # backlog), but the server does not take it: no handshake can happen.
        with pytest.raises(TimeoutError):
            glasstls.connect(("127.0.0.1", port), config=client_config(), timeout=1.0)
        holder.close()
        with glass_connect(port) as sock:
            assert get(sock, "/").status == 200


def test_tls12_only_client_with_its_own_suite() -> None:
    suite = suite_by_name("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
    config = ClientConfig(trust=client_config().trust, versions=(TLS12,),
                          cipher_suites=(suite.id,))
    with page_server() as (_, port), glass_connect(port, config) as sock:
        report = get(sock, "/api/handshake").json()
    assert report["negotiated"]["cipher_suite"] == suite.name
    names = [s["name"] for s in report["client_hello"]["cipher_suites"]]
    # RFC 5746 §3.3: the renegotiation_info extension signals, not the SCSV as well.
    assert names == [suite.name]
    assert "renegotiation_info" in [e["name"] for e in report["client_hello"]["extensions"]]
