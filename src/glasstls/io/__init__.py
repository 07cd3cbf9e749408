"""glasstls over real transports: blocking sockets, asyncio, and an ``ssl``-compatible
``SSLContext``. The engine stays sans-I/O; everything here moves its bytes.

    sock = glasstls.connect(("example.com", 443))                  # TLSSocket
    reader, writer = await glasstls.aio.open_connection("example.com", 443)
    urllib.request.urlopen(url, context=glasstls.SSLContext())     # drop-in
"""

from __future__ import annotations

from . import aio
from .channel import TLSChannel, TLSInfo
from .context import SSLContext, create_default_context
from .keylog import KeyLogFile
from .server import TLSServer, client_address, serve
from .sockets import TLSSocket, connect, start_tls
from .sslobject import TLSObject

__all__ = ["KeyLogFile", "SSLContext", "TLSChannel", "TLSInfo", "TLSObject", "TLSServer",
           "TLSSocket", "aio", "client_address", "connect", "create_default_context", "serve",
           "start_tls"]
