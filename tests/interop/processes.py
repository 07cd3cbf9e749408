"""Peer programs as child processes: output captured, readiness polled, always reaped."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

START_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0


class PeerProcess:
    """A peer program with stdin as a pipe and stdout/stderr read by threads.

    stdin stays open until ``close_stdin()``: ``openssl s_server`` and
    ``s_client`` treat end-of-input as "quit".
    """

    def __init__(self, argv: Sequence[str], cwd: str | os.PathLike[str] | None = None,
                 stdin: int | None = None) -> None:
        """``stdin``: a file descriptor to read from instead of a pipe (a terminal)."""
        self.argv = list(argv)
        self._lock = threading.Condition()
        self._output = {"stdout": bytearray(), "stderr": bytearray()}
        self.process = subprocess.Popen(
            self.argv, cwd=cwd, stdin=subprocess.PIPE if stdin is None else stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: object) -> None:
        read = stream.read1  # type: ignore[attr-defined]
        while chunk := read(65536):
            with self._lock:
                self._output[name] += chunk
                self._lock.notify_all()
        with self._lock:
            self._lock.notify_all()

    @property
    def stdout(self) -> str:
        with self._lock:
            return self._output["stdout"].decode(errors="replace")

    @property
    def stderr(self) -> str:
        with self._lock:
            return self._output["stderr"].decode(errors="replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """Wait until ``pattern`` appears in stdout or stderr (regex, multiline)."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                match = regex.search(self.output)
                if match:
                    return match
                finished = self.process.poll() is not None and not any(
                    reader.is_alive() for reader in self._readers)
                remaining = deadline - time.monotonic()
                if finished or remaining <= 0:
                    why = "exited" if finished else f"timed out after {timeout}s"
                    raise AssertionError(f"{why} waiting for /{pattern}/\n{self.describe()}")
                self._lock.wait(min(remaining, 0.1))

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def wait(self, timeout: float = EXIT_TIMEOUT) -> int:
        """The exit status; fails the test (and kills the peer) if it does not exit."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"peer did not exit within {timeout}s\n{self.describe()}") from None
        self._join_readers()
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            # The peer is a session leader: signal its group, not just the pid.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(EXIT_TIMEOUT)
        self.close_stdin()
        self._join_readers()

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(EXIT_TIMEOUT)

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\n(exit status {self.process.poll()})\n"
                f"--- stdout ---\n{self.stdout[-8000:]}\n--- stderr ---\n{self.stderr[-8000:]}")


def free_port() -> int:
    """A port that was free a moment ago (for peers that cannot report port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_gnutls_serv(start: Callable[[Sequence[str]], PeerProcess], binary: str,
                      *options: str) -> tuple[PeerProcess, int]:
    """``gnutls-serv --echo`` listening with ``options``, and its port. gnutls-serv
    cannot report an ephemeral port: it is given a free one, and another if someone
    takes that one first."""
    for _attempt in range(3):
        port = free_port()
        server = start([binary, "--echo", "--port", str(port), *options])
        try:
            server.wait_for(rf"listening on IPv4 .* port {port}\.\.\.done")
        except AssertionError:
            if server.process.poll() is None:
                raise
            continue
        return server, port
    raise AssertionError(f"gnutls-serv could not listen\n{server.describe()}")
