"""Record the real peers' flights that seed the fuzz harnesses (seeds/*.hex).

    .venv/bin/python tests/fuzz/record_seeds.py

- ``client_hello--<scenario>--<peer>.hex``: the first flight of OpenSSL's
  ``s_client``, GnuTLS's ``gnutls-cli``, curl and Python's ``ssl``, caught by a
  listening socket; the server harness feeds it to a fresh server of the scenario.
- ``server_flight--<scenario>--<peer>.hex``: ``openssl s_server``'s and
  ``gnutls-serv``'s answer to the scenario's recorded ClientHello; the client
  harness feeds it to the client that sent that hello (replayed, it derives the
  same keys from the peer's share, so it reads on into the encrypted flight).

The files are committed; run this again to refresh them after a peer upgrade.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import flights
from helpers.pump import split_records
from pki import pki

SEEDS = Path(__file__).with_name("seeds")


def _read_flight(sock: socket.socket, idle: float = 0.5) -> bytes:
    """What the peer sends until it pauses for ``idle`` seconds (or closes)."""
    sock.settimeout(idle)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _first_flight_of(start_client: Callable[[int], subprocess.Popen[bytes] | None]) -> bytes:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(20)
        process = start_client(listener.getsockname()[1])
        try:
            connection, _ = listener.accept()
            with connection:
                return _read_flight(connection)
        finally:
            if process is not None:
                process.kill()
                process.wait(10)


def _python_ssl_client(port: int) -> None:
    def run() -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as raw:
            context.wrap_socket(raw, server_hostname="localhost")

    threading.Thread(target=run, daemon=True).start()


def _quiet(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def client_hellos() -> Iterator[tuple[str, str, bytes]]:
    peers: dict[tuple[str, str], Callable[[int], subprocess.Popen[bytes] | None]] = {
        ("tls13", "openssl"): lambda port: _quiet(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
             "localhost"]),
        ("tls12", "openssl"): lambda port: _quiet(
            ["openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}",
             "-servername", "localhost"]),
        ("tls13", "gnutls"): lambda port: _quiet(
            ["gnutls-cli", "--insecure", "-p", str(port), "localhost"]),
        ("tls13", "curl"): lambda port: _quiet(
            ["curl", "-sk", "--max-time", "5", f"https://localhost:{port}/"]),
        ("tls13", "python-ssl"): lambda port: _python_ssl_client(port),
    }
    for (scenario, peer), start in peers.items():
        yield scenario, peer, _first_flight_of(start)


def server_flights() -> Iterator[tuple[str, str, bytes]]:
    with tempfile.TemporaryDirectory() as directory:
        for scenario, key_type, version in (("tls13", "ed25519", "-tls1_3"),
                                            ("tls12", "rsa-2048", "-tls1_2")):
            files = pki(key_type).write(Path(directory) / key_type)
            hello = flights.recording(scenario).transfers[0].data
            port = _free_port()
            servers = {
                "openssl": ["openssl", "s_server", "-accept", str(port), "-cert",
                            str(files["cert"]), "-key", str(files["key"]), version,
                            "-naccept", "1"],
                "gnutls": ["gnutls-serv", "-p", str(port), "--x509certfile", str(files["cert"]),
                           "--x509keyfile", str(files["key"])],
            }
            for peer, argv in servers.items():
                yield scenario, peer, _answer_of(argv, port, hello)


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


def _answer_of(argv: list[str], port: int, hello: bytes) -> bytes:
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with sock:
            sock.sendall(hello)
            return _read_flight(sock, idle=1.0)
    finally:
        process.kill()
        process.wait(10)


def main() -> None:
    SEEDS.mkdir(exist_ok=True)
    for kind, recorded in (("client_hello", client_hellos()),
                           ("server_flight", server_flights())):
        for scenario, peer, data in recorded:
            records = split_records(data)
            if not records or records[0][0] != 22:
                print(f"{kind} {scenario} {peer}: nothing usable ({data[:16].hex()})")
                continue
            path = SEEDS / f"{kind}--{scenario}--{peer}.hex"
            path.write_text(data.hex() + "\n")
            print(f"{path.name}: {len(data)} bytes in {len(records)} records")


if __name__ == "__main__":
    main()
