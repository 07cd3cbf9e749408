"""EdDSA certificates in TLS 1.2: the ECDHE_ECDSA suites with signature scheme
ed25519 in ServerKeyExchange and CertificateVerify (RFC 8422 §5.3, §5.4, §5.8),
server and client certificates both."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, CertifiedKey, ClientConfig, ServerConfig, TrustStore
from glasstls.constants import CipherSuite as C, SignatureScheme
from glasstls.crypto.signatures import DEFAULT_SCHEMES
from helpers.pump import Pair, connect
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


WITH_ED448 = (*DEFAULT_SCHEMES, SignatureScheme.ed448)


def _ed448_client(tls12: bool, ed448: CertifiedKey) -> ClientConfig:
    """A client trusting ``ed448`` that offers the ed448 scheme (as OpenSSL does)."""
    trust = TrustStore([ed448.chain[0]])
    return (client12(ED25519, trust=trust, signature_schemes=WITH_ED448) if tls12
            else ClientConfig(trust=trust, signature_schemes=WITH_ED448))


@pytest.mark.parametrize("tls12", [True, False], ids=["TLS12", "TLS13"])
def test_ed448_certificate_when_both_sides_list_the_ed448_scheme(tls12: bool) -> None:
    # Ed448 is not offered by default (nor by rustls or Go); it is a row to opt into.
    ed448 = _ed448_self_signed()
    pair = connect(_ed448_client(tls12, ed448),
                   ServerConfig(certificates=(ed448,), signature_schemes=WITH_ED448))
    negotiated = pair.client.negotiated
    assert negotiated.signature_scheme == "ed448"
    assert negotiated.version == ("TLSv1.2" if tls12 else "TLSv1.3")
    assert negotiated.verified_chain


# -- what a server's refusal says when its own settings are the reason ----------------


@pytest.mark.parametrize("tls12", [True, False], ids=["TLS12", "TLS13"])
def test_an_ed448_server_without_the_scheme_says_its_list_leaves_it_out(tls12: bool) -> None:
    # The client offers ed448 as OpenSSL does; the server keeps the default schemes.
    ed448 = _ed448_self_signed()
    pair = Pair(_ed448_client(tls12, ed448), ServerConfig(certificates=(ed448,))).pump()
    assert pair.server.error is not None
    assert pair.server.error.alert == AlertDescription.handshake_failure
    assert "the client accepts ed448, which this server's signature_schemes leave out" in (
        str(pair.server.error))


@pytest.mark.parametrize(("server_pki", "hinted"), [("rsa-2048", True), ("ecdsa-p256", False)])
def test_the_rsa_key_exchange_hint_only_where_enabling_it_would_help(server_pki: str,
                                                                     hinted: bool) -> None:
    key = pki(server_pki)
    pair = Pair(client12(key, cipher_suites=(C.TLS_RSA_WITH_AES_128_GCM_SHA256,),
                         enable_rsa_key_exchange=True), server12(key)).pump()
    assert pair.server.error is not None
    message = str(pair.server.error)
    assert message.startswith("no TLS 1.2 cipher suite, group and certificate in common")
    assert ("RSA key exchange, which is disabled here" in message) is hinted
    assert "signature_schemes" not in message  # no ECDHE suite was offered: not the reason
