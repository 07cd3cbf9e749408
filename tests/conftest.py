import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest

from peers import require_binary


@pytest.fixture
def openssl() -> str:
    """The openssl command line (a test using it fails in CI when it is missing)."""
    return require_binary("openssl")
