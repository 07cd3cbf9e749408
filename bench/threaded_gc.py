"""The cyclic GC's time in a live threaded ``glasstls.serve()``: collections per
generation, how long each took and how often they came, per connection, while the
sockets bench's handshake clients (Python's ssl, in a process of their own) run
against it.

    bench/.venv/bin/python bench/threaded_gc.py --src /tmp/old/src --src src \
        [--clients 64] [--duration 4] [--rounds 3]

The server is ``sockets_peers.py``'s threaded echo server (its config, its
handler) in this process, with a ``gc.callbacks`` hook timing every collection
over the measured window; the trees alternate, each in a process of its own. What
a busy server holds per connection in flight is what every young collection
walks, and how fast it allocates what outlives a step sets how often they come.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

CLIENTS = r"""
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from sockets_peers import handshake_clients, load_pki
start, until = float(sys.argv[5]), float(sys.argv[6])
time.sleep(max(0.0, start - time.monotonic()))
print(json.dumps(handshake_clients(int(sys.argv[3]), int(sys.argv[4]), False, start,
                                   until, load_pki(sys.argv[7]))))
"""


def measure(src: str, clients: int, duration: float) -> dict[str, Any]:
    """One window against the tree at ``src`` (this process imports it)."""
    sys.path[:0] = [src, HERE]
    from sockets_peers import _echo_blocking, glasstls_server_config, make_pki

    import glasstls

    pki_dir = tempfile.mkdtemp()
    pki = make_pki(pki_dir)
    server = glasstls.serve(("127.0.0.1", 0), lambda sock, address: _echo_blocking(sock),
                            config=glasstls_server_config(pki))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    start = time.monotonic() + 1.5  # the clients' warm-up ends here
    until = start + duration
    process = subprocess.Popen(
        [sys.executable, "-c", CLIENTS, src, HERE, str(server.address[1]), str(clients),
         str(start), str(until), pki_dir], stdout=subprocess.PIPE, text=True)
    collections: dict[int, list[float]] = {0: [], 1: [], 2: []}
    began = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            collections[info["generation"]].append(time.perf_counter() - began[0])

    time.sleep(max(0.0, start - time.monotonic()))
    gc.callbacks.append(timed)
    time.sleep(max(0.0, until - time.monotonic()))
    gc.callbacks.remove(timed)
    output, _ = process.communicate(timeout=600)
    server.close()
    made = len(json.loads(output)["latencies"])  # the connections of the window
    return {"connections": made,
            "generations": {generation: {"count": len(times), "seconds": sum(times)}
                            for generation, times in collections.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child's tree
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.clients, args.duration)))
        return
    print(f"# threaded serve(), cyclic GC per connection; {args.clients} clients, "
          f"{args.rounds} alternated windows of {args.duration} s")
    print("| tree | window | connections | gen0 every | gen0 / gen1 / gen2 us per conn "
          "| all us per conn | gen2 collections (ms each) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for window in range(args.rounds):
        order = args.src if window % 2 == 0 else args.src[::-1]
        for src in order:
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--src", src, "--one",
                 os.path.abspath(src), "--clients", str(args.clients),
                 "--duration", str(args.duration)],
                capture_output=True, text=True, check=True)
            result = json.loads(child.stdout)
            made = max(1, result["connections"])
            per = {int(g): data for g, data in result["generations"].items()}
            micros = [per[g]["seconds"] / made * 1e6 for g in (0, 1, 2)]
            every = made / per[0]["count"] if per[0]["count"] else float("inf")
            full = (f"{per[2]['count']} ({per[2]['seconds'] / per[2]['count'] * 1e3:.1f})"
                    if per[2]["count"] else "0")
            print(f"| {src} | {window + 1} | {made} | {every:.0f} | "
                  f"{micros[0]:.1f} / {micros[1]:.1f} / {micros[2]:.1f} | "
                  f"{sum(micros):.1f} | {full} |", flush=True)


if __name__ == "__main__":
    main()
