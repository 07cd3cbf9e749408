"""The cost of a resumed handshake next to a full one (bench/resumption_cost.py),
measured in this run and printed (``pytest -s`` shows it); never asserted, since
timings depend on the machine. The test proves that the script still runs and that
each case it times really resumes (the script raises otherwise)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "resumption_cost.py"


def test_resumption_cost_is_measured_for_both_versions_and_printed() -> None:
    spec = importlib.util.spec_from_file_location("resumption_cost", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("resumption_cost", bench)  # dataclasses look their module up
    spec.loader.exec_module(bench)
    results = bench.measure(rounds=5)
    print("\n" + bench.report(results))
    assert [r.case for r in results] == [c.name for c in bench.CASES]
    assert {c.version for c in bench.CASES} == {0x0304, 0x0303}
