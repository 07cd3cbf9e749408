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
from ..trust import CertificateReason, CertificateRejected

R = CertificateReason

# OpenSSL's X509_V_ERR_* code and X509_verify_cert_error_string() text for each
# reason (values from OpenSSL 3.0's include/openssl/x509_vfy.h, texts as its
# X509_verify_cert_error_string returns them), so that code reading ``verify_code`` and
# ``verify_message`` sees what it would see with ``ssl`` for the same chain.
_UNSPECIFIED = (1, "unspecified certificate verification error")
_VERIFY_CODES: dict[CertificateReason, tuple[int, str]] = {
    R.INCOMPLETE_CHAIN: (2, "unable to get issuer certificate"),
    R.CRL_MISSING: (3, "unable to get certificate CRL"),
    R.BAD_SIGNATURE: (7, "certificate signature failure"),
    R.CRL_BAD_SIGNATURE: (8, "CRL signature failure"),
    R.NOT_YET_VALID: (9, "certificate is not yet valid"),
    R.EXPIRED: (10, "certificate has expired"),
    R.CRL_NOT_YET_VALID: (11, "CRL is not yet valid"),
    R.CRL_EXPIRED: (12, "CRL has expired"),
    R.SELF_SIGNED: (18, "self-signed certificate"),
    R.SELF_SIGNED_IN_CHAIN: (19, "self-signed certificate in certificate chain"),
    R.ISSUER_NOT_FOUND: (20, "unable to get local issuer certificate"),
    R.CHAIN_TOO_LONG: (22, "certificate chain too long"),
    R.REVOKED: (23, "certificate revoked"),
    R.PATH_LENGTH: (25, "path length constraint exceeded"),
    R.BAD_USAGE: (26, "unsuitable certificate purpose"),
    R.CRITICAL_EXTENSION: (34, "unhandled critical extension"),
    R.CRL_ISSUER_CANNOT_SIGN: (35, "key usage does not include CRL signing"),
    R.CRL_CRITICAL_EXTENSION: (36, "unhandled critical CRL extension"),
    R.NAME_CONSTRAINTS: (47, "permitted subtree violation"),
    R.EXCLUDED_NAME: (48, "excluded subtree violation"),
    R.NAME_MISMATCH: (62, "hostname mismatch"),
    R.IP_MISMATCH: (64, "IP address mismatch"),
    R.KEY_TOO_SMALL: (66, "EE certificate key too weak"),
    R.CA_KEY_TOO_SMALL: (67, "CA certificate key too weak"),
    R.WEAK_DIGEST: (68, "CA signature digest algorithm too weak"),
    R.NOT_A_CA: (79, "invalid CA certificate"),
    R.OCSP_REVOKED: (23, "certificate revoked"),
    R.OCSP_MISSING: (73, "OCSP verification needed"),
    R.OCSP_BAD_RESPONSE: (74, "OCSP verification failed"),
    R.OCSP_UNKNOWN: (75, "OCSP unknown cert"),
}


def verify_code(error: BadCertificate) -> tuple[int, str]:
    """OpenSSL's verify code and message for a refused certificate; reasons OpenSSL
    has no code for (cryptography's own limits, the CA/B profile) are unspecified."""
    if not isinstance(error, CertificateRejected):
        return _UNSPECIFIED
    code, message = _VERIFY_CODES.get(error.reason, _UNSPECIFIED)
    refusal = error.refusal
    # Python's _ssl.c words these two itself, naming what was asked for.
    if error.reason is R.NAME_MISMATCH:
        message = f"Hostname mismatch, certificate is not valid for '{refusal.requested_name}'."
    elif error.reason is R.IP_MISMATCH:
        message = (f"IP address mismatch, certificate is not valid for "
                   f"'{refusal.requested_name}'.")
    return code, message


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
        code, message = verify_code(error)
        converted = ssl.SSLCertVerificationError(
            ssl.SSL_ERROR_SSL, f"[SSL: {reason}] certificate verify failed: {message} "
            f"({Exception.__str__(error)})")
        converted.verify_code = code
        converted.verify_message = message
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


__all__ = ["alert_reason", "eof_error", "shut_down", "to_ssl_error", "verify_code", "want_read",
           "want_write"]
