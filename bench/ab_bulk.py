"""CPU time per MB of in-memory bulk transfer (tlsbench's bulk cases, its own
adapters and loop) for two or more source trees and Python's ssl, measured in
alternating child processes: A/B checks of record-layer changes on a noisy machine.

    bench/.venv/bin/python bench/ab_bulk.py --src /tmp/main/src --src src \
        [--case bulk-chacha20] [--mb 64] [--rounds 7]

Each round runs every tree once and ssl once (the order alternates between
rounds); each child sends ``--mb`` MB after a warm-up and reports its process CPU
time per MB. Printed: the medians, their spread, the ratio to the first tree, and
ssl's CPU over each tree's (the throughput ratio tlsbench would show, >1 faster).

``--icount`` counts instructions instead (callgrind, robust to load): each tree and
ssl run twice under valgrind, sending nothing and ``--mb`` MB after the same set-up,
and the difference is given per MB and per 16 KiB record.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TLSBENCH = os.path.join(HERE, "..", "..", "shared", "bench", "tlsbench.py")

CHILD = f"""
import importlib.util, os, sys, tempfile, time
import json
src, tlsbench_path, adapter_name, case, pki, mb = sys.argv[1:7]
if src != "-":
    sys.path.insert(0, src)
spec = importlib.util.spec_from_file_location("tlsbench", tlsbench_path)
tb = importlib.util.module_from_spec(spec)
sys.modules["tlsbench"] = tb
spec.loader.exec_module(tb)
tb.load_plugin(os.path.join({HERE!r}, "glasstls_adapter.py"))
if adapter_name == "glasstls":
    import glasstls
    assert glasstls.__file__.startswith(os.path.abspath(src)), glasstls.__file__
adapter = tb.ADAPTERS[adapter_name]()
adapter.setup(json.loads(pki))
client, server = adapter.connect(tb.BULK_CASES[case])
chunk = os.urandom(tb.CHUNK)
chunks = int(float(mb) * 1_000_000) // tb.CHUNK
adapter.transfer(client, server, chunk, 16)  # warm-up
start = time.process_time()
got = adapter.transfer(client, server, chunk, chunks)
elapsed = time.process_time() - start
assert got == chunks * tb.CHUNK, got
print(elapsed / (got / 1e6) if got else 0.0)
"""


_PARTS = (("crypto", r"_rust|libcrypto|libssl|_ssl\."), ("interpreter", r"libpython|/python3"),
          ("libc", r"libc\.so"))


def _instructions(command: list[str]) -> dict[str, int]:
    """Instructions of a run under callgrind: in all, and by part (crypto libraries,
    the interpreter, libc's copies and allocations), each function's own."""
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={directory}/out",
                        "--compress-strings=no", "--compress-pos=no", *command],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        with open(f"{directory}/out") as profile:
            lines = profile.read().splitlines()
    counts = dict.fromkeys(["all", *(name for name, _ in _PARTS), "other"], 0)
    part = "other"
    after_call = False
    for line in lines:
        if line.startswith("ob="):
            part = next((name for name, pattern in _PARTS if re.search(pattern, line)), "other")
        elif line.startswith("calls="):
            # The cost line after it is the call's inclusive cost: the callee's own
            # lines count it where the callee is.
            after_call = True
        elif line and line[0] in "0123456789+-":
            if after_call:
                after_call = False
                continue
            cost = int(line.split()[1])
            counts["all"] += cost
            counts[part] += cost
    return counts


def _icount(runs: list[tuple[str, str]], args: argparse.Namespace, case: str, pki: str
            ) -> None:
    records = int(args.mb * 1_000_000) // (16 * 1024)
    for name, src in runs:
        base = [sys.executable, "-c", CHILD, src, os.path.abspath(args.tlsbench), name, case, pki]
        sent, idle = _instructions([*base, str(args.mb)]), _instructions([*base, "0"])
        per_record = {part: (sent[part] - idle[part]) / records / 1e3 for part in sent}
        label = src if name == "glasstls" else "ssl"
        print(f"{case:15s} {label}: K instructions per 16 KiB record: "
              + ", ".join(f"{part} {count:.1f}" for part, count in per_record.items()),
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--case", action="append", choices=["bulk-aes128gcm", "bulk-chacha20"])
    parser.add_argument("--mb", type=float, default=64)
    parser.add_argument("--icount", action="store_true", help="callgrind instructions")
    parser.add_argument("--no-ssl", action="store_true", help="the trees only")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tlsbench", default=os.environ.get("TLSBENCH", DEFAULT_TLSBENCH))
    args = parser.parse_args()
    runs = [("glasstls", os.path.abspath(src)) for src in args.src]
    runs += [] if args.no_ssl else [("ssl", "-")]
    spec = importlib.util.spec_from_file_location("tlsbench", args.tlsbench)
    assert spec is not None and spec.loader is not None
    tlsbench = importlib.util.module_from_spec(spec)
    sys.modules["tlsbench"] = tlsbench  # its dataclasses look their module up
    spec.loader.exec_module(tlsbench)
    pki = json.dumps(tlsbench.make_pki(tempfile.mkdtemp(prefix="ab-bulk-pki-")))
    for case in args.case or ["bulk-chacha20"]:
        if args.icount:
            _icount(runs, args, case, pki)
            continue
        times: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
        for round_ in range(args.rounds):
            for name, src in runs if round_ % 2 == 0 else runs[::-1]:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, src, os.path.abspath(args.tlsbench), name,
                     case, pki, str(args.mb)], check=True, capture_output=True, text=True).stdout
                times[(name, src)].append(float(out.split()[-1]))
        first = statistics.median(times[runs[0]])
        ssl = statistics.median(times[runs[-1]])  # the last tree's with --no-ssl
        for run in runs:
            median = statistics.median(times[run])
            spread = (max(times[run]) - min(times[run])) / median
            label = run[1] if run[0] == "glasstls" else "ssl"
            print(f"{case:15s} {label}: {median * 1e6:7.1f} us CPU per MB (spread {spread:.0%})"
                  f"  {median / first:.3f}x of the first, ssl/this {ssl / median:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
