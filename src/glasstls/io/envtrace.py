"""``GLASSTLS_TRACE``: watch the handshakes of a program that was not written to
show them.

    GLASSTLS_TRACE=1 python myscript.py       # text on stderr, as `glasstls client --trace`
    GLASSTLS_TRACE=json python myscript.py    # one JSON object per line instead

Every connection made through ``glasstls.SSLContext`` while the variable is set
sends its ``TraceEvent``\\ s here, besides any ``trace=`` callback of the context.
Each line is labelled with the connection's number, and times count from that
connection's first event. The variable is read each time a connection is made.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from typing import Any

from ..trace import TraceCallback, TraceEvent

VARIABLE = "GLASSTLS_TRACE"
# Connections whose view (time origin, what each side sent) is kept; a long-lived
# server forgets the oldest.
_VIEWS_KEPT = 64


class StderrTrace:
    """Renders trace events on ``sys.stderr`` in the CLI's format."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self._views: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, event: TraceEvent) -> None:
        # The renderer is the command line's, loaded only when asked for.
        from ..cli.render import open_view

        with self._lock:
            view = self._views.get(event.connection)
            if view is None:
                view = open_view(sys.stderr, json_lines=self.json_lines)
                self._views[event.connection] = view
                if len(self._views) > _VIEWS_KEPT:
                    self._views.popitem(last=False)
            # JSON lines carry the connection's number in the event itself.
            view.event(event, label="" if self.json_lines else f"#{event.connection}")


_TEXT = StderrTrace(json_lines=False)
_JSON = StderrTrace(json_lines=True)


def trace_from_environment() -> TraceCallback | None:
    """The stderr renderer if ``GLASSTLS_TRACE`` asks for one (``1``, ``text`` or
    ``json``; empty or ``0`` is off)."""
    value = os.environ.get(VARIABLE, "").strip().lower()
    if value in ("", "0", "no", "off", "false"):
        return None
    return _JSON if value == "json" else _TEXT


def combine(first: TraceCallback | None, second: TraceCallback | None
            ) -> TraceCallback | None:
    """One callback calling both (either may be None)."""
    if first is None or second is None:
        return first or second

    def both(event: TraceEvent) -> None:
        first(event)
        second(event)

    return both


__all__ = ["StderrTrace", "combine", "trace_from_environment"]
