"""Bytecodes of ``ClientHello.parse`` on Python ssl's ClientHellos, for the shape a
server remembers (``messages/hello_block.py``): one client again and again, two
clients in turn, and a new client (another server name, so another shape) every
time. Deterministic (a tracer's opcode events); run it on two trees to compare.

    .venv/bin/python bench/hello_shape_cost.py --src src
"""

from __future__ import annotations

import argparse
import contextlib
import os
import ssl
import sys
from typing import Any


def _hello(name: str) -> bytes:
    """ssl's ClientHello to ``name``, as the server parses it (the record's body)."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname=name)
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()[5:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.src))
    from glasstls.messages.handshake import ClientHello

    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    def global_(frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    def traced(raw: bytes) -> int:
        nonlocal count
        count = 0
        sys.settrace(global_)
        try:
            ClientHello.parse(raw)
        finally:
            sys.settrace(None)
        return count

    a, b = _hello("a.example"), _hello("bb.example")
    others = [_hello(f"h{i}.example") for i in range(40)]
    print("one client, four hellos:", [traced(x) for x in (a, a, a, a)])
    print("two clients in turn:", [traced(x) for x in (a, b, a, b, a, b)])
    counts = [traced(x) for x in others]
    print(f"a new client every time: {sum(counts[8:]) / 32:.0f} per hello on average")


if __name__ == "__main__":
    main()
