"""``glasstls client`` against ``openssl s_server`` and ``glasstls server`` against
``openssl s_client``, TLS 1.3 and 1.2, each through its real command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import (
    VERSIONS,
    Start,
    glasstls_argv,
    is_subsequence,
    run_glasstls,
    s_server,
    start_glasstls_server,
    stop,
)

pytestmark = pytest.mark.interop

@pytest.mark.parametrize("version", VERSIONS)
def test_glasstls_client_gets_a_page_from_openssl_s_server(
        openssl: str, processes: Start, pem: dict[str, Path], version: str) -> None:
    _, port = s_server(openssl, processes, pem, version, "-www")
    result = run_glasstls("client", f"127.0.0.1:{port}", "--cafile", str(pem["ca"]),
                          "--http", "/", "--trace")
    assert result.code == 0, result.describe()
    assert result.stdout.startswith("HTTP/1.0 200 ok"), result.describe()
    assert f"New, {version}, Cipher is" in result.stdout  # s_server's own view
    assert re.search(rf"protocol\s+{version}, ", result.stderr), result.stderr
    assert "verified      yes, against CN=glasstls test CA" in result.stderr
    handshake = [("client", "sent", "ClientHello"), ("client", "received", "ServerHello"),
                 ("client", "received", "Certificate"),
                 ("client", "local", "CertificateVerification"),
                 ("client", "received", "Finished"), ("client", "local", "Established")]
    assert is_subsequence(handshake, result.text_steps("stderr")), result.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_glasstls_client_pipes_stdin_and_stdout_with_openssl_s_server(
        openssl: str, processes: Start, pem: dict[str, Path], version: str) -> None:
    server, port = s_server(openssl, processes, pem, version, "-naccept", "1")
    client = processes(glasstls_argv("client", f"127.0.0.1:{port}", "--cafile",
                                     str(pem["ca"])))
    client.wait_for(r"protocol\s+" + re.escape(version))
    client.write(b"hello from glasstls\n")
    server.wait_for("^hello from glasstls$")
    server.write(b"hello from openssl\n")
    client.wait_for("^hello from openssl$")
    client.close_stdin()  # end of input: close_notify, then the server closes too
    assert client.wait() == 0, client.describe()
    server.wait_for("CONNECTION CLOSED")


@pytest.mark.parametrize("version", VERSIONS)
def test_glasstls_client_reconnect_resumes_with_openssl_s_server(
        openssl: str, processes: Start, pem: dict[str, Path], version: str) -> None:
    s_server(openssl, processes, pem, version, "-www")
    _, port = s_server(openssl, processes, pem, version, "-www")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", str(pem["ca"]),
                          "--reconnect", "2", "--http", "/")
    assert result.code == 0, result.describe()
    resumed = re.findall(r"resumed\s+(yes|no)", result.stderr)
    assert resumed == ["no", "yes", "yes"], result.stderr
    assert result.stdout.count("HTTP/1.0 200 ok") == 3


def test_glasstls_client_certificate_accepted_by_openssl_s_server(
        openssl: str, processes: Start, pem: dict[str, Path]) -> None:
    _, port = s_server(openssl, processes, pem, "TLSv1.3", "-www", "-Verify", "1",
                       "-CAfile", str(pem["ca"]), "-verify_return_error")
    result = run_glasstls("client", f"127.0.0.1:{port}", "--cafile", str(pem["ca"]),
                          "--cert", str(pem["client_cert"]), "--key", str(pem["client_key"]),
                          "--http", "/")
    assert result.code == 0, result.describe()
    assert "glasstls test client" in result.stdout  # s_server shows the peer certificate


@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_s_client_talks_to_glasstls_server_echo(
        openssl: str, processes: Start, pem: dict[str, Path], version: str) -> None:
    server, port = start_glasstls_server(processes, "--echo", "--cert", str(pem["cert"]),
                                         "--key", str(pem["key"]), "--trace")
    client = processes([openssl, "s_client", "-connect", f"127.0.0.1:{port}",
                        VERSIONS[version], "-CAfile", str(pem["ca"]), "-servername",
                        "localhost", "-verify_return_error", "-brief"])
    client.write(b"hello from s_client\n")
    client.wait_for("^hello from s_client$")  # echoed back
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    assert "Verification: OK" in client.output
    server.wait_for(rf"\] connected: {re.escape(version)}, ")
    server.wait_for(r"\] closed: 20 bytes received, 20 bytes sent")
    assert re.search(r"^\[#1 127\.0\.0\.1:\d+\]\s+\d+\.\d+ ms  server  received  ClientHello",
                     server.stdout, re.MULTILINE), server.stdout
    stop(server)


def test_openssl_s_client_gets_the_page_of_glasstls_server_with_its_dev_certificate(
        openssl: str, processes: Start, cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes)
    ca = cli_environment / "ca.pem"
    assert f"clients must trust {ca}" in server.stdout
    client = processes([openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                        str(ca), "-servername", "localhost", "-verify_return_error",
                        "-brief"])
    client.write(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
    client.wait_for("Hello from glasstls server")
    client.wait_for(r"version\s+TLSv1\.3")
    client.wait_for(r"request\s+GET /hello HTTP/1\.1")
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    stop(server)


def test_glasstls_server_requires_a_client_certificate_from_glasstls_certs(
        processes: Start, cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes, "--client-auth", "required")
    issued = run_glasstls("certs", "--dir", str(cli_environment), "--client", "alice")
    assert issued.code == 0 and "Reused the CA" in issued.stdout, issued.describe()
    ca = str(cli_environment / "ca.pem")
    result = run_glasstls("client", f"localhost:{port}", "--cafile", ca, "--cert",
                          str(cli_environment / "alice-client.pem"), "--key",
                          str(cli_environment / "alice-client-key.pem"), "--http", "/")
    assert result.code == 0, result.describe()
    assert re.search(r"your cert\s+CN=alice", result.stdout), result.stdout
    refused = run_glasstls("client", f"localhost:{port}", "--cafile", ca, "--http", "/")
    assert refused.code == 4, refused.describe()
    assert "certificate_required" in refused.stderr
    server.wait_for("handshake failed|no certificate")
    stop(server)
