"""Failures through the command line: one clear line on stderr saying why, and an
exit code per kind (2 usage, 3 network, 4 TLS, 5 certificate)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Result, run_glasstls

from glasstls import TrustStore
from glasstls.constants import TLS12
from interop.processes import free_port
from pki import pki

USAGE, NETWORK, TLS, CERTIFICATE = 2, 3, 4, 5
Server = Callable[..., tuple[str, int]]


def failed(result: Result, code: int, *words: str, alone: bool = True) -> None:
    """The command ended with ``code`` and one error line holding ``words`` (the only
    line on stderr if ``alone``; after the connection details otherwise)."""
    assert result.code == code, result.describe()
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("glasstls client: error: ")]
    assert errors == lines[-1:], result.describe()
    assert len(lines) == 1 or not alone, result.describe()
    for word in words:
        assert word in errors[0], result.describe()


def test_untrusted_certificate(glass_server: Server, other_pem: dict[str, Path]) -> None:
    host, port = glass_server()
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(other_pem["ca"]),
                          "--http", "/")
    failed(result, CERTIFICATE, "certificate rejected",
           "the server sent no intermediate for CN=glasstls test CA (ecdsa-p256)",
           "unknown_ca", "--cafile FILE")


def test_wrong_host_name(glass_server: Server, pem: dict[str, Path]) -> None:
    host, port = glass_server()
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(pem["ca"]),
                          "--servername", "www.example.com", "--http", "/")
    failed(result, CERTIFICATE, "certificate rejected", "not valid for 'www.example.com'",
           "DNS:localhost", "--servername NAME")


def test_insecure_connects_anyway_with_a_loud_warning(glass_server: Server,
                                                      other_pem: dict[str, Path]) -> None:
    host, port = glass_server()
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(other_pem["ca"]),
                          "--insecure", stdin="ping\n")
    assert result.code == 0, result.describe()
    assert "WARNING: --insecure" in result.stderr and "NOT verified" in result.stderr
    assert "verified      NO" in result.stderr
    assert result.stdout == "ping\n"  # the echo server answered before closing


def test_refused_port() -> None:
    port = free_port()
    result = run_glasstls("client", f"127.0.0.1:{port}")
    failed(result, NETWORK, "connection refused", f"127.0.0.1:{port}")


def test_version_mismatch(glass_server: Server, pem: dict[str, Path]) -> None:
    host, port = glass_server(versions=(TLS12,))
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(pem["ca"]), "--tls1.3")
    failed(result, TLS, "handshake failed", "protocol_version", "no protocol version in common")


def test_missing_client_certificate(glass_server: Server, pem: dict[str, Path]) -> None:
    trust = TrustStore([pki("ecdsa-p256").ca.certificate])
    host, port = glass_server(client_auth="required", client_trust=trust)
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(pem["ca"]),
                          "--http", "/")
    # TLS 1.3: the client finishes first; the server's alert comes with its first read.
    failed(result, TLS, "the server sent the fatal alert certificate_required",
           "a client certificate was required", alone=False)


def test_no_alpn_in_common(glass_server: Server, pem: dict[str, Path]) -> None:
    host, port = glass_server(alpn_protocols=("h2",))
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(pem["ca"]),
                          "--alpn", "imap")
    failed(result, TLS, "no_application_protocol", "ALPN")


@pytest.mark.parametrize(("arguments", "words"), [
    (["localhost:99999"], "bad port"),
    (["localhost", "--key", "key.pem"], "--key needs --cert"),
    (["localhost", "--cafile", "/nonexistent/ca.pem"], "cannot read /nonexistent/ca.pem"),
    (["localhost", "--cert", "/nonexistent/c.pem"], "cannot read /nonexistent/c.pem"),
    (["localhost", "--servername", ""], "--servername needs a name"),
])
def test_usage_errors(arguments: list[str], words: str) -> None:
    failed(run_glasstls("client", *arguments), USAGE, words)


def test_unknown_option_value_is_a_usage_error() -> None:
    result = run_glasstls("client", "localhost", "--group", "nope")
    assert result.code == USAGE and "unknown group 'nope'" in result.stderr


def test_server_reports_a_port_in_use(glass_server: Server) -> None:
    _, port = glass_server()
    result = run_glasstls("server", "--port", str(port))
    assert result.code == NETWORK, result.describe()
    assert result.stderr.strip().splitlines() == [
        f"glasstls server: error: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_server_client_auth_with_own_certificate_needs_a_cafile(pem: dict[str, Path]) -> None:
    result = run_glasstls("server", "--cert", str(pem["cert"]), "--key", str(pem["key"]),
                          "--client-auth", "required")
    assert result.code == USAGE and "needs --cafile" in result.stderr, result.describe()


def test_server_rejects_a_key_that_does_not_match(pem: dict[str, Path],
                                                  other_pem: dict[str, Path]) -> None:
    result = run_glasstls("server", "--cert", str(pem["cert"]), "--key",
                          str(other_pem["key"]))
    assert result.code == USAGE, result.describe()
    assert "does not match" in result.stderr


@pytest.mark.parametrize("command", ["demo", "client", "server", "serve", "certs"])
def test_every_command_has_help_with_examples(command: str) -> None:
    result = run_glasstls(command, "--help")
    assert result.code == 0, result.describe()
    assert "examples:" in result.stdout and f"glasstls {command}" in result.stdout


def test_version_names_glasstls_cryptography_and_its_openssl() -> None:
    import cryptography

    import glasstls

    result = run_glasstls("--version")
    assert result.code == 0, result.describe()
    lines = result.stdout.splitlines()
    build = " (compiled with mypyc)" if glasstls.__compiled__ else ""
    assert lines[0] == f"glasstls {glasstls.__version__}{build}"
    assert lines[1] == f"cryptography {cryptography.__version__}"
    assert lines[2].startswith("OpenSSL ") and lines[2].endswith("(inside cryptography)")


def test_http_against_a_server_that_does_not_answer_http(glass_server: Server,
                                                         pem: dict[str, Path]) -> None:
    host, port = glass_server()  # an echo server: our own request comes back
    result = run_glasstls("client", f"{host}:{port}", "--cafile", str(pem["ca"]),
                          "--servername", "localhost", "--http", "/")
    failed(result, NETWORK, "not an HTTP response: 'GET / HTTP/1.1'", alone=False)
