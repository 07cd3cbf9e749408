"""Loopback captures with tshark, for tests that let an independent dissector read
what went over the wire (with a key log, decrypted)."""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from peers import require_binary


@contextlib.contextmanager
def capture(ports: tuple[int, ...], output: Path) -> Iterator[None]:
    """Capture loopback traffic on ``ports`` with tshark (needs root) into
    ``output``. Packets reach tshark in batches, so a probe connection marks both
    ends: the capture starts once tshark shows the first probe, and stops once it
    shows the last (everything before it has then been written)."""
    tshark = require_binary("tshark")
    probe = socket.create_server(("127.0.0.1", 0))
    probe_port = probe.getsockname()[1]
    capture_filter = " or ".join(f"tcp port {p}" for p in (*ports, probe_port))
    process = subprocess.Popen(
        [tshark, "-i", "lo", "-f", capture_filter, "-w", str(output), "-P", "-l", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue[bytes] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                              daemon=True)
    reader.start()

    def mark(patience: int = 100) -> None:
        with socket.create_connection(("127.0.0.1", probe_port)) as marker:
            seen = str(marker.getsockname()[1]).encode()
        for _ in range(patience):  # tenths of a second
            with contextlib.suppress(queue.Empty):
                while seen not in lines.get(timeout=0.1):
                    pass
                return
            if process.poll() is not None:
                break
        raise AssertionError("tshark did not show the probe packet")

    try:
        for attempt in range(40):  # tshark takes a few seconds to start capturing
            try:
                mark(patience=5)
                break
            except AssertionError:
                if attempt == 39 or process.poll() is not None:
                    raise
        yield
        mark()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        probe.close()
