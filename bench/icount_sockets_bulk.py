"""Callgrind instructions per 16 KiB record of the blocking bulk client over real
sockets (bench/sockets.py's ``_bulk-client`` against its ``_bulk-server`` in another
process): what one end costs per record sent and received, robust to load.

    bench/.venv/bin/python bench/icount_sockets_bulk.py [--impl glasstls|ssl]
        [--suite chacha20|aes128gcm] [--python OTHER_VENV/bin/python]

The client runs under valgrind twice, moving 4 and 16 MiB each way after the same
set-up; the difference is divided by the records it sent and received (one
averaged record: half a record sent plus half a record received) and printed in
total, by shared object and by function. ``--python`` runs another tree's engine
(its venv's python) with this bench's programs, for a main-against-branch count.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from sockets_peers import MiB, make_pki  # noqa: E402

SIZES = (4, 16)  # MiB each way
_LINE = re.compile(r"\s*([\d,]+) \([^)]*\)\s+(.*)$")


def _count(python: str, pki_dir: str, impl: str, suite: str, mib: int, out: str
           ) -> dict[str, int]:
    script = os.path.join(HERE, "sockets.py")
    size = str(mib * MiB)
    server = subprocess.Popen([python, script, "_bulk-server", "--pki", pki_dir, impl,
                               "blocking", suite, size], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = server.stdout.readline().split()[1]
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    python, script, "_bulk-client", "--pki", pki_dir, impl, "blocking", suite,
                    size, port], check=True, capture_output=True)
    server.wait(120)
    return callgrind_counts(out)


def callgrind_counts(out: str) -> dict[str, int]:
    """Self instructions by function (``callgrind_annotate``) of a callgrind output file."""
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100",
                                out], check=True, capture_output=True, text=True).stdout
    counts = {}
    for line in annotated.splitlines():
        match = _LINE.match(line)
        if match:
            counts[match.group(2)] = int(match.group(1).replace(",", ""))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", default="glasstls", choices=("glasstls", "ssl"))
    parser.add_argument("--suite", default="chacha20", choices=("chacha20", "aes128gcm"))
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        make_pki(directory)
        small, large = (_count(args.python, directory, args.impl, args.suite, mib,
                               os.path.join(directory, f"callgrind-{mib}.out"))
                        for mib in SIZES)
    records = (SIZES[1] - SIZES[0]) * 64 * 2  # 16 KiB records, sent and received
    per_record = {name: (large.get(name, 0) - small.get(name, 0)) / records
                  for name in set(small) | set(large)}
    total = per_record.pop("PROGRAM TOTALS", 0.0)
    print(f"{args.impl} blocking {args.suite}: {total:,.0f} instructions per record "
          "(half sent, half received)")
    print_breakdown(per_record, functions=10)


def print_breakdown(per_record: dict[str, float], functions: int) -> None:
    """Instructions per record by shared object (the six largest), then by function."""
    objects: dict[str, float] = {}
    for name, count in per_record.items():
        found = re.search(r"\[([^\]]+)\]$", name)
        key = os.path.basename(found.group(1)) if found else "?"
        objects[key] = objects.get(key, 0.0) + count
    for key, count in sorted(objects.items(), key=lambda item: -item[1])[:6]:
        print(f"  {count:10,.0f}  {key}")
    for name, count in sorted(per_record.items(), key=lambda item: -item[1])[:functions]:
        print(f"  {count:10,.0f}  {name[-100:]}")


if __name__ == "__main__":
    main()
