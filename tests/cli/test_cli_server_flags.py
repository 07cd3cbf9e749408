"""``glasstls server``'s s_server-style flags, each against a real client: ``openssl
s_client``, curl, and ``glasstls client``; the keys it reads on a terminal."""

from __future__ import annotations

import os
import pty
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import (
    Start,
    glasstls_argv,
    run_glasstls,
    start_glasstls_server,
    stop,
)

from interop.processes import PeerProcess
from peers import require_binary

pytestmark = pytest.mark.interop


def s_client(openssl: str, processes: Start, port: int, ca: Path, *options: str) -> PeerProcess:
    return processes([openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                      str(ca), "-servername", "localhost", "-verify_return_error", *options])


def test_rsa_key_exchange_completes_openssl_s_client_aes128_gcm_sha256(
        openssl: str, processes: Start, cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes, "--rsa-key-exchange")
    assert re.search(r"certificate  CN=localhost.*RSA 2048-bit", server.stdout), server.stdout
    client = s_client(openssl, processes, port, cli_environment / "ca.pem", "-tls1_2",
                      "-cipher", "AES128-GCM-SHA256", "-brief")
    client.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    client.wait_for(r"cipher suite   TLS_RSA_WITH_AES_128_GCM_SHA256")
    client.close_stdin()
    assert client.wait() == 0, client.describe()
    assert "Ciphersuite: AES128-GCM-SHA256" in client.output
    server.wait_for(r"connected: TLSv1\.2, TLS_RSA_WITH_AES_128_GCM_SHA256, RSA;")
    stop(server)


def test_without_rsa_key_exchange_s_client_asking_only_for_it_is_refused(
        openssl: str, processes: Start, cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes)
    client = s_client(openssl, processes, port, cli_environment / "ca.pem", "-tls1_2",
                      "-cipher", "AES128-GCM-SHA256")
    client.close_stdin()
    assert client.wait() != 0
    assert "handshake failure" in client.output, client.describe()
    stop(server)


def test_suite_restricts_what_the_server_accepts(openssl: str, processes: Start,
                                                  cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes, "--suite", "TLS_AES_256_GCM_SHA384",
                                         "--echo")
    ca = cli_environment / "ca.pem"
    ok = s_client(openssl, processes, port, ca, "-tls1_3", "-brief")
    ok.write(b"ping\n")
    ok.wait_for("^ping$")
    ok.close_stdin()
    assert ok.wait() == 0 and "Ciphersuite: TLS_AES_256_GCM_SHA384" in ok.output
    refused = s_client(openssl, processes, port, ca, "-tls1_3", "-ciphersuites",
                       "TLS_AES_128_GCM_SHA256")
    refused.close_stdin()
    assert refused.wait() != 0 and "handshake failure" in refused.output, refused.describe()
    stop(server)


@pytest.mark.parametrize("tickets", [3, 0])
def test_tickets_sets_how_many_tls13_tickets_follow_a_handshake(
        processes: Start, cli_environment: Path, tickets: int, tmp_path: Path) -> None:
    server, port = start_glasstls_server(processes, "--tickets", str(tickets))
    result = run_glasstls("client", f"localhost:{port}", "--cafile",
                          str(cli_environment / "ca.pem"), "--trace", "--json", "--http", "/",
                          "--sess-out", str(tmp_path / "s.bin"))
    assert result.code == 0, result.describe()
    received = [line for line in result.json_lines() if line["event"] == "trace"
                and line["step"] == "NewSessionTicket" and line["action"] == "received"]
    assert len(received) == tickets, result.describe()
    assert (tmp_path / "s.bin").exists() == (tickets > 0)
    stop(server)


def test_early_data_is_accepted_from_openssl_s_client(openssl: str, processes: Start,
                                                       cli_environment: Path,
                                                       tmp_path: Path) -> None:
    server, port = start_glasstls_server(processes, "--early-data")
    ca, session = cli_environment / "ca.pem", tmp_path / "session.pem"
    request = b"GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n"
    first = s_client(openssl, processes, port, ca, "-tls1_3", "-sess_out", str(session))
    first.write(request)
    first.wait_for("request        GET /early")
    first.close_stdin()
    first.wait()
    (tmp_path / "early.txt").write_bytes(request)
    second = s_client(openssl, processes, port, ca, "-tls1_3", "-sess_in", str(session),
                      "-early_data", str(tmp_path / "early.txt"))
    second.wait_for("request        GET /early")
    second.close_stdin()
    second.wait()
    assert "Early data was accepted" in second.output, second.describe()
    server.wait_for(r"connected: TLSv1\.3, .*resumed, 0-RTT data accepted")
    stop(server)


