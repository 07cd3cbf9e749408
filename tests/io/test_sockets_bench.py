"""bench/sockets.py (``make bench-sockets``) still runs end to end: every case,
glasstls and ssl each in processes of their own, at a tiny size. Figures are
printed (``pytest -s``), never asserted: what is checked is that each case was
measured for both implementations without a failed connection, and the bulk
cases negotiated the suite they name (the script raises otherwise)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "sockets.py"


def test_sockets_bench_measures_every_case_for_both_implementations(tmp_path: Path) -> None:
    results = tmp_path / "sockets.json"
    # The warm-up covers the client processes' start: on a loaded 2-core box a 0.2 s one
    # let the window pass before 256 clients were up, and a rate of 0 has no ratio.
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "1", "--bulk-mib", "2", "--duration", "0.5",
         "--warmup", "1.5", "--idle", "200", "--json", str(results)],
        capture_output=True, text=True, timeout=240)
    print(run.stdout)
    assert run.returncode == 0, run.stderr
    rows = json.loads(results.read_text())["rows"]
    cases = [row["case"] for row in rows]
    assert len([c for c in cases if c.startswith("bulk ")]) == 8
    assert [c for c in cases if c.startswith("aio ")] == [
        f"aio {mode} x{clients}" for mode in ("full", "resumed") for clients in (1, 16, 256)]
    assert [c for c in cases if c.startswith("threaded ")] == [
        "threaded full x64", "threaded full x64 p99 latency",
        "threaded full x200", "threaded full x200 p99 latency"]
    assert cases[-1] == "idle x200 (server RSS per connection)"
    for row in rows:
        assert all(row["values"][impl] for impl in ("glasstls", "ssl")), row
        assert row["ratio"] is not None and row["met"] in ("yes", "NO"), row
        assert not any("failed" in note for note in row["notes"]), row
    assert "| case | unit | glasstls" in run.stdout
