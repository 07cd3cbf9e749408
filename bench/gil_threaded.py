"""GIL releases per connection of the threaded ``glasstls.serve()`` echo server, by
thread kind (the loop, the workers) and by cause: counted under callgrind, not timed.

    bench/.venv/bin/python bench/gil_threaded.py --src /tmp/old/src --src src \
        [--n 100] [--clients 8]

The server and clients are ``icount_threaded.py``'s (``sockets_peers.py``'s echo
server and its config; ssl clients that connect, handshake, echo a PING and
close_notify both ways). Callgrind runs with ``--separate-threads=yes`` and keeps
the callers of ``PyEval_SaveThread`` (how C code lets go of the GIL before a
system call, a lock wait or a ``cryptography`` call: see ``gil.py``) and of
``drop_gil`` apart (``--separate-callers``), so each release is named by the C
function that made it: ``sock_recv_guts`` a ``recv``, ``sock_accept`` an accept,
``os_urandom`` a ``getrandom``, pyo3's ``allow_threads`` under an AEAD or ECDSA call...
A ``drop_gil`` not called from ``PyEval_SaveThread`` is a forced switch (another
thread asked for the GIL for the switch interval). Each tree is run with ``--warm``
and ``--warm + --n`` connections and the difference divided by ``--n``. Valgrind
runs one thread at a time: the counts are of the calls each thread makes, which
do not depend on the scheduling, but forced switches do (a check, not a rate).
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEPTH = 8  # callers kept apart per release: enough to get past pyo3's and socket's glue

# Cause by the first matching frame of the caller chain (nearest first).
CAUSES = [
    ("accept", ("sock_accept",)),
    ("sendall", ("sock_sendall",)),
    ("recv", ("sock_recv",)),
    ("send", ("sock_send",)),
    ("close", ("sock_close", "os_close")),
    ("epoll_ctl (register, modify, unregister)", ("pyepoll_internal_ctl", "select_epoll_register",
                                                  "select_epoll_modify",
                                                  "select_epoll_unregister")),
    ("poll (epoll_wait, poll, select)", ("select_epoll_poll", "poll_poll", "select_select")),
    ("getrandom", ("urandom", "getrandom")),
    ("lock/queue wait", ("acquire_timed", "lock_PyThread", "simplequeue", "rlock_")),
    ("AEAD", ("aead", "Aead", "AESGCM", "ChaCha")),
    ("ECDSA/RSA sign", ("sign", "Sign")),
    ("hashlib", ("_hashlib", "EVP_")),
]


def cause(chain: str) -> str:
    frames = chain.split("'")[1:]
    for frame in frames:
        for name, needles in CAUSES:
            if any(needle in frame for needle in needles):
                return name
    return "other: " + "'".join(frames[:3])


def releases(path: str) -> collections.Counter[str]:
    """Calls of PyEval_SaveThread by caller chain, and forced drop_gil calls, in one
    callgrind thread file."""
    names: dict[str, str] = {}
    counts: collections.Counter[str] = collections.Counter()
    callee = None
    with open(path, errors="replace") as handle:
        for line in handle:
            if line.startswith(("cfn=", "cfi=", "fn=")):
                match = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
                if not match:
                    continue
                kind, ident, name = match.groups()
                if name:
                    names[ident] = name
                callee = names.get(ident) if kind == "cfn" else None
            elif line.startswith("calls=") and callee is not None:
                calls = int(line.split("=", 1)[1].split()[0])
                if callee.startswith("PyEval_SaveThread'"):
                    counts["release: " + cause(callee)] += calls
                    counts["(release total)"] += calls
                elif callee.startswith("drop_gil'") and "PyEval_SaveThread" not in (
                        callee.split("'")[1]):
                    counts["forced drop_gil: " + "'".join(callee.split("'")[1:3])] += calls
                callee = None
    return counts


def run(src: str, pki_dir: str, connections: int, threads: int
        ) -> dict[str, collections.Counter[str]]:
    """Per thread kind ("loop", "workers", "main"): the counts of one run."""
    from icount_threaded import CHILD, callgrind_server

    options = [f"--separate-callers{DEPTH}=PyEval_SaveThread", "--separate-callers3=drop_gil"]
    with callgrind_server(CHILD, options, src, pki_dir, connections, threads,
                          "default") as (out, fields):
        loops = int(fields[2])
        kinds: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        for path in glob.glob(out + "-*"):
            number = int(path.rsplit("-", 1)[1])
            kind = "main" if number == 1 else "loop" if number <= 1 + loops else "workers"
            kinds[kind].update(releases(path))
        return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", default=[], help="a tree's src/ dir")
    parser.add_argument("--n", type=int, default=100, help="connections counted")
    parser.add_argument("--warm", type=int, default=20, help="connections not counted")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    args = parser.parse_args()
    from sockets_peers import make_pki

    with tempfile.TemporaryDirectory(prefix="gil-threaded-pki-") as pki_dir:
        make_pki(pki_dir)
        print(f"# threaded serve(): GIL releases per connection, {args.n} connections "
              f"after {args.warm}, {args.clients} client threads")
        results = {}
        for src in args.src:
            base = run(src, pki_dir, args.warm, args.clients)
            more = run(src, pki_dir, args.warm + args.n, args.clients)
            results[src] = {kind: {key: (more[kind][key] - base[kind][key]) / args.n
                                   for key in set(more[kind]) | set(base[kind])}
                            for kind in ("loop", "workers", "main")}
        for kind in ("loop", "workers", "main"):
            keys = sorted({key for result in results.values() for key in result[kind]})
            print(f"\n## {kind}\n")
            print("| cause | " + " | ".join(args.src) + " |")
            print("|---|" + "---:|" * len(args.src))
            for key in keys:
                values = [results[src][kind].get(key, 0.0) for src in args.src]
                if any(abs(value) >= 0.005 for value in values):
                    print(f"| {key} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
