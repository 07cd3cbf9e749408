"""OCSP stapling: the client's check of a stapled response (RFC 6066 §8, RFC 8446
§4.4.2.1, RFC 6960) and the server's source of fresh staples.

Parsing is ``cryptography.x509.ocsp``'s. The checks are RFC 6960's: the single
response is for this certificate (serial, issuer name and key hashes), it is signed
by the issuer or by a responder the issuer delegated to directly (id-kp-OCSPSigning,
§4.2.2.2), and it is current (thisUpdate/nextUpdate, with OpenSSL's five minutes of
clock skew). No chain is built here: the issuer is the one path validation found.
"""

from __future__ import annotations

import abc
import datetime as _dt
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from .crypto.signatures import verify_signed_data
from .errors import ConfigError
from .trust.reasons import CertificateReason, CertificateRejected, Refusal

R = CertificateReason

# OpenSSL's OCSP_check_validity() leeway, as s_client and nginx use it.
CLOCK_SKEW = _dt.timedelta(minutes=5)
# A staple without nextUpdate is kept (and refetched) for this long.
_NO_NEXT_UPDATE_REFRESH = 3600.0
# A missing or unusable staple is looked for again after this long.
_RETRY_AFTER = 60.0
STAPLING_MODES = ("off", "request", "require")
_STATUS_NAMES = {ocsp.OCSPCertStatus.GOOD: "good", ocsp.OCSPCertStatus.REVOKED: "revoked"}


class _Unacceptable(Exception):
    """Why a response is refused; ``check_staple`` turns it into the refusal."""


def _name(name: x509.Name) -> str:
    return name.rfc4514_string()


def refusal(reason: CertificateReason, certificate: x509.Certificate, now: float,
            **facts: Any) -> CertificateRejected:
    """The refusal of the server's certificate for what its staple says (or lacks)."""
    return CertificateRejected(Refusal(
        reason, role="server", subject=_name(certificate.subject),
        issuer=facts.pop("issuer", _name(certificate.issuer)),
        not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc,
        now=_dt.datetime.fromtimestamp(now, _dt.UTC), **facts))


@dataclass(frozen=True)
class StapleCheck:
    """What a stapled OCSP response says about a certificate, once checked."""

    status: str  # "good", "revoked" or "unknown"
    this_update: _dt.datetime
    next_update: _dt.datetime | None
    responder: str  # "the issuer" or the delegated responder's subject
    serial: int
    revocation_time: _dt.datetime | None = None
    revocation_reason: str | None = None
    size: int = 0

    def describe(self) -> dict[str, Any]:
        """The trace's view."""
        details: dict[str, Any] = {
            "status": self.status, "responder": self.responder,
            "serial": format(self.serial, "x"),
            "this_update": self.this_update.isoformat(),
            "next_update": self.next_update.isoformat() if self.next_update else None,
            "response_bytes": self.size,
        }
        if self.status == "revoked":
            details["revocation_time"] = (self.revocation_time.isoformat()
                                          if self.revocation_time else None)
            details["revocation_reason"] = self.revocation_reason
        return details

    def enforce(self, mode: str, certificate: x509.Certificate, now: float) -> None:
        """Revoked is ``certificate_revoked`` (RFC 5246 §7.2.2); "unknown" fails
        only when a staple is required (``bad_certificate_status_response``)."""
        if self.status == "revoked":
            reason = f", {self.revocation_reason}" if self.revocation_reason else ""
            raise refusal(R.OCSP_REVOKED, certificate, now, issuer=self.responder,
                          detail=f"{self.serial:x}{reason}", revoked_on=self.revocation_time)
        if self.status == "unknown" and mode == "require":
            raise refusal(R.OCSP_UNKNOWN, certificate, now, issuer=self.responder)


def _issuer_hashes(certificate: x509.Certificate, issuer: x509.Certificate,
                   algorithm: Any) -> tuple[bytes, bytes] | None:
    """(issuerNameHash, issuerKeyHash) of a CertID (RFC 6960 §4.1.1), computed by
    cryptography's request builder rather than by hand."""
    try:
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer,
                                                            algorithm).build()
    except (ValueError, TypeError):
        return None  # a hash cryptography will not build a CertID with
    return request.issuer_name_hash, request.issuer_key_hash


