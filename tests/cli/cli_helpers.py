"""Running the glasstls command as people do: a separate process, real arguments.

``run_glasstls(*args)`` runs ``python -m glasstls ARGS`` to completion;
``start_glasstls(*args)`` starts it as a ``PeerProcess`` (a server, or a client
fed through stdin). Output is plain text: ``NO_COLOR`` is set and stdout is a pipe.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
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
