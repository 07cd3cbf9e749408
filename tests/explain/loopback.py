"""Captures of real connections on the loopback interface, made with dumpcap."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from peers import require_binary


@contextlib.contextmanager
def capture(path: Path, port: int) -> Iterator[Path]:
    """dumpcap on ``lo`` for TCP ``port`` while the block runs; the file is complete
    when the block has left."""
    dumpcap = require_binary("dumpcap")
    process = subprocess.Popen(
        [dumpcap, "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        # dumpcap creates the file once it captures; give it that long to start.
        while not path.exists() and time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"dumpcap failed: {process.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.05)
        time.sleep(0.3)
        yield path
        time.sleep(0.5)  # let the last packets reach the file
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def http_responder(response: bytes) -> Callable[[Any, Any], None]:
    """A ``glasstls.serve`` handler: read one request head, send ``response``."""

    def handle(sock: Any, address: Any) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        sock.sendall(response)

    return handle


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
