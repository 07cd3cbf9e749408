"""Peer availability for tests that need a real independent TLS implementation.

A missing peer skips the test locally, with the reason; under
``GLASSTLS_REQUIRE_PEERS=1`` (CI) it fails instead, so that a broken image
cannot turn the interop suite into a row of silent skips.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest

REQUIRE_PEERS_ENV = "GLASSTLS_REQUIRE_PEERS"


def peers_required() -> bool:
    return os.environ.get(REQUIRE_PEERS_ENV, "") not in ("", "0")


def missing_peer(reason: str) -> None:
    """Fail under GLASSTLS_REQUIRE_PEERS=1, skip otherwise."""
    if peers_required():
        pytest.fail(f"{reason} ({REQUIRE_PEERS_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    """The absolute path of a peer program on PATH, e.g. ``require_binary("openssl")``."""
    path = shutil.which(name)
    if path is None:
        missing_peer(f"peer program {name!r} is not on PATH")
        raise AssertionError("unreachable")
    return path


def require_module(name: str) -> ModuleType:
    """A peer Python module, e.g. ``require_module("OpenSSL.SSL")``."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing_peer(f"peer module {name!r} cannot be imported: {error}")
        raise AssertionError("unreachable") from error
