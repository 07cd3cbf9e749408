"""The Python examples of README.md and docs/*.md, as programs to run.

Each block is fenced as ```` ```python example=KIND[,KIND] ````: the info string says
what it is run against (GitHub shows it as plain Python):

- ``https-client``: a client of https://example.com/. It runs against a local
  glasstls server whose certificate names example.com, issued by a test CA that
  the program finds as the system's trust store (``SSL_CERT_FILE``).
- ``closes-mid-handshake``: the same client against a server that reads the
  ClientHello and closes the connection; it must end within a second.
- ``server``: a server on 127.0.0.1:8443, given ``cert.pem`` / ``key.pem`` for
  localhost in its directory; the test connects to it as a TLS client.

The program text is not changed: the network is. A ``sitecustomize`` module in the
child process maps example.com:443 and 127.0.0.1:8443 to ports chosen by the test
(``EXAMPLE_NETWORK``), so that tests can run side by side.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"https-client", "closes-mid-handshake", "server"}
_FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    source: str  # "README.md:120"
    kinds: tuple[str, ...]
    code: str

    @property
    def module_name(self) -> str:
        return re.sub(r"\W", "_", self.source).lower()


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def examples() -> list[Example]:
    found = []
    for path in documents():
        text = path.read_text()
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            info = match.group("info").strip()
            marker = re.fullmatch(r"example=([\w,-]+)", info)
            kinds = tuple(marker.group(1).split(",")) if marker else ()
            found.append(Example(f"{path.relative_to(ROOT)}:{line}", kinds,
                                 match.group("code")))
    return found


SITECUSTOMIZE = textwrap.dedent('''\
    """Test network for documentation examples: EXAMPLE_NETWORK maps
    "host:port=127.0.0.1:port;..." for connecting (example.com:443) and for
    binding (127.0.0.1:8443)."""
    import os
    import socket

    _MAP = {}
    for _item in filter(None, os.environ.get("EXAMPLE_NETWORK", "").split(";")):
        _name, _, _target = _item.partition("=")
        _host, _, _port = _name.rpartition(":")
        _to_host, _, _to_port = _target.rpartition(":")
        _MAP[(_host, int(_port))] = (_to_host, int(_to_port))


    def _mapped(host, port):
        try:
            return _MAP.get((host, int(port)))
        except (TypeError, ValueError):
            return None


    _getaddrinfo = socket.getaddrinfo


    def getaddrinfo(host, port, *args, **kwargs):
        target = _mapped(host, port)
        return _getaddrinfo(*(target or (host, port)), *args, **kwargs)


    _bind = socket.socket.bind


    def bind(self, address):
        if isinstance(address, tuple) and len(address) >= 2:
            target = _mapped(address[0], address[1]) or _mapped("127.0.0.1", address[1])
            if target is not None and address[0] in ("127.0.0.1", "0.0.0.0", "localhost"):
                address = target
        return _bind(self, address)


    socket.getaddrinfo = getaddrinfo
    socket.socket.bind = bind
''')
