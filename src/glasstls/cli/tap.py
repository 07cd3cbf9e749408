"""A byte-counting TCP relay for the demo: the client connects to it, it connects to
the server, and it copies bytes both ways, counting what crosses the wire.

TLS never sees it (it forwards bytes unchanged); it only answers "how many
bytes did this handshake cost?" without reaching into the transports.

    with Tap(("127.0.0.1", server_port)) as tap:
        glasstls.connect(tap.address, ...)
    print(tap.client_to_server, tap.server_to_client)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

_CHUNK = 65536
_JOIN_TIMEOUT = 10.0
_POLL = 0.1  # how often the acceptor checks whether the tap was closed


class Tap:
    """Relays one TCP connection from ``address`` (a free port on 127.0.0.1) to
    ``target``; ``close()`` waits for both directions to finish."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.client_to_server = 0
        self.server_to_client = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.address: tuple[str, int] = self._listener.getsockname()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="glasstls-tap",
                                          daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        self._listener.settimeout(_POLL)
        while True:
            try:
                client, _ = self._listener.accept()
                break
            except TimeoutError:
                if self._stop.is_set():
                    return  # closed before anyone connected
            except OSError:
                return
        client.settimeout(None)
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, server]
        for source, sink, name in ((client, server, "client_to_server"),
                                   (server, client, "server_to_client")):
            thread = threading.Thread(target=self._pump, args=(source, sink, name),
                                      name=f"glasstls-tap-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket, counter: str) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
                with self._lock:
                    setattr(self, counter, getattr(self, counter) + len(data))
        except OSError:
            pass  # a reset on either side ends this direction
        finally:
            # Pass the end of stream on, as a half-close.
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(_JOIN_TIMEOUT)
        with contextlib.suppress(OSError):
            self._listener.close()
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> Tap:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None, *rest: Any) -> None:
        self.close()


__all__ = ["Tap"]
