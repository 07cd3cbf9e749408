"""Why a command failed, in one line, and the exit code for it.

    try:
        sock = glasstls.connect((host, port), config=config)
    except (OSError, GlassTLSError) as error:
        failure = explain(error, f"{host}:{port}", peer="server")
        print(f"glasstls client: {failure.message}", file=sys.stderr)
        return failure.exit_code
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass

from ..errors import (
    AlertReceivedError,
    BadCertificate,
    GlassTLSError,
    PlaintextPeer,
    TLSError,
    UsageError,
)
from ..trust import CertificateReason, CertificateRejected
from . import exitcodes

R = CertificateReason
_TRUST = "if you trust its CA, pass it with --cafile FILE"
_SKIP = "--insecure skips verification (testing only)"
# The next step for each certificate refusal, as the client command's options say it.
_NEXT_STEP = {
    R.SELF_SIGNED: "if you trust this certificate, pass it with --cafile FILE; " + _SKIP,
    R.SELF_SIGNED_IN_CHAIN: "if you trust that root, pass it with --cafile FILE; " + _SKIP,
    R.ISSUER_NOT_FOUND: ("the server should send its intermediates; or " + _TRUST
                         + "; " + _SKIP),
    R.INCOMPLETE_CHAIN: "add the root of that CA to --cafile FILE",
    R.NAME_MISMATCH: ("connect by a name the certificate holds, or say which name to check "
                      "with --servername NAME"),
    R.IP_MISMATCH: ("connect by a name the certificate holds, or say which name to check "
                    "with --servername NAME"),
    R.EXPIRED: "the server needs a renewed certificate (or this machine's clock is wrong); "
               + _SKIP,
    R.NOT_YET_VALID: "check this machine's clock; " + _SKIP,
    R.REVOKED: "do not trust this server with this certificate",
    R.UNSUPPORTED_SIGNATURE: ("pass the server's own certificate with --cafile FILE, or "
                              + _SKIP),
}


@dataclass(frozen=True)
class Failure:
    message: str
    exit_code: int


class CommandError(Exception):
    """A failure a command found itself (bad option value, unreadable file)."""

    def __init__(self, message: str, exit_code: int = exitcodes.USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _plain(error: TLSError) -> str:
    """A TLSError's message without the "(alert_name)" its ``str`` appends."""
    return Exception.__str__(error)


def _tls_failure(cause: TLSError, peer: str) -> Failure:
    alert = cause.alert
    if isinstance(cause, PlaintextPeer):
        return Failure(f"the {peer} sent plain text ({cause.preview!r}): not TLS (is this "
                       "the right port?)", exitcodes.TLS)
    if isinstance(cause, AlertReceivedError):
        return Failure(f"handshake failed: the {peer} sent the fatal alert {alert.name} "
                       f"({alert.meaning})", exitcodes.TLS)
    if isinstance(cause, BadCertificate):
        step = (_NEXT_STEP.get(cause.reason, "")
                if isinstance(cause, CertificateRejected) and peer == "server" else "")
        return Failure(f"certificate rejected: {_plain(cause)} (sent alert {alert.name})"
                       + (f"; {step}" if step else ""), exitcodes.CERTIFICATE)
    return Failure(f"handshake failed: {_plain(cause)} (sent alert {alert.name}: "
                   f"{alert.meaning})", exitcodes.TLS)


def explain(error: BaseException, target: str = "", peer: str = "server") -> Failure:
    """The message and exit code for ``error``, raised while talking to ``target``
    (``"host:port"``) whose role is ``peer`` ("server" or "client").

    >>> explain(ConnectionRefusedError(111, "Connection refused"), "localhost:1").exit_code
    3
    """
    where = f" {target}" if target else ""
    if isinstance(error, CommandError):
        return Failure(str(error), error.exit_code)
    if isinstance(error, UsageError):
        return Failure(str(error), exitcodes.USAGE)
    if isinstance(error, TLSError):
        return _tls_failure(error, peer)
    if isinstance(error, GlassTLSError):
        return Failure(str(error), exitcodes.TLS)
    if isinstance(error, ssl.SSLError):
        cause = error.__cause__
        if isinstance(cause, TLSError):
            return _tls_failure(cause, peer)
        if isinstance(error, ssl.SSLEOFError):
            return Failure(f"the {peer} closed the connection without finishing the TLS "
                           "exchange (no alert)", exitcodes.NETWORK)
        return Failure(f"TLS failure: {error}", exitcodes.TLS)
    if isinstance(error, socket.gaierror):
        return Failure(f"cannot resolve{where}: {error.strerror or error}", exitcodes.NETWORK)
    if isinstance(error, ConnectionRefusedError):
        return Failure(f"connection refused by{where}: nothing is listening on that port",
                       exitcodes.NETWORK)
    if isinstance(error, TimeoutError):
        return Failure(f"timed out talking to{where}" if where else
                       f"timed out waiting for the {peer}", exitcodes.NETWORK)
    if isinstance(error, (ConnectionResetError, BrokenPipeError)):
        return Failure(f"the {peer}{where} dropped the connection", exitcodes.NETWORK)
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
        if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return Failure(f"cannot reach{where}: {reason}", exitcodes.NETWORK)
        return Failure(f"network error with{where}: {reason}" if where else reason,
                       exitcodes.NETWORK)
    return Failure(f"{type(error).__name__}: {error}", exitcodes.TLS)


__all__ = ["CommandError", "Failure", "explain"]
