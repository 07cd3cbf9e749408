"""``glasstls server`` on a terminal: single keys act on the open connections, as
``openssl s_server`` reads commands from its terminal.

    k   send a KeyUpdate (new sending keys)
    K   send a KeyUpdate asking the client to update its keys too (update_requested)
    c   ask the client for a certificate after the handshake (TLS 1.3 post-handshake
        authentication; the client must have offered it, e.g. openssl s_client -enable_pha)
    q   stop the server (as Ctrl-C)

KeyUpdate and post-handshake authentication exist only in TLS 1.3 (RFC 8446
§4.6.3, §4.6.2); a TLS 1.2 connection says so instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import GlassTLSError
from ..io import TLSSocket

KEYS_HELP = ("keys: k KeyUpdate, K KeyUpdate asking for one back, c request a client "
             "certificate, q quit")


class OpenConnections:
    """The connections being served, by label, for actions that come from outside
    their handler thread (a key press)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[str, TLSSocket] = {}

    @contextlib.contextmanager
    def serving(self, label: str, sock: TLSSocket) -> Iterator[None]:
        with self._lock:
            self._sockets[label] = sock
        try:
            yield
        finally:
            with self._lock:
                self._sockets.pop(label, None)

    def snapshot(self) -> list[tuple[str, TLSSocket]]:
        with self._lock:
            return list(self._sockets.items())


def key_update(sock: TLSSocket, request_peer_update: bool) -> str:
    """Send a KeyUpdate on ``sock``; the words for the log."""
    if sock.version() != "TLSv1.3":
        return f"no KeyUpdate: this connection is {sock.version()} (KeyUpdate is TLS 1.3 only)"
    sock.key_update(request_peer_update)
    return ("KeyUpdate sent (update_requested: the client must update its keys too)"
            if request_peer_update else "KeyUpdate sent (update_not_requested)")


def request_certificate(sock: TLSSocket) -> str:
    if sock.version() != "TLSv1.3":
        return (f"no certificate request: this connection is {sock.version()} (post-handshake "
                "authentication is TLS 1.3 only)")
    try:
        sock.verify_client_post_handshake()
    except ssl.SSLError as error:
        cause = error.__cause__
        return f"no certificate request: {cause if cause is not None else error}"
    return "CertificateRequest sent (post-handshake authentication)"


def act(key: str, connections: OpenConnections, log: Callable[[str, str], None]) -> bool:
    """Apply one key to every open connection; False for keys that mean nothing."""
    if key == "q":
        # A real SIGINT (not _thread.interrupt_main) also wakes a main thread
        # blocked in accept(): it stops the server as Ctrl-C does.
        os.kill(os.getpid(), signal.SIGINT)
        return True
    actions: dict[str, Callable[[TLSSocket], str]] = {
        "k": lambda sock: key_update(sock, False),
        "K": lambda sock: key_update(sock, True),
        "c": request_certificate,
    }
    action = actions.get(key)
    if action is None:
        return False
    open_now = connections.snapshot()
    if not open_now:
        log("", f"'{key}': no connection is open")
    for label, sock in open_now:
        try:
            log(label, action(sock))
        except (OSError, GlassTLSError) as error:
            log(label, f"'{key}' failed: {error}")
    return True


def start_key_reader(connections: OpenConnections, log: Callable[[str, str], None]
                     ) -> Callable[[], None] | None:
    """On a terminal: read single key presses (no Enter needed) in a thread; returns
    the function that restores the terminal. None when stdin is not a terminal."""
    try:
        descriptor = sys.stdin.fileno()
        if not os.isatty(descriptor):
            return None
    except (AttributeError, ValueError, OSError):
        return None
    import termios
    import tty

    saved: Any = termios.tcgetattr(descriptor)
    tty.setcbreak(descriptor)

    def read_keys() -> None:
        while True:
            try:
                data = os.read(descriptor, 1)
            except OSError:
                return
            if not data:
                return
            act(data.decode("ascii", "replace"), connections, log)

    threading.Thread(target=read_keys, name="glasstls-server-keys", daemon=True).start()

    def restore() -> None:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)

    return restore


__all__ = ["KEYS_HELP", "OpenConnections", "act", "key_update", "request_certificate",
           "start_key_reader"]
