"""Fixtures for the transport tests (tests/io)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from io_helpers import KEY_TYPE

from pki import pki


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM files of the test PKI: ca, cert, key, client_cert, client_key."""
    return pki(KEY_TYPE).write(tmp_path_factory.mktemp("io-pki"))


@pytest.fixture(autouse=True)
def _no_keylog_from_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A developer's SSLKEYLOGFILE must not change what the tests see.
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    yield
