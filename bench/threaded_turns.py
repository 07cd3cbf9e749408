"""serve()'s loop counted per connection: turns (select() calls), ready
descriptors per turn, handshake steps, accept() looks, hand-offs to workers.

A stand-in for ``bench/sockets.py`` in a tree given to ``ab_servers.py``: make a
directory with ``bench/sockets.py`` a copy of this file and ``.venv/bin/python``
a script that runs a venv's python with ``PYTHONPATH`` on the tree to count
(``GLASSTLS_TURNS_BENCH``: the real bench directory, ``GLASSTLS_TURNS_OUT``: where
the counts go, appended as one JSON line when the server is terminated).
Only glasstls's threaded server is counted; ssl's runs as usual.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.environ["GLASSTLS_TURNS_BENCH"])

import glasstls.io.server as server

COUNTS = {"turns": 0, "ready": 0, "steps": 0, "accept_calls": 0, "established": 0,
          "empty_turns": 0}
_lock = threading.Lock()


def _patch() -> None:
    poller = server._EpollPoller
    select = poller.select

    def counted_select(self: Any, timeout: float | None) -> Any:
        ready = select(self, timeout)
        COUNTS["turns"] += 1
        COUNTS["ready"] += len(ready)
        if not ready:
            COUNTS["empty_turns"] += 1
        return ready

    poller.select = counted_select  # type: ignore[method-assign]
    loop = server._Loop
    step, accept = loop._step, loop._accept

    def counted_step(self: Any, handshake: Any) -> Any:
        COUNTS["steps"] += 1
        return step(self, handshake)

    def counted_accept(self: Any) -> Any:
        COUNTS["accept_calls"] += 1
        return accept(self)

    loop._step = counted_step  # type: ignore[method-assign]
    loop._accept = counted_accept  # type: ignore[method-assign]
    established = server.TLSServer._established

    def counted_established(self: Any, *args: Any) -> Any:
        with _lock:
            COUNTS["established"] += 1
        return established(self, *args)

    server.TLSServer._established = counted_established  # type: ignore[method-assign]


def _dump(*_: Any) -> None:
    with open(os.environ["GLASSTLS_TURNS_OUT"], "a") as handle:
        handle.write(json.dumps({"time": time.time(), **COUNTS}) + "\n")
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "_echo-server" and sys.argv[4] == "glasstls":
        _patch()
        signal.signal(signal.SIGTERM, _dump)
    from sockets_peers import run_role

    run_role(sys.argv[1:])
