"""Summarise a ``py-spy record --native --format raw`` profile of profile_glasstls.py.

Sampling does not inflate Python calls the way cProfile does, so these shares
are the ones to rank fixes by. Prints, as a share of the samples inside the
workload loop:

* inclusive time of each Python function (every function on the stack counts once);
* "self" time per innermost Python frame, with the native code it called
  (OpenSSL, cryptography's Rust) folded into it, split into native and Python.

    bench/.venv/bin/py-spy record -r 1000 --native --format raw -o hs.txt -- \\
        bench/.venv/bin/python bench/profile_glasstls.py --case hs13-ecdsa --no-cprofile
    python bench/pyspy_summary.py hs.txt --per 1246.7 --unit us/handshake
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

_PY_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?\.py):(?P<line>\d+)\)$")
LOOP_MARKERS = ("_workload.<locals>.",)


def _parse(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                continue
            frames, _, count = line.rpartition(" ")
            stacks.append((frames.split(";"), int(count)))
    return stacks


def _name(frame: str) -> str | None:
    match = _PY_FRAME.match(frame)
    if match is None:
        return None
    file = match["file"].rsplit("/", 1)[-1]
    return f"{match['func']} ({file})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw")
    parser.add_argument("--per", type=float, default=0.0,
                        help="unprofiled cost of one unit, to print absolute figures")
    parser.add_argument("--unit", default="us/unit")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--root", action="append",
                        help="count only stacks through a frame starting with this "
                             "(repeatable; default: profile_glasstls.py's workload loop; "
                             "'_run_once' for an asyncio server, 'run (threading.py)' "
                             "for threads)")
    args = parser.parse_args()
    roots = tuple(args.root) if args.root else LOOP_MARKERS

    inclusive: Counter[str] = Counter()
    self_native: Counter[str] = Counter()
    self_python: Counter[str] = Counter()
    total = 0
    for frames, count in _parse(args.raw):
        try:
            start = next(i for i, f in enumerate(frames) if f.startswith(roots))
        except StopIteration:
            continue  # setup, warm-up imports, interpreter start and exit
        frames = frames[start + 1:]
        total += count
        seen: set[str] = set()
        innermost = "(loop itself)"
        native_below = False
        for frame in frames:
            name = _name(frame)
            if name is None:
                native_below = True
                continue
            native_below = False
            innermost = name
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
        (self_native if native_below else self_python)[innermost] += count

    if not total:
        print("no samples inside the workload loop", file=sys.stderr)
        return 1

    def show(title: str, rows: list[tuple[str, float]]) -> None:
        print(f"\n{title}")
        for name, share in rows:
            absolute = f"{share * args.per:9.1f} {args.unit}  " if args.per else ""
            print(f"  {share * 100:5.1f}%  {absolute}{name}")

    print(f"{total} samples in the workload loop")
    show("inclusive (function and all it calls):",
         [(n, c / total) for n, c in inclusive.most_common(args.top)])
    combined = self_native + self_python
    show("self, native callees folded in (native share in brackets):",
         [(f"{n}  [native {self_native[n] / max(1, c) * 100:.0f}%]", c / total)
          for n, c in combined.most_common(args.top)])
    native_total = sum(self_native.values())
    print(f"\nnative code (OpenSSL, cryptography's Rust, libc) overall: "
          f"{native_total / total * 100:.1f}%; Python {100 - native_total / total * 100:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
