"""The server's hello step, for both versions: the ClientHello picks the version,
and the handshake continues in ``server13`` or ``server12``."""

from __future__ import annotations

from ..config import ServerConfig
from ..constants import TLS12, TLS13, ExtensionType as X, HandshakeType as H
from ..errors import UnsupportedProtocolVersion
from ..messages.extensions import SupportedVersions, find_typed
from ..messages.handshake import ClientHello
from . import server12, server13
from .engine import Engine, State

_SSL3 = 0x0300


def negotiate_version(config: ServerConfig, hello: ClientHello) -> int:
    if hello.legacy_version <= _SSL3:
        # RFC 8446 Appendix D.5: a hello of SSL 3.0 or below is protocol_version.
        raise UnsupportedProtocolVersion(
            f"ClientHello legacy_version 0x{hello.legacy_version:04x} (SSL 3.0 or older)")
    versions = find_typed(hello.extensions, X.supported_versions, SupportedVersions)
    if versions is not None:
        # RFC 8446 §4.2.1: supported_versions decides; legacy_version is ignored...
        for version in (TLS13, TLS12):
            if version in versions.versions and version in config.versions:
                if version == TLS13 and hello.legacy_version != TLS12:
                    # ...but RFC 9846 §4.1.2: a TLS 1.3 ClientHello says 0x0303, and a
                    # server receiving another value MUST abort with protocol_version.
                    raise UnsupportedProtocolVersion(
                        f"TLS 1.3 ClientHello with legacy_version "
                        f"0x{hello.legacy_version:04x}, not 0x0303")
                return version
    elif hello.legacy_version >= TLS12 and TLS12 in config.versions:
        return TLS12
    raise UnsupportedProtocolVersion(
        "no protocol version in common (the client offers "
        + (", ".join(f"0x{v:04x}" for v in versions.versions)
           if versions else f"up to 0x{hello.legacy_version:04x}") + ")")


class ExpectClientHello(State):
    expects = {H.client_hello: ClientHello.parse}

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def handle(self, engine: Engine, message: ClientHello) -> State:
        version = negotiate_version(self.config, message)
        engine.set_version(version)
        if version == TLS12:
            return server12.handle_client_hello(engine, self.config, message)
        return server13.handle_client_hello(engine, self.config, message)


__all__ = ["ExpectClientHello", "negotiate_version"]
