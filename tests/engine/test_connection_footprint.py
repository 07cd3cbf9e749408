"""What an established connection keeps: enough to work and to inspect, no more."""

from __future__ import annotations

import pytest
import trustme
from cryptography.hazmat.primitives.serialization import Encoding

from glasstls import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ServerConfig,
    ServerConnection,
    TrustStore,
)
from glasstls.constants import TLS12, TLS13, CipherSuite
from helpers.pump import client_config, connect, engine_of, server_config
from pki import pki

TEST_PKI = pki("ecdsa-p256")


def test_server_drops_the_client_hello_after_the_handshake_by_default() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    server = pair.server.connection
    assert isinstance(server, ServerConnection) and pair.complete
    assert server.client_hello is None
    # What ssl's shared_ciphers() needs is kept.
    assert CipherSuite.TLS_AES_128_GCM_SHA256 in server.offered_cipher_suites


def test_server_keeps_the_client_hello_when_asked() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI, keep_client_hello=True))
    server = pair.server.connection
    assert isinstance(server, ServerConnection)
    assert server.client_hello is not None
    assert server.client_hello.raw[0] == 1  # a ClientHello, as received


def test_transcript_is_released_once_the_handshake_is_over() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    for side in (pair.client, pair.server):
        with pytest.raises(AssertionError):
            engine_of(side.connection).transcript.digest()  # nothing left to hash
        side.connection.send(b"still works")
    pair.pump()
    assert pair.client.data == b"still works" and pair.server.data == b"still works"


def test_connections_have_no_per_instance_dictionary() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    for connection in (pair.client.connection, pair.server.connection):
        assert isinstance(connection, (ClientConnection, ServerConnection))
        assert not hasattr(connection, "__dict__")


def test_verified_chain_shares_the_leaf_bytes_with_the_chain_received() -> None:
    pair = connect(client_config(TEST_PKI), server_config(TEST_PKI))
    done = pair.client.negotiated
    assert done.verified_chain[0] is done.peer_certificates[0]
    assert len(done.verified_chain) == 2  # leaf and the test CA


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_verified_chain_reuses_the_bytes_received_and_the_trust_stores(version: int) -> None:
    root = trustme.CA()
    issued = root.create_child_ca().issue_cert("localhost")
    chain_pem = b"".join(blob.bytes() for blob in issued.cert_chain_pems)
    trust = TrustStore.from_pem(root.cert_pem.bytes())
    server = ServerConfig(certificates=(CertifiedKey.from_pem(
        chain_pem, issued.private_key_pem.bytes()),), versions=(version,))
    anchors = []
    for _ in range(2):
        pair = connect(ClientConfig(trust=trust, versions=(version,)), server)
        done = pair.client.negotiated
        received = done.peer_certificates
        assert len(received) == 2  # leaf and intermediate
        assert done.verified_chain[:2] == received
        assert done.verified_chain[0] is received[0] and done.verified_chain[1] is received[1]
        assert done.verified_chain[2] == trust.certificates[0].public_bytes(Encoding.DER)
        anchors.append(done.verified_chain[2])
    assert anchors[0] is anchors[1]  # the anchor's DER is encoded once per store


def test_trust_store_der_keeps_only_its_own_certificates() -> None:
    store = TEST_PKI.trust
    own, other = store.certificates[0], pki("rsa-2048").ca.certificate
    assert store.der(own) is store.der(own) == own.public_bytes(Encoding.DER)
    assert store.der(other) == other.public_bytes(Encoding.DER)
    assert store.der(other) is not store.der(other)  # not kept: not one of the store's
