"""Running the commands glasstls prints (help epilogs, banners, hints) exactly as
printed, in a private network namespace where they mean what they say: its own
loopback (so ``localhost:8443`` and port 443 are ours, whatever else runs on this
machine) and its own /etc/hosts (so ``example.com`` is 127.0.0.1). ``glasstls``
must be on PATH (the ``printed`` fixture puts this Python's first).

    with PrivateNetwork(tmp_path) as net:
        server = net.start(["glasstls", "server"])
        result = net.run("glasstls client localhost:8443 --cafile ca.pem --http /")
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from types import TracebackType

from cli_helpers import RUN_TIMEOUT, Result

from interop.processes import PeerProcess
from peers import missing_peer

# Names the examples use, all on this namespace's loopback.
HOST_NAMES = ("localhost", "example.com", "self-signed.example", "smtp.example.com",
              "myapp.test", "www.myapp.test", "api.test", "app.test")

# "  glasstls client x --http /      what it does" -> "glasstls client x --http /";
# a banner may put a label first: "  try: glasstls ...", "    curl      curl ...".
_COMMAND = re.compile(r"^\s+(?:try: |\w+\s{2,})?((?:glasstls|curl|openssl) \S.*?)"
                      r"(?:\s{2,}.*)?$")


def printed_commands(text: str, placeholders: dict[str, str] | None = None) -> list[str]:
    """The command lines in ``text``: lines that start (after indentation or
    "try:") with glasstls, curl or openssl, without the description after two
    spaces. Placeholders (``CA``, ``HOST:PORT``) are replaced as a reader would."""
    commands = []
    for line in text.splitlines():
        match = _COMMAND.match(line)
        if not match:
            continue
        command = match.group(1).rstrip()
        for placeholder, value in (placeholders or {}).items():
            command = re.sub(rf"(?<![\w/.-]){re.escape(placeholder)}(?![\w/.-])", value,
                             command)
        commands.append(command)
    return commands


class PrivateNetwork:
    """A network and mount namespace held open by a sleeping process; commands
    enter it with nsenter, so each runs unchanged."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        for tool in ("unshare", "nsenter", "ip"):
            if shutil.which(tool) is None:
                missing_peer(f"{tool!r} is needed for a private network namespace")
        if os.geteuid() != 0:
            missing_peer("a private network namespace needs root (CI runs as root)")
        hosts = workdir / "hosts"
        hosts.write_text(f"127.0.0.1 {' '.join(HOST_NAMES)}\n::1 localhost\n")
        self.holder = PeerProcess(["unshare", "--net", "--mount", "--propagation", "private",
                                   "--", "sh", "-c",
                                   f"ip link set lo up && mount --bind {hosts} /etc/hosts "
                                   "&& echo ready && exec sleep 3600"])
        try:
            self.holder.wait_for("^ready$")
        except AssertionError as error:
            self.holder.kill()
            missing_peer(f"cannot make a private network namespace: {error}")

    def argv(self, command: str | list[str]) -> list[str]:
        words = shlex.split(command) if isinstance(command, str) else command
        # --wd: entering a mount namespace otherwise starts in its root directory.
        return ["nsenter", "--target", str(self.holder.process.pid), "--net", "--mount",
                f"--wd={self.workdir}", "--", *words]

    def run(self, command: str | list[str], stdin: str = "",
            env: dict[str, str] | None = None) -> Result:
        argv = self.argv(command)
        completed = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                   timeout=RUN_TIMEOUT, cwd=self.workdir, check=False,
                                   env={**os.environ, **(env or {})})
        return Result(argv, completed.returncode, completed.stdout, completed.stderr)

    def start(self, command: str | list[str]) -> PeerProcess:
        return PeerProcess(self.argv(command), cwd=self.workdir)

    def close(self) -> None:
        self.holder.kill()

    def __enter__(self) -> PrivateNetwork:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


__all__ = ["HOST_NAMES", "PrivateNetwork", "printed_commands"]
