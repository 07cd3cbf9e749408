"""The signature scheme a certificate signs with, chosen from the peer's offer: the
answer is kept with the certificate (``CertifiedKey.derived``), and must be the same
as working it out afresh for every offer, list of ours and version."""

from __future__ import annotations

from glasstls import certs
from glasstls.constants import SignatureScheme as S
from glasstls.crypto import signatures
from glasstls.handshake.common import choose_signature_scheme
from pki import pki

OURS = (S.ecdsa_secp256r1_sha256, S.ecdsa_secp384r1_sha384, S.rsa_pss_rsae_sha256,
        S.rsa_pss_rsae_sha384, S.rsa_pkcs1_sha256)


def test_each_offer_gets_its_own_answer_however_often_it_comes() -> None:
    ecdsa = pki("ecdsa-p256").certified
    for _ in range(3):
        assert choose_signature_scheme(ecdsa, (S.ecdsa_secp256r1_sha256,), OURS,
                                       True) == S.ecdsa_secp256r1_sha256
        # A P-256 key signs with SHA-384 in TLS 1.2 only (RFC 8446 §4.2.3 ties the
        # curve to the hash in TLS 1.3): same offer, the version tells them apart.
        assert choose_signature_scheme(ecdsa, (S.ecdsa_secp384r1_sha384,), OURS,
                                       True) is None
        assert choose_signature_scheme(ecdsa, (S.ecdsa_secp384r1_sha384,), OURS,
                                       False) == S.ecdsa_secp384r1_sha384
        # Our list is part of the question too.
        assert choose_signature_scheme(ecdsa, (S.ecdsa_secp256r1_sha256,),
                                       (S.rsa_pss_rsae_sha256,), True) is None


def test_another_certificate_does_not_get_the_first_ones_answer() -> None:
    offer = (S.ecdsa_secp256r1_sha256, S.rsa_pss_rsae_sha384, S.rsa_pss_rsae_sha256)
    assert choose_signature_scheme(pki("ecdsa-p256").certified, offer, OURS,
                                   True) == S.ecdsa_secp256r1_sha256
    assert choose_signature_scheme(pki("rsa-2048").certified, offer, OURS,
                                   True) == S.rsa_pss_rsae_sha256


def test_what_a_certificate_keeps_is_bounded() -> None:
    certified = pki("ecdsa-p256").certified
    made: list[int] = []
    for n in range(3 * certs._DERIVED_KEPT):
        assert certified.derived(("test", n), lambda n=n: made.append(n) or n) == n
    assert certified.derived(("test", 3 * certs._DERIVED_KEPT - 1), lambda: -1) != -1
    assert len(made) == 3 * certs._DERIVED_KEPT
    kept = object.__getattribute__(certified, "_derived")
    assert 0 < len(kept) <= certs._DERIVED_KEPT


def test_tls12_schemes_leave_out_ml_dsa_for_each_list_asked_however_often() -> None:
    # draft-ietf-tls-mldsa: TLS 1.3 only. The answer is kept per list, so a list
    # asked again (or as a list rather than a tuple) must still get its own answer.
    with_mldsa = (S.mldsa65, S.ecdsa_secp256r1_sha256, S.mldsa44, S.rsa_pss_rsae_sha256)
    for _ in range(2):
        assert signatures.tls12_schemes(with_mldsa) == (S.ecdsa_secp256r1_sha256,
                                                        S.rsa_pss_rsae_sha256)
        assert signatures.tls12_schemes(list(OURS)) == OURS
        assert signatures.tls12_schemes((S.mldsa87,)) == ()
