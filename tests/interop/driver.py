"""A tiny blocking driver: a glasstls connection over a real socket.

Deliberately minimal and local to the interop tests (the official blocking and
asyncio layers live in ``glasstls.io``); it can be swapped for them later.
Every wait has a deadline, so a silent peer fails a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from glasstls import (
    ClientConfig,
    ClientConnection,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from glasstls.events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    Event,
    HandshakeComplete,
)
from glasstls.trace import TraceEvent

TIMEOUT = 10.0


class PeerWentAway(Exception):
    """The peer closed the TCP connection while we still waited for something."""


class GlassSocket:
    """One glasstls connection driven over one blocking socket."""

    def __init__(self, connection: ClientConnection | ServerConnection,
                 sock: socket.socket, timeout: float = TIMEOUT) -> None:
        self.connection = connection
        self.sock = sock
        self.timeout = timeout
        self.events: list[Event] = []
        self.received = bytearray()
        self.peer_closed = False  # close_notify received
        self.eof = False  # TCP FIN received

    @property
    def negotiated(self) -> HandshakeComplete:
        assert self.connection.negotiated is not None, "handshake not complete"
        return self.connection.negotiated

    def handshake(self) -> HandshakeComplete:
        self._wait(lambda: self.connection.handshake_complete, "the handshake to complete")
        return self.negotiated

    def send(self, data: bytes) -> None:
        self.connection.send(data)
        self._flush()

    def receive_until(self, marker: bytes) -> bytes:
        """Application data up to and including ``marker``; the rest stays buffered."""
        self._wait(lambda: marker in self.received, f"{marker!r} from the peer")
        end = self.received.index(marker) + len(marker)
        data = bytes(self.received[:end])
        del self.received[:end]
        return data

    def receive_exactly(self, size: int) -> bytes:
        self._wait(lambda: len(self.received) >= size, f"{size} bytes from the peer")
        data = bytes(self.received[:size])
        del self.received[:size]
        return data

    def receive_until_closed(self) -> bytes:
        """Everything up to the peer's close_notify."""
        self._wait(lambda: self.peer_closed, "close_notify from the peer")
        data = bytes(self.received)
        self.received.clear()
        return data

    def close(self) -> None:
        """Send close_notify (the socket stays open: see ``shutdown``)."""
        self.connection.close()
        self._flush()

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        self.sock.close()

    # -- internals ----------------------------------------------------------------

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.sock.sendall(data)

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        self._flush()
        while not done():
            if self.eof:
                raise PeerWentAway(f"the peer closed the connection before {what}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {self.timeout}s waiting for {what}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(
                    f"timed out after {self.timeout}s waiting for {what}") from None
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                continue
            try:
                events = self.connection.receive_data(data)
            except TLSError:
                # Let the peer see our alert before the test reports the error.
                with contextlib.suppress(OSError):
                    self._flush()
                raise
            self._absorb(events)
            self._flush()
            if any(isinstance(e, AlertReceived) and e.fatal for e in events):
                # The engine reports a fatal alert as an event, then fails on the next
                # call: make that call now rather than wait for bytes that won't come.
                self.connection.receive_data(b"")

    def _absorb(self, events: list[Event]) -> None:
        for event in events:
            self.events.append(event)
            if isinstance(event, ApplicationData):
                self.received += event.data
            elif isinstance(event, ConnectionClosed):
                self.peer_closed = True


@dataclass
class Tracer:
    """A ``trace`` callback for a config that keeps every step it is shown."""

    steps: list[TraceEvent] = field(default_factory=list)

    def __call__(self, event: TraceEvent) -> None:
        self.steps.append(event)

    def saw(self, step: str, action: str | None = None) -> bool:
        return any(e.step == step and (action is None or e.action == action)
                   for e in self.steps)

    def names(self) -> list[str]:
        return [f"{e.step}:{e.action}" for e in self.steps]


