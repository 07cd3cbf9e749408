"""The client's check of a stapled OCSP response, and the server's staple sources."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings, strategies as st

from glasstls.errors import AlertDescription, ConfigError
from glasstls.ocsp import StapleCallback, StapleFile, check_staple, describe_response, summary
from glasstls.trust import CertificateReason, CertificateRejected
from helpers import ocsp as make
from pki import pki


def utc_now() -> dt.datetime:
    # Called in each test, not once at import: the full suite reaches these tests
    # minutes after it starts, and a staple's lifetime here may be ten minutes.
    return dt.datetime.now(dt.UTC)


KEY_TYPES = ("ecdsa-p256", "rsa-2048", "ed25519", "mldsa65")


def refused(der: bytes, key_type: str = "ecdsa-p256") -> CertificateRejected:
    test_pki = pki(key_type)
    with pytest.raises(CertificateRejected) as caught:
        check_staple(der, test_pki.leaf.certificate, test_pki.ca.certificate, time.time())
    assert caught.value.alert == AlertDescription.bad_certificate_status_response
    assert caught.value.reason is CertificateReason.OCSP_BAD_RESPONSE
    return caught.value


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("status", ["good", "revoked", "unknown"])
def test_a_response_signed_by_the_issuer_gives_the_status(key_type: str, status: str) -> None:
    test_pki = pki(key_type)
    der = make.response(test_pki.ca, test_pki.leaf.certificate, status)
    check = check_staple(der, test_pki.leaf.certificate, test_pki.ca.certificate, time.time())
    assert (check.status, check.responder) == (status, "the issuer")
    assert check.serial == test_pki.leaf.certificate.serial_number
    assert check.describe()["response_bytes"] == len(der)


def test_revoked_is_certificate_revoked_and_unknown_fails_only_when_required() -> None:
    test_pki = pki("ecdsa-p256")
    leaf, ca = test_pki.leaf.certificate, test_pki.ca.certificate
    revoked = check_staple(make.response(test_pki.ca, leaf, "revoked"), leaf, ca, time.time())
    with pytest.raises(CertificateRejected) as caught:
        revoked.enforce("request", leaf, time.time())
    assert caught.value.alert == AlertDescription.certificate_revoked
    assert caught.value.reason is CertificateReason.OCSP_REVOKED
    assert "key_compromise" in str(caught.value)
    assert caught.value.refusal.revoked_on == revoked.revocation_time
    unknown = check_staple(make.response(test_pki.ca, leaf, "unknown"), leaf, ca, time.time())
    unknown.enforce("request", leaf, time.time())
    with pytest.raises(CertificateRejected) as caught:
        unknown.enforce("require", leaf, time.time())
    assert caught.value.alert == AlertDescription.bad_certificate_status_response
    assert caught.value.reason is CertificateReason.OCSP_UNKNOWN


def test_a_responder_named_by_key_hash_is_recognised() -> None:
    test_pki = pki("rsa-2048")
    der = make.response(test_pki.ca, test_pki.leaf.certificate, by_key=True)
    check = check_staple(der, test_pki.leaf.certificate, test_pki.ca.certificate, time.time())
    assert check.responder == "the issuer"


def test_a_delegated_responder_with_ocsp_signing_is_accepted() -> None:
    test_pki = pki("ecdsa-p256")
    signer = make.responder(test_pki.ca)
    der = make.response(test_pki.ca, test_pki.leaf.certificate, signer=signer)
    check = check_staple(der, test_pki.leaf.certificate, test_pki.ca.certificate, time.time())
    assert check.responder == "CN=test OCSP responder"


def test_a_delegated_responder_without_ocsp_signing_is_refused() -> None:
    test_pki = pki("ecdsa-p256")
    signer = make.responder(test_pki.ca, ocsp_signing=False)
    error = refused(make.response(test_pki.ca, test_pki.leaf.certificate, signer=signer))
    assert "id-kp-OCSPSigning" in str(error)


def test_a_responder_certificate_from_another_ca_is_refused() -> None:
    test_pki = pki("ecdsa-p256")
    stranger = make.responder(pki("ecdsa-p384").ca)
    error = refused(make.response(test_pki.ca, test_pki.leaf.certificate, signer=stranger))
    assert "not issued by" in str(error)


def test_a_response_claiming_the_issuer_but_signed_by_another_key_is_refused() -> None:
    test_pki = pki("ecdsa-p256")
    # An impostor with the CA's name (and its own key) signs, naming the CA as responder.
    impostor = make.impostor(test_pki.ca)
    der = make.response(test_pki.ca, test_pki.leaf.certificate, signer=impostor,
                        include_signer=False)
    error = refused(der)
    assert "signature" in str(error)


def test_a_staple_for_another_certificate_is_refused() -> None:
    test_pki = pki("ecdsa-p256")
    error = refused(make.response(test_pki.ca, test_pki.client.certificate))
    assert "not for this certificate" in str(error)


def test_an_expired_staple_is_refused() -> None:
    test_pki = pki("ecdsa-p256")
    der = make.response(test_pki.ca, test_pki.leaf.certificate,
                        this_update=utc_now() - dt.timedelta(days=3),
                        next_update=utc_now() - dt.timedelta(hours=1))
    assert "expired" in str(refused(der))


def test_a_staple_from_the_future_is_refused_but_clock_skew_is_allowed() -> None:
    test_pki = pki("ecdsa-p256")
    leaf, ca = test_pki.leaf.certificate, test_pki.ca.certificate
    future = make.response(test_pki.ca, leaf, this_update=utc_now() + dt.timedelta(hours=1))
    assert "future" in str(refused(future))
    slightly = make.response(test_pki.ca, leaf, this_update=utc_now() + dt.timedelta(minutes=2))
    assert check_staple(slightly, leaf, ca, time.time()).status == "good"


def test_a_staple_without_next_update_is_accepted() -> None:
    test_pki = pki("ecdsa-p256")
    der = make.response(test_pki.ca, test_pki.leaf.certificate, next_update=None)
    check = check_staple(der, test_pki.leaf.certificate, test_pki.ca.certificate, time.time())
    assert check.next_update is None


@pytest.mark.parametrize("der", [make.unsuccessful(), b"\x30\x03\x0a\x01\x00", b"garbage"])
def test_unsuccessful_or_malformed_responses_are_refused(der: bytes) -> None:
    refused(der)


def test_the_file_source_rereads_the_file_only_when_its_staple_has_expired(
        tmp_path: Path) -> None:
    test_pki = pki("ecdsa-p256")
    leaf = test_pki.leaf.certificate
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    short = make.response(test_pki.ca, leaf, next_update=utc_now() + dt.timedelta(minutes=10))
    path = make.write(tmp_path / "staple.der", short)
    source = StapleFile(path)
    now = time.time()
    assert source.staple(leaf, leaf_der, None, now) == short
    renewed = make.response(test_pki.ca, leaf, next_update=utc_now() + dt.timedelta(days=2))
    path.write_bytes(renewed)
    assert source.staple(leaf, leaf_der, None, now + 60) == short  # still fresh: cached
    assert source.staple(leaf, leaf_der, None, now + 3600) == renewed  # expired: re-read


def test_the_file_source_never_staples_a_response_for_another_certificate(
        tmp_path: Path) -> None:
    test_pki = pki("ecdsa-p256")
    leaf = test_pki.leaf.certificate
    path = make.write(tmp_path / "staple.der",
                      make.response(test_pki.ca, test_pki.client.certificate))
    source = StapleFile(path)
    assert source.staple(leaf, b"leaf", test_pki.ca.certificate, time.time()) is None
    assert source.last_problem is not None and "not for this certificate" in source.last_problem


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        StapleFile(tmp_path / "absent.der")


def test_the_callback_source_is_asked_again_after_expiry() -> None:
    test_pki = pki("ecdsa-p256")
    leaf = test_pki.leaf.certificate
    asked: list[int] = []

    def fetch(certificate):  # type: ignore[no-untyped-def]
        asked.append(certificate.serial_number)
        return make.response(test_pki.ca, certificate,
                             next_update=utc_now() + dt.timedelta(hours=1))

    source = StapleCallback(fetch)
    now = time.time()
    assert source.staple(leaf, b"leaf", test_pki.ca.certificate, now) is not None
    assert source.staple(leaf, b"leaf", test_pki.ca.certificate, now + 600) is not None
    assert len(asked) == 1
    source.staple(leaf, b"leaf", test_pki.ca.certificate, now + 2 * 3600)
    assert asked == [leaf.serial_number] * 2


# -- what a response says, unverified (trace, page, explain) --------------------------


def test_describe_response_gives_status_serial_responder_and_dates() -> None:
    test_pki = pki("ecdsa-p256")
    this_update = (utc_now() - dt.timedelta(hours=2)).replace(microsecond=0)
    next_update = (utc_now() + dt.timedelta(days=2)).replace(microsecond=0)
    der = make.response(test_pki.ca, test_pki.leaf.certificate, this_update=this_update,
                        next_update=next_update)
    details = describe_response(der)
    assert details == {
        "response_bytes": len(der), "status": "good",
        "serial": format(test_pki.leaf.certificate.serial_number, "x"),
        "responder": test_pki.ca.certificate.subject.rfc4514_string(),
        "produced_at": details["produced_at"],
        "this_update": this_update.isoformat(), "next_update": next_update.isoformat(),
    }
    assert summary(der) == (
        f"OCSP response: serial {details['serial']} is good; responder "
        f"{details['responder']}; this update {this_update:%Y-%m-%d %H:%M}, next update "
        f"{next_update:%Y-%m-%d %H:%M} ({len(der)} bytes)")


def test_describe_response_names_a_revocation_and_a_responder_by_key() -> None:
    test_pki = pki("ecdsa-p256")
    delegated = make.responder(test_pki.ca)
    der = make.response(test_pki.ca, test_pki.leaf.certificate, "revoked", signer=delegated,
                        by_key=True, next_update=None)
    details = describe_response(der)
    assert details["status"] == "revoked" and details["revocation_reason"] == "key_compromise"
    assert details["responder"] == "key hash " + x509.SubjectKeyIdentifier.from_public_key(
        delegated.certificate.public_key()).digest.hex()
    assert details["next_update"] is None and details["revocation_time"]
    assert " is revoked since " in summary(der) and "(key_compromise)" in summary(der)
    assert "next update none" in summary(der)


def test_describe_response_reports_an_unsuccessful_or_malformed_response() -> None:
    assert describe_response(make.unsuccessful()) == {
        "response_bytes": len(make.unsuccessful()), "response_status": "TRY_LATER"}
    assert summary(make.unsuccessful()).startswith("OCSP response: TRY_LATER")
    assert "malformed" in describe_response(b"garbage")
    assert summary(b"garbage").startswith("7 bytes that do not parse as an OCSP response")


@settings(max_examples=300, deadline=None)
@given(der=st.binary(max_size=400))
def test_any_bytes_as_a_staple_are_a_clean_refusal_and_a_description(der: bytes) -> None:
    # Whatever a server staples, the client refuses it with the RFC 6066 alert (never
    # a traceback from inside the parser), and the trace can still describe it.
    test_pki = pki("ecdsa-p256")
    with pytest.raises(CertificateRejected) as caught:
        check_staple(der, test_pki.leaf.certificate, test_pki.ca.certificate, time.time())
    assert caught.value.alert == AlertDescription.bad_certificate_status_response
    assert describe_response(der)["response_bytes"] == len(der)
    assert summary(der)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_damaged_real_response_is_refused_cleanly(data: st.DataObject) -> None:
    # One byte changed in a real, good response: refused with the RFC 6066 alert (a
    # changed signature algorithm once escaped as UnsupportedAlgorithm), or accepted
    # only as the good response it was (a change outside the signed bytes).
    test_pki = pki("ecdsa-p256")
    der = bytearray(GOOD_DER)
    index = data.draw(st.integers(0, len(der) - 1), label="index")
    der[index] ^= data.draw(st.integers(1, 255), label="flip")
    try:
        check = check_staple(bytes(der), test_pki.leaf.certificate, test_pki.ca.certificate,
                             time.time())
    except CertificateRejected as refusal:
        assert refusal.alert == AlertDescription.bad_certificate_status_response
    else:
        assert check.status == "good"
    describe_response(bytes(der))


GOOD_DER = make.response(pki("ecdsa-p256").ca, pki("ecdsa-p256").leaf.certificate)


def test_a_failing_callback_costs_the_staple_not_the_handshake_and_is_retried() -> None:
    test_pki = pki("ecdsa-p256")
    leaf, issuer = test_pki.leaf.certificate, test_pki.ca.certificate
    calls: list[float] = []

    def fetch(certificate):  # type: ignore[no-untyped-def]
        calls.append(time.time())
        if len(calls) == 1:
            raise TimeoutError("responder did not answer")
        return make.response(test_pki.ca, certificate)

    source = StapleCallback(fetch)
    now = time.time()
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    assert source.staple(leaf, leaf_der, issuer, now) is None
    assert source.last_problem == (
        "fetching the OCSP response failed: TimeoutError('responder did not answer')")
    assert source.staple(leaf, leaf_der, issuer, now + 30) is None and len(calls) == 1
    assert source.staple(leaf, leaf_der, issuer, now + 61) is not None and len(calls) == 2
    assert source.last_problem is None
