"""glasstls errors as the ``ssl`` module's exception types.

Programs written against ``ssl`` catch ``ssl.SSLError`` and its subclasses, and
asyncio's SSL protocol tells "try again later" from failure by those types. The
transports in this package raise only these; the glasstls ``TLSError`` that caused
one is its ``__cause__``, and its alert is the ``alert`` attribute.

    try:
        sock = glasstls.connect(("example.com", 443))
    except ssl.SSLCertVerificationError as error:
        print(error.verify_message, error.__cause__)
"""

from __future__ import annotations

import ssl

from ..errors import AlertDescription, AlertReceivedError, BadCertificate, GlassTLSError

# OpenSSL's X509_V_ERR_* codes for the failures glasstls tells apart, so that code
# inspecting ``verify_code`` sees the number it would see with ``ssl``.
_X509_V_ERR_UNSPECIFIED = 1
_X509_V_ERR_CERT_HAS_EXPIRED = 10
_X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
_X509_V_ERR_INVALID_PURPOSE = 26
_X509_V_ERR_HOSTNAME_MISMATCH = 62

# Alerts OpenSSL names SSLV3_ALERT_* (they existed in SSL 3.0) and TLSV13_ALERT_*.
_SSLV3_ALERTS = frozenset({10, 20, 30, 40, 41, 42, 43, 44, 45, 46, 47})
_TLSV13_ALERTS = frozenset({109, 116})


def alert_reason(alert: AlertDescription) -> str:
    """OpenSSL's reason string for a fatal alert received from the peer."""
    if alert == AlertDescription.user_canceled:
        return "TLSV1_ALERT_USER_CANCELLED"
    prefix = ("SSLV3" if alert in _SSLV3_ALERTS else
              "TLSV13" if alert in _TLSV13_ALERTS else "TLSV1")
    return f"{prefix}_ALERT_{alert.name.upper()}"


def _verify_code(error: BadCertificate) -> int:
    text = str(error)
    if "requested name" in text or "server name" in text:
        return _X509_V_ERR_HOSTNAME_MISMATCH
    return {
        AlertDescription.certificate_expired: _X509_V_ERR_CERT_HAS_EXPIRED,
        AlertDescription.unknown_ca: _X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        AlertDescription.unsupported_certificate: _X509_V_ERR_INVALID_PURPOSE,
    }.get(error.alert, _X509_V_ERR_UNSPECIFIED)


def to_ssl_error(error: GlassTLSError) -> ssl.SSLError:
    """The ``ssl`` exception a program expects for a glasstls failure.

    A rejected certificate chain is ``SSLCertVerificationError``; a fatal alert
    from the peer is ``SSLError`` with OpenSSL's reason (``TLSV1_ALERT_UNKNOWN_CA``);
    anything else is ``SSLError`` whose reason is the alert we sent.
    """
    converted: ssl.SSLError
    alert = getattr(error, "alert", AlertDescription.internal_error)
    if isinstance(error, BadCertificate):
        reason = "CERTIFICATE_VERIFY_FAILED"
        converted = ssl.SSLCertVerificationError(
            ssl.SSL_ERROR_SSL, f"[SSL: {reason}] certificate verify failed: {error}")
        converted.verify_code = _verify_code(error)
        converted.verify_message = str(error)
    elif isinstance(error, AlertReceivedError):
        reason = alert_reason(alert)
        converted = ssl.SSLError(ssl.SSL_ERROR_SSL, f"[SSL: {reason}] {error}")
    else:
        reason = alert.name.upper()
        converted = ssl.SSLError(ssl.SSL_ERROR_SSL, f"[SSL: {reason}] {error}")
    converted.library = "SSL"
    converted.reason = reason
    converted.alert = alert  # type: ignore[attr-defined]
    converted.__cause__ = error
    return converted


def eof_error(during_handshake: bool) -> ssl.SSLEOFError:
    """The transport ended without the peer's close_notify: possibly a truncation."""
    where = "during the handshake" if during_handshake else "without close_notify"
    error = ssl.SSLEOFError(
        ssl.SSL_ERROR_EOF,
        f"EOF occurred in violation of protocol: the peer closed the connection {where} "
        "(the data may have been truncated)")
    error.library = "SSL"
    error.reason = "UNEXPECTED_EOF_WHILE_READING"
    return error


def want_read() -> ssl.SSLWantReadError:
    return ssl.SSLWantReadError(ssl.SSL_ERROR_WANT_READ,
                                "The operation did not complete (read)")


def want_write() -> ssl.SSLWantWriteError:
    return ssl.SSLWantWriteError(ssl.SSL_ERROR_WANT_WRITE,
                                 "The operation did not complete (write)")


def shut_down() -> ssl.SSLError:
    """Writing after our own close_notify."""
    error = ssl.SSLError(ssl.SSL_ERROR_SSL,
                         "[SSL: PROTOCOL_IS_SHUTDOWN] the TLS connection is closed for writing")
    error.library = "SSL"
    error.reason = "PROTOCOL_IS_SHUTDOWN"
    return error


__all__ = ["alert_reason", "eof_error", "shut_down", "to_ssl_error", "want_read", "want_write"]
