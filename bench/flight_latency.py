"""The server's critical path at one client, in memory: the time from a ClientHello
handed to the server to its whole flight (ServerHello ... Finished) handed back, per
connection, as the thread's CPU time (one thread does it all, and a preempted thread
is not charged), for glasstls source trees and for Python's ssl (a MemoryBIO
server), each in child processes run in turn (``--rounds`` of each), the median
over ``--n`` connections of each child. The ClientHello is Python's ssl client's
(the sockets bench's client context), made fresh for each connection outside the
timing; nothing after the flight is timed.

    .venv/bin/python bench/flight_latency.py --src /tmp/old/src --src src [--ssl] \
        [--n 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _client_hello(context: ssl.SSLContext) -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def child(src: str | None, pki_dir: str, n: int) -> None:
    if src is not None:
        sys.path.insert(0, os.path.abspath(src))
    sys.path.insert(0, HERE)
    import sockets_peers as peers

    pki = peers.load_pki(pki_dir)
    client_context = peers.ssl_client_context(pki)
    times = []
    if src is not None:
        from glasstls import ServerConnection

        config = peers.glasstls_server_config(pki)
        for i in range(n + 20):
            hello = _client_hello(client_context)
            server = ServerConnection(config)
            started = time.thread_time_ns()
            server.receive_data(hello)
            flight = b"".join(server.buffers_to_send())
            took = time.thread_time_ns() - started
            assert flight
            if i >= 20:
                times.append(took)
    else:
        server_context = peers.ssl_server_context(pki)
        for i in range(n + 20):
            hello = _client_hello(client_context)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            ssl_server = server_context.wrap_bio(incoming, outgoing, server_side=True)
            started = time.thread_time_ns()
            incoming.write(hello)
            with contextlib.suppress(ssl.SSLWantReadError):
                ssl_server.do_handshake()
            flight = outgoing.read()
            took = time.thread_time_ns() - started
            assert flight
            if i >= 20:
                times.append(took)
    print(statistics.median(times) / 1000, statistics.mean(times) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", action="append", default=[])
    parser.add_argument("--ssl", action="store_true")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        src, pki_dir, n = args.child
        child(None if src == "ssl" else src, pki_dir, int(n))
        return
    sys.path.insert(0, HERE)
    import sockets_peers as peers

    runs = [*args.src, *(["ssl"] if args.ssl else [])]
    results: dict[str, list[tuple[float, float]]] = {run: [] for run in runs}
    with tempfile.TemporaryDirectory() as pki_dir:
        peers.make_pki(pki_dir)
        for _ in range(args.rounds):
            for run in runs:
                out = subprocess.run([sys.executable, __file__, "--child", run, pki_dir,
                                      str(args.n)], check=True, capture_output=True,
                                     text=True).stdout.split()
                results[run].append((float(out[0]), float(out[1])))
    print(f"ClientHello in -> flight out, us (median of {args.n} per child; "
          f"{args.rounds} children each, in turn)")
    for run, values in results.items():
        medians = sorted(m for m, _ in values)
        print(f"  {run}: medians {' '.join(f'{m:.1f}' for m in medians)}; "
              f"least {medians[0]:.1f}, median {statistics.median(medians):.1f}")


if __name__ == "__main__":
    main()
