"""What an established connection keeps: enough to work and to inspect, no more."""

from __future__ import annotations

import dataclasses
import enum
import gc
import sys
import types

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
from glasstls.constants import TLS12, TLS13, CipherSuite, ExtensionType as X
from glasstls.crypto.hkdf import HmacKey
from glasstls.errors import InternalError, UsageError
from glasstls.events import (
    ConnectionClosed,
    KeyUpdated,
    PeerCertificateVerified,
    SessionTicketReceived,
)
from glasstls.handshake import client_hello
from glasstls.handshake.common import key_exchange13
from glasstls.handshake.engine import State
from glasstls.handshake.transcript import FINISHED, Transcript
from glasstls.keyschedule import KeySchedule, StageKeys
from glasstls.messages.extensions import find
from glasstls.session import SessionCache
from helpers.pump import (
    CLIENT_TO_SERVER,
    Pair,
    client_config,
    connect,
    engine_of,
    exchange,
    server_config,
)
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


@pytest.mark.parametrize("keep", [False, True])
def test_a_tls13_server_drops_the_client_hello_once_its_flight_is_out(keep: bool) -> None:
    # While it waits for the client's Finished: what a busy server holds then is what
    # the cyclic GC's young collections traverse, connection after connection.
    pair = Pair(client_config(TEST_PKI),
                server_config(TEST_PKI, keep_client_hello=keep))
    server = pair.server.connection
    assert isinstance(server, ServerConnection)
    pair.transfer(CLIENT_TO_SERVER)  # the ClientHello; the server's flight is queued
    assert not server.handshake_complete
    assert (server.client_hello is not None) == keep
    pair.pump()
    # What the hello told for later still holds: tickets (the client offered a
    # psk_key_exchange_mode) and post-handshake authentication, which it did not offer.
    assert pair.complete and len(pair.client.of_type(SessionTicketReceived)) == 2
    with pytest.raises(UsageError, match="did not offer post-handshake"):
        server.request_client_certificate()


def test_a_tls13_server_sends_no_tickets_to_a_client_that_offers_no_psk_mode() -> None:
    # RFC 8446 §4.6.1: what the hello said is kept in the flight, the hello is not.
    config = client_config(TEST_PKI)
    config.__dict__["hello_template"] = dataclasses.replace(  # (a cached property)
        config.hello_template, psk_key_exchange_modes=client_hello._run([]))
    pair = connect(config, server_config(TEST_PKI, keep_client_hello=True))
    server = pair.server.connection
    assert isinstance(server, ServerConnection) and server.client_hello is not None
    assert find(server.client_hello.extensions, X.psk_key_exchange_modes) is None
    assert pair.complete and not pair.client.of_type(SessionTicketReceived)


def test_a_tls12_server_keeps_the_client_hello_until_the_handshake_is_over() -> None:
    pair = Pair(client_config(TEST_PKI, versions=(TLS12,)), server_config(TEST_PKI))
    server = pair.server.connection
    assert isinstance(server, ServerConnection)
    pair.transfer(CLIENT_TO_SERVER)
    assert not server.handshake_complete and server.client_hello is not None
    pair.pump()
    assert pair.complete and server.client_hello is None


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


# -- what an idle connection holds (the bench's memory row) ------------------------------


def _reachable(root: object) -> list[object]:
    """The objects a connection holds, short of its config, classes, modules and enum
    members (which connections share)."""
    config = root.config  # type: ignore[attr-defined]
    stop = (type, types.ModuleType, types.FunctionType, enum.Enum)
    seen: set[int] = {id(config)}
    found: list[object] = []
    todo = [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, stop):
            continue
        seen.add(id(item))
        found.append(item)
        todo.extend(gc.get_referents(item))
    return found


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_an_established_connection_holds_no_instance_dictionary_or_bound_method(
        version: int) -> None:
    pair = connect(client_config(TEST_PKI, versions=(version,)),
                   server_config(TEST_PKI, versions=(version,)))
    exchange(pair)
    for side in (pair.client, pair.server):
        held = _reachable(side.connection)
        ours = [item for item in held if type(item).__module__.startswith("glasstls.")]
        assert type(engine_of(side.connection)) in {type(item) for item in ours}
        assert [type(item).__name__ for item in ours if hasattr(item, "__dict__")] == []
        # The record protections keep their AEAD, not its bound methods.
        assert [item for item in held if isinstance(item, types.BuiltinMethodType)
                and not isinstance(item.__self__, types.ModuleType)] == []


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_an_established_connection_no_longer_references_its_handshake(version: int) -> None:
    pair = connect(client_config(TEST_PKI, versions=(version,)),
                   server_config(TEST_PKI, versions=(version,)))
    exchange(pair)
    for side in (pair.client, pair.server):
        held = _reachable(side.connection)
        kinds = {type(item) for item in held}
        assert not kinds & {Transcript, KeySchedule, HmacKey, StageKeys}
        assert not any(isinstance(item, State) and not item.connected for item in held)
        # No parsed message (nor its extensions).
        assert not any(type(item).__module__.startswith("glasstls.messages.") for item in held)
        assert not any(type(item).__name__ in {"HASH", "X25519PrivateKey"} for item in held)
        core = engine_of(side.connection)
        assert core.transcript is FINISHED  # one shared, empty transcript
        assert not core.handshake_in and not core.handshake_out
        # The counters of what came in a row give back the table they grew.
        assert sys.getsizeof(core.in_a_row) == sys.getsizeof({})


