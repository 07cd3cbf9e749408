"""trustme, the test PKI Python projects use, through ``glasstls.SSLContext`` and
urllib against Python's own HTTPS server: its leaves mark subjectAltName
critical, which the CA/B Forum profile refuses and OpenSSL accepts."""

from __future__ import annotations

import http.server
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import trustme

import glasstls


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello over " + self.request.version().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def https_url(authority: trustme.CA) -> Iterator[str]:
    """Python's http.server over Python's ssl, with a trustme certificate."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("minimum", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_urllib_with_a_trustme_ca_through_glasstls(authority: trustme.CA, https_url: str,
                                                   minimum: ssl.TLSVersion) -> None:
    context = glasstls.SSLContext()
    context.minimum_version = context.maximum_version = minimum
    authority.configure_trust(context)
    with urllib.request.urlopen(https_url, context=context, timeout=20) as response:
        body = response.read()
    assert body == b"hello over " + (b"TLSv1.3" if minimum == ssl.TLSVersion.TLSv1_3
                                     else b"TLSv1.2")


def test_urllib_with_another_trustme_ca_is_refused_as_ssl_would(https_url: str) -> None:
    context = glasstls.SSLContext()
    trustme.CA().configure_trust(context)
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(https_url, context=context, timeout=20)
    error = caught.value.reason
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert error.verify_code == 20
    assert error.verify_message == "unable to get local issuer certificate"
    assert "sent no intermediate for" in str(error)
