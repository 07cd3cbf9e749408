"""The engine's bytecodes per server connection, in memory: Python's ssl client
(``ssl.MemoryBIO``, the sockets bench's client context, so the same ClientHello) against
a ``ServerConnection`` with the sockets bench's server config; a full TLS 1.3
handshake, a 16-byte echo and close_notify both ways, as ``aio_server_cost.py``
serves them, without the event loop. Only the server's engine calls are traced
(a tracer's opcode events), per function with its call count; ``--lines NAME``
prints the bytecodes per line of the functions whose name contains NAME;
``--resumed`` counts connections where the client resumes with a ticket of a full
handshake made before counting (one new ticket each).

    .venv/bin/python bench/engine_server_bytecodes.py --src src [--n 20] [--top 50] [--resumed]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import ssl
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def _short(path: str) -> str:
    return "glasstls/" + path.split("glasstls/", 1)[1] if "glasstls/" in path else (
        os.path.basename(path))


class Tracer:
    def __init__(self, lines: str | None) -> None:
        self.counts: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.line_counts: Counter[tuple[str, int]] = Counter()
        self.lines = lines
        self.names: dict[object, str] = {}

    def name(self, frame: Any) -> str:
        code = frame.f_code
        name = self.names.get(code)
        if name is None:
            name = f"{_short(code.co_filename)}:{code.co_name}"
            if name.startswith("<string>") and frame.f_back is not None:
                back = frame.f_back.f_code
                name = f"{name} from {_short(back.co_filename)}:{back.co_name}"
            self.names[code] = name
        return name

    def run(self, call: Callable[[], Any]) -> Any:
        counts, calls, line_counts, lines = self.counts, self.calls, self.line_counts, self.lines

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "opcode":
                name = self.name(frame)
                counts[name] += 1
                if lines is not None and lines in name:
                    line_counts[(name, frame.f_lineno)] += 1
            return local

        def global_(frame: Any, event: str, arg: Any) -> Any:
            frame.f_trace_opcodes = True
            calls[self.name(frame)] += 1
            return local

        sys.settrace(global_)
        try:
            return call()
        finally:
            sys.settrace(None)


def connection(config: Any, context: ssl.SSLContext, tracer: Tracer | None,
               session: ssl.SSLSession | None = None,
               phase: Callable[[str], None] = lambda name: None) -> ssl.SSLSession | None:
    """One connection as the sockets bench's echo servers serve it, the server's calls
    run by ``tracer`` (anything with its ``run``); ``phase`` is told each exchange's
    name before it ("flight", "finished", "close": server_side.py's phases)."""
    from glasstls import ServerConnection

    run: Callable[[Callable[[], Any]], Any] = tracer.run if tracer else (lambda f: f())
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost",
                              session=session)
    server = run(lambda: ServerConnection(config))

    def exchange() -> None:
        data = outgoing.read()
        if data:
            for event in run(lambda: server.receive_data(data)):
                payload = getattr(event, "data", None)
                if payload:  # the echo
                    run(lambda: server.send(payload))  # noqa: B023
        reply = run(lambda: b"".join(server.buffers_to_send()))
        if reply:
            incoming.write(reply)

    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    phase("flight")
    exchange()  # ClientHello -> the server's flight
    client.do_handshake()
    client.write(b"PING" * 4)
    phase("finished")
    exchange()  # Finished and PING -> tickets and the echo
    assert client.read(100) == b"PING" * 4
    assert session is None or client.session_reused
    new_session = client.session
    with contextlib.suppress(ssl.SSLWantReadError):
        client.unwrap()
    phase("close")
    exchange()  # close_notify -> close_notify
    run(lambda: server.close())
    incoming.write(run(lambda: b"".join(server.buffers_to_send())))
    return new_session


def arguments() -> argparse.Namespace:
    """The counters' command line (this one's and engine_client_bytecodes.py's), with
    the tree under test and this directory put first on the import path."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--lines")
    parser.add_argument("--resumed", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.src))
    sys.path.insert(0, HERE)
    return args


Connect = Callable[[Any, ssl.SSLContext, Tracer | None, ssl.SSLSession | None],
                   ssl.SSLSession | None]


def count_server(connect: Connect, per: str) -> None:
    """Five connections to warm up, then ``--n`` traced (resumed: each with the
    session of the warm-up's last), and their bytecodes reported per ``per``: this
    script's and hello_step_bytecodes.py's."""
    args = arguments()
    import sockets_peers as peers

    with tempfile.TemporaryDirectory() as pki_dir:
        peers.make_pki(pki_dir)
        pki = peers.load_pki(pki_dir)
        config = peers.glasstls_server_config(pki)
        context = peers.ssl_client_context(pki)
        session = None
        for _ in range(5):
            session = connect(config, context, None, None)
        if not args.resumed:
            session = None
        tracer = Tracer(args.lines)
        for _ in range(args.n):
            connect(config, context, tracer, session)
    report(tracer, args.n, per, args.top, args.lines)


def main() -> None:
    count_server(connection, "server connection")


def report(tracer: Tracer, n: int, per: str, top: int, lines: str | None) -> None:
    """Bytecodes per connection: in all, by file, the top functions, and the lines
    of the files matching ``lines``."""
    print(f"== {sum(tracer.counts.values()) / n:.0f} engine bytecodes per {per}")
    by_file: Counter[str] = Counter()
    for key, value in tracer.counts.items():
        by_file[key.split(":")[0]] += value
    for name, value in by_file.most_common(30):
        print(f"  {value / n:7.0f}  {name}")
    print("  top functions (bytecodes, calls per connection):")
    for name, value in tracer.counts.most_common(top):
        print(f"  {value / n:7.0f}  {tracer.calls[name] / n:6.1f}  {name}")
    if lines:
        print(f"  lines of *{lines}*:")
        by_line = sorted(tracer.line_counts.items(), key=lambda i: (i[0][0], i[0][1] or 0))
        for (name, line), value in by_line:
            print(f"  {value / n:7.1f}  {name}:{line}")


if __name__ == "__main__":
    main()