def test_a_finished_transcript_refuses_to_hash_more() -> None:
    with pytest.raises(InternalError):
        FINISHED.add(b"\x14\x00\x00\x00")
    with pytest.raises(InternalError):
        FINISHED.set_hash("sha256")


@pytest.mark.parametrize("version", [TLS13, TLS12])
def test_connections_share_their_summaries_descriptions(version: int) -> None:
    summaries = [connect(client_config(TEST_PKI, versions=(version,)),
                         server_config(TEST_PKI, versions=(version,))).server.negotiated
                 for _ in range(2)]
    assert summaries[0].key_exchange == summaries[1].key_exchange
    assert summaries[0].key_exchange is summaries[1].key_exchange


def test_tls13_key_exchange_descriptions() -> None:
    assert key_exchange13("x25519", resumed=False) == "(EC)DHE x25519"
    assert key_exchange13("x25519", resumed=True) == "PSK + (EC)DHE x25519"
    assert key_exchange13(None, resumed=True) == "PSK"


def test_every_post_handshake_feature_works_on_a_released_tls13_connection() -> None:
    cache = SessionCache()
    server = server_config(TEST_PKI, versions=(TLS13,), client_trust=TEST_PKI.trust)
    pair = connect(client_config(TEST_PKI, versions=(TLS13,), post_handshake_auth=True,
                                 certificate=TEST_PKI.client_certified, session_cache=cache),
                   server)
    exchange(pair)
    client, server_connection = pair.client.connection, pair.server.connection
    assert isinstance(client, ClientConnection)
    assert isinstance(server_connection, ServerConnection)
    # Exporters agree on both sides.
    assert (client.export_keying_material("EXPERIMENTAL x", b"ctx", 32)
            == server_connection.export_keying_material("EXPERIMENTAL x", b"ctx", 32))
    # KeyUpdate both ways, then data still flows.
    client.key_update(request_peer_update=True)
    pair.pump()
    assert [e.direction for e in pair.server.of_type(KeyUpdated)] == ["read", "write"]
    exchange(pair)
    # Post-handshake client authentication.
    server_connection.request_client_certificate()
    pair.pump()
    (verified,) = pair.server.of_type(PeerCertificateVerified)
    assert verified.peer_certificates[0] == TEST_PKI.client_certified.chain_der[0]
    # The tickets the server sent resume.
    assert pair.client.of_type(SessionTicketReceived) and client.session is not None
    resumed = connect(client_config(TEST_PKI, versions=(TLS13,), session_cache=cache), server)
    assert resumed.client.negotiated.resumed and resumed.server.negotiated.resumed
    # close_notify both ways.
    client.close()
    server_connection.close()
    pair.pump()
    assert client.closed and server_connection.closed
    assert pair.client.of_type(ConnectionClosed) and pair.server.of_type(ConnectionClosed)


def test_the_exporter_master_secret_is_derived_only_when_keys_are_exported() -> None:
    pair = connect(client_config(TEST_PKI, versions=(TLS13,)),
                   server_config(TEST_PKI, versions=(TLS13,)))
    exporters = [engine_of(side.connection).negotiated.exporter
                 for side in (pair.client, pair.server)]
    assert [exporter._value for exporter in exporters] == [None, None]
    assert (pair.client.connection.export_keying_material("EXPERIMENTAL y", None, 16)
            == pair.server.connection.export_keying_material("EXPERIMENTAL y", None, 16))
    assert exporters[0]._value is not None and exporters[0]._value == exporters[1]._value
