"""ML-DSA authentication (draft-ietf-tls-mldsa) and the ML-KEM hybrids
(draft-ietf-tls-ecdhe-mlkem), glasstls against itself in memory."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from glasstls import AlertDescription, ClientConnection
from glasstls.constants import TLS12, ExtensionType as X, NamedGroup, SignatureScheme
from glasstls.crypto.groups import GROUPS
from glasstls.crypto.signatures import sign, verify
from glasstls.errors import PeerMisbehaved
from glasstls.messages.extensions import U16List, find_typed
from glasstls.messages.handshake import ClientHello
from glasstls.trace import CERTIFICATE_REQUEST, HELLO_RETRY_REQUEST, KEY_EXCHANGE
from helpers.pump import client_config, connect, server_config
from pki import MLDSA_KEY_TYPES, pki

HYBRIDS = ("X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024")
SIGNATURE_BYTES = {"mldsa44": 2420, "mldsa65": 3309, "mldsa87": 4627}  # FIPS 204 Table 2
MLDSA_SCHEMES = {0x0904, 0x0905, 0x0906}


class Steps(list):  # type: ignore[type-arg]
    def __call__(self, event: object) -> None:
        self.append(event)

    def named(self, step: str) -> list:  # type: ignore[type-arg]
        return [e for e in self if e.step == step]


@pytest.mark.parametrize("key_type", MLDSA_KEY_TYPES)
def test_an_mldsa_server_certificate_signs_the_handshake(key_type: str) -> None:
    test_pki = pki(key_type)
    pair = connect(client_config(test_pki), server_config(test_pki))
    assert pair.complete
    assert pair.client.negotiated.signature_scheme == key_type
    assert pair.client.negotiated.verified_chain


@pytest.mark.parametrize("key_type", MLDSA_KEY_TYPES)
def test_an_mldsa_client_certificate_signs_its_certificate_verify(key_type: str) -> None:
    test_pki = pki(key_type)
    pair = connect(client_config(test_pki, certificate=test_pki.client_certified),
                   server_config(test_pki, client_auth="required", client_trust=test_pki.trust))
    assert pair.complete
    assert pair.server.negotiated.peer_certificates


@pytest.mark.parametrize("key_type", MLDSA_KEY_TYPES)
def test_signatures_have_the_fips_204_sizes_and_bind_the_data(key_type: str) -> None:
    key = pki(key_type).leaf.key
    scheme = SignatureScheme[key_type]
    signature = sign(key, scheme, b"content")
    assert len(signature) == SIGNATURE_BYTES[key_type]
    verify(key.public_key(), scheme, b"content", signature)  # type: ignore[arg-type]
    with pytest.raises(PeerMisbehaved) as caught:
        verify(key.public_key(), scheme, b"other content", signature)  # type: ignore[arg-type]
    assert caught.value.alert == AlertDescription.decrypt_error


def test_an_mldsa_certificate_is_not_used_in_tls12() -> None:
    test_pki = pki("mldsa65")
    pair = connect(client_config(test_pki, versions=(TLS12,)), server_config(test_pki))
    assert pair.server.alert_sent == AlertDescription.handshake_failure


def test_a_tls12_only_client_does_not_offer_mldsa() -> None:
    first_flight = ClientConnection(client_config(pki(), versions=(TLS12,)),
                                    server_name="localhost").data_to_send()
    hello = ClientHello.parse(first_flight[5:])
    offered = find_typed(hello.extensions, X.signature_algorithms, U16List)
    assert offered is not None and not MLDSA_SCHEMES & set(offered.values)
    both = ClientConnection(client_config(pki()), server_name="localhost").data_to_send()
    offered = find_typed(ClientHello.parse(both[5:]).extensions, X.signature_algorithms, U16List)
    assert offered is not None and offered.values[:3] == (0x0905, 0x0906, 0x0904)


def test_a_tls12_server_does_not_ask_for_mldsa_client_certificates() -> None:
    test_pki, mldsa, steps = pki("ecdsa-p256"), pki("mldsa65"), Steps()
    pair = connect(client_config(test_pki, versions=(TLS12,), certificate=mldsa.client_certified,
                                 trace=steps),
                   server_config(test_pki, client_auth="optional", client_trust=mldsa.trust))
    assert pair.complete
    requested = steps.named(CERTIFICATE_REQUEST)[0].details["signature_algorithms"]
    assert requested and not {"mldsa44", "mldsa65", "mldsa87"} & set(requested)
    # The client holds only an ML-DSA certificate, which TLS 1.2 cannot use: it sends none.
    assert not pair.server.negotiated.peer_certificates


@pytest.mark.parametrize("group", HYBRIDS)
def test_each_hybrid_round_trips_at_its_draft_sizes(group: str) -> None:
    row = GROUPS[NamedGroup[group]]
    share = row.generate(os.urandom)
    server_share, secret = row.respond(share.public, os.urandom)
    assert (len(share.public), len(server_share)) == (row.client_share_size,
                                                      row.server_share_size)
    assert share.complete(server_share) == secret
    assert len(secret) == (80 if group == "SecP384r1MLKEM1024" else 64)


def test_the_nist_curve_hybrids_put_the_ecdh_point_first() -> None:
    for group, curve, size in (("SecP256r1MLKEM768", ec.SECP256R1(), 65),
                               ("SecP384r1MLKEM1024", ec.SECP384R1(), 97)):
        share = GROUPS[NamedGroup[group]].generate(os.urandom)
        ec.EllipticCurvePublicKey.from_encoded_point(curve, share.public[:size])


@pytest.mark.parametrize("group", HYBRIDS)
def test_a_server_that_wants_a_hybrid_asks_for_it_with_hello_retry_request(group: str) -> None:
    test_pki, steps = pki(), Steps()
    pair = connect(client_config(test_pki, trace=steps),
                   server_config(test_pki, groups=(NamedGroup[group],)))
    assert pair.complete
    assert pair.client.negotiated.group == group
    retried = steps.named(HELLO_RETRY_REQUEST)
    assert (group == "X25519MLKEM768") == (not retried)  # the default first share needs none
    exchange = steps.named(KEY_EXCHANGE)[0]
    assert exchange.details["hybrid"] is True


@pytest.mark.parametrize("group", ("SecP256r1MLKEM768", "SecP384r1MLKEM1024"))
def test_bad_hybrid_shares_are_illegal_parameter(group: str) -> None:
    row = GROUPS[NamedGroup[group]]
    share = row.generate(os.urandom)
    server_share, _ = row.respond(share.public, os.urandom)
    off_curve = b"\x04" + b"\x01" * (len(share.public) - 1)  # not a point, not a key
    for bad in (share.public[:-1], off_curve):
        with pytest.raises(PeerMisbehaved) as caught:
            row.respond(bad, os.urandom)
        assert caught.value.alert == AlertDescription.illegal_parameter
    for bad in (server_share[:-1], b"\x04" + b"\x01" * (len(server_share) - 1)):
        with pytest.raises(PeerMisbehaved) as caught:
            share.complete(bad)
        assert caught.value.alert == AlertDescription.illegal_parameter