def test_get_keyupdate_is_answered_after_a_key_update_from_curl(
        processes: Start, cli_environment: Path) -> None:
    curl = require_binary("curl")
    server, port = start_glasstls_server(processes, "--trace")
    page = processes([curl, "-sS", "--cacert", str(cli_environment / "ca.pem"),
                      f"https://localhost:{port}/keyupdate"])
    assert page.wait() == 0, page.describe()
    assert "KeyUpdate sent (update_requested" in page.stdout
    assert "request        GET /keyupdate HTTP/1.1" in page.stdout
    server.wait_for(r"server  sent      KeyUpdate")
    server.wait_for(r"GET /keyupdate: KeyUpdate sent")
    # curl read the answer under the new keys; its OpenSSL would send its own
    # KeyUpdate with its next write, and curl writes nothing more.
    stop(server)


def test_alpn_h2_is_refused_in_http_mode_but_allowed_with_echo_or_alpn_any(
        processes: Start) -> None:
    refused = run_glasstls("server", "--port", "0", "--alpn", "h2,http/1.1")
    assert refused.code == 2, refused.describe()
    assert "in HTTP mode glasstls server speaks only http/1.1" in refused.stderr
    for options in (["--echo"], ["--alpn-any"]):
        server, _ = start_glasstls_server(processes, "--alpn", "h2,http/1.1", *options)
        stop(server)


def test_curl_gets_http11_where_the_server_offers_only_that(processes: Start,
                                                            cli_environment: Path) -> None:
    curl = require_binary("curl")
    server, port = start_glasstls_server(processes, "--alpn", "http/1.1")
    page = processes([curl, "-sS", "--cacert", str(cli_environment / "ca.pem"),
                      f"https://localhost:{port}/"])
    assert page.wait() == 0, page.describe()
    assert "ALPN           http/1.1" in page.stdout
    stop(server)


def test_the_log_says_resumed_once_for_tls12(processes: Start, cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes, "--tls1.2")
    result = run_glasstls("client", f"localhost:{port}", "--cafile",
                          str(cli_environment / "ca.pem"), "--reconnect", "1", "--http", "/")
    assert result.code == 0, result.describe()
    line = server.wait_for(r"#2 .*connected: .*").group(0)
    assert line.count("resumed") == 1, line
    stop(server)


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """A pseudo-terminal: (the side we type into, the side the server reads)."""
    ours, theirs = pty.openpty()
    yield ours, theirs
    os.close(ours)
    os.close(theirs)


def test_keys_on_a_terminal_send_key_updates_and_a_certificate_request(
        openssl: str, processes: Start, cli_environment: Path,
        terminal: tuple[int, int]) -> None:
    keys, tty = terminal
    server = PeerProcess(glasstls_argv("server", "--port", "0", "--echo", "--trace"),
                         stdin=tty)
    try:
        port = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        server.wait_for("keys: k KeyUpdate, K KeyUpdate asking for one back")
        ca = cli_environment / "ca.pem"
        assert run_glasstls("certs", "--dir", str(cli_environment), "--client",
                            "alice").code == 0
        client = s_client(openssl, processes, port, ca, "-tls1_3", "-msg", "-enable_pha", "-cert",
                          str(cli_environment / "alice-client.pem"), "-key",
                          str(cli_environment / "alice-client-key.pem"))
        server.wait_for(r"\] connected: TLSv1\.3")
        os.write(keys, b"K")
        server.wait_for(r"KeyUpdate sent \(update_requested")
        client.wait_for(r"<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate")
        client.write(b"after K\n")  # OpenSSL answers an update_requested with its next write
        client.wait_for("^after K$")
        server.wait_for(r"server  received  KeyUpdate")
        os.write(keys, b"k")
        server.wait_for(r"KeyUpdate sent \(update_not_requested\)")
        os.write(keys, b"c")
        server.wait_for(r"CertificateRequest sent \(post-handshake authentication\)")
        server.wait_for(r"server  received  Certificate\b")
        server.wait_for(r"server  local     CertificateVerification")
        client.write(b"still in step\n")
        client.wait_for("^still in step$")  # echoed under the new keys
        os.write(keys, b"q")
        assert server.wait() == 0, server.describe()
        assert "stopped" in server.stdout
    finally:
        server.kill()


