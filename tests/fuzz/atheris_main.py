"""Run the fuzz harnesses (harnesses.py) under atheris, coverage-guided.

    .venv/bin/python tests/fuzz/atheris_main.py [--seconds N] [--workdir DIR] [NAME ...]

Each harness runs in a process of its own for N seconds, from its seeds (written
afresh to DIR/NAME/seeds) and the corpus earlier runs left in DIR/NAME/corpus. A
finding is saved as DIR/NAME/crash-* (replay it with ``--run NAME FILE``) and fails
the run. One line per harness reports the inputs executed, the corpus and coverage,
and the findings; DIR/summary.json keeps them. ``make fuzz`` and ``make fuzz-smoke``
run all harnesses this way.

Without atheris installed the run fails, unless GLASSTLS_REQUIRE_PEERS is unset, in
which case it says so and skips (as the tests do for a missing peer).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
HARNESS_NAMES = ("parsers", "server", "client", "records", "threads")


def _instrumented_harnesses() -> Any:
    """harnesses.py with every glasstls module it can reach instrumented for
    coverage (modules imported lazily would otherwise escape the import hook)."""
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    sys.path.insert(0, str(TESTS))
    with atheris.instrument_imports(include=["glasstls"]):
        import glasstls

        for module in pkgutil.walk_packages(glasstls.__path__, "glasstls."):
            # The command line and the browser page are not fuzzed (and importing
            # __main__ would run the command line).
            if not module.name.startswith(("glasstls.cli", "glasstls.web", "glasstls.__")):
                importlib.import_module(module.name)
    from fuzz import harnesses

    return harnesses


def run_one(name: str, libfuzzer_args: list[str]) -> None:
    """In the child process: fuzz one harness (atheris.Fuzz does not return)."""
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    harnesses = _instrumented_harnesses()
    harness = harnesses.HARNESSES[name]
    seeds_dir = next((Path(a) for a in libfuzzer_args if a.endswith("/seeds")), None)
    if seeds_dir is not None:
        seeds_dir.mkdir(parents=True, exist_ok=True)
        for old in seeds_dir.iterdir():
            old.unlink()
        for seed in harness.seeds():
            (seeds_dir / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    atheris.Setup([sys.argv[0], *libfuzzer_args], harness.run)
    atheris.Fuzz()


_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.MULTILINE)
_STATUS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)")


def campaign(name: str, seconds: int, workdir: Path) -> dict[str, Any]:
    """Fuzz ``name`` for ``seconds`` in a child process; its figures."""
    home = workdir / name
    corpus, seeds = home / "corpus", home / "seeds"
    corpus.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in home.glob("crash-*")} | {p.name for p in home.glob("timeout-*")}
    from_harnesses = "65536" if name == "parsers" else str(2**16 + 1024)
    argv = [sys.executable, __file__, "--run", name, "--", str(corpus), str(seeds),
            f"-max_total_time={seconds}", f"-max_len={from_harnesses}",
            "-print_final_stats=1", f"-artifact_prefix={home}/", "-timeout=20",
            "-rss_limit_mb=3072", "-print_pcs=0"]
    log = home / "last-run.log"
    started = time.monotonic()
    with open(log, "w") as output:
        process = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT,
                                 check=False)
    text = log.read_text(errors="replace")
    stats = {key: int(value) for key, value in _STAT.findall(text)}
    status = _STATUS.findall(text)
    last = status[-1] if status else ("0", "0", "0", "0")
    findings = sorted(({p.name for p in home.glob("crash-*")}
                       | {p.name for p in home.glob("timeout-*")}) - before)
    return {
        "harness": name, "seconds": round(time.monotonic() - started),
        "inputs": stats.get("number_of_executed_units", int(last[0])),
        "inputs_per_second": stats.get("average_exec_per_sec", 0),
        "coverage": int(last[1]), "features": int(last[2]), "corpus": int(last[3]),
        "peak_rss_mb": stats.get("peak_rss_mb", 0), "exit_code": process.returncode,
        "findings": [str(home / f) for f in findings], "log": str(log),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=list(HARNESS_NAMES),
                        help=f"harnesses to run (default: all of {', '.join(HARNESS_NAMES)})")
    parser.add_argument("--seconds", type=int, default=60, help="per harness")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".fuzz")
    parser.add_argument("--run", metavar="NAME", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.run:
        run_one(args.run, [a for a in rest if a != "--"] + args.names)
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        message = "atheris is not installed (pip install -e '.[test]' on Linux, Python 3.11)"
        if os.environ.get("GLASSTLS_REQUIRE_PEERS") == "1":
            print(f"fuzz: {message}", file=sys.stderr)
            return 1
        print(f"fuzz: skipped: {message}")
        return 0
    unknown = set(args.names) - set(HARNESS_NAMES)
    if unknown:
        parser.error(f"no harness {', '.join(sorted(unknown))}")
    results = []
    for name in args.names:
        result = campaign(name, args.seconds, args.workdir)
        results.append(result)
        found = ", ".join(result["findings"]) or "none"
        print(f"fuzz {name:8} {result['inputs']:>9} inputs in {result['seconds']:>4} s "
              f"({result['inputs_per_second']}/s), corpus {result['corpus']}, "
              f"coverage {result['coverage']} ({result['features']} features); "
              f"findings: {found}", flush=True)
        if result["exit_code"] != 0 and not result["findings"]:
            print(f"fuzz {name}: exited with {result['exit_code']}, see {result['log']}")
    # One entry per harness, the latest run's (several runs may share a workdir).
    summary_path = args.workdir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if not isinstance(summary, dict):  # written by an older version
        summary = {}
    summary.update({r["harness"]: r for r in results})
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(r["exit_code"] == 0 and not r["findings"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
