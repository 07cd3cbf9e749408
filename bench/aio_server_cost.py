"""Where an asyncio server PROCESS spends its work per connection: the sockets bench's
echo server (``glasstls.aio.start_server`` or ``asyncio.start_server(ssl=...)``)
serving a fixed number of full TLS 1.3 handshakes + PING echo + close_notify from
the bench's own ssl client (one client thread in a process of its own), then exiting.

    bench/.venv/bin/python bench/aio_server_cost.py --src src [--impl glasstls --impl ssl]
        [--n 100] [--callgrind] [--calls] [--top 40]

``--callgrind``: the server process under callgrind, run with 10 and 10 + N
connections; the difference / N is printed per connection, split by object
(interpreter, libcrypto, libc, ...) and the top functions (C level).
``--calls``: the server under ``cProfile`` (call counts are exact, times are not):
Python-level calls per connection by function, for the glue's share.
The kernel is counted by neither: see ``ab_servers.py`` for CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import re
import subprocess
import sys
import tempfile
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUP = 10
_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s+\[(.*)\]\s*$")
_TOTAL = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)


def echo_until(peers: Any, count: int) -> tuple[Any, asyncio.Event]:
    """The sockets bench's asyncio echo handler, and an event set once it has
    served ``count`` connections to their end."""
    done = asyncio.Event()
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await peers._echo_asyncio(reader, writer)
        served += 1
        if served >= count:
            done.set()

    return handle, done


def serve(impl: str, count: int, pki_dir: str) -> None:
    """Serve ``count`` connections to their end, then exit."""
    sys.path.insert(0, HERE)
    import sockets_peers as peers

    pki = peers.load_pki(pki_dir)

    async def main() -> None:
        handle, done = echo_until(peers, count)
        tickets = os.environ.get("AIO_COST_TICKETS")
        if tickets is None:
            server = await peers._start_asyncio_server(impl, handle, pki)
        elif impl == "glasstls":
            # The bench's server config with another number of TLS 1.3 tickets: what
            # the tickets cost (both servers send two by default).
            import dataclasses

            import glasstls

            config = dataclasses.replace(peers.glasstls_server_config(pki),
                                         tickets=int(tickets))
            server = await glasstls.aio.start_server(handle, peers.HOST, 0, config=config)
        else:
            context = peers.ssl_server_context(pki)
            context.num_tickets = int(tickets)
            server = await asyncio.start_server(handle, peers.HOST, 0, ssl=context)
        peers.ready(server.sockets[0].getsockname()[1])
        await done.wait()
        server.close()

    counts: Counter[str] | None = None
    if os.environ.get("AIO_COST_BYTECODES"):
        counts = Counter()
        _trace_bytecodes(counts)
    asyncio.run(main())
    if counts is not None:
        sys.settrace(None)
        import json

        print("BYTECODES " + json.dumps(dict(counts)), flush=True)
    if os.environ.get("AIO_COST_RUSAGE"):
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        import gc

        collections = [generation["collections"] for generation in gc.get_stats()]
        print(f"RUSAGE {usage.ru_utime} {usage.ru_stime} {usage.ru_minflt} {usage.ru_nvcsw} "
              f"{usage.ru_nivcsw} {' '.join(map(str, collections))}", flush=True)


def _trace_bytecodes(counts: Counter[str]) -> None:
    """Count the bytecodes each Python function runs (a tracer's opcode events):
    deterministic, and close to the interpreter's share of the instructions."""
    names: dict[object, str] = {}

    def local(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "opcode":
            code = frame.f_code
            name = names.get(code)
            if name is None:
                name = names[code] = f"{_short(code.co_filename)}:{code.co_name}"
            if name.startswith("<string>"):
                # generated (dataclass, attrs, namedtuple): named by the caller
                caller = frame.f_back.f_code if frame.f_back is not None else None
                if caller is not None:
                    name = f"{name} from {_short(caller.co_filename)}:{caller.co_name}"
            counts[name] += 1
        return local

    def global_(frame, event, arg):  # type: ignore[no-untyped-def]
        frame.f_trace_opcodes = True
        return local

    sys.settrace(global_)
    import threading

    threading.settrace(global_)


def clients(port: int, count: int, pki_dir: str) -> None:
    """``count`` connections from AIO_COST_CLIENTS threads (default 1), one after
    another in each."""
    sys.path.insert(0, HERE)
    import threading

    import sockets_peers as peers

    context = peers.ssl_client_context(peers.load_pki(pki_dir))
    threads = int(os.environ.get("AIO_COST_CLIENTS", "1"))
    # AIO_COST_RESUME=1: each connection resumes the session of the one before (as the
    # sockets bench's resumed clients do); the first is a full handshake.
    resume = os.environ.get("AIO_COST_RESUME") == "1"

    def run(share: int) -> None:
        session = None
        for _ in range(share):
            sock = peers._handshake(context, port, session)
            if resume:
                session = sock.session
            peers._goodbye(sock)

    workers = [threading.Thread(target=run, args=(count // threads + (i < count % threads),))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def run(prefix: list[str], src: str, impl: str, count: int, pki_dir: str) -> None:
    env = dict(os.environ, PYTHONPATH=src, PYTHONHASHSEED="0")
    # (valgrind's and perf's own messages on stderr are dropped)
    server = subprocess.Popen([*prefix, sys.executable, __file__, "_serve", impl, str(count),
                               pki_dir], stdout=subprocess.PIPE, text=True, env=env,
                              stderr=subprocess.DEVNULL if prefix else None)
    assert server.stdout is not None
    line = server.stdout.readline()
    assert line.startswith("READY"), line
    port = int(line.split()[1])
    subprocess.run([sys.executable, __file__, "_clients", str(port), str(count), pki_dir],
                   check=True, env=env)
    server.wait(timeout=600)
    assert server.returncode == 0


def callgrind_counts(src: str, impl: str, count: int, pki_dir: str, work: str
                     ) -> tuple[int, Counter[str], Counter[str]]:
    out = os.path.join(work, f"cg-{impl}-{count}.out")
    run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"], src, impl, count,
        pki_dir)
    with open(out) as handle:
        match = _TOTAL.search(handle.read())
    assert match
    annotated = subprocess.run(["callgrind_annotate", "--threshold=100", out], check=True,
                               capture_output=True, text=True).stdout
    objects: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for line in annotated.splitlines():
        found = _LINE.match(line)
        if found:
            value = int(found[1].replace(",", ""))
            objects[_object(found[3])] += value
            functions[f"{found[2]} [{_object(found[3])}]"] += value
    return int(match.group(1)), objects, functions


def _object(path: str) -> str:
    name = os.path.basename(path)
    for key, label in (("libpython", "interpreter"), ("python3", "interpreter"),
                       ("libcrypto", "libcrypto (system)"), ("libssl", "libssl"),
                       ("_rust", "cryptography (Rust+OpenSSL)"), ("libc.so", "libc"),
                       ("ld-linux", "ld.so"), ("_ssl", "_ssl module"),
                       ("_asyncio", "_asyncio module")):
        if key in name:
            return label
    return name


def report_callgrind(src: str, impls: list[str], n: int, top: int, pki_dir: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        for impl in impls:
            base = callgrind_counts(src, impl, WARMUP, pki_dir, work)
            more = callgrind_counts(src, impl, WARMUP + n, pki_dir, work)
            print(f"== {impl}: {(more[0] - base[0]) / n / 1000:.1f} K instructions per "
                  "connection (server process, user space)")
            objects = more[1] - base[1]
            for name, value in objects.most_common():
                print(f"  {value / n / 1000:9.1f} K  {name}")
            print("  top functions:")
            for name, value in (more[2] - base[2]).most_common(top):
                print(f"  {value / n / 1000:9.1f} K  {name}")


def perf_samples(src: str, impl: str, count: int, pki_dir: str, work: str, sort: str
                 ) -> Counter[str]:
    out = os.path.join(work, f"perf-{impl}-{count}.data")
    run(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(PERF_HZ), "-o", out], src, impl,
        count, pki_dir)
    report = subprocess.run(["perf", "report", "-i", out, "--stdio", "--sort", sort, "-q", "-n",
                             "--percent-limit", "0"], capture_output=True, text=True).stdout
    samples: Counter[str] = Counter()
    for line in report.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].endswith("%"):
            samples[" ".join(fields[2:])] += int(fields[1])
    return samples


PERF_HZ = 20000


def report_perf(src: str, impl_list: list[str], n: int, top: int, pki_dir: str) -> None:
    """Samples of the server process (user and kernel: perf's software clock works in
    this VM) with 10 + n connections less those with 10, in us per connection, by
    object and by symbol: where its CPU time goes, not its instruction count."""
    with tempfile.TemporaryDirectory() as work:
        for impl in impl_list:
            for sort in ("dso", "dso,sym"):
                base = perf_samples(src, impl, WARMUP, pki_dir, work, sort)
                more = perf_samples(src, impl, WARMUP + n, pki_dir, work, sort)
                diff = more.copy()
                diff.subtract(base)
                scale = 1e6 / PERF_HZ / n
                total = sum(diff.values()) * scale
                print(f"== {impl}: perf, {total:.0f} us per connection, by {sort}")
                for name, value in diff.most_common(top):
                    print(f"  {value * scale:7.1f} us  {name}")


def report_calls(src: str, impls: list[str], n: int, top: int, pki_dir: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        for impl in impls:
            counts = []
            for count in (WARMUP, WARMUP + n):
                out = os.path.join(work, f"prof-{impl}-{count}")
                run_profiled(["-m", "cProfile", "-o", out], src, impl, count, pki_dir)
                stats = pstats.Stats(out).stats  # type: ignore[attr-defined]
                calls: Counter[str] = Counter()
                for (path, line, name), (_, ncalls, *_rest) in stats.items():
                    calls[f"{_short(path)}:{line}({name})"] = ncalls
                counts.append(calls)
            diff = counts[1] - counts[0]
            total = sum(diff.values())
            print(f"== {impl}: {total / n:.1f} Python-level calls per connection")
            _print_per_connection(diff, n, files=15, top=top, decimals=1)


def _print_per_connection(diff: Counter[str], n: int, files: int, top: int,
                          decimals: int) -> None:
    """Counts keyed ``file:function``, per connection: by file, then the top functions."""
    by_file: Counter[str] = Counter()
    for key, value in diff.items():
        by_file[key.split(":")[0]] += value
    for name, value in by_file.most_common(files):
        print(f"  {value / n:7.{decimals}f}  {name}")
    print("  top functions:")
    for name, value in diff.most_common(top):
        print(f"  {value / n:7.{decimals}f}  {name}")


def _served_report(src: str, impl: str, count: int, pki_dir: str, mode: str) -> str:
    """Serve ``count`` connections of the ssl clients with the server measuring in
    ``mode`` (the environment variable it reads); the line it reports at the end."""
    env = dict(os.environ, PYTHONPATH=src, PYTHONHASHSEED="0", **{mode: "1"})
    server = subprocess.Popen([sys.executable, __file__, "_serve", impl, str(count), pki_dir],
                              stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    subprocess.run([sys.executable, __file__, "_clients", str(port), str(count), pki_dir],
                   check=True, env=env)
    line = server.stdout.readline()
    server.wait(timeout=600)
    return line


def rusage(src: str, impl: str, count: int, pki_dir: str) -> list[float]:
    line = _served_report(src, impl, count, pki_dir, "AIO_COST_RUSAGE")
    return [float(value) for value in line.split()[1:]]


def report_rusage(srcs: list[str], impls: list[str], n: int, rounds: int, pki_dir: str
                  ) -> None:
    """user, system ms, minor faults, voluntary/involuntary switches, GC passes per
    connection:
    (10 + n) connections less 10, alternated, medians over ``rounds``."""
    import statistics

    results: dict[str, list[list[float]]] = {}
    for _ in range(rounds):
        for src in srcs:
            for impl in impls:
                if impl == "ssl" and src != srcs[0]:
                    continue
                base = rusage(src, impl, WARMUP, pki_dir)
                more = rusage(src, impl, WARMUP + n, pki_dir)
                label = f"{impl}@{src}"
                results.setdefault(label, []).append(
                    [(b - a) / n for a, b in zip(base, more, strict=True)])
    for label, rows in results.items():
        columns = list(zip(*rows, strict=True))
        user, system, faults, voluntary, involuntary, *gcs = (statistics.median(c)
                                                              for c in columns)
        print(f"{label}: user {user * 1000:.3f} ms, system {system * 1000:.3f} ms, "
              f"total {(user + system) * 1000:.3f} ms, {faults:.1f} minor faults, "
              f"{voluntary:.2f} / {involuntary:.2f} switches, GC passes by generation "
              f"{[round(value, 3) for value in gcs]} per connection "
              f"(user+sys per round: {[round((r[0] + r[1]) * 1000, 3) for r in rows]})")


def bytecodes(src: str, impl: str, count: int, pki_dir: str) -> Counter[str]:
    import json

    line = _served_report(src, impl, count, pki_dir, "AIO_COST_BYTECODES")
    return Counter(json.loads(line.split(" ", 1)[1]))


def report_bytecodes(src: str, impls: list[str], n: int, top: int, pki_dir: str) -> None:
    for impl in impls:
        diff = bytecodes(src, impl, WARMUP + n, pki_dir)
        diff.subtract(bytecodes(src, impl, WARMUP, pki_dir))
        print(f"== {impl}: {sum(diff.values()) / n:.0f} bytecodes per connection")
        _print_per_connection(diff, n, files=25, top=top, decimals=0)


def run_profiled(prefix: list[str], src: str, impl: str, count: int, pki_dir: str) -> None:
    env = dict(os.environ, PYTHONPATH=src, PYTHONHASHSEED="0")
    server = subprocess.Popen([sys.executable, *prefix, __file__, "_serve", impl, str(count),
                               pki_dir], stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    line = server.stdout.readline()
    port = int(line.split()[1])
    subprocess.run([sys.executable, __file__, "_clients", str(port), str(count), pki_dir],
                   check=True, env=env)
    server.wait(timeout=600)


def _short(path: str) -> str:
    for marker in ("glasstls/", "asyncio/"):
        if marker in path:
            return marker + path.split(marker, 1)[1]
    return os.path.basename(path)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_clients":
        clients(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True,
                        help="a tree's src/ dir (--rusage: several, alternated)")
    parser.add_argument("--impl", action="append", choices=("glasstls", "ssl"))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--clients", type=int, default=1,
                        help="concurrent client threads (one process; default 1)")
    parser.add_argument("--tickets", type=int,
                        help="TLS 1.3 tickets per connection, both servers (default: 2)")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--calls", action="store_true")
    parser.add_argument("--bytecodes", action="store_true",
                        help="bytecodes per connection by file and function (a tracer)")
    parser.add_argument("--perf", action="store_true",
                        help="perf record (cpu-clock) of the server: time by object, symbol")
    parser.add_argument("--rusage", type=int, metavar="ROUNDS",
                        help="CPU time, faults and switches per connection, alternated")
    args = parser.parse_args()
    srcs = [os.path.abspath(src) for src in args.src]
    src = srcs[0]
    sys.path.insert(0, src)
    sys.path.insert(0, HERE)
    from sockets_peers import make_pki

    impls = args.impl or ["glasstls", "ssl"]
    os.environ["AIO_COST_CLIENTS"] = str(args.clients)
    if args.tickets is not None:
        os.environ["AIO_COST_TICKETS"] = str(args.tickets)
    with tempfile.TemporaryDirectory() as pki_dir:
        make_pki(pki_dir)
        if args.callgrind:
            report_callgrind(src, impls, args.n, args.top, pki_dir)
        if args.perf:
            report_perf(src, impls, args.n, args.top, pki_dir)
        if args.bytecodes:
            report_bytecodes(src, impls, args.n, args.top, pki_dir)
        if args.calls:
            report_calls(src, impls, args.n, args.top, pki_dir)
        if args.rusage:
            report_rusage(srcs, impls, args.n, args.rusage, pki_dir)


if __name__ == "__main__":
    main()
