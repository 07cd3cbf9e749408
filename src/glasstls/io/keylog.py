"""Key logging to a file in the NSS ``SSLKEYLOGFILE`` format.

The engine hands each secret to ``config.keylog`` as one complete line; this
module appends those lines to a file. Like browsers and curl, the transports in
``glasstls.io`` honour the ``SSLKEYLOGFILE`` environment variable by default when
a config has no ``keylog`` of its own; set ``keylog`` explicitly to choose the
file (or to send the lines elsewhere).

    config = ClientConfig(keylog=KeyLogFile("/tmp/keys.log"))
    # or:  SSLKEYLOGFILE=/tmp/keys.log python program.py
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import TypeVar

from ..config import ClientConfig, ServerConfig

ENVIRONMENT_VARIABLE = "SSLKEYLOGFILE"

_Config = TypeVar("_Config", ClientConfig, ServerConfig)


class KeyLogFile:
    """Append each key log line to ``path``; the file is created readable by its
    owner only, since it holds the keys to every logged connection.

    >>> config = ClientConfig(keylog=KeyLogFile("keys.log"))
    """

    __slots__ = ("_lock", "path")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        data = (line + "\n").encode("ascii")
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)

    def __repr__(self) -> str:
        return f"KeyLogFile({self.path!r})"


def keylog_from_environment() -> KeyLogFile | None:
    """A ``KeyLogFile`` for ``$SSLKEYLOGFILE``, or None when it is not set."""
    path = os.environ.get(ENVIRONMENT_VARIABLE)
    return KeyLogFile(path) if path else None


def with_environment_keylog(config: _Config) -> _Config:
    """``config``, logging keys to ``$SSLKEYLOGFILE`` if it is set and the config
    has no ``keylog`` of its own."""
    if config.keylog is not None:
        return config
    keylog = keylog_from_environment()
    if keylog is None:
        return config
    return dataclasses.replace(config, keylog=keylog)


__all__ = ["ENVIRONMENT_VARIABLE", "KeyLogFile", "keylog_from_environment",
           "with_environment_keylog"]
