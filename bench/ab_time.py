"""CPU time per in-memory handshake pair of two (or more) source trees, measured in
alternating child processes, for A/B checks of engine changes on a noisy machine.

    python bench/ab_time.py --src /tmp/main/src --src src [--case res13-ecdsa] [--rounds 7]

Each round runs every tree once (the order alternates between rounds), each child
making ``--n`` handshake pairs after a warm-up and reporting its process CPU time;
the medians and their ratio to the first tree are printed. The cases and configs
are ``icount_handshake.py``'s (the tlsbench adapter's).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from icount_handshake import CASES, CHILD, TESTS, pki_files

TIMED = CHILD.replace("for _ in range(int(sys.argv[2])):", """import time
for _ in range(20):
    handshake(session)
start = time.process_time()
for _ in range(int(sys.argv[2])):""") + """
print((time.process_time() - start) / int(sys.argv[2]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--case", action="append", choices=CASES)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with pki_files(args.src[0]) as files:
        for case in args.case or ["hs13-ecdsa"]:
            times: dict[str, list[float]] = {src: [] for src in args.src}
            for round_ in range(args.rounds):
                order = args.src if round_ % 2 == 0 else args.src[::-1]
                for src in order:
                    out = subprocess.run(
                        [sys.executable, "-c", TIMED, src, str(args.n), "plain", TESTS, case,
                         files], check=True, capture_output=True, text=True).stdout
                    times[src].append(float(out.split()[-1]))
            first = statistics.median(times[args.src[0]])
            for src in args.src:
                median = statistics.median(times[src])
                spread = (max(times[src]) - min(times[src])) / median
                print(f"{case:18s} {src}: {median * 1e6:8.1f} us per pair "
                      f"(spread {spread:.0%})  {median / first:.3f}x", flush=True)


if __name__ == "__main__":
    main()
