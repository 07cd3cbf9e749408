"""The client's check of a stapled OCSP response, and the server's staple sources."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls.errors import AlertDescription, ConfigError
from glasstls.ocsp import StapleCallback, StapleFile, check_staple
from glasstls.trust import CertificateReason, CertificateRejected
from helpers import ocsp as make
from pki import pki

NOW = dt.datetime.now(dt.UTC)
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
                        this_update=NOW - dt.timedelta(days=3),
                        next_update=NOW - dt.timedelta(hours=1))
    assert "expired" in str(refused(der))


def test_a_staple_from_the_future_is_refused_but_clock_skew_is_allowed() -> None:
    test_pki = pki("ecdsa-p256")
    leaf, ca = test_pki.leaf.certificate, test_pki.ca.certificate
    future = make.response(test_pki.ca, leaf, this_update=NOW + dt.timedelta(hours=1))
    assert "future" in str(refused(future))
    slightly = make.response(test_pki.ca, leaf, this_update=NOW + dt.timedelta(minutes=2))
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
    short = make.response(test_pki.ca, leaf, next_update=NOW + dt.timedelta(minutes=10))
    path = make.write(tmp_path / "staple.der", short)
    source = StapleFile(path)
    now = time.time()
    assert source.staple(leaf, leaf_der, None, now) == short
    renewed = make.response(test_pki.ca, leaf, next_update=NOW + dt.timedelta(days=2))
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
        return make.response(test_pki.ca, certificate, next_update=NOW + dt.timedelta(hours=1))

    source = StapleCallback(fetch)
    now = time.time()
    assert source.staple(leaf, b"leaf", test_pki.ca.certificate, now) is not None
    assert source.staple(leaf, b"leaf", test_pki.ca.certificate, now + 600) is not None
    assert len(asked) == 1
    source.staple(leaf, b"leaf", test_pki.ca.certificate, now + 2 * 3600)
    assert asked == [leaf.serial_number] * 2
