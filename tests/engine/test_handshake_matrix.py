"""Every TLS 1.3 cipher suite × key exchange group × certificate type, client and
server of glasstls in memory: both sides agree on what was negotiated and data flows
both ways."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from glasstls import AlertDescription, BadCertificate
from glasstls.constants import CipherSuite, NamedGroup, SignatureScheme
from glasstls.crypto.suites import SUITES
from helpers.pump import client_config, connect, server_config
from pki import KEY_TYPES, pki

SUITE_IDS = (CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384,
             CipherSuite.TLS_CHACHA20_POLY1305_SHA256)
GROUP_IDS = (NamedGroup.X25519MLKEM768, NamedGroup.x25519, NamedGroup.secp256r1,
             NamedGroup.secp384r1)
SCHEME_FOR = {
    "ecdsa-p256": SignatureScheme.ecdsa_secp256r1_sha256,
    "ecdsa-p384": SignatureScheme.ecdsa_secp384r1_sha384,
    "rsa-2048": SignatureScheme.rsa_pss_rsae_sha256,
    "ed25519": SignatureScheme.ed25519,
}


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("group", GROUP_IDS, ids=lambda g: NamedGroup(g).name)
@pytest.mark.parametrize("suite", SUITE_IDS, ids=lambda s: CipherSuite(s).name)
def test_tls13_handshake_negotiates_suite_group_and_scheme_and_carries_data(
        suite: int, group: int, key_type: str) -> None:
    test_pki = pki(key_type)
    # cryptography's path validator refuses Ed25519 chains (see the test below), so
    # the Ed25519 case runs without chain verification; CertificateVerify is still
    # checked (tests/engine/test_certificates.py).
    verify = key_type != "ed25519"
    pair = connect(
        client_config(test_pki, cipher_suites=(suite,), groups=(group,),
                      key_share_groups=(group,), verify_certificates=verify),
        server_config(test_pki),
    )
    assert pair.client.error is None and pair.server.error is None
    for side in (pair.client, pair.server):
        negotiated = side.negotiated
        assert negotiated.version == "TLSv1.3"
        assert negotiated.cipher_suite == SUITES[suite].name
        assert negotiated.group == NamedGroup(group).name
        assert negotiated.signature_scheme == SCHEME_FOR[key_type].name
        assert not negotiated.resumed
    assert pair.client.negotiated.peer_certificates == test_pki.certified.chain_der
    if verify:
        anchor = test_pki.ca.certificate.public_bytes(serialization.Encoding.DER)
        assert pair.client.negotiated.verified_chain[-1] == anchor

    pair.client.connection.send(b"ping from the client")
    pair.server.connection.send(b"pong from the server")
    pair.pump()
    assert pair.server.data == b"ping from the client"
    assert pair.client.data == b"pong from the server"


def test_ed25519_chain_with_verification_fails_naming_ed25519_with_unsupported_certificate(
) -> None:
    test_pki = pki("ed25519")
    pair = connect(client_config(test_pki), server_config(test_pki))
    assert isinstance(pair.client.error, BadCertificate)
    assert pair.client.alert_sent == AlertDescription.unsupported_certificate
    assert "Ed25519" in str(pair.client.error)
    assert pair.server.alerts_received == [AlertDescription.unsupported_certificate]
    assert not pair.client.connection.handshake_complete
