"""Where a one-client asyncio server connection spends its server time, step by step,
for glasstls (``glasstls.aio.start_server``) and ssl (``asyncio.start_server(ssl=)``),
with the same client (the sockets bench's ssl client, one connection after another:
handshake, PING echo, unwrap) and the same echo handler.

    bench/.venv/bin/python bench/aio_steps.py --src src [--src /tmp/old/src] \
        [--n 300] [--rounds 3] [--resumed]

The server process marks a step's start where the socket transport gets a read event
(the listening socket's for a new connection, a connection's for its data) and
charges everything the loop does until the next such event to that step: the thread's
CPU (``time.thread_time_ns``, user + system, the ``epoll_wait`` calls included) and
its busy wall time (outside the selector's wait). A connection's steps are named from
what its read brought (the ssl client's segments):

* ``accept``: the listener's read event .. the connection's first read (accept, the
  transport, the protocols, the handler's task);
* ``hello``: the ClientHello (record type 22) .. the next read (the flight);
* ``finished``: the client's CCS + Finished (type 20) .. (the tickets; the handler);
* ``ping``: a 38-byte record (the 16-byte PING) .. (the echo);
* ``close_notify``: a 24-byte record .. (our close_notify; the transport's close);
* ``eof``: the client's FIN, when the server reads it (0 when it closed first) ..
  the next connection's accept.

Any other read is named by its type and size (``other:23/62`` ...). The hooks add a
few us per step to both servers alike. Children alternate: ``--rounds`` times each
tree's glasstls, then ssl; printed per step: the median over connections of each
child, then the median over the children, in us.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUP = 20
STEPS = ("accept", "hello", "finished", "ping", "close_notify")
OPTIONAL = ("eof",)  # a server that closed first reads no FIN


class Steps:
    """The running step and what each step of each connection cost so far."""

    def __init__(self) -> None:
        # [connection, step, cpu ns, wall ns, cpu ns inside the TLS library's calls]
        self.rows: list[list[Any]] = []
        self.depth = 0  # TLS calls nested
        self.selects = 0  # the loop's waits (epoll_wait) since the step began
        self.tls_started = 0
        self.current: list[Any] | None = None
        self.cpu = time.thread_time_ns()
        self.wall = time.monotonic_ns()  # the busy stretch's start
        self.accepted = 0

    def boundary(self, connection: int, step: str) -> None:
        cpu, wall = time.thread_time_ns(), time.monotonic_ns()
        if self.current is not None:
            self.current[2] += cpu - self.cpu
            self.current[3] += wall - self.wall
            # (counted with the bytecodes' groups: a "group" of its own)
            self.current.append(["loop turns (selector waits)", self.selects])
        self.selects = 0
        self.cpu, self.wall = cpu, wall
        self.current = [connection, step, 0, 0, 0]
        self.rows.append(self.current)

    def timed(self, function: Any) -> Any:
        """``function`` with its thread CPU charged to the step's TLS column too."""
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return function(*args, **kwargs)
            self.depth = 1
            started = time.thread_time_ns()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth = 0
                if self.current is not None:
                    self.current[4] += time.thread_time_ns() - started
        return wrapper

    def idle(self) -> None:
        if self.current is not None:
            self.current[3] += time.monotonic_ns() - self.wall

    def busy(self) -> None:
        self.wall = time.monotonic_ns()


def _name(first: int, nbytes: int) -> str:
    if nbytes == 0:
        return "eof"
    if first == 22:
        return "hello"
    if first == 20:
        return "finished"
    if first == 23 and nbytes == 38:
        return "ping"
    if first == 23 and nbytes == 24:
        return "close_notify"
    return f"other:{first}/{nbytes}"


