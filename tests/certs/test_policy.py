"""The pieces behind the differential test: the one function that reads
cryptography's messages, the reason-to-verify-code table, verify_flags, CRL
loading and checking corners, strict_web_pki and the config switches."""

from __future__ import annotations

import ssl
import time

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import verification

import glasstls
from glasstls import ClientConfig, ConfigError, TrustStore
from glasstls.io.errors import verify_code
from glasstls.trust import (
    CertificateReason,
    CertificateRejected,
    CrlCheck,
    Purpose,
    Refusal,
    VerifyOptions,
    verify_chain,
)
from glasstls.trust.diagnose import _MESSAGES, classify
from glasstls.trust.policy import extension_policies
from helpers.pump import Pair, client_config, server_config
from pki import pki

from .scenarios import DAY, NOW, SERVER_AUTH, crl, issue, pem

R = CertificateReason

# One message cryptography writes for each fragment classify() knows, in full.
EXAMPLES = {
    "no permitted name constraints matched SAN": (
        "validation failed: candidates exhausted: no permitted name constraints matched SAN",
        R.NAME_CONSTRAINTS),
    "excluded name constraint matched SAN": (
        "validation failed: candidates exhausted: excluded name constraint matched SAN",
        R.EXCLUDED_NAME),
    "leaf certificate has no matching subjectAltName": (
        "validation failed: leaf certificate has no matching subjectAltName (encountered "
        "processing <Certificate(subject=<Name(CN=localhost)>, ...)>)", R.NAME_MISMATCH),
    "path length constraint violated": (
        "validation failed: candidates exhausted: path length constraint violated",
        R.PATH_LENGTH),
    "chain construction exceeds max depth": (
        "validation failed: candidates exhausted: chain construction exceeds max depth",
        R.CHAIN_TOO_LONG),
    "Forbidden signature algorithm": (
        "validation failed: candidates exhausted: Forbidden signature algorithm: "
        "AlgorithmIdentifier { oid: DefinedByMarker, params: Ed25519 }",
        R.UNSUPPORTED_SIGNATURE),
    "Forbidden public key algorithm": (
        "validation failed: candidates exhausted: Forbidden public key algorithm: "
        "AlgorithmIdentifier { oid: DefinedByMarker, params: Ed25519 }", R.UNSUPPORTED_KEY),
    "RSA key is too weak": ("validation failed: candidates exhausted: RSA key is too weak",
                            R.CA_KEY_TOO_SMALL),
    "certificate must be an X509v3 certificate": (
        "validation failed: certificate must be an X509v3 certificate (encountered "
        "processing <Certificate(subject=<Name(CN=alice)>, ...)>)", R.NOT_VERSION_3),
    "unaccounted-for critical extensions": (
        "validation failed: invalid extension: 1.3.6.1.4.1.55555.1: certificate contains "
        "unaccounted-for critical extensions (encountered processing <Certificate(...)>)",
        R.CRITICAL_EXTENSION),
    "signature does not match": (
        "validation failed: candidates exhausted: signature does not match", R.BAD_SIGNATURE),
    "not valid at validation time": (
        "validation failed: cert is not valid at validation time", R.EXPIRED),
    "Python extension validator failed": (
        "validation failed: Python extension validator failed: PolicyViolation: its extended "
        "key usage (clientAuth) does not include TLS server authentication", R.BAD_USAGE),
    "basicConstraints.cA must not be asserted": (
        "validation failed: basicConstraints.cA must not be asserted in an EE certificate",
        R.WEB_PKI_PROFILE),
    "Certificate is missing required extension": (
        "validation failed: Certificate is missing required extension", R.WEB_PKI_PROFILE),
    "Certificate extension has incorrect criticality": (
        "validation failed: invalid extension: 2.5.29.19: Certificate extension has "
        "incorrect criticality", R.WEB_PKI_PROFILE),
    "MUST": ("validation failed: EE subjectAltName MUST NOT be critical when subject is "
             "nonempty", R.WEB_PKI_PROFILE),
}


def test_every_message_classify_maps_has_an_example() -> None:
    assert {fragment for fragment, _ in _MESSAGES} == set(EXAMPLES)


@pytest.mark.parametrize("fragment", list(EXAMPLES))
def test_classify_maps_each_message_to_its_reason(fragment: str) -> None:
    message, reason = EXAMPLES[fragment]
    found, text = classify(message)
    assert found is reason
    assert "validation failed" not in text and "encountered processing" not in text


def test_classify_leaves_an_unknown_message_as_other_with_its_text() -> None:
    assert classify("validation failed: something new") == (R.OTHER, "something new")


def test_classify_reads_the_real_message_of_a_real_refusal() -> None:
    # The CA/B Forum profile's objection to a trustme leaf, as cryptography words it.
    authority = trustme.CA()
    leaf = x509.load_pem_x509_certificate(authority.issue_cert("localhost").cert_chain_pems[0]
                                          .bytes())
    root = x509.load_pem_x509_certificate(authority.cert_pem.bytes())
    builder = verification.PolicyBuilder().store(verification.Store([root]))
    with pytest.raises(verification.VerificationError) as caught:
        builder.build_server_verifier(x509.DNSName("localhost")).verify(leaf, [])
    assert classify(str(caught.value))[0] is R.WEB_PKI_PROFILE


