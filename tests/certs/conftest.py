from __future__ import annotations

import pytest

from peers import require_binary


@pytest.fixture(scope="session")
def openssl_path() -> str:
    """The openssl command line, which makes some of the scenarios' certificates."""
    return require_binary("openssl")