def serve(impl: str, count: int, pki_dir: str) -> None:
    """Serve ``count`` connections with the hooks in, then print the steps."""
    sys.path.insert(0, HERE)
    import asyncio.selector_events as selector_events
    import asyncio.sslproto as sslproto

    import sockets_peers as peers
    from aio_server_cost import echo_until

    steps = Steps()
    loop_class = selector_events.BaseSelectorEventLoop
    transport_class = selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    accept = loop_class._accept_connection  # type: ignore[attr-defined]
    read_ready = transport_class._read_ready

    def accept_hook(self: Any, *args: Any, **kwargs: Any) -> Any:
        steps.accepted += 1
        steps.boundary(steps.accepted, "accept")
        return accept(self, *args, **kwargs)

    def read_ready_hook(self: Any) -> Any:
        # Named after the read (see buffer_updated_hook); "eof" unless data came.
        # (kept on the transport: a freed transport's id may come back)
        connection = self.__dict__.setdefault("_steps_connection", steps.accepted)
        steps.boundary(connection, "eof")
        return read_ready(self)

    loop_class._accept_connection = accept_hook  # type: ignore[attr-defined]
    transport_class._read_ready = read_ready_hook

    if impl == "glasstls":
        from glasstls.io import aio

        protocol_class: Any = aio._TLSProtocol
    else:
        protocol_class = sslproto.SSLProtocol
    get_buffer = protocol_class.get_buffer
    buffer_updated = protocol_class.buffer_updated

    def get_buffer_hook(self: Any, sizehint: int) -> Any:
        buffer = get_buffer(self, sizehint)
        self._steps_buffer = buffer
        return buffer

    def buffer_updated_hook(self: Any, nbytes: int) -> None:
        assert steps.current is not None
        steps.current[1] = _name(self._steps_buffer[0], nbytes)
        buffer_updated(self, nbytes)

    protocol_class.get_buffer = get_buffer_hook
    # The TLS library's own calls (engine or OpenSSL), each timed as a whole: the
    # rest of a step is asyncio, the glue and the handler.
    if os.environ.get("AIO_STEPS_NO_TLS"):
        pass  # (what the TLS calls' timing itself costs: compare the totals)
    elif impl == "glasstls":
        from glasstls.io.channel import TLSChannel

        for name in ("receive", "receive_into", "write", "close", "outgoing",
                     "outgoing_buffers", "read_all", "read"):
            setattr(TLSChannel, name, steps.timed(getattr(TLSChannel, name)))
        TLSChannel.server = classmethod(  # type: ignore[method-assign,assignment]
            steps.timed(TLSChannel.server.__func__))  # type: ignore[attr-defined]
    else:
        import ssl

        for name in ("do_handshake", "read", "write", "unwrap", "pending"):
            setattr(ssl.SSLObject, name, steps.timed(getattr(ssl.SSLObject, name)))
        ssl.SSLContext.wrap_bio = steps.timed(  # type: ignore[method-assign]
            ssl.SSLContext.wrap_bio)
    protocol_class.buffer_updated = buffer_updated_hook

    pki = peers.load_pki(pki_dir)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        selector = loop._selector  # type: ignore[attr-defined]
        select = selector.select

        def select_hook(timeout: float | None = None) -> Any:
            steps.idle()
            steps.selects += 1
            try:
                return select(timeout)
            finally:
                steps.busy()

        selector.select = select_hook
        handle, done = echo_until(peers, count)
        server = await peers._start_asyncio_server(impl, handle, pki)
        peers.ready(server.sockets[0].getsockname()[1])
        await done.wait()
        await asyncio.sleep(0.05)  # the last connection's end
        steps.boundary(0, "end")
        server.close()

    codes: dict[tuple[int, str], int] | None = None
    if os.environ.get("AIO_STEPS_BYTECODES"):
        codes = {}
        _trace_bytecodes(steps, codes)
    asyncio.run(main())
    if codes is not None:
        sys.settrace(None)
        for (index, group), value in codes.items():
            steps.rows[index].append([group, value])
    print("STEPS " + json.dumps(steps.rows), flush=True)


def _group(path: str) -> str:
    if "glasstls/io/" in path:
        return "glue (glasstls/io)"
    if "glasstls/" in path:
        return "engine (glasstls)"
    if "asyncio/" in path or path.endswith(("selectors.py", "socket.py", "ssl.py")):
        return "asyncio, selectors, socket, ssl.py"
    if path.endswith("sockets_peers.py"):
        return "handler"
    return "other"