def _single_response(response: ocsp.OCSPResponse, certificate: x509.Certificate,
                     issuer: x509.Certificate | None) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        if single.serial_number != certificate.serial_number:
            continue
        if issuer is not None and _issuer_hashes(certificate, issuer, single.hash_algorithm) != (
                single.issuer_name_hash, single.issuer_key_hash):
            continue
        return single
    raise _Unacceptable(f"it is not for this certificate (serial {certificate.serial_number:x}"
                        f"{', issuer ' + issuer.subject.rfc4514_string() if issuer else ''})")


def _key_hash(certificate: x509.Certificate) -> bytes:
    # RFC 6960 §4.2.1: ResponderID byKey is the SHA-1 of the subjectPublicKey bits,
    # which is RFC 5280's key identifier method 1.
    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _is_responder(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == certificate.subject
    return response.responder_key_hash == _key_hash(certificate)


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: _dt.datetime
            ) -> tuple[x509.Certificate, str]:
    """The certificate whose key signed the response, and how to name it."""
    if _is_responder(response, issuer):
        return issuer, "the issuer"
    for candidate in response.certificates:
        if not _is_responder(response, candidate):
            continue
        # RFC 6960 §4.2.2.2: a delegated responder's certificate is issued directly by
        # the CA and carries id-kp-OCSPSigning.
        if candidate.issuer != issuer.subject:
            raise _Unacceptable("the responder's certificate is not issued by the "
                                "certificate's issuer")
        try:
            candidate.verify_directly_issued_by(issuer)
        except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError) as error:
            raise _Unacceptable("the responder's certificate is not signed by the issuer "
                                f"({type(error).__name__})") from None
        try:
            usages = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            raise _Unacceptable("the responder's certificate lacks id-kp-OCSPSigning")
        if not (candidate.not_valid_before_utc - CLOCK_SKEW <= now
                <= candidate.not_valid_after_utc + CLOCK_SKEW):
            raise _Unacceptable("the responder's certificate is expired or not yet valid")
        return candidate, candidate.subject.rfc4514_string()
    raise _Unacceptable("it is signed by neither the issuer nor a responder certificate it "
                        "includes")


def _parse(der: bytes) -> ocsp.OCSPResponse:
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as error:
        raise _Unacceptable(f"it does not parse ({error})") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _Unacceptable(f"the responder answered {response.response_status.name}")
    return response


def _check(der: bytes, certificate: x509.Certificate, issuer: x509.Certificate | None,
           moment: _dt.datetime) -> StapleCheck:
    response = _parse(der)
    try:
        single = _single_response(response, certificate, issuer)
        if issuer is None:
            raise _Unacceptable("the issuer's certificate is not known, so its signature "
                                "cannot be checked")
        signer, responder = _signer(response, issuer, moment)
        problem = verify_signed_data(signer.public_key(), response.signature_algorithm_oid
                                     .dotted_string, response.signature_hash_algorithm,
                                     response.tbs_response_bytes, response.signature)
        if problem is not None:
            raise _Unacceptable(f"its signature by {responder}: {problem}")
        this_update, next_update = single.this_update_utc, single.next_update_utc
        # RFC 6960 §4.2.2.1 / §3.2: current, allowing for clock skew.
        if this_update > moment + CLOCK_SKEW:
            raise _Unacceptable(f"its thisUpdate {this_update:%Y-%m-%d %H:%M} is in the future")
        if next_update is not None and next_update < moment - CLOCK_SKEW:
            raise _Unacceptable(f"it expired at {next_update:%Y-%m-%d %H:%M} (nextUpdate)")
        status = single.certificate_status
        reason = single.revocation_reason
    except (ValueError, x509.ExtensionNotFound, UnsupportedAlgorithm) as error:
        # cryptography decodes some fields lazily (the signature's hash among them);
        # a bad one surfaces here.
        raise _Unacceptable(f"it is malformed ({error})") from None
    return StapleCheck(
        status=_STATUS_NAMES.get(status, "unknown"),
        this_update=this_update, next_update=next_update, responder=responder,
        serial=certificate.serial_number,
        revocation_time=single.revocation_time_utc if status == ocsp.OCSPCertStatus.REVOKED
        else None,
        revocation_reason=reason.name if reason is not None else None, size=len(der))


