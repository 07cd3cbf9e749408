"""Key logging: SSLKEYLOGFILE by default, KeyLogFile / keylog_filename as options,
and the proof that the log is right: tshark decrypts a captured session with it."""

from __future__ import annotations

import http.client
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    SSL_VERSIONS,
    VERSIONS,
    client_config,
    glass_context,
    python_https_server,
    server_config,
)

import glasstls
from glasstls import KeyLogFile, TLSSocket
from glasstls.constants import TLS13
from helpers.capture import capture
from peers import require_binary

TLS13_LABELS = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"}


def echo_once(sock: TLSSocket, address: Any) -> None:
    sock.sendall(sock.recv(100))


def labels(path: Path) -> set[str]:
    return {line.split()[0] for line in path.read_text().splitlines()}


@pytest.mark.parametrize("version", VERSIONS)
def test_sslkeylogfile_is_honoured_and_matches_the_server_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    server_log = tmp_path / "server.keys"
    client_log = tmp_path / "client.keys"
    config = server_config(version, keylog=KeyLogFile(server_log))
    with glasstls.serve(("127.0.0.1", 0), echo_once, config=config) as server:
        monkeypatch.setenv("SSLKEYLOGFILE", str(client_log))
        with glasstls.connect(server.address, config=client_config(version),
                              server_hostname="localhost", timeout=10) as sock:
            sock.sendall(b"k")
            assert sock.recv(1) == b"k"
    expected = TLS13_LABELS if version == TLS13 else {"CLIENT_RANDOM"}
    assert labels(client_log) == expected
    # Both ends logged the same secrets for the same client_random.
    assert sorted(client_log.read_text().splitlines()) == sorted(
        server_log.read_text().splitlines())
    assert stat.S_IMODE(os.stat(client_log).st_mode) == 0o600


def test_an_explicit_keylog_wins_over_the_environment(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "environment.keys"))
    own = client_config(keylog=KeyLogFile(tmp_path / "own.keys"))
    with glasstls.serve(("127.0.0.1", 0), echo_once,
                        config=server_config(keylog=lambda line: None)) as server, \
            glasstls.connect(server.address, server_hostname="localhost", timeout=10,
                             config=own) as sock:
        sock.sendall(b"k")
        sock.recv(1)
    assert labels(tmp_path / "own.keys") == TLS13_LABELS
    assert not (tmp_path / "environment.keys").exists()


def test_ssl_context_keylog_filename(files: dict[str, Path], tmp_path: Path) -> None:
    context = glass_context(files)
    context.keylog_filename = str(tmp_path / "context.keys")
    assert context.keylog_filename == str(tmp_path / "context.keys")
    with python_https_server(files) as port:
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
        connection.request("GET", "/")
        connection.getresponse().read()
        connection.close()
    assert labels(tmp_path / "context.keys") == TLS13_LABELS


def test_aio_honours_sslkeylogfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(1))
            writer.close()

        server = await glasstls.aio.start_server(handler, "127.0.0.1", 0,
                                                 config=server_config())
        async with server:
            monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "aio.keys"))
            reader, writer = await glasstls.aio.open_connection(
                "127.0.0.1", server.sockets[0].getsockname()[1], config=client_config(),
                server_hostname="localhost")
            writer.write(b"k")
            assert await reader.read(1) == b"k"
            writer.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert labels(tmp_path / "aio.keys") == TLS13_LABELS


# -- tshark ------------------------------------------------------------------------------


def decrypted_http(pcap: Path, port: int, keylog: Path | None) -> str:
    tshark = require_binary("tshark")
    options = ["-o", f"tls.keylog_file:{keylog}"] if keylog is not None else []
    result = subprocess.run(
        [tshark, "-r", str(pcap), "-d", f"tcp.port=={port},tls", *options, "-Y", "http",
         "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri",
         "-e", "http.response.code"],
        capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


@pytest.mark.interop
@pytest.mark.parametrize("version", VERSIONS)
def test_tshark_decrypts_a_glasstls_client_session(files: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   version: int) -> None:
    keys = tmp_path / "client.keys"
    pcap = tmp_path / "client.pcapng"
    with python_https_server(files, version) as port, capture((port,), pcap):
        monkeypatch.setenv("SSLKEYLOGFILE", str(keys))
        context = glass_context(files, version)
        context.set_alpn_protocols(["http/1.1"])
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
        connection.request("GET", "/decrypted-by-tshark")
        assert connection.getresponse().read().startswith(b"path=/decrypted-by-tshark")
        connection.close()
    shown = decrypted_http(pcap, port, keys)
    assert "GET\t/decrypted-by-tshark" in shown
    assert "\t\t200" in shown
    # Without the key log the same capture shows no HTTP at all.
    assert "decrypted-by-tshark" not in decrypted_http(pcap, port, None)


@pytest.mark.interop
@pytest.mark.parametrize("version", VERSIONS)
def test_tshark_decrypts_a_glasstls_server_session(files: dict[str, Path], tmp_path: Path,
                                                   version: int) -> None:
    import ssl
    import urllib.request

    keys = tmp_path / "server.keys"
    pcap = tmp_path / "server.pcapng"

    def http_handler(sock: TLSSocket, address: Any) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += sock.recv(4096)
        body = b"served by glasstls"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (len(body), body))

    config = server_config(version, keylog=KeyLogFile(keys), alpn_protocols=("http/1.1",))
    with glasstls.serve(("127.0.0.1", 0), http_handler, config=config) as server:
        port = server.address[1]
        with capture((port,), pcap):
            client = ssl.create_default_context(cafile=str(files["ca"]))
            client.maximum_version = SSL_VERSIONS[version]
            client.set_alpn_protocols(["http/1.1"])
            with urllib.request.urlopen(f"https://localhost:{port}/python-to-glasstls",
                                        context=client, timeout=10) as response:
                assert response.read() == b"served by glasstls"
    assert "GET\t/python-to-glasstls" in decrypted_http(pcap, port, keys)
