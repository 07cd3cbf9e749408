"""What an established connection keeps: enough to work and to inspect, no more."""

from __future__ import annotations

import pytest

from glasstls import ClientConnection, ServerConnection
from glasstls.constants import CipherSuite
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
