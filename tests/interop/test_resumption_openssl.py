"""Resumption and 0-RTT against the OpenSSL command line tools, both versions:
``s_client -sess_out`` / ``-sess_in`` (and ``-early_data``) against a glasstls server,
and a glasstls client resuming against ``s_server``."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from glasstls import ClientConfig, ServerConfig
from glasstls.constants import TLS12, TLS13
from glasstls.events import ApplicationData

from .driver import echo_once, glass_client
from .matrix import cert_pki
from .peer_output import openssl_server_hello_extensions
from .processes import PeerProcess

pytestmark = pytest.mark.interop

CERT = "ecdsa"
REPLY_PREFIX = b"glasstls-server got: "
VERSION_FLAGS = {TLS13: "-tls1_3", TLS12: "-tls1_2"}
# (version, extra s_client options): TLS 1.2 resumes by ticket, or by session id
# when s_client does not take tickets.
S_CLIENT_CASES = {
    "TLS13-ticket": (TLS13, ()),
    "TLS12-ticket": (TLS12, ()),
    "TLS12-session-id": (TLS12, ("-no_ticket",)),
}



def glass_server_config(version: int, **options: object) -> ServerConfig:
    return ServerConfig(certificates=(cert_pki(CERT).certified,), versions=(version,),
                        **options)  # type: ignore[arg-type]


def glass_client_config(version: int, **options: object) -> ClientConfig:
    return ClientConfig(trust=cert_pki(CERT).trust, versions=(version,),
                        **options)  # type: ignore[arg-type]


# -- openssl s_client resumes against a glasstls server --------------------------------------


@pytest.fixture
def run_s_client(openssl, pki_files, start_peer):
    """``run_s_client(port, version, line, *options)`` -> the finished s_client process:
    sends ``line``, waits for the server to close."""

    def run(port: int, version: int, line: bytes, *options: str) -> PeerProcess:
        files = pki_files(CERT)
        client = start_peer([
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", VERSION_FLAGS[version],
            "-CAfile", str(files["ca"]), "-verify_return_error", "-verify_ip", "127.0.0.1",
            "-ign_eof", *options,
        ])
        # With -early_data the line has already gone as 0-RTT: the server may have
        # answered and closed, and s_client exited, before we get to write it.
        with contextlib.suppress(BrokenPipeError):
            client.write(line)
        client.close_stdin()
        assert client.wait() == 0, client.describe()
        assert (REPLY_PREFIX + line).decode() in client.stdout, client.describe()
        return client

    return run


@pytest.mark.parametrize("case", S_CLIENT_CASES)
def test_openssl_s_client_resumes_a_glasstls_session_with_sess_out_and_sess_in(
        run_s_client, start_glass_server, tmp_path: Path, case: str) -> None:
    version, options = S_CLIENT_CASES[case]
    session_file = tmp_path / "session.pem"
    server = start_glass_server(glass_server_config(version), echo_once(REPLY_PREFIX),
                                connections=2)
    first = run_s_client(server.port, version, b"first\n", "-sess_out", str(session_file),
                         *options)
    assert session_file.exists()
    second = run_s_client(server.port, version, b"second\n", "-sess_in", str(session_file),
                          *options)
    server.join()
    name = "TLSv1.3" if version == TLS13 else "TLSv1.2"
    assert re.search(rf"^New, {name}, Cipher is", first.stdout, re.MULTILINE), first.describe()
    assert re.search(rf"^Reused, {name}, Cipher is", second.stdout, re.MULTILINE), (
        second.describe())
    assert [glass.negotiated.resumed for glass in server.sockets] == [False, True]
    assert server.results == [b"first\n", b"second\n"]


def test_openssl_s_client_early_data_reaches_the_glasstls_server_flagged_early(
        run_s_client, start_glass_server, tmp_path: Path) -> None:
    session_file, early_file = tmp_path / "session.pem", tmp_path / "early.txt"
    early_file.write_bytes(b"sent as 0-RTT\n")
    server = start_glass_server(glass_server_config(TLS13, max_early_data_size=4096),
                                echo_once(REPLY_PREFIX), connections=2)
    first = run_s_client(server.port, TLS13, b"first\n", "-sess_out", str(session_file))
    assert "Max Early Data: 4096" in first.stdout
    # The early data file carries the line the echo handler answers.
    second = run_s_client(server.port, TLS13, b"sent as 0-RTT\n", "-sess_in", str(session_file),
                          "-early_data", str(early_file))
    server.join()
    assert "Early data was accepted" in second.stdout, second.describe()
    glass = server.sockets[1]
    early = [e for e in glass.events if isinstance(e, ApplicationData) and e.early]
    assert b"".join(e.data for e in early) == b"sent as 0-RTT\n"
    assert glass.negotiated.resumed and glass.negotiated.early_data_accepted


def test_openssl_s_client_early_data_is_refused_by_a_glasstls_server_without_0rtt(
        run_s_client, start_glass_server, tmp_path: Path) -> None:
    # A ticket that allows no early data: s_client does not send any.
    session_file, early_file = tmp_path / "session.pem", tmp_path / "early.txt"
    early_file.write_bytes(b"not sent\n")
    server = start_glass_server(glass_server_config(TLS13), echo_once(REPLY_PREFIX),
                                connections=2)
    run_s_client(server.port, TLS13, b"first\n", "-sess_out", str(session_file))
    second = run_s_client(server.port, TLS13, b"second\n", "-sess_in", str(session_file),
                          "-early_data", str(early_file))
    server.join()
    assert "Early data was not sent" in second.stdout, second.describe()
    assert not any(isinstance(e, ApplicationData) and e.early for e in server.sockets[1].events)
    assert server.sockets[1].negotiated.resumed


# -- a glasstls client resumes against openssl s_server --------------------------------------

S_SERVER_CASES = {
    "TLS13-ticket": (TLS13, ()),
    "TLS12-ticket": (TLS12, ()),
    "TLS12-session-id": (TLS12, ("-no_ticket",)),
}
FROM_GLASS = b"hello from the glasstls client %d\n"
FROM_OPENSSL = b"hello from openssl s_server %d\n"


@pytest.mark.parametrize("case", S_SERVER_CASES)
def test_glasstls_client_resumes_against_openssl_s_server(
        openssl, pki_files, start_peer, tmp_path: Path, case: str) -> None:
    version, options = S_SERVER_CASES[case]
    files = pki_files(CERT)
    trace_path = tmp_path / "s_server.trace"
    server = start_peer([
        openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "2", VERSION_FLAGS[version],
        "-cert", str(files["cert"]), "-key", str(files["key"]),
        "-trace", "-msgfile", str(trace_path), *options,
    ])
    port = int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
    config = glass_client_config(version)  # one session cache for both connections
    done = []
    for number in range(2):
        with glass_client(port, config) as glass:
            done.append(glass.handshake())
            glass.send(FROM_GLASS % number)
            server.wait_for((FROM_GLASS % number).decode().strip())
            server.write(FROM_OPENSSL % number)
            assert glass.receive_until(b"\n") == FROM_OPENSSL % number
            glass.close()
            server.wait_for(rf"(?:^DONE$[\s\S]*){{{number + 1}}}")  # close_notify seen
    assert server.wait() == 0, server.describe()
    assert [d.resumed for d in done] == [False, True]
    assert done[1].peer_certificates == done[0].peer_certificates
    # s_server's own account: one reused session, the second.
    assert server.stdout.count("Reused session-id") == 1, server.describe()
    second_connection = server.stdout.split("CONNECTION CLOSED")[1]
    assert "Reused session-id" in second_connection
    assert re.search(r"^\s+1 session cache hits$", server.stdout, re.MULTILINE)
    if version == TLS13:
        extensions = openssl_server_hello_extensions(trace_path.read_text(errors="replace"))
        assert len(extensions) == 2
        assert "psk" not in extensions[0] and "psk" in extensions[1]
        assert done[1].key_exchange.startswith("PSK + (EC)DHE")
    else:
        assert done[1].key_exchange == "resumed"


# -- a glasstls client sends 0-RTT to openssl s_server -------------------------------------------



@pytest.mark.parametrize("middlebox", [
    pytest.param(True, id="middlebox-compatibility"),
    pytest.param(False, id="no-middlebox-compatibility"),
])
def test_glasstls_client_early_data_is_accepted_by_openssl_s_server(
        openssl, pki_files, start_peer, middlebox: bool) -> None:
    files = pki_files(CERT)
    server = start_peer([
        openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "2", "-tls1_3",
        "-cert", str(files["cert"]), "-key", str(files["key"]),
        "-early_data", "-max_early_data", "4096",
    ])
    port = int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
    config = glass_client_config(TLS13, enable_early_data=True,
                                 middlebox_compatibility=middlebox)
    done = []
    for number in range(2):
        with glass_client(port, config) as glass:
            if number == 1:
                assert glass.connection.send_early_data(b"early from glasstls\n") == 20
            done.append(glass.handshake())
            glass.send(FROM_GLASS % number)
            server.wait_for((FROM_GLASS % number).decode().strip())
            server.write(FROM_OPENSSL % number)
            assert glass.receive_until(b"\n") == FROM_OPENSSL % number
            glass.close()
            server.wait_for(rf"(?:^DONE$[\s\S]*){{{number + 1}}}")
    assert server.wait() == 0, server.describe()
    assert [(d.resumed, d.early_data_accepted) for d in done] == [(False, False), (True, True)]
    # s_server writes the early data itself unbuffered, so it may come before its header.
    assert "Early data received:" in server.stdout, server.describe()
    assert "early from glasstls" in server.stdout
    assert server.stdout.count("Reused session-id") == 1
