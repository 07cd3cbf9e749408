"""Servers on Python's own ``ssl``, in a thread, for tests that need a peer whose
endings are ``ssl``'s (its ``shutdown()`` closes TCP without close_notify)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def python_tls_listener(context: ssl.SSLContext, handler: Callable[[ssl.SSLSocket], None]
                        ) -> Iterator[int]:
    """One connection served by ``handler(ssl_socket)`` in a thread; yields the
    port. Exceptions in the handler fail the test at exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            plain, _ = listener.accept()
            # Strict about endings, so that a test can tell close_notify from EOF.
            with context.wrap_socket(plain, server_side=True,
                                     suppress_ragged_eofs=False) as tls:
                handler(tls)
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(30)
        listener.close()
    if errors:
        raise errors[0]
