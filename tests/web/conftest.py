"""Fixtures for the page server's tests (tests/web)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_keylog_from_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A developer's SSLKEYLOGFILE must not change what the tests see.
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    yield