def test_the_trace_names_suites_glasstls_does_not_speak(openssl: str, processes: Start,
                                                        cli_environment: Path) -> None:
    """From the IANA table: the trace showed unknown(0xc013) before."""
    server, port = start_glasstls_server(processes, "--trace", "--echo")
    client = s_client(openssl, processes, port, cli_environment / "ca.pem", "-tls1_2",
                      "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA",
                      "-brief")
    client.close_stdin()
    client.wait()
    server.wait_for(r"cipher suites\s+TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "
                    r"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    assert "unknown(0xc013)" not in server.stdout
    stop(server)


def test_pass_decrypts_the_servers_encrypted_key(openssl: str, processes: Start,
                                                 pem: dict[str, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization

    from pki import pki

    encrypted = tmp_path / "key.pem"
    encrypted.write_bytes(pki("ecdsa-p256").leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"server secret")))
    refused = run_glasstls("server", "--port", "0", "--cert", str(pem["cert"]), "--key",
                           str(encrypted))
    assert refused.code == 2 and "is encrypted: give its password with --pass" in (
        refused.stderr), refused.describe()
    monkeypatch.setenv("KEY_PASSWORD", "server secret")
    server, port = start_glasstls_server(processes, "--cert", str(pem["cert"]), "--key",
                                         str(encrypted), "--pass", "env:KEY_PASSWORD")
    client = s_client(openssl, processes, port, pem["ca"], "-brief")
    client.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    client.wait_for("Hello from glasstls server")
    client.close_stdin()
    assert client.wait() == 0 and "Verification: OK" in client.output, client.describe()
    stop(server)


def test_get_keyupdate_on_tls12_says_why_not(processes: Start, cli_environment: Path) -> None:
    server, port = start_glasstls_server(processes)
    result = run_glasstls("client", f"localhost:{port}", "--cafile",
                          str(cli_environment / "ca.pem"), "--tls1.2", "--http", "/keyupdate")
    assert result.code == 0, result.describe()
    assert result.stdout.startswith("HTTP/1.1 400 Bad Request")
    assert "KeyUpdate exists only in TLS 1.3; this connection is TLSv1.2" in result.stdout
    stop(server)


def test_sni_serves_a_certificate_per_name(openssl: str, processes: Start, tmp_path: Path,
                                           cli_environment: Path) -> None:
    for name in ("a.test", "b.test"):
        issued = run_glasstls("certs", "--dir", str(tmp_path), name, "--out", name)
        assert issued.code == 0, issued.describe()
    # b.test's chain and key in one file, as --sni NAME=CERT allows.
    both = tmp_path / "b.test.pem"
    both.write_bytes(both.read_bytes() + (tmp_path / "b.test-key.pem").read_bytes())
    server, port = start_glasstls_server(
        processes, "--echo", "--sni", f"a.test={tmp_path / 'a.test.pem'},"
                                      f"{tmp_path / 'a.test-key.pem'}",
        "--sni", f"b.test={both}")
    assert "for a.test:  CN=a.test" in server.stdout and "for b.test:  CN=b.test" in (
        server.stdout)
    for asked, ca, subject in (("a.test", tmp_path / "ca.pem", "CN = a.test"),
                               ("b.test", tmp_path / "ca.pem", "CN = b.test"),
                               ("other.test", cli_environment / "ca.pem", "CN = localhost")):
        client = processes([openssl, "s_client", "-connect", f"127.0.0.1:{port}",
                            "-servername", asked, "-CAfile", str(ca), "-verify_return_error",
                            "-brief"])
        client.write(b"ping\n")
        client.wait_for("^ping$")
        client.close_stdin()
        assert client.wait() == 0, client.describe()
        assert re.search(rf"Peer certificate: .*{subject}$", client.output, re.MULTILINE), (
            client.describe())
    stop(server)


def test_sni_with_a_name_that_is_not_a_host_name_is_a_usage_error(pem: dict[str, Path]
                                                                   ) -> None:
    result = run_glasstls("server", "--sni", f"bad name!={pem['cert']},{pem['key']}")
    assert result.code == 2 and "is not a DNS host name" in result.stderr, result.describe()
    result = run_glasstls("server", "--sni", "a.test")
    assert result.code == 2 and "expected NAME=CERT[,KEY]" in result.stderr