@contextlib.contextmanager
def glass_client(port: int, config: ClientConfig, server_name: str | None = "localhost",
                 host: str = "127.0.0.1", timeout: float = TIMEOUT) -> Iterator[GlassSocket]:
    """Connect to ``host:port`` and yield the (not yet handshaken) client."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        yield GlassSocket(ClientConnection(config, server_name=server_name), sock, timeout)
    finally:
        sock.close()


class GlassServer:
    """Accept ``connections`` connections (one by default) on 127.0.0.1, one after
    the other, in a thread, and run ``handler`` on each.

    ``join()`` waits for the handler and re-raises whatever it raised, so an
    assertion or TLS error in the server thread fails the test. ``glass`` and
    ``result`` are those of the latest connection; ``sockets`` and ``results`` hold
    every connection's (for resumption tests, whose peers reconnect).
    """

    def __init__(self, config: ServerConfig, handler: Callable[[GlassSocket], Any],
                 timeout: float = TIMEOUT, connections: int = 1) -> None:
        self.config = config
        self.handler = handler
        self.timeout = timeout
        self.connections = connections
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(connections)
        self.listener.settimeout(timeout)
        self.port: int = self.listener.getsockname()[1]
        self.glass: GlassSocket | None = None
        self.result: Any = None
        self.sockets: list[GlassSocket] = []
        self.results: list[Any] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="glasstls-server", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for number in range(1, self.connections + 1):
                if not self._serve_one(last=number == self.connections):
                    return
        finally:
            with contextlib.suppress(OSError):
                self.listener.close()

    def _serve_one(self, last: bool) -> bool:
        try:
            sock, _ = self.listener.accept()
        except BaseException as error:
            self.error = error
            return False
        if last:
            self.listener.close()  # nobody else is let in
        try:
            self.glass = GlassSocket(ServerConnection(self.config), sock, self.timeout)
            self.sockets.append(self.glass)
            self.result = self.handler(self.glass)
            self.results.append(self.result)
        except BaseException as error:
            self.error = error
            return False
        finally:
            _close_gracefully(sock)
        return True

    def join(self) -> Any:
        self._thread.join(self.timeout * self.connections + 5)
        if self._thread.is_alive():
            raise TimeoutError("the glasstls server thread did not finish")
        if self.error is not None:
            raise self.error
        return self.result

    def stop(self) -> None:
        """Unblock and reap the thread (for teardown; errors are left to ``join``)."""
        with contextlib.suppress(OSError):
            # On Linux, shutdown() wakes a thread blocked in accept(); close() does not.
            self.listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.listener.close()
        if self.glass is not None:
            with contextlib.suppress(OSError):
                self.glass.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(self.timeout * self.connections + 5)


def _close_gracefully(sock: socket.socket, linger: float = 1.0) -> None:
    """Close after the peer has finished sending: closing a socket with unread
    bytes makes the kernel answer with a reset, which a peer still writing (an
    s_client sending its input after early data, say) reports as an error."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(linger)
        while sock.recv(65536):
            pass
    sock.close()


def echo_once(reply_prefix: bytes = b"glasstls-server got: ") -> Callable[[GlassSocket], bytes]:
    """A server handler: handshake, read one line, answer it, close; returns the line."""

    def handler(glass: GlassSocket) -> bytes:
        glass.handshake()
        line = glass.receive_until(b"\n")
        glass.send(reply_prefix + line)
        glass.close()
        return line

    return handler


class Background:
    """Run ``function(*args)`` in a daemon thread; ``join()`` returns its result or
    re-raises its exception (a peer written in Python, run beside the test)."""

    def __init__(self, function: Callable[..., Any], *args: Any,
                 timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, *args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[..., Any], *args: Any) -> None:
        try:
            self.result = function(*args)
        except BaseException as error:
            self.error = error

    def join(self) -> Any:
        self._thread.join(self.timeout + 5)
        if self._thread.is_alive():
            raise TimeoutError("the peer thread did not finish")
        if self.error is not None:
            raise self.error
        return self.result


def listen() -> socket.socket:
    """A listening socket on 127.0.0.1 with a free port, accept() bounded by TIMEOUT."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    return listener


class KeyLog(list[str]):
    """A glasstls ``keylog`` callback keeping the NSS key log lines."""

    def __call__(self, line: str) -> None:
        self.append(line)

    def master_secret(self) -> bytes:
        """The TLS 1.2 master secret (the one ``CLIENT_RANDOM`` line)."""
        (line,) = [entry for entry in self if entry.startswith("CLIENT_RANDOM ")]
        return bytes.fromhex(line.split()[2])
