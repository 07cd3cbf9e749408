"""Bulk transfer integrity: 256 MiB each way at once, compared by SHA-256, against
openssl s_server and between glasstls peers; and throughput beside Python's ssl."""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from io_helpers import (
    VERSION_NAMES,
    VERSIONS,
    client_config,
    glass_context,
    openssl_server,
    python_client_context,
    python_server_context,
    server_config,
)

import glasstls
from glasstls import CipherSuite, TLSSocket
from glasstls.constants import TLS13

pytestmark = pytest.mark.slow

SIZE = 256 * 1024 * 1024
CHUNK = 1024 * 1024


def stream(seed: bytes, size: int = SIZE) -> Iterator[bytes]:
    """``size`` bytes, 1 MiB at a time: a random block whose first bytes count
    the chunks, so that no two chunks are alike."""
    block = hashlib.shake_256(seed).digest(CHUNK)
    for index in range(size // CHUNK):
        yield index.to_bytes(8, "big") + block[8:]


def send_stream(sock: Any, seed: bytes, digest: Any, size: int = SIZE) -> None:
    for chunk in stream(seed, size):
        digest.update(chunk)
        sock.sendall(chunk)


def receive_stream(sock: Any, size: int = SIZE) -> str:
    read = sock.read1 if hasattr(sock, "read1") else sock.recv  # a pipe or a socket
    digest = hashlib.sha256()
    received = 0
    while received < size:
        data = read(CHUNK)
        assert data, f"stream ended after {received} of {size} bytes"
        digest.update(data)
        received += len(data)
    return digest.hexdigest()


@pytest.mark.parametrize("version", VERSIONS)
def test_256_mib_each_way_between_glasstls_peers(version: int) -> None:
    results: queue.Queue[Any] = queue.Queue()

    def handler(sock: TLSSocket, address: Any) -> None:
        sent = hashlib.sha256()
        sender = threading.Thread(target=send_stream, args=(sock, b"server", sent))
        sender.start()
        try:
            results.put(("server received", receive_stream(sock)))
        except Exception as error:
            results.put(("server failed", error))
        sender.join()
        results.put(("server sent", sent.hexdigest()))

    with glasstls.serve(("127.0.0.1", 0), handler, config=server_config(version)) as server:
        sock = glasstls.connect(server.address, config=client_config(version),
                                server_hostname="localhost", timeout=300)
        assert sock.version() == VERSION_NAMES[version]
        sent = hashlib.sha256()
        sender = threading.Thread(target=send_stream, args=(sock, b"client", sent))
        sender.start()
        client_received = receive_stream(sock)
        sender.join()
        outcome = dict(results.get(timeout=300) for _ in range(2))
        sock.close()
    assert "server failed" not in outcome, outcome
    assert outcome["server received"] == sent.hexdigest()
    assert client_received == outcome["server sent"]


@pytest.mark.interop
@pytest.mark.parametrize("version", VERSIONS)
def test_256_mib_each_way_with_openssl_s_server(files: dict[str, Path], version: int) -> None:
    """s_server -quiet relays the client's bytes to its stdout and its stdin to
    the client: both directions are checked against what went in."""
    with openssl_server(files, version, extra=("-quiet",)) as server:
        process = server.process
        assert process.stdin is not None and process.stdout is not None
        from_client = in_thread(receive_stream, process.stdout)
        to_client = hashlib.sha256()
        sock = glass_context(files, version).wrap_socket(server.connect(),
                                                         server_hostname="localhost")
        sock.settimeout(300)
        assert sock.version() == VERSION_NAMES[version]
        feeder = threading.Thread(target=send_stream,
                                  args=(_PipeWriter(process.stdin), b"openssl", to_client))
        feeder.start()
        sent = hashlib.sha256()
        sender = threading.Thread(target=send_stream, args=(sock, b"client", sent))
        sender.start()
        client_received = receive_stream(sock)
        sender.join()
        feeder.join()
        assert result(from_client) == sent.hexdigest()
        assert client_received == to_client.hexdigest()
        sock.close()


def in_thread(function: Any, *args: Any) -> queue.Queue[Any]:
    """Run ``function(*args)`` on a daemon thread; ``result()`` gives its outcome."""
    outcome: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            outcome.put((True, function(*args)))
        except BaseException as error:
            outcome.put((False, error))

    threading.Thread(target=run, daemon=True).start()
    return outcome


def result(outcome: queue.Queue[Any], timeout: float = 300) -> Any:
    ok, value = outcome.get(timeout=timeout)
    if not ok:
        raise value
    return value


class _PipeWriter:
    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def sendall(self, data: bytes) -> None:
        self._pipe.write(data)
        self._pipe.flush()


def _drain(sock: Any, size: int) -> int:
    buffer = bytearray(CHUNK)
    received = 0
    while received < size:
        count = sock.recv_into(buffer)
        assert count, f"stream ended after {received} of {size} bytes"
        received += count
    return received


def _rate(client: Any, receiver: queue.Queue[Any], size: int) -> float:
    block = bytes(CHUNK)
    started = time.perf_counter()
    for _ in range(size // CHUNK):
        client.sendall(block)
    assert result(receiver) == size
    return size / (time.perf_counter() - started) / 1e6


def test_throughput_beside_python_ssl(files: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timed test: it reports MB/s for glasstls and for Python's ssl
    (OpenSSL) over the same loopback, same suite (TLS 1.3, AES-256-GCM), one way,
    each with a client and a server thread in this process."""
    size = int(os.environ.get("GLASSTLS_BENCH_MIB", "256")) * 1024 * 1024
    suite = CipherSuite.TLS_AES_256_GCM_SHA384
    received: queue.Queue[Any] = queue.Queue()

    def drain(sock: TLSSocket, address: Any) -> None:
        received.put((True, _drain(sock, size)))

    config = server_config(TLS13, cipher_suites=(suite,))
    client_side = client_config(TLS13, cipher_suites=(suite,))
    with glasstls.serve(("127.0.0.1", 0), drain, config=config) as server, glasstls.connect(
            server.address, config=client_side, server_hostname="localhost", timeout=300
    ) as client:
        glass_rate = _rate(client, received, size)
        glass_cipher = client.cipher()

    listener = socket.create_server(("127.0.0.1", 0))

    def python_server() -> int:
        plain, _ = listener.accept()
        with python_server_context(files).wrap_socket(plain, server_side=True) as tls:
            return _drain(tls, size)

    python_received = in_thread(python_server)
    with python_client_context(files).wrap_socket(
            socket.create_connection(listener.getsockname()), server_hostname="localhost"
    ) as client:
        python_rate = _rate(client, python_received, size)
        python_cipher = client.cipher()
    listener.close()
    assert glass_cipher == python_cipher == ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256)
    with capsys.disabled():
        print(f"\n[throughput: {size >> 20} MiB one way over loopback, {glass_cipher[0]}]")
        print(f"  glasstls    {glass_rate:8.1f} MB/s")
        print(f"  python ssl  {python_rate:8.1f} MB/s  ({ssl.OPENSSL_VERSION})")
        print(f"  glasstls / python ssl = {glass_rate / python_rate:.3f}")