def _function(path: str, code: Any) -> str:
    for marker in ("glasstls/", "asyncio/"):
        if marker in path:
            return f"{marker}{path.split(marker, 1)[1]}:{code.co_name}"
    return f"{os.path.basename(path)}:{code.co_name}"


def _trace_bytecodes(steps: Steps, codes: dict[tuple[int, str], int]) -> None:
    """Count the bytecodes run in each step (of each connection) by group of files."""
    here = os.path.abspath(__file__)
    groups: dict[object, str | None] = {}
    by_function = os.environ.get("AIO_STEPS_BYTECODES") == "functions"

    def local(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "opcode":
            code = frame.f_code
            group = groups.get(code, "")
            if group == "":
                path = code.co_filename
                if path == "<string>" and frame.f_back is not None:
                    path = frame.f_back.f_code.co_filename  # generated: the caller's
                group = groups[code] = (None if path == here else _function(path, code)
                                        if by_function else _group(path))
            if group is not None and steps.rows:
                key = (len(steps.rows) - 1, group)
                codes[key] = codes.get(key, 0) + 1
        return local

    def global_(frame, event, arg):  # type: ignore[no-untyped-def]
        frame.f_trace_opcodes = True
        return local

    sys.settrace(global_)


def child(python: str, src: str | None, impl: str, count: int, pki_dir: str
          ) -> dict[str, tuple[float, float, float]]:
    """One server child: per step, the median (cpu us, wall us) over its connections
    after the warm-up (a connection counts only if it had every usual step once)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    if src is not None:
        env["PYTHONPATH"] = src
    server = subprocess.Popen([python, __file__, "_serve", impl, str(count), pki_dir],
                              stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdout is not None
    port = int(server.stdout.readline().split()[1])
    subprocess.run([sys.executable, os.path.join(HERE, "aio_server_cost.py"), "_clients",
                    str(port), str(count), pki_dir], check=True, env=env)
    line = server.stdout.readline()
    server.wait(timeout=600)
    rows = json.loads(line.split(" ", 1)[1])
    by_connection: dict[int, dict[str, list[int]]] = {}
    codes: dict[str, dict[str, list[int]]] = {}  # step -> group -> per connection
    complete = {row[0] for row in rows if row[1] == "close_notify"}
    for connection, step, cpu, wall, tls, *groups in rows:
        if connection > WARMUP and connection in complete:
            for group, value in groups:
                codes.setdefault(step, {}).setdefault(group, []).append(value)
        entry = by_connection.setdefault(connection, {})
        previous = entry.setdefault(step, [0, 0, 0, 0])
        previous[0] += cpu
        previous[1] += wall
        previous[2] += 1
        previous[3] += tls
    result: dict[str, list[tuple[float, float, float]]] = {}
    others: dict[str, int] = {}
    for connection, entry in by_connection.items():
        if connection <= WARMUP or connection == 0:
            continue
        for step in entry:
            if step not in STEPS + OPTIONAL:
                others[step] = others.get(step, 0) + 1
        if any(step not in entry or entry[step][2] != 1 for step in STEPS):
            continue
        total_cpu = total_wall = total_tls = 0
        for step in STEPS + OPTIONAL:
            cpu, wall, _, tls = entry.get(step, (0, 0, 0, 0))
            result.setdefault(step, []).append((cpu / 1000, wall / 1000, tls / 1000))
            total_cpu += cpu
            total_wall += wall
            total_tls += tls
        result.setdefault("total", []).append(
            (total_cpu / 1000, total_wall / 1000, total_tls / 1000))
    medians = {step: (statistics.median(v[0] for v in values),
                      statistics.median(v[1] for v in values),
                      statistics.median(v[2] for v in values))
               for step, values in result.items()}
    medians["_kept"] = (float(len(result.get("total", []))), float(len(by_connection)), 0.0)
    if codes:
        kept = len(result.get("total", [])) or 1
        print(f"## per connection by step: the loop's turns (and with --bytecodes the "
              f"bytecodes by group or function), {impl}@{src}")
        for step in (*STEPS, *OPTIONAL):
            ranked = sorted(codes.get(step, {}).items(), key=lambda item: -sum(item[1]))
            for group, values in ranked[:int(os.environ.get("AIO_STEPS_TOP", "30"))]:
                print(f"  {step:13} {sum(values) / kept:8.1f}  {group}")
        totals: dict[str, int] = {}
        for groups in codes.values():
            for group, values in groups.items():
                totals[group] = totals.get(group, 0) + sum(values)
        for group, value in sorted(totals.items(), key=lambda item: -item[1])[:30]:
            print(f"  {'total':13} {value / kept:8.1f}  {group}")
    if others:
        print(f"# {impl}@{src}: other reads {others}", file=sys.stderr)
    return medians


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True,
                        help="a tree's src/ dir (several: alternated)")
    parser.add_argument("--python", action="append",
                        help="the interpreter for each --src (default: this one)")
    parser.add_argument("--no-ssl", action="store_true")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bytecodes", choices=("groups", "functions"),
                        help="count bytecodes per step by group of files or by function "
                        "(a tracer: no times worth reading then)")
    parser.add_argument("--resumed", action="store_true",
                        help="each connection resumes the session of the one before")
    parser.add_argument("--no-tls-timing", action="store_true",
                        help="do not time the TLS library's calls (their hooks cost a "
                        "few us per connection, more for glasstls's more calls)")
    args = parser.parse_args()
    if args.no_tls_timing:
        os.environ["AIO_STEPS_NO_TLS"] = "1"
    if args.resumed:
        os.environ["AIO_COST_RESUME"] = "1"  # read by aio_server_cost.py's clients
    if args.bytecodes:
        os.environ["AIO_STEPS_BYTECODES"] = args.bytecodes
    sys.path.insert(0, HERE)
    from sockets_peers import make_pki

    pythons = args.python or [sys.executable] * len(args.src)
    servers = [(f"glasstls@{src}", python, os.path.abspath(src), "glasstls")
               for src, python in zip(args.src, pythons, strict=True)]
    if not args.no_ssl:
        servers.append(("ssl", pythons[0], None, "ssl"))
    results: dict[str, list[dict[str, tuple[float, float, float]]]] = {}
    with tempfile.TemporaryDirectory() as pki_dir:
        make_pki(pki_dir)
        for _ in range(args.rounds):
            for label, python, src, impl in servers:
                results.setdefault(label, []).append(
                    child(python, src, impl, WARMUP + args.n, pki_dir))
    print(f"# aio_steps: {args.n} connections per child after {WARMUP}, {args.rounds} "
          f"rounds; load {os.getloadavg()[0]:.2f}; {time.strftime('%H:%M UTC', time.gmtime())}")
    print("# per step: server thread CPU us / busy wall us [of the CPU: inside the TLS "
          "library's calls], median over connections, median over children (min-max of "
          "the CPU medians)")
    labels = list(results)
    print("| step | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for step in (*STEPS, *OPTIONAL, "total"):
        cells = []
        for label in labels:
            cpus = [r[step][0] for r in results[label] if step in r]
            walls = [r[step][1] for r in results[label] if step in r]
            tls = [r[step][2] for r in results[label] if step in r]
            cells.append(f"{statistics.median(cpus):.1f} / {statistics.median(walls):.1f} "
                         f"[{statistics.median(tls):.1f}] ({min(cpus):.1f}-{max(cpus):.1f})"
                         if cpus else "-")
        print(f"| {step} | " + " | ".join(cells) + " |")
    # On a shared machine a child's figures rise together when others load it: the
    # child with the lowest total CPU is the quietest one's view of every step.
    print("\n# the child with the lowest total CPU median, per server: CPU us [TLS calls]")
    print("| step | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    quietest = {label: min(results[label], key=lambda r: r["total"][0]) for label in labels}
    for step in (*STEPS, *OPTIONAL, "total"):
        print(f"| {step} | " + " | ".join(
            f"{quietest[label][step][0]:.1f} [{quietest[label][step][2]:.1f}]"
            for label in labels) + " |")
    kept = {label: [int(r["_kept"][0]) for r in results[label]] for label in labels}
    print(f"# connections with the usual steps, per child: {kept}")


if __name__ == "__main__":
    main()
