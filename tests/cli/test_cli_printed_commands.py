"""Every command glasstls prints, in its help epilogs, banners and hints, works as
printed. Each runs unchanged in a private network namespace (``printed.py``) where
example.com, localhost:8443 and port 443 are this test's; placeholders a reader
fills in (``CA``, ``HOST:PORT``) are filled in the same way."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Result, run_glasstls
from printed import PrivateNetwork, printed_commands

from interop.processes import PeerProcess

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateNetwork]:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}"
                               f"{os.environ['PATH']}")
    work = tmp_path / "work"
    work.mkdir()
    with PrivateNetwork(work) as network:
        yield network


def epilog(command: str) -> str:
    result = run_glasstls(command, "--help")
    assert result.code == 0, result.describe()
    return result.stdout.split("examples:", 1)[1]


def ok(result: Result) -> Result:
    assert result.code == 0, result.describe()
    return result


def started(net: PrivateNetwork, command: str, ready: str = "Ctrl-C stops") -> PeerProcess:
    server = net.start(command)
    server.wait_for(ready, timeout=30)
    return server


def stopped(server: PeerProcess, how: int = signal.SIGINT) -> None:
    server.process.send_signal(how)
    assert server.wait() == 0, server.describe()


def test_every_example_command_is_found() -> None:
    """The extraction the other tests rely on sees every example line."""
    for command in ("demo", "client", "server", "serve", "certs"):
        text = epilog(command)
        expected = len(re.findall(r"^  (?:glasstls|curl|openssl) ", text, re.MULTILINE))
        assert len(printed_commands(text)) == expected > 0, command


def test_client_examples(net: PrivateNetwork) -> None:
    work = net.workdir
    # The files the examples name: ca.pem and a localhost certificate from it,
    # me.pem / me-key.pem (a client certificate), and a CA the "system" trusts
    # (SSL_CERT_FILE) with example.com and smtp.example.com certificates.
    ok(net.run("glasstls certs --dir ."))
    ok(net.run("glasstls certs --dir . --client me --out me"))
    ok(net.run("glasstls certs --dir web example.com smtp.example.com"))
    system = {"SSL_CERT_FILE": str(work / "web" / "ca.pem")}
    servers = [
        started(net, "glasstls server --cert localhost+2.pem --key localhost+2-key.pem"),
        started(net, "glasstls server --port 443 --cert web/example.com+1.pem "
                     "--key web/example.com+1-key.pem"),
        started(net, [sys.executable, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:587",
                      "--tlscert", "web/example.com+1.pem", "--tlskey",
                      "web/example.com+1-key.pem"], ready=""),
    ]
    try:
        for command in printed_commands(epilog("client")):
            result = net.run(command, env=system)
            assert result.code == 0, result.describe()
            if "--http" in command:
                assert "Hello from glasstls server" in result.stdout or (
                    '"status": 200' in result.stdout), result.describe()
            if "--sess-in" in command:
                assert re.search(r"resumed\s+yes", result.stderr), result.describe()
            assert re.search(r"verified\s+(yes|NO: --insecure)", result.stderr) or (
                '"verified": true' in result.stdout), result.describe()
    finally:
        for server in servers:
            server.kill()


def run_banner_commands(net: PrivateNetwork, server: PeerProcess) -> int:
    """Run what a glasstls server printed at start (certs lines, the try: line)."""
    commands = printed_commands(server.stdout)
    for command in commands:
        ok(net.run(command))
    return len(commands)


def test_server_examples_and_their_banners(net: PrivateNetwork, cli_environment: Path
                                           ) -> None:
    ok(net.run("glasstls certs --dir . --out cert"))
    (net.workdir / "cert-key.pem").rename(net.workdir / "key.pem")
    # --sni's example: a.pem with a-key.pem, and b.pem holding chain and key.
    ok(net.run("glasstls certs --dir . a.test --out a"))
    ok(net.run("glasstls certs --dir . b.test --out b"))
    b = net.workdir / "b.pem"
    b.write_bytes(b.read_bytes() + (net.workdir / "b-key.pem").read_bytes())
    ca = str(cli_environment / "ca.pem")
    text = epilog("server")
    servers, then = text.split("then, in another terminal:")
    for command in printed_commands(servers):
        server = started(net, command)
        try:
            if "--cert" not in command:
                assert run_banner_commands(net, server) >= 1, server.stdout
            if command == "glasstls server":
                for other in printed_commands(then, {"CA": ca}):
                    ok(net.run(other))
        finally:
            stopped(server)


def test_server_banner_with_client_auth_says_how_to_get_a_certificate(
        net: PrivateNetwork) -> None:
    server = started(net, "glasstls server --client-auth required --port 4433")
    try:
        assert "glasstls certs --dir" in server.stdout and "--client alice" in server.stdout
        assert run_banner_commands(net, server) == 2
        server.wait_for(r"connected: .*client certificate CN=alice")
    finally:
        stopped(server)


def test_demo_examples(net: PrivateNetwork) -> None:
    for command in printed_commands(epilog("demo")):
        result = ok(net.run(command))
        assert "Summary" in result.stdout or '"event": "summary"' in result.stdout
    assert (net.workdir / "keys.log").read_text().count("CLIENT_HANDSHAKE_TRAFFIC_SECRET")


def test_certs_examples_and_the_commands_they_print(net: PrivateNetwork,
                                                    cli_environment: Path) -> None:
    state_ca = cli_environment / "ca.pem"
    for command in printed_commands(epilog("certs")):
        issued = ok(net.run(command))
        hints = printed_commands(issued.stdout, {"HOST:PORT": "localhost:8443",
                                                 "SERVER-CA": "glasstls-certs/ca.pem"})
        servers = [h for h in hints if h.startswith(("glasstls server", "openssl s_server"))]
        clients = [h for h in hints if h not in servers]
        for server_command in servers:
            ready = "ACCEPT" if server_command.startswith("openssl") else "Ctrl-C stops"
            server = started(net, server_command, ready=ready)
            try:
                for client in clients:
                    if "--client-auth" in server_command or "--cert " in client:
                        continue  # the client-certificate pair is run below
                    result = ok(net.run(client, stdin="GET / HTTP/1.0\r\n\r\n"))
                    assert re.search(r"TLSv1\.[23]", result.stdout + result.stderr), (
                        result.describe())
            finally:
                server.kill() if server_command.startswith("openssl") else stopped(server)
    # The client-certificate hints: the server line, then the client line (the
    # server has the development certificate, so SERVER-CA is the state directory's).
    alice = ok(net.run("glasstls certs --client alice --dir glasstls-certs --out alice2"))
    hints = printed_commands(alice.stdout, {"HOST:PORT": "localhost:8443",
                                            "SERVER-CA": str(state_ca)})
    server = started(net, hints[1])
    try:
        ok(net.run(hints[0]))
        server.wait_for(r"connected: .*client certificate CN=alice")
    finally:
        stopped(server)


def test_serve_examples_and_banner(net: PrivateNetwork, cli_environment: Path) -> None:
    ok(net.run("glasstls certs --dir . --out cert"))
    (net.workdir / "cert-key.pem").rename(net.workdir / "key.pem")
    text = epilog("serve")
    servers, then = text.split("then open the URL in a browser, or:")
    for command in printed_commands(servers):
        server = started(net, command, ready="Ctrl-C stops the server")
        try:
            for line in printed_commands(server.stdout):
                ok(net.run(line))
            if command == "glasstls serve":
                for other in printed_commands(then, {"CA": str(cli_environment / "ca.pem")}):
                    assert '"negotiated"' in ok(net.run(other)).stdout
        finally:
            stopped(server, signal.SIGTERM)