def responder_text(response: ocsp.OCSPResponse) -> str:
    """The ResponderID (RFC 6960 §4.2.1): a name, or the SHA-1 of a key."""
    if response.responder_name is not None:
        return _name(response.responder_name)
    return f"key hash {(response.responder_key_hash or b'').hex()}"


def describe_response(der: bytes) -> dict[str, Any]:
    """What a DER OCSP response says, for the trace, the page and ``explain``: its
    status, serial, responder and dates. Not a verdict (``check_staple`` is): nothing
    is verified here, so the server can show the staple it sends and the explainer
    the staple it reads, whoever it is for."""
    details: dict[str, Any] = {"response_bytes": len(der)}
    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return {**details, "response_status": response.response_status.name}
        single = next(iter(response.responses))
        status = single.certificate_status
        next_update = single.next_update_utc
        details.update({
            "status": _STATUS_NAMES.get(status, "unknown"),
            "serial": format(single.serial_number, "x"),
            "responder": responder_text(response),
            "produced_at": response.produced_at_utc.isoformat(),
            "this_update": single.this_update_utc.isoformat(),
            "next_update": next_update.isoformat() if next_update else None,
        })
        if status == ocsp.OCSPCertStatus.REVOKED:
            reason = single.revocation_reason
            details["revocation_time"] = single.revocation_time_utc.isoformat() if (
                single.revocation_time_utc) else None
            details["revocation_reason"] = reason.name if reason is not None else None
    except (ValueError, StopIteration, x509.ExtensionNotFound) as error:
        # cryptography decodes some fields lazily; a bad one surfaces here.
        return {**details, "malformed": str(error) or type(error).__name__}
    return details


