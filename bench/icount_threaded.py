"""Instructions per connection of the threaded ``glasstls.serve()`` echo server of
one or more source trees (callgrind), for A/B checks of ``io/server.py`` and
``io/sockets.py`` changes that do not depend on a quiet machine.

    bench/.venv/bin/python bench/icount_threaded.py --src /tmp/old/src --src src \
        [--n 150] [--clients 8]

The server is ``sockets_peers.py``'s threaded echo server (its config, its
handler) run under callgrind with ``--separate-threads=yes``; the clients are
``sockets_peers.py``'s (Python's ssl: connect, handshake, echo a PING, close_notify
both ways), ``--clients`` threads in this process, not under valgrind. Each tree is
counted with ``--warm`` and with ``--warm + --n`` connections, and the difference is
divided by ``--n``: per connection, the whole server process, its loop threads
(the threads started after the main thread, before any worker: ``--loops`` of them,
serve()'s default when not given; an older tree without ``handshake_loops`` has one)
and the rest (workers, the main thread). Valgrind runs
one thread at a time, so the GIL hand-offs it counts are not those of a loaded
machine: a check of the code each thread runs, not of the scheduling.

``--ssl`` counts the sockets bench's thread-per-client ssl server the same way
(``sockets_peers.echo_server``): its accept thread (the main thread) in the "loop
threads" column, its connection threads in the other.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
_TOTAL = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)

CHILD = r"""
import sys, threading
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from sockets_peers import _echo_blocking, glasstls_server_config, load_pki
import glasstls

total = int(sys.argv[4])
served = 0
lock = threading.Lock()
done = threading.Event()

def handler(sock, address):
    global served
    _echo_blocking(sock)
    with lock:
        served += 1
        if served == total:
            done.set()

options = {"handshake_loops": int(sys.argv[5])} if sys.argv[5] != "default" else {}
server = glasstls.serve(("127.0.0.1", 0), handler,
                        config=glasstls_server_config(load_pki(sys.argv[3])), **options)
loops = sum(t.name.startswith("glasstls-server") for t in threading.enumerate())
print("READY", server.address[1], loops, flush=True)
done.wait()
server.close()
"""


CHILD_SSL = r"""
import os, sys, threading
sys.path.insert(0, sys.argv[2])
import sockets_peers

total = int(sys.argv[4])
served = 0
lock = threading.Lock()
echo = sockets_peers._echo_blocking

def counted(sock):
    global served
    echo(sock)
    with lock:
        served += 1
        if served == total:
            sys.stdout.flush()
            os._exit(0)  # the server never returns; callgrind writes its counts at exit

sockets_peers._echo_blocking = counted
sockets_peers.echo_server("ssl", "threaded", sockets_peers.load_pki(sys.argv[3]))
"""


def run_clients(port: int, pki: dict[str, str], count: int, threads: int) -> None:
    """``count`` connections from ``threads`` ssl client threads."""
    from sockets_peers import _goodbye, _handshake, ssl_client_context

    context = ssl_client_context(pki)
    left = [count]
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if not left[0]:
                    return
                left[0] -= 1
            _goodbye(_handshake(context, port, None))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


@contextlib.contextmanager
def callgrind_server(child: str, options: list[str], src: str, pki_dir: str,
                     connections: int, threads: int, loops: str
                     ) -> Iterator[tuple[str, list[str]]]:
    """A threaded server (the script ``child``) under callgrind with ``options``, one
    output file per thread, served ``connections`` clients from ``threads`` threads;
    once it has ended, yields its output files' stem and its READY line's fields.
    This script's count and gil_threaded.py's."""
    from sockets_peers import load_pki

    with tempfile.TemporaryDirectory(prefix="icount-threaded-") as work:
        script = os.path.join(work, "child.py")
        with open(script, "w") as handle:
            handle.write(child)
        out = os.path.join(work, "cg.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes", *options,
             f"--callgrind-out-file={out}", sys.executable, script, src, HERE, pki_dir,
             str(connections), loops],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, PYTHONHASHSEED="0"))
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("READY "):
            server.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        fields = line.split()
        run_clients(int(fields[1]), load_pki(pki_dir), connections, threads)
        if server.wait(600):
            raise SystemExit("the server failed")
        yield out, fields


def count(src: str, pki_dir: str, connections: int, threads: int,
          loops: str) -> tuple[int, int]:
    """(instructions of the whole server process, of its loop threads); ``src``
    "ssl": the ssl server (its accept thread as the loop)."""
    with callgrind_server(CHILD_SSL if src == "ssl" else CHILD, [], src, pki_dir,
                          connections, threads, loops) as (out, fields):
        started = "0" if src == "ssl" else fields[2]
        per_thread = {}
        for path in glob.glob(out + "-*"):
            with open(path) as handle:
                match = _TOTAL.search(handle.read())
            assert match, f"no summary line in {path}"
            per_thread[int(path.rsplit("-", 1)[1])] = int(match.group(1))
        # Threads are numbered in the order they started: the main thread 1, then
        # the loops (ssl: the main thread accepts).
        if src == "ssl":
            return sum(per_thread.values()), per_thread.get(1, 0)
        return (sum(per_thread.values()),
                sum(per_thread.get(2 + index, 0) for index in range(int(started))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", default=[], help="a tree's src/ dir")
    parser.add_argument("--ssl", action="store_true", help="also the ssl server")
    parser.add_argument("--n", type=int, default=150, help="connections counted")
    parser.add_argument("--warm", type=int, default=30, help="connections not counted")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--loops", default="default",
                        help="serve()'s handshake_loops (not for trees without it)")
    args = parser.parse_args()
    from sockets_peers import make_pki

    with tempfile.TemporaryDirectory(prefix="icount-threaded-pki-") as pki_dir:
        make_pki(pki_dir)
        print(f"# threaded serve(), {args.n} connections after {args.warm}, "
              f"{args.clients} client threads; K instructions per connection")
        print("| tree | server process | loop threads | other threads |")
        print("|---|---:|---:|---:|")
        for src in args.src + (["ssl"] if args.ssl else []):
            base = count(src, pki_dir, args.warm, args.clients, args.loops)
            more = count(src, pki_dir, args.warm + args.n, args.clients, args.loops)
            total, loop = ((b - a) / args.n / 1000 for a, b in zip(base, more, strict=True))
            print(f"| {src} | {total:.1f} | {loop:.1f} | {total - loop:.1f} |", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