# -- reasons, alerts and OpenSSL's verify codes --------------------------------------------

# Reasons OpenSSL has no verify code for: glasstls reports X509_V_ERR_UNSPECIFIED.
NO_OPENSSL_CODE = {R.UNSUPPORTED_KEY, R.UNSUPPORTED_SIGNATURE, R.NOT_VERSION_3,
                   R.WEB_PKI_PROFILE, R.NO_SERVER_NAME, R.OTHER}


@pytest.mark.parametrize("reason", list(CertificateReason), ids=lambda r: r.name)
def test_every_reason_has_a_verify_code_and_a_sentence(reason: CertificateReason) -> None:
    refusal = Refusal(reason, subject="CN=x", issuer="CN=y", requested_name="x.test",
                      now=NOW, not_before=NOW, not_after=NOW, crl_issued=NOW, revoked_on=NOW)
    error = CertificateRejected(refusal)
    code, message = verify_code(error)
    assert (code == 1) == (reason in NO_OPENSSL_CODE)
    assert message
    assert str(error) and error.alert == refusal.alert
    assert error.reason is reason


# -- verify_flags, CRLs and options on glasstls.SSLContext ---------------------------------


@pytest.mark.parametrize("flag", [ssl.VERIFY_X509_STRICT, ssl.VERIFY_ALLOW_PROXY_CERTS, 0x200000])
def test_a_verify_flag_glasstls_does_not_implement_raises_at_assignment(flag: int) -> None:
    context = glasstls.SSLContext()
    with pytest.raises(ValueError, match="does not implement"):
        context.verify_flags = ssl.VERIFY_CRL_CHECK_LEAF | flag
    assert context.verify_flags == ssl.VERIFY_X509_TRUSTED_FIRST  # unchanged


@pytest.mark.parametrize(("flags", "crl_check", "partial"), [
    (ssl.VERIFY_DEFAULT, "none", False),
    (ssl.VERIFY_X509_TRUSTED_FIRST, "none", False),
    (ssl.VERIFY_CRL_CHECK_LEAF, "leaf", False),
    (ssl.VERIFY_CRL_CHECK_CHAIN, "chain", False),
    (ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_CRL_CHECK_LEAF, "leaf", True),
])
def test_honoured_verify_flags_reach_the_client_config(flags: int, crl_check: str,
                                                       partial: bool) -> None:
    context = glasstls.SSLContext()
    context.load_verify_locations(cadata=trustme.CA().cert_pem.bytes().decode())
    context.verify_flags = flags  # type: ignore[assignment]
    config = context.client_config()
    assert config.crl_check == crl_check
    assert config.trust_partial_chain is partial
    assert context.verify_flags == flags


def test_common_name_fallback_is_off_by_default_and_can_be_turned_on() -> None:
    context = glasstls.SSLContext()
    assert context.hostname_checks_common_name is False
    assert context.client_config().hostname_checks_common_name is False
    context.hostname_checks_common_name = True
    assert context.client_config().hostname_checks_common_name is True


def test_strict_web_pki_reaches_both_configs() -> None:
    client = glasstls.SSLContext()
    client.strict_web_pki = True
    assert client.client_config().strict_web_pki is True


def _root_and_crl() -> tuple[object, x509.CertificateRevocationList]:
    root = issue("CRL test root", None, ca=True)
    return root, crl(root)


def test_crls_load_from_cadata_as_pem_text_and_as_der_bytes() -> None:
    root, revocations = _root_and_crl()
    context = glasstls.SSLContext()
    context.load_verify_locations(cadata=(pem(root) + pem(revocations)).decode())  # type: ignore[arg-type]
    context.load_verify_locations(cadata=revocations.public_bytes(serialization.Encoding.DER))
    assert context.cert_store_stats() == {"x509": 1, "crl": 2, "x509_ca": 1}


