"""Ed25519 certificates in TLS 1.2: the ECDHE_ECDSA suites with signature scheme
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
