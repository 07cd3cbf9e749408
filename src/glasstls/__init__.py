"""glasstls: TLS 1.3 and TLS 1.2 in Python that you can see through."""

from __future__ import annotations

from . import connection, events
from .certs import CertifiedKey, TrustStore
from .config import ClientConfig, ServerConfig
from .connection import ClientConnection, ServerConnection
from .constants import CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme
from .errors import (
    AlertDescription,
    BadCertificate,
    ConfigError,
    ConnectionClosedError,
    DecodeError,
    GlassTLSError,
    PeerIncompatible,
    PeerMisbehaved,
    TLSError,
    UsageError,
)
from .io import (
    KeyLogFile,
    SSLContext,
    TLSServer,
    TLSSocket,
    aio,
    connect,
    create_default_context,
    serve,
)

__version__ = "0.1.0"
# Whether the engine's hot modules are the optional mypyc-compiled build
# (GLASSTLS_COMPILE=1 at install, hatch_build.py) rather than the pure-Python reference.
__compiled__: bool = not connection.__file__.endswith(".py")

__all__ = [
    "AlertDescription", "BadCertificate", "CertifiedKey", "CipherSuite", "ClientConfig",
    "ClientConnection", "ConfigError", "ConnectionClosedError", "DecodeError",
    "GlassTLSError", "KeyLogFile", "NamedGroup", "PeerIncompatible", "PeerMisbehaved",
    "ProtocolVersion", "SSLContext", "ServerConfig", "ServerConnection", "SignatureScheme",
    "TLSError", "TLSServer", "TLSSocket", "TrustStore", "UsageError", "aio", "connect",
    "create_default_context", "events", "serve",
]
