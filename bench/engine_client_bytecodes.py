"""The engine's bytecodes per client connection, in memory: a glasstls
``ClientConnection`` (the sockets bench's client config) against Python's ssl server
over ``ssl.MemoryBIO`` (the sockets bench's server context); a full TLS 1.3
handshake (``--resumed``: resuming the session of the connection before it, from the
config's session cache), a 16-byte echo and close_notify both ways. Only the client's engine calls
are traced, as ``engine_server_bytecodes.py`` traces the server's (its tracer and
printout); ``--lines NAME`` prints the bytecodes per line of the functions whose name
contains NAME.

    .venv/bin/python bench/engine_client_bytecodes.py --src src [--n 20] [--top 50]
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

from engine_server_bytecodes import Tracer, arguments, report

HERE = os.path.dirname(os.path.abspath(__file__))


def connection(config: Any, context: ssl.SSLContext, tracer: Tracer | None) -> None:
    from glasstls import ClientConnection

    run: Callable[[Callable[[], Any]], Any] = tracer.run if tracer else (lambda f: f())
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = context.wrap_bio(incoming, outgoing, server_side=True)
    client = run(lambda: ClientConnection(config, server_name="localhost"))

    def to_server() -> None:
        incoming.write(run(lambda: client.data_to_send()))

    def from_server() -> list[Any]:
        data = outgoing.read()
        return run(lambda: client.receive_data(data)) if data else []

    to_server()  # ClientHello
    with contextlib.suppress(ssl.SSLWantReadError):
        server.do_handshake()
    from_server()  # the server's flight
    to_server()  # Finished
    server.do_handshake()
    run(lambda: client.send(b"PING" * 4))
    to_server()
    assert server.read(100) == b"PING" * 4
    server.write(b"PING" * 4)
    events = from_server()  # tickets and the echo
    assert any(getattr(event, "data", None) == b"PING" * 4 for event in events)
    run(lambda: client.close())
    to_server()
    with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):
        server.read(100)
    with contextlib.suppress(ssl.SSLWantReadError):
        server.unwrap()
    from_server()  # close_notify


def main() -> None:
    args = arguments()
    import sockets_peers as peers

    with tempfile.TemporaryDirectory() as pki_dir:
        peers.make_pki(pki_dir)
        pki = peers.load_pki(pki_dir)
        config = peers.glasstls_client_config(pki, "aes128gcm")
        if not args.resumed:
            config = dataclasses.replace(config, session_cache=None)
        context = peers.ssl_server_context(pki)
        for _ in range(5):
            connection(config, context, None)
        tracer = Tracer(args.lines)
        for _ in range(args.n):
            connection(config, context, tracer)
    kind = "resumed" if args.resumed else "full"
    report(tracer, args.n, f"client connection ({kind})", args.top, args.lines)

if __name__ == "__main__":
    main()