def _minutes(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "none"


def summary(der: bytes) -> str:
    """What a DER OCSP response says, in a line: "OCSP response: serial 1f is good;
    responder ...; this update ..., next update ... (335 bytes)"."""
    details = describe_response(der)
    if "malformed" in details:
        return (f"{len(der)} bytes that do not parse as an OCSP response "
                f"({details['malformed']})")
    return f"OCSP response: {summary_of(details)}"


def summary_of(details: dict[str, Any]) -> str:
    """``describe_response``'s values in words: "serial 1f is good; responder ...;
    this update ..., next update ... (335 bytes)"."""
    size = f"{details.get('response_bytes')} bytes"
    if "malformed" in details:
        return f"{size} that do not parse"
    if "response_status" in details:
        return f"{details['response_status']}, no status in it ({size})"
    text = f"serial {details['serial']} is {details['status']}"
    if details["status"] == "revoked":
        text += (f" since {_minutes(details.get('revocation_time'))}"
                 f" ({details.get('revocation_reason') or 'no reason given'})")
    return (text + f"; responder {details['responder']}; this update "
            f"{_minutes(details['this_update'])}, next update "
            f"{_minutes(details['next_update'])} ({size})")


def check_staple(der: bytes, certificate: x509.Certificate, issuer: x509.Certificate | None,
                 now: float) -> StapleCheck:
    """Check a stapled OCSP response for ``certificate``, issued by ``issuer``.

    Raises ``CertificateRejected`` (``OCSP_BAD_RESPONSE``, alert
    ``bad_certificate_status_response``, RFC 6066 §8) for a response that is
    malformed, unsuccessful, for another certificate, badly signed or out of date;
    returns the status otherwise (``StapleCheck.enforce`` acts on it).
    """
    try:
        return _check(der, certificate, issuer, _dt.datetime.fromtimestamp(now, _dt.UTC))
    except _Unacceptable as why:
        raise refusal(R.OCSP_BAD_RESPONSE, certificate, now, detail=str(why)) from None


def _still_current(der: bytes, leaf: x509.Certificate, now: float) -> _dt.datetime | None:
    """A server that sends its leaf alone does not hold the issuer's certificate to
    check the signature with (its client will): the serial and the dates must fit.
    Returns the response's nextUpdate."""
    try:
        single = _single_response(_parse(der), leaf, None)
        moment = _dt.datetime.fromtimestamp(now, _dt.UTC)
        next_update = single.next_update_utc
    except ValueError as error:
        raise _Unacceptable(f"it is malformed ({error})") from None
    if next_update is not None and next_update < moment - CLOCK_SKEW:
        raise _Unacceptable("it has expired")
    return next_update


@dataclass(frozen=True)
class _Cached:
    der: bytes | None
    refresh_at: float


class StapleSource(abc.ABC):
    """Where a server's OCSP staples come from: ``StapleFile`` or ``StapleCallback``
    (``ServerConfig.ocsp_staple``).

    A staple is kept per leaf certificate until its nextUpdate, then fetched again;
    a response that is unsuccessful, for another certificate or already expired is
    never stapled (the handshake goes on without one, and ``last_problem`` says
    why). Shared between threads.
    """

    def __init__(self) -> None:
        self._cache: dict[bytes, _Cached] = {}
        self._lock = threading.Lock()
        self.last_problem: str | None = None

    @abc.abstractmethod
    def _fetch(self, leaf: x509.Certificate) -> bytes | None:
        """A DER OCSP response for ``leaf``, or None."""

    def for_chain(self, chain: Sequence[x509.Certificate], leaf_der: bytes, now: float
                  ) -> bytes | None:
        """The staple for a server chain (leaf first): ``staple`` with the leaf's
        issuer when the chain carries it (then its signature is checked too)."""
        leaf = chain[0]
        issuer = chain[1] if len(chain) > 1 and chain[1].subject == leaf.issuer else None
        return self.staple(leaf, leaf_der, issuer, now)

    def staple(self, leaf: x509.Certificate, leaf_der: bytes, issuer: x509.Certificate | None,
               now: float) -> bytes | None:
        """The DER OCSP response to staple for ``leaf`` now, or None."""
        cached = self._cache.get(leaf_der)
        if cached is not None and now < cached.refresh_at:
            return cached.der
        try:
            der = self._fetch(leaf)
        except Exception as error:
            # An unreachable responder, a bug in a callback: the handshake goes on
            # without a staple, as with nginx, and the source tries again later.
            self.last_problem = f"fetching the OCSP response failed: {error!r}"
            der = None
        refresh_at = now + _RETRY_AFTER
        if der is not None:
            try:
                if issuer is not None:
                    next_update = _check(der, leaf, issuer,
                                         _dt.datetime.fromtimestamp(now, _dt.UTC)).next_update
                else:
                    next_update = _still_current(der, leaf, now)
            except _Unacceptable as why:
                self.last_problem = f"the OCSP response is not stapled: {why}"
                der = None
            else:
                self.last_problem = None
                refresh_at = (next_update.timestamp() if next_update is not None
                              else now + _NO_NEXT_UPDATE_REFRESH)
        with self._lock:
            self._cache[leaf_der] = _Cached(der, refresh_at)
        return der


class StapleFile(StapleSource):
    """A DER OCSP response kept in a file (as ``openssl ocsp -respout`` writes it, or
    a cron job renews it). Read on the first handshake that asks for it, and again
    only once the staple has expired (or a minute after it could not be used).

    >>> ServerConfig(certificates=(certified,), ocsp_staple=StapleFile("leaf.ocsp"))
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise ConfigError(f"no OCSP response file at {self.path}")

    def _fetch(self, leaf: x509.Certificate) -> bytes | None:
        try:
            with open(self.path, "rb") as handle:
                return handle.read()
        except OSError as error:
            self.last_problem = f"cannot read {self.path}: {error.strerror}"
            return None


class StapleCallback(StapleSource):
    """Staples from your code: ``callback(leaf_certificate)`` returns a DER OCSP
    response (or None), called again when the last one has expired. It runs inside
    the handshake: keep it fast (fetch in the background and return what you have).
    An exception from it costs the handshake its staple, not the handshake itself;
    ``last_problem`` keeps it, and the callback is tried again a minute later.

    >>> source = StapleCallback(lambda leaf: responses.get(leaf.serial_number))
    """

    def __init__(self, callback: Callable[[x509.Certificate], bytes | None]) -> None:
        super().__init__()
        self.callback = callback

    def _fetch(self, leaf: x509.Certificate) -> bytes | None:
        return self.callback(leaf)


__all__ = ["STAPLING_MODES", "StapleCallback", "StapleCheck", "StapleFile", "StapleSource",
           "check_staple", "describe_response", "responder_text", "summary",
           "summary_of"]
