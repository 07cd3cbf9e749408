"""``SSLContext.sni_callback`` with ``ssl``'s semantics, on glasstls's engine.

The callback runs on the server when the ClientHello has arrived, before a
certificate is chosen, as ``callback(ssl_socket_or_object, server_name, context)``
(``server_name`` is the name the client sent, an ASCII A-label, or None). It may:

- return None: the handshake goes on, with the certificates of the connection's
  context, which the callback may have switched (``ssl_object.context = other``,
  another ``glasstls.SSLContext``: its certificate chains answer this client);
- return an alert number (``ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME``...): the
  handshake fails with that alert;
- raise: the handshake fails with handshake_failure, the exception as the cause.

Underneath it is ``ServerConfig.select_certificate``, made per connection.

    def choose(tls, server_name, context):
        if server_name == "other.example":
            tls.context = other_context
    server_context.sni_callback = choose
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..certs import CertifiedKey
from ..config import ServerConfig
from ..errors import AlertDescription, HandshakeFailure, InternalError, TLSError
from .channel import TLSChannel

SniCallback = Callable[[Any, "str | None", Any], "int | None"]


def sni_channel(context: Any, config: ServerConfig, callback: SniCallback,
                suppress_ragged_eofs: bool) -> TLSChannel:
    """A server channel whose certificate choice runs ``callback`` first."""
    made: list[TLSChannel] = []

    def select(server_name: str | None, client_hello: Any) -> tuple[CertifiedKey, ...] | None:
        channel = made.pop() if made else None  # once per handshake; breaks the cycle
        owner = channel.owner() if channel is not None and channel.owner else None
        if owner is None:
            return None
        return run_callback(callback, owner, server_name, context)

    channel = TLSChannel.server(dataclasses.replace(config, select_certificate=select),
                                suppress_ragged_eofs)
    made.append(channel)
    return channel


def run_callback(callback: SniCallback, owner: Any, server_name: str | None,
                 context: Any) -> tuple[CertifiedKey, ...] | None:
    """Call ``callback`` as ``ssl`` does; the chains of the context it switched to,
    None to keep the configured ones, or a ``TLSError`` with the alert to send."""
    owner._context_switchable = True
    try:
        result = callback(owner, server_name, context)
    except Exception as error:
        raise HandshakeFailure(f"sni_callback raised {type(error).__name__}: {error}"
                               ) from error
    finally:
        owner._context_switchable = False
    if result is not None:
        if isinstance(result, int) and not isinstance(result, bool):
            try:
                alert = AlertDescription(result)
            except ValueError:
                alert = AlertDescription.internal_error
            raise TLSError(f"sni_callback refused the server name {server_name!r}", alert)
        raise InternalError(f"sni_callback returned {result!r}: None or an alert number "
                            "(ssl.ALERT_DESCRIPTION_*) was expected")
    chosen = owner.context
    if chosen is context:
        return None
    certificates = getattr(chosen, "_glass_certificates", None)
    if certificates is None:
        raise InternalError("sni_callback switched to a context that is not a "
                            "glasstls.SSLContext")
    if not certificates:
        raise InternalError("sni_callback switched to a context without a certificate "
                            "(load_cert_chain)")
    return tuple(certificates)


__all__ = ["SniCallback", "run_callback", "sni_channel"]
