"""``glasstls client --starttls``: the plain-text greeting and STARTTLS command, then
TLS; against aiosmtpd for SMTP and small greeters on Python's ssl for IMAP, POP3 and
FTP (no usual package serves those with STARTTLS)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import Start, glasstls_argv, run_glasstls

from interop.processes import free_port
from peers import require_module

pytestmark = pytest.mark.interop


def server_context(pem: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem["cert"], pem["key"])
    return context


def test_smtp_starttls_with_aiosmtpd(pem: dict[str, Path], processes: Start) -> None:
    controller_module = require_module("aiosmtpd.controller")

    class Handler:
        async def handle_DATA(self, server: object, session: object,
                              envelope: object) -> str:
            return "250 OK"

    port = free_port()
    controller = controller_module.Controller(
        Handler(), hostname="127.0.0.1", port=port, tls_context=server_context(pem),
        require_starttls=True)
    controller.start()
    client = processes(glasstls_argv(
        "client", f"127.0.0.1:{port}", "--starttls", "smtp", "--servername", "localhost",
        "--cafile", str(pem["ca"]), "--trace"))
    try:
        client.wait_for(r"protocol\s+TLSv1\.3")
        assert "C: STARTTLS" in client.stderr and "S: 220 Ready to start TLS" in client.stderr
        # After TLS the session starts over (RFC 3207 §4.2): aiosmtpd answers EHLO again.
        client.write(b"EHLO glasstls.test\r\n")
        client.wait_for(r"^250-")
        client.write(b"QUIT\r\n")
        client.wait_for(r"^221 Bye")
        client.close_stdin()
        assert client.wait() == 0, client.describe()
    finally:
        controller.stop()


Script = list[tuple[str | None, str]]  # (expected command or None for the greeting, reply)


@pytest.fixture
def greeter(pem: dict[str, Path]) -> Iterator[Callable[[Script], int]]:
    """``greeter(script)`` -> the port of a one-connection server that plays the
    plain-text script, then speaks TLS and sends one line."""
    context = server_context(pem)
    listeners: list[socket.socket] = []

    def start(script: Script) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            # A client that gives up (the refusal tests) ends the script early.
            with raw, raw.makefile("rb") as reader, contextlib.suppress(OSError):
                for expected, reply in script:
                    if expected is not None:
                        line = reader.readline().decode().rstrip("\r\n")
                        if line != expected:
                            raw.sendall(f"unexpected {line!r}\r\n".encode())
                            return
                    raw.sendall(reply.encode())
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.sendall(b"hello over TLS\r\n")
                    tls.unwrap()

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize(("protocol", "script"), [
    ("imap", [(None, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
              ("a1 STARTTLS", "a1 OK Begin TLS negotiation now\r\n")]),
    ("pop3", [(None, "+OK POP3 ready\r\n"), ("STLS", "+OK Begin TLS negotiation\r\n")]),
    ("ftp", [(None, "220-Welcome\r\n220 FTP ready\r\n"),
             ("AUTH TLS", "234 AUTH TLS successful\r\n")]),
])
def test_imap_pop3_ftp_starttls(greeter: Callable[[Script], int], pem: dict[str, Path],
                                protocol: str, script: Script) -> None:
    port = greeter(script)
    result = run_glasstls("client", f"127.0.0.1:{port}", "--starttls", protocol,
                          "--servername", "localhost", "--cafile", str(pem["ca"]))
    assert result.code == 0, result.describe()
    assert result.stdout == "hello over TLS\n"
    assert "verified      yes" in result.stderr


def test_a_server_without_starttls_is_reported(greeter: Callable[[Script], int],
                                               pem: dict[str, Path]) -> None:
    port = greeter([(None, "220 mail ready\r\n"),
                    ("EHLO [127.0.0.1]", "250-mail\r\n250 SIZE 1000\r\n")])
    result = run_glasstls("client", f"127.0.0.1:{port}", "--starttls", "smtp",
                          "--cafile", str(pem["ca"]))
    assert result.code == 4, result.describe()
    assert "STARTTLS: the server does not offer STARTTLS" in result.stderr


def test_bytes_before_the_handshake_are_refused(greeter: Callable[[Script], int],
                                                pem: dict[str, Path]) -> None:
    """CVE-2011-0411: a reply and more in one packet must not reach the TLS side."""
    port = greeter([(None, "+OK ready\r\n"), ("STLS", "+OK go\r\n+OK injected\r\n")])
    result = run_glasstls("client", f"127.0.0.1:{port}", "--starttls", "pop3",
                          "--cafile", str(pem["ca"]))
    assert result.code == 4, result.describe()
    assert "after its STARTTLS answer" in result.stderr
