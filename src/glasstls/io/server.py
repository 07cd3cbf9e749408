"""A threaded blocking server: ``serve(address, handler, config=...)``.

Each accepted connection gets its own thread, which runs the handshake and then
calls ``handler(tls_socket, client_address)``; the socket is closed (with
close_notify) when the handler returns. A failed handshake is logged and does
not reach the handler. ``max_connections`` bounds how many are served at once
(the rest wait in the listen backlog); ``connection_config`` gives each
connection a config of its own, say with its own trace callback.

    def echo(sock: TLSSocket, address) -> None:
        while data := sock.recv(65536):
            sock.sendall(data)

    with glasstls.serve(("127.0.0.1", 8443), echo, config=server_config) as server:
        print("listening on", server.address)
        server.serve_forever()          # until server.close() from another thread
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..config import ServerConfig
from .channel import TLSChannel
from .keylog import with_environment_keylog
from .sockets import TLSSocket

logger = logging.getLogger("glasstls.io")

# serve()'s default bound on connections handshaking or being served at once. Each
# holds a thread (and its stack) and two descriptors: 512 stays under the common
# 1024-descriptor limit and within a small machine's memory, where no limit let
# idle clients exhaust threads. Pass max_connections=None for no bound.
DEFAULT_MAX_CONNECTIONS = 512
# How long the accept loop waits after accept() failed for want of descriptors or
# memory, instead of spinning on a listener that stays readable.
ACCEPT_BACKOFF = 0.1
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

Handler = Callable[[TLSSocket, Any], None]
ConnectionConfig = Callable[[ServerConfig], ServerConfig]


class TLSServer:
    """A listening socket whose connections are served on threads. Made by
    ``serve()``; stop it with ``close()`` (or a ``with`` block)."""

    def __init__(self, listener: socket.socket, handler: Handler, config: ServerConfig,
                 handshake_timeout: float | None, timeout: float | None,
                 max_connections: int | None = None,
                 connection_config: ConnectionConfig | None = None) -> None:
        self._listener = listener
        self._handler = handler
        self._config = config
        self._connection_config = connection_config
        self._handshake_timeout = handshake_timeout
        self._timeout = timeout
        self._max_connections = max_connections
        self._active = 0  # connections accepted and not finished (under _capacity)
        self._capacity = threading.Condition()
        self._stop = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._connections: set[TLSSocket] = set()
        self._acceptor = threading.Thread(target=self._accept_loop, name="glasstls-accept",
                                          daemon=True)
        self.address: Any = listener.getsockname()
        self._acceptor.start()

    def serve_forever(self) -> None:
        """Block until ``close()`` is called (from another thread or a signal)."""
        self._stop.wait()
        self._acceptor.join()

    def close(self, wait: bool = True, abort_connections: bool = False) -> None:
        """Stop accepting. With ``wait``, join the handler threads (after closing
        their sockets first if ``abort_connections``)."""
        if not self._stop.is_set():
            self._stop.set()
            with self._capacity:
                self._capacity.notify_all()
            with contextlib.suppress(OSError):
                self._wake_writer.send(b"x")
            self._acceptor.join()
            self._listener.close()
            self._wake_reader.close()
            self._wake_writer.close()
        if abort_connections:
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if wait:
            with self._lock:
                workers = list(self._workers)
            for worker in workers:
                worker.join()

    def __enter__(self) -> TLSServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(abort_connections=True)

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_reader or self._stop.is_set():
                        return
                    if not self._take_slot():
                        return
                    try:
                        plain, address = self._listener.accept()
                    except OSError as error:
                        self._release_slot()
                        logger.debug("accept failed: %s", error)
                        if error.errno in _OUT_OF_RESOURCES:
                            # The client stays in the backlog and the listener stays
                            # readable: wait for descriptors or memory to come back.
                            self._stop.wait(ACCEPT_BACKOFF)
                        continue
                    self._start_worker(plain, address)

    def _start_worker(self, plain: socket.socket, address: Any) -> None:
        """Serve the connection on a thread of its own; when no thread can be had
        (a thread limit, no memory), close that connection and keep accepting."""
        worker: threading.Thread | None = None
        try:
            worker = threading.Thread(target=self._serve_one, args=(plain, address),
                                      name=f"glasstls-{address}", daemon=True)
            with self._lock:
                self._workers.add(worker)
            worker.start()
        except Exception as error:  # RuntimeError ("can't start new thread"), MemoryError
            logger.error("no thread to serve %s (%s): connection closed", address, error)
            if worker is not None:
                with self._lock:
                    self._workers.discard(worker)
            plain.close()
            self._release_slot()

    def _take_slot(self) -> bool:
        """Wait while ``max_connections`` are being served (new clients stay in
        the listen backlog meanwhile); False once the server is closing."""
        with self._capacity:
            while (self._max_connections is not None
                   and self._active >= self._max_connections and not self._stop.is_set()):
                self._capacity.wait()
            if self._stop.is_set():
                return False
            self._active += 1
            return True

    def _release_slot(self) -> None:
        with self._capacity:
            self._active -= 1
            self._capacity.notify()

    def _serve_one(self, plain: socket.socket, address: Any) -> None:
        try:
            plain.settimeout(self._handshake_timeout)
            try:
                config = (self._connection_config(self._config)
                          if self._connection_config is not None else self._config)
            except Exception:
                logger.exception("connection_config for %s failed", address)
                plain.close()
                return
            try:
                sock = TLSSocket._create(plain, server_side=True,
                                         make_channel=lambda: TLSChannel.server(config))
            except (OSError, ValueError) as error:
                logger.info("TLS handshake with %s failed: %s", address, error)
                plain.close()
                return
            with self._lock:
                self._connections.add(sock)
            try:
                sock.settimeout(self._timeout)
                with sock:
                    self._handler(sock, address)
            except Exception:
                logger.exception("handler for %s failed", address)
            finally:
                with self._lock:
                    self._connections.discard(sock)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())
            self._release_slot()


def serve(address: tuple[str, int], handler: Handler, *, config: ServerConfig,
          backlog: int = 128, handshake_timeout: float | None = 30.0,
          timeout: float | None = None, reuse_address: bool = True,
          max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
          connection_config: ConnectionConfig | None = None) -> TLSServer:
    """Listen on ``address`` and serve each connection on its own thread.

    ``handler(sock, client_address)`` gets a ``TLSSocket`` whose handshake is
    done; ``timeout`` is that socket's timeout (None: blocking). Port 0 picks a
    free port: read it from ``server.address``. Keys are logged to
    ``$SSLKEYLOGFILE`` when it is set and the config has no ``keylog``.
    At most ``max_connections`` connections (default 512; None: no limit) are
    handshaking or being served at once; the rest wait in the listen backlog. A
    connection for which no thread can be started is closed, and the server goes
    on accepting. ``connection_config(config)``, when given, makes each
    connection's own config, e.g. ``lambda c: dataclasses.replace(c,
    trace=Recorder())``; the handler finds it in ``sock.connection.config``.

    >>> server = glasstls.serve(("127.0.0.1", 0), echo, config=config)
    >>> host, port = server.address
    >>> server.close()
    """
    if max_connections is not None and max_connections < 1:
        raise ValueError("max_connections must be at least 1 (or None)")
    server_config = with_environment_keylog(config)
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuse_address:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(backlog)
        return TLSServer(listener, handler, server_config, handshake_timeout, timeout,
                         max_connections, connection_config)
    except BaseException:
        listener.close()
        raise


__all__ = ["DEFAULT_MAX_CONNECTIONS", "ConnectionConfig", "Handler", "TLSServer", "serve"]
