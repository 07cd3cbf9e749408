"""The server engine's bytecodes in its hello step alone: a new ``ServerConnection``
fed the client's ClientHello, up to its whole flight taken (``aio_steps.py``'s
``hello`` step, the latency a client waits for), full or resumed. The same client
(Python's ssl, the sockets bench's context), config and counting as
``engine_server_bytecodes.py``, whose whole connection this is the first part of.

    .venv/bin/python bench/hello_step_bytecodes.py --src src [--n 20] [--resumed] \
        [--lines NAME] [--top 50]
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from engine_server_bytecodes import Tracer, count_server


def connection(config: Any, context: ssl.SSLContext, tracer: Tracer | None,
               session: ssl.SSLSession | None) -> ssl.SSLSession | None:
    """One connection, its hello step traced; the rest as engine_server_bytecodes.py's."""
    from glasstls import ServerConnection

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost",
                              session=session)
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    hello = outgoing.read()

    def hello_step() -> tuple[Any, bytes]:
        server = ServerConnection(config)
        server.receive_data(hello)
        return server, b"".join(server.buffers_to_send())

    server, flight = tracer.run(hello_step) if tracer else hello_step()
    incoming.write(flight)
    client.do_handshake()
    client.write(b"PING" * 4)
    for event in server.receive_data(outgoing.read()):
        payload = getattr(event, "data", None)
        if payload:
            server.send(payload)
    incoming.write(b"".join(server.buffers_to_send()))
    assert client.read(100) == b"PING" * 4
    assert session is None or client.session_reused
    new_session = client.session
    with contextlib.suppress(ssl.SSLWantReadError):
        client.unwrap()
    return new_session


def main() -> None:
    count_server(connection, "hello step")


if __name__ == "__main__":
    main()