def test_crls_load_from_a_der_cafile_and_from_capath(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, revocations = _root_and_crl()
    (tmp_path / "root.pem").write_bytes(pem(root))  # type: ignore[arg-type]
    (tmp_path / "root.r0").write_bytes(revocations.public_bytes(serialization.Encoding.DER))
    context = glasstls.SSLContext()
    context.load_verify_locations(capath=str(tmp_path))
    context.load_verify_locations(cafile=str(tmp_path / "root.r0"))
    assert context.cert_store_stats()["crl"] == 2


def test_config_refuses_an_unknown_crl_check() -> None:
    with pytest.raises(ConfigError, match="crl_check"):
        ClientConfig(crl_check="always")


# -- verify_chain corners -----------------------------------------------------------------


def _verify(trust: TrustStore, chain: list[x509.Certificate], **options: object
            ) -> list[x509.Certificate]:
    return verify_chain(trust, chain, purpose=Purpose.SERVER, server_name="localhost",
                        check_name=True, options=VerifyOptions(**options),  # type: ignore[arg-type]
                        now=time.time())


def test_strict_web_pki_refuses_what_the_default_accepts() -> None:
    authority = trustme.CA()
    leaf = x509.load_pem_x509_certificate(authority.issue_cert("localhost").cert_chain_pems[0]
                                          .bytes())
    trust = TrustStore([x509.load_pem_x509_certificate(authority.cert_pem.bytes())])
    assert _verify(trust, [leaf])[0] == leaf
    with pytest.raises(CertificateRejected) as caught:
        _verify(trust, [leaf], strict_web_pki=True)
    assert caught.value.reason is R.WEB_PKI_PROFILE
    assert "MUST NOT be critical" in str(caught.value)


def _crl_case(**changes: object) -> tuple[TrustStore, x509.Certificate]:
    root = issue("CRL root", None, ca=True)
    leaf = issue("localhost", root, dns=["localhost"], eku=SERVER_AUTH)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(root.name)
               .last_update(NOW - DAY).next_update(NOW + DAY))
    if changes.get("remove_from_crl"):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(leaf.certificate.serial_number)
            .revocation_date(NOW - DAY).add_extension(
                x509.CRLReason(x509.ReasonFlags.remove_from_crl), False).build())
    if "extension" in changes:
        builder = builder.add_extension(*changes["extension"])  # type: ignore[misc]
    return TrustStore([root.certificate], [builder.sign(root.key, hashes.SHA256())]), (
        leaf.certificate)


def test_a_remove_from_crl_entry_does_not_revoke() -> None:
    trust, leaf = _crl_case(remove_from_crl=True)
    assert _verify(trust, [leaf], crl_check=CrlCheck.LEAF)


def test_a_crl_with_an_unknown_critical_extension_is_refused() -> None:
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x05\x00")
    trust, leaf = _crl_case(extension=(unknown, True))
    with pytest.raises(CertificateRejected) as caught:
        _verify(trust, [leaf], crl_check=CrlCheck.LEAF)
    assert caught.value.reason is R.CRL_CRITICAL_EXTENSION
    assert verify_code(caught.value)[0] == 36


def test_a_crl_only_for_ca_certificates_does_not_cover_a_leaf() -> None:
    scope = x509.IssuingDistributionPoint(
        full_name=None, relative_name=None, only_contains_user_certs=False,
        only_contains_ca_certs=True, only_some_reasons=None, indirect_crl=False,
        only_contains_attribute_certs=False)
    trust, leaf = _crl_case(extension=(scope, True))
    with pytest.raises(CertificateRejected) as caught:
        _verify(trust, [leaf], crl_check=CrlCheck.LEAF)
    assert caught.value.reason is R.CRL_MISSING


def test_an_issuer_whose_key_usage_lacks_crl_sign_cannot_vouch_for_its_crl() -> None:
    root = issue("No CRL signing", None, ca=None, key_usage={"key_cert_sign": True},
                 extra=[(x509.BasicConstraints(True, None), True)])
    leaf = issue("localhost", root, dns=["localhost"], eku=SERVER_AUTH)
    trust = TrustStore([root.certificate], [crl(root)])
    with pytest.raises(CertificateRejected) as caught:
        _verify(trust, [leaf.certificate], crl_check=CrlCheck.LEAF)
    assert caught.value.reason is R.CRL_ISSUER_CANNOT_SIGN
    assert verify_code(caught.value)[0] == 35


def test_an_unsupported_key_type_is_named() -> None:
    from cryptography.hazmat.primitives.asymmetric import dsa

    root = issue("DSA issuer", None, ca=True)
    leaf = issue("localhost", root, key=dsa.generate_private_key(2048), dns=["localhost"])
    with pytest.raises(CertificateRejected) as caught:
        _verify(TrustStore([root.certificate]), [leaf.certificate])
    assert caught.value.reason is R.UNSUPPORTED_KEY
    assert "DSA" in str(caught.value)


def test_the_extension_policies_are_made_once_per_purpose() -> None:
    assert extension_policies(Purpose.SERVER, True) is extension_policies(Purpose.SERVER, True)



def test_an_absolute_server_name_with_its_trailing_dot_matches_the_certificate() -> None:
    # OpenSSL drops one trailing dot before matching (X509_VERIFY_PARAM_set1_host).
    chain = pki()
    pair = Pair(client_config(chain), server_config(chain), server_name="localhost.").pump()
    assert pair.complete, pair.client.error


@pytest.mark.parametrize("name", ["localhost..", "a_b.localhost", "-a.localhost"])
def test_a_server_name_no_certificate_can_hold_is_a_name_mismatch_not_a_bug(name: str) -> None:
    chain = pki()
    pair = Pair(client_config(chain), server_config(chain), server_name=name).pump()
    error = pair.client.error
    assert isinstance(error, CertificateRejected), error
    assert error.refusal.reason is R.NAME_MISMATCH
    assert f"'{name}'" in str(error) and "DNS:localhost" in str(error)
