"""Virtual hosting: which certificate chains a server answers with, by the name
the client asked for in its server_name extension (RFC 6066 §3).

    names = ServerNames({"example.com": (main,), "*.example.com": (wildcard,)})
    names.lookup("www.example.com")     # (wildcard,)
    names.lookup("example.org")         # None: the server's default applies

Names are DNS host names, compared without case and without a final dot. A
wildcard ``*.example.com`` stands for exactly one label (``a.example.com``, not
``example.com`` nor ``a.b.example.com``), as a wildcard certificate does
(RFC 6125 §6.4.3); an exact name wins over a wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .certs import CertifiedKey
from .errors import ConfigError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_name(name: str) -> str:
    """``name`` lower-cased, without its final dot; ``ConfigError`` unless it is an
    ASCII host name (IDNA A-labels) or a wildcard over one."""
    text = name.rstrip(".").lower()
    labels = text.split(".")
    if labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not text or len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ConfigError(f"server name {name!r} is not a DNS host name (IDNA names are "
                          "given as A-labels, xn--...) or a wildcard *.name")
    return text


class ServerNames:
    """Certificate chains by server name: exact names and ``*.`` wildcards."""

    __slots__ = ("_exact", "_wildcard")

    def __init__(self, table: Mapping[str, Sequence[CertifiedKey]] | None = None) -> None:
        self._exact: dict[str, tuple[CertifiedKey, ...]] = {}
        self._wildcard: dict[str, tuple[CertifiedKey, ...]] = {}
        for name, chains in (table or {}).items():
            chains = tuple(chains)
            if not chains or not all(isinstance(c, CertifiedKey) for c in chains):
                raise ConfigError(f"server name {name!r} needs one or more CertifiedKey "
                                  "chains")
            key = normalize_name(name)
            target = self._wildcard if key.startswith("*.") else self._exact
            key = key.removeprefix("*.")
            if key in target:
                raise ConfigError(f"server name {name!r} is given twice")
            target[key] = chains

    def __bool__(self) -> bool:
        return bool(self._exact or self._wildcard)

    def lookup(self, server_name: str | None) -> tuple[CertifiedKey, ...] | None:
        """The chains for ``server_name`` (as the client sent it), or None when no
        entry matches (or the client sent no name)."""
        if not server_name:
            return None
        name = server_name.rstrip(".").lower()
        found = self._exact.get(name)
        if found is None and "." in name:
            found = self._wildcard.get(name.partition(".")[2])
        return found

    def names(self) -> list[str]:
        """The names served, as configured (wildcards with their ``*.``)."""
        return [*self._exact, *(f"*.{suffix}" for suffix in self._wildcard)]


def same_server_name(issued_for: bytes, server_name: str | None) -> bool:
    """Whether a session issued under ``issued_for`` (as stored in its state) may be
    resumed by a client asking for ``server_name`` (RFC 6066 §3: never under another
    name)."""
    asked = (server_name or "").rstrip(".").lower()
    return issued_for.decode("ascii", "replace").rstrip(".").lower() == asked


__all__ = ["ServerNames", "normalize_name", "same_server_name"]
