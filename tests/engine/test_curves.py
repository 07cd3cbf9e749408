"""The curves OpenSSL 3.0 accepts by default: P-521 and Ed448 certificates, the
secp521r1 and x448 key exchange groups, in both versions and with the default
configurations on both sides."""

from __future__ import annotations

import pytest

from glasstls import AlertDescription, NamedGroup, TrustStore
from glasstls.constants import HELLO_RETRY_REQUEST_RANDOM, TLS12, TLS13
from helpers.pump import SERVER_TO_CLIENT, Pair, client_config, connect, server_config
from pki import pki

VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
NEW_GROUPS = {"secp521r1": NamedGroup.secp521r1, "x448": NamedGroup.x448}


def _retried(pair: Pair) -> bool:
    """Whether the server's first record holds a HelloRetryRequest."""
    sent = pair.sent(SERVER_TO_CLIENT)
    return sent[5 + 6:5 + 38] == HELLO_RETRY_REQUEST_RANDOM


@pytest.mark.parametrize("version", VERSIONS)
def test_a_p521_chain_verifies_with_the_default_schemes(version: str) -> None:
    p521 = pki("ecdsa-p521")
    versions = (VERSIONS[version],)
    pair = connect(client_config(p521, versions=versions), server_config(p521))
    negotiated = pair.client.negotiated
    assert negotiated.version == ("TLSv1.3" if version == "TLS13" else "TLSv1.2")
    assert negotiated.signature_scheme == "ecdsa_secp521r1_sha512"
    # The P-521 CA signed the leaf with SHA-512; cryptography's path validation took it.
    assert len(negotiated.verified_chain) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_an_ed448_ca_is_refused_saying_cryptography_cannot_check_it(version: str) -> None:
    ed448 = pki("ed448")
    pair = Pair(client_config(ed448, versions=(VERSIONS[version],)),
                server_config(ed448)).pump()
    assert pair.client.alert_sent == AlertDescription.unsupported_certificate
    message = str(pair.client.error)
    assert "signed with Ed448" in message
    assert "cannot build a path through an EdDSA CA (OpenSSL can)" in message


@pytest.mark.parametrize("version", VERSIONS)
def test_an_ed448_leaf_trusted_as_itself_authenticates(version: str) -> None:
    ed448 = pki("ed448")
    trust = TrustStore([ed448.leaf.certificate])
    pair = connect(client_config(ed448, trust=trust, versions=(VERSIONS[version],)),
                   server_config(ed448))
    negotiated = pair.client.negotiated
    assert negotiated.signature_scheme == "ed448"
    assert pair.server.negotiated.signature_scheme == "ed448"


@pytest.mark.parametrize("group", NEW_GROUPS)
def test_tls13_server_preferring_a_new_group_asks_for_its_share(group: str) -> None:
    # The default client sends no share for it: the server's HelloRetryRequest asks.
    p256 = pki("ecdsa-p256")
    pair = connect(client_config(p256), server_config(p256, groups=(NEW_GROUPS[group],)))
    assert pair.client.negotiated.group == group
    assert pair.server.negotiated.group == group
    assert _retried(pair)


@pytest.mark.parametrize("group", NEW_GROUPS)
def test_tls13_client_sending_a_share_of_a_new_group_needs_no_retry(group: str) -> None:
    p256 = pki("ecdsa-p256")
    chosen = NEW_GROUPS[group]
    pair = connect(client_config(p256, groups=(chosen,), key_share_groups=(chosen,)),
                   server_config(p256))
    assert pair.server.negotiated.group == group
    assert not _retried(pair)


@pytest.mark.parametrize("group", NEW_GROUPS)
def test_tls12_ecdhe_with_a_new_group(group: str) -> None:
    p256 = pki("ecdsa-p256")
    pair = connect(client_config(p256, versions=(TLS12,)),
                   server_config(p256, groups=(NEW_GROUPS[group],)))
    assert pair.client.negotiated.version == "TLSv1.2"
    assert pair.client.negotiated.group == group
