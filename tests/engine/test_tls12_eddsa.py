"""EdDSA certificates in TLS 1.2: the ECDHE_ECDSA suites with signature scheme
ed25519 in ServerKeyExchange and CertificateVerify (RFC 8422 §5.3, §5.4, §5.8),
server and client certificates both."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, CertifiedKey, TrustStore
from glasstls.constants import CipherSuite as C, SignatureScheme
from helpers.pump import connect
from helpers.tls12 import client12, server12
from pki import pki

ED25519 = pki("ed25519")
# cryptography cannot validate a path through an Ed25519 CA, so the leaves
# themselves are the trust anchors here (as a self-signed certificate would be).
LEAF_TRUST = TrustStore([ED25519.leaf.certificate])
CLIENT_TRUST = TrustStore([ED25519.client.certificate])

ECDSA_SUITES = (C.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                C.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                C.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)


@pytest.mark.parametrize("suite", ECDSA_SUITES, ids=lambda s: C(s).name)
def test_ed25519_server_certificate_with_an_ecdhe_ecdsa_suite(suite: int) -> None:
    pair = connect(client12(ED25519, trust=LEAF_TRUST, cipher_suites=(suite,)),
                   server12(ED25519))
    negotiated = pair.client.negotiated
    assert negotiated.version == "TLSv1.2"
    assert negotiated.cipher_suite == C(suite).name
    assert negotiated.signature_scheme == SignatureScheme.ed25519.name
    assert negotiated.verified_chain  # the leaf was verified, as a trust anchor


def test_ed25519_client_certificate_in_tls12_is_verified_by_the_server() -> None:
    pair = connect(
        client12(ED25519, trust=LEAF_TRUST, certificate=ED25519.client_certified),
        server12(ED25519, client_auth="required", client_trust=CLIENT_TRUST))
    negotiated = pair.server.negotiated
    assert negotiated.version == "TLSv1.2"
    assert negotiated.peer_certificates == ED25519.client_certified.chain_der
    assert negotiated.verified_chain  # the client's leaf, a trust anchor here


def test_ed25519_server_without_ed25519_in_the_client_offer_is_handshake_failure() -> None:
    # RFC 8422 §5.1.1: the certificate must fit a scheme the client offered.
    pair = connect(client12(ED25519, trust=LEAF_TRUST,
                            signature_schemes=(SignatureScheme.ecdsa_secp256r1_sha256,)),
                   server12(ED25519))
    assert pair.server.alert_sent == AlertDescription.handshake_failure


def test_ecdsa_and_ed25519_certificates_side_by_side_serve_each_client() -> None:
    ecdsa = pki("ecdsa-p256")
    both = (ecdsa.certified, CertifiedKey((ED25519.leaf.certificate,), ED25519.leaf.key))
    only_ed25519 = connect(
        client12(ED25519, trust=LEAF_TRUST, signature_schemes=(SignatureScheme.ed25519,)),
        server12(ED25519, certificates=both))
    assert only_ed25519.client.negotiated.signature_scheme == "ed25519"
    only_ecdsa = connect(
        client12(ecdsa, signature_schemes=(SignatureScheme.ecdsa_secp256r1_sha256,)),
        server12(ED25519, certificates=both))
    assert only_ecdsa.client.negotiated.signature_scheme == "ecdsa_secp256r1_sha256"


def _ed448_self_signed() -> CertifiedKey:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed448
    from cryptography.x509.oid import NameOID

    key = ed448.Ed448PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                                  False)
                   .sign(key, None))
    return CertifiedKey((certificate,), key)


@pytest.mark.parametrize("tls12", [True, False], ids=["TLS12", "TLS13"])
def test_ed448_certificate_when_both_sides_list_the_ed448_scheme(tls12: bool) -> None:
    from glasstls import ClientConfig, ServerConfig
    from glasstls.crypto.signatures import DEFAULT_SCHEMES

    # Ed448 is not offered by default (nor by rustls or Go); it is a row to opt into.
    ed448 = _ed448_self_signed()
    schemes = (*DEFAULT_SCHEMES, SignatureScheme.ed448)
    trust = TrustStore([ed448.chain[0]])
    client = (client12(ED25519, trust=trust, signature_schemes=schemes) if tls12
              else ClientConfig(trust=trust, signature_schemes=schemes))
    pair = connect(client, ServerConfig(certificates=(ed448,), signature_schemes=schemes))
    negotiated = pair.client.negotiated
    assert negotiated.signature_scheme == "ed448"
    assert negotiated.version == ("TLSv1.2" if tls12 else "TLSv1.3")
    assert negotiated.verified_chain
