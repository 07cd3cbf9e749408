"""The browser page: an HTTPS server on glasstls that shows each visitor its own
handshake (``glasstls serve``).

``/`` is an HTML page, rendered on the server with nothing loaded from anywhere
else; ``/api/handshake`` is the same report as JSON. Both describe the
connection that carried the request: the ClientHello as received, its JA4
fingerprint, what was negotiated, the trace of the handshake with timestamps and
the certificate chain the server sent.

    server = glasstls.web.start_server(config, "127.0.0.1", 8443)
    server.serve_forever()
"""

from __future__ import annotations

from .ja4 import JA4, ja4
from .report import HandshakeRecorder, handshake_report
from .server import WebOptions, start_server

__all__ = ["JA4", "HandshakeRecorder", "WebOptions", "handshake_report", "ja4", "start_server"]
