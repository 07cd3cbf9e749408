"""Bytecodes per connection of the threaded ``glasstls.serve()`` echo server, by
thread kind (the loop, the workers) and by where the code lives (the engine,
``glasstls/io``, the standard library): the Python that a connection costs outside
the engine, function by function, for A/B checks of ``io/`` changes.

    .venv/bin/python bench/threaded_bytecodes.py [--src src] [--n 300] [--clients 8] [--top 25]

The server is ``sockets_peers.py``'s threaded echo server (its config, its
handler), in this process with an opcode tracer on its threads; the clients are
``icount_threaded.py``'s (Python's ssl, in a process of their own). Counts are over
``--n`` connections after ``--warm`` untraced ones, divided by ``--n``. The order in
which threads run changes how often a loop turn finds several steps ready, so
the loop's figures move by a few bytecodes from run to run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

CLIENTS = r"""
import sys
sys.path.insert(0, sys.argv[1])
from icount_threaded import run_clients
from sockets_peers import load_pki
run_clients(int(sys.argv[2]), load_pki(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
"""


def where(path: str) -> str:
    if "glasstls/io/" in path:
        return "io"
    if "glasstls/" in path:
        return "engine"
    return "stdlib"


def short(path: str) -> str:
    return path.split("glasstls/", 1)[1] if "glasstls/" in path else os.path.basename(path)


class Tracer:
    def __init__(self) -> None:
        self.on = False
        self.counts: Counter[tuple[str, str]] = Counter()  # (thread kind, where)
        self.functions: Counter[tuple[str, str]] = Counter()  # (thread kind, function)
        self.names: dict[Any, tuple[str, str]] = {}
        self.category: dict[str, str] = {}  # function -> where it lives
        self.lines: Counter[tuple[str, str, int]] = Counter()  # outside the engine

    def kind(self) -> str:
        name = threading.current_thread().name
        return ("loop" if name.startswith("glasstls-server") else
                "workers" if name.startswith("glasstls-worker") else "other")

    def global_(self, frame: Any, event: str, arg: Any) -> Any:
        if not self.on:
            return self.global_
        frame.f_trace_opcodes = True
        code = frame.f_code
        generated = code.co_filename.startswith("<")
        if generated:
            # Code made by exec (dataclasses' __init__s, say) counts where its
            # caller lives: the engine's value objects are the engine's work.
            caller = frame.f_back.f_code if frame.f_back is not None else code
            key: Any = (code, caller)
        else:
            key = code
        info = self.names.get(key)
        if info is None:
            path = caller.co_filename if generated else code.co_filename
            info = self.names[key] = (
                where(path), f"{short(code.co_filename)}:{code.co_name}"
                + (f" (from {short(path)})" if generated else ""))
            self.category[info[1]] = info[0]
        kind = self.kind()
        counts, functions, lines = self.counts, self.functions, self.lines
        outside = info[0] != "engine"

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "opcode" and self.on:
                counts[kind, info[0]] += 1
                functions[kind, info[1]] += 1
                if outside:
                    lines[kind, info[1], frame.f_lineno or 0] += 1
            return local
        return local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=None, help="a tree's src/ dir (default: installed)")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--lines", type=int, default=0,
                        help="also the N costliest lines outside the engine per thread")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, os.path.abspath(args.src))
    import tempfile

    from sockets_peers import _echo_blocking, glasstls_server_config, load_pki, make_pki

    import glasstls

    served = [0]
    lock = threading.Lock()
    warmed = threading.Event()
    tracer = Tracer()

    def handler(sock: Any, address: Any) -> None:
        _echo_blocking(sock)
        with lock:
            served[0] += 1
            if served[0] == args.warm:
                warmed.set()

    with tempfile.TemporaryDirectory(prefix="threaded-bytecodes-") as pki_dir:
        make_pki(pki_dir)
        threading.settrace(tracer.global_)
        sys.settrace(tracer.global_)
        server = glasstls.serve(("127.0.0.1", 0), handler,
                                config=glasstls_server_config(load_pki(pki_dir)))
        port = str(server.address[1])
        script = os.path.join(pki_dir, "clients.py")
        with open(script, "w") as handle:
            handle.write(CLIENTS)
        run = [sys.executable, script, HERE, port, pki_dir]
        subprocess.run([*run, str(args.warm), str(args.clients)], check=True)
        warmed.wait()
        tracer.on = True
        subprocess.run([*run, str(args.n), str(args.clients)], check=True)
        while served[0] < args.warm + args.n:
            threading.Event().wait(0.05)
        tracer.on = False
        server.close()
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
    n = args.n
    print(f"# threaded serve(), {glasstls.__file__}: bytecodes per connection over {n} "
          f"connections, {args.clients} client threads")
    print("| thread | engine | io | stdlib | all |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("loop", "workers", "other"):
        row = [tracer.counts[kind, w] / n for w in ("engine", "io", "stdlib")]
        print(f"| {kind} | {row[0]:.0f} | {row[1]:.0f} | {row[2]:.0f} | {sum(row):.0f} |")
    for kind in ("loop", "workers"):
        print(f"\n{kind}, outside the engine (bytecodes per connection):")
        outside = [(count, function) for (k, function), count in tracer.functions.items()
                   if k == kind and tracer.category[function] != "engine"]
        for count, function in sorted(outside, reverse=True)[:args.top]:
            print(f"{count / n:8.1f}  {function}")
        if args.lines:
            print(f"\n{kind}, lines outside the engine:")
            top = sorted(((count, function, line) for (k, function, line), count
                          in tracer.lines.items() if k == kind), reverse=True)
            for count, function, line in top[:args.lines]:
                print(f"{count / n:8.1f}  {function}:{line}")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    main()
