"""Running the glasstls command as people do: a separate process, real arguments.

``run_glasstls(*args)`` runs ``python -m glasstls ARGS`` to completion;
``start_glasstls(*args)`` starts it as a ``PeerProcess`` (a server, or a client
fed through stdin). Output is plain text: ``NO_COLOR`` is set and stdout is a pipe.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interop.processes import PeerProcess

RUN_TIMEOUT = 120.0

# "   12.345 ms  client  sent      ClientHello ..." -> (side, action, step)
TEXT_EVENT = re.compile(r"^(?:\[[^\]]*\] )?\s*\d+\.\d+ ms  (client|server)\s+(sent|received|local)"
                        r"\s+(\w+)", re.MULTILINE)


def glasstls_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "glasstls", *args]


@dataclass
class Result:
    argv: list[str]
    code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\n(exit status {self.code})\n--- stdout ---\n"
                f"{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-6000:]}")

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def text_steps(self, stream: str = "stdout") -> list[tuple[str, str, str]]:
        text = self.stdout if stream == "stdout" else self.stderr
        return [(m.group(1), m.group(2), m.group(3)) for m in TEXT_EVENT.finditer(text)]


def run_glasstls(*args: str, stdin: str = "", argv: list[str] | None = None,
                 cwd: Path | None = None) -> Result:
    """Run the command to its end (the environment comes from the ``cli_environment``
    fixture: no colour, a private state directory, no SSLKEYLOGFILE)."""
    command = argv if argv is not None else glasstls_argv(*args)
    completed = subprocess.run(command, input=stdin, capture_output=True, text=True,
                               timeout=RUN_TIMEOUT, cwd=cwd, check=False)
    return Result(command, completed.returncode, completed.stdout, completed.stderr)


def start_glasstls(*args: str) -> PeerProcess:
    return PeerProcess(glasstls_argv(*args))


def is_subsequence(expected: list[Any], actual: list[Any]) -> bool:
    """Whether ``expected`` appears in ``actual`` in order (other items between)."""
    remaining = iter(actual)
    return all(any(item == candidate for candidate in remaining) for item in expected)


VERSIONS = {"TLSv1.3": "-tls1_3", "TLSv1.2": "-tls1_2"}
Start = Callable[[Sequence[str]], PeerProcess]


def s_server(openssl: str, processes: Start, pem: dict[str, Path], version: str,
             *options: str) -> tuple[PeerProcess, int]:
    """``openssl s_server`` on a free port of 127.0.0.1 with the test PKI's leaf."""
    server = processes([openssl, "s_server", "-accept", "127.0.0.1:0", VERSIONS[version],
                        "-cert", str(pem["cert"]), "-key", str(pem["key"]), *options])
    port = int(server.wait_for(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
    return server, port


def start_glasstls_server(processes: Start, *options: str) -> tuple[PeerProcess, int]:
    """``glasstls server --port 0 OPTIONS``, once it has said all it says at start."""
    server = processes(glasstls_argv("server", "--port", "0", *options))
    port = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    server.wait_for("Ctrl-C stops it")  # the end of what it prints when it starts
    return server, port


def stop(server: PeerProcess) -> None:
    """Ctrl-C, as a person would: the server stops cleanly with status 0."""
    server.process.send_signal(signal.SIGINT)
    assert server.wait() == 0, server.describe()
    assert "stopped" in server.stdout
