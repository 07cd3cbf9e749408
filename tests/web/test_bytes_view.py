"""The page's "bytes" view: ``/bytes`` shows every byte of the visitor's own
connection so far (its ClientHello, the server's flight, this very request),
decrypted by the server and explained field by field, linked from the timeline."""

from __future__ import annotations

import re

from glasstls.constants import TLS12

from .webclient import client_config, get, glass_connect, page_server


def test_bytes_view_shows_this_connections_client_hello_and_decrypted_request() -> None:
    with page_server() as (_server, port), glass_connect(port) as sock:
        page = get(sock, "/", keep_alive=True).text
        assert 'href="/bytes"' in page
        response = get(sock, "/bytes")
        assert response.status == 200 and "text/html" in response.headers["content-type"]
        bytes_page = response.text
    assert "Your connection, byte by byte" in bytes_page
    # The ClientHello this client sent, as a field tree with its random.
    assert ">ClientHello<" in bytes_page and ">random<" in bytes_page
    # The first request (GET /) and this one, decrypted by the server.
    assert "GET / HTTP/1.1" in bytes_page and "GET /bytes HTTP/1.1" in bytes_page
    # The key schedule computed by the server, with fingerprints, not secrets.
    assert "handshake_secret" in bytes_page and "sha256:" in bytes_page
    assert "matches the key log" in bytes_page
    assert not re.search(r"https?://", bytes_page)


def test_bytes_view_of_a_tls12_connection_decrypts_with_the_master_secret() -> None:
    with page_server() as (_server, port), glass_connect(
            port, client_config(versions=(TLS12,))) as sock:
        bytes_page = get(sock, "/bytes").text
    assert ">ServerKeyExchange<" in bytes_page and "key_block" in bytes_page
    assert "GET /bytes HTTP/1.1" in bytes_page
    assert "DOES NOT MATCH" not in bytes_page and "DIFFERS" not in bytes_page
