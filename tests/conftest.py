import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest

import glasstls
from peers import require_binary


def pytest_report_header() -> str:
    build = "compiled with mypyc" if glasstls.__compiled__ else "pure Python"
    return f"glasstls: {build}, from {Path(glasstls.__file__).parent}"


def pytest_configure(config: pytest.Config) -> None:
    # The CLI and interop tests stop the servers they start with SIGINT. A shell that
    # runs the suite in the background without job control starts it with SIGINT
    # ignored, which every child would inherit (Python then installs no
    # KeyboardInterrupt handler); a handler of ours is reset to the default on exec.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # CI's run of the compiled build sets this, so that it cannot pass by testing the
    # sources instead (an editable install, or src/ first on the path).
    if os.environ.get("GLASSTLS_EXPECT_COMPILED") == "1" and not glasstls.__compiled__:
        raise pytest.UsageError("GLASSTLS_EXPECT_COMPILED=1 but glasstls is imported from "
                                f"its sources ({glasstls.__file__}), not the compiled build")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not glasstls.__compiled__:
        return
    for item in items:
        marker = item.get_closest_marker("pure_python_reference")
        if marker is not None:
            reason = marker.kwargs.get("reason") or marker.args[0]
            item.add_marker(pytest.mark.skip(
                reason=f"a test of the pure-Python reference only: {reason}"))


@pytest.fixture
def openssl() -> str:
    """The openssl command line (a test using it fails in CI when it is missing)."""
    return require_binary("openssl")
