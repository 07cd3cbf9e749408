"""Every byte of every record is covered by exactly one leaf field, in both sides'
recordings of TLS 1.3 and TLS 1.2 connections made in memory: full handshakes,
HelloRetryRequest, resumption, 0-RTT (accepted and refused), client
certificates, RSA key transport, padding, fragmented flights and key updates.
Every protected record decrypts, and every value the dissector recomputes
(Finished, binders, signatures, the secrets of the schedule) agrees with the
bytes on the wire and with what the engines derived."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from glasstls import ClientConfig, ClientConnection, ServerConfig
from glasstls.constants import TLS12, TLS13, CipherSuite, NamedGroup
from glasstls.explain.dissect import Explained
from glasstls.explain.recorder import Recorder
from glasstls.ocsp import StapleCallback
from glasstls.session import TicketKeys
from helpers import ocsp as make_ocsp
from helpers.pump import client_config, engine_of, server_config
from pki import pki

from .checks import exchange, failed_checks, session_of, tiling_problems

ECDSA, RSA = pki("ecdsa-p256"), pki("rsa-2048")


def _explained(recorder: Recorder) -> list[Explained]:
    return recorder.explain_all()


def full13() -> Recorder:
    recorder = Recorder()
    exchange(client_config(ECDSA, recorder=recorder), server_config(ECDSA, recorder=recorder),
             recorder)
    return recorder


def hello_retry() -> Recorder:
    recorder = Recorder()
    exchange(client_config(ECDSA, groups=(NamedGroup.x25519, NamedGroup.secp256r1),
                           key_share_groups=(NamedGroup.x25519,), recorder=recorder),
             server_config(ECDSA, groups=(NamedGroup.secp256r1,), recorder=recorder), recorder)
    return recorder


def _resumed(version: int, early: bytes = b"", max_early: int = 0, refuse: bool = False
             ) -> Recorder:
    """A first connection, then a second that resumes its session (both recorded);
    ``refuse``: the second server takes no early data (the ticket promised some)."""
    recorder = Recorder()
    keys = TicketKeys()
    client = client_config(RSA, versions=(version,), recorder=recorder,
                           enable_early_data=bool(early), session_cache=None)
    server = server_config(RSA, versions=(version,), recorder=recorder, ticket_keys=keys,
                           max_early_data_size=max_early)
    first = exchange(client, server, recorder)
    connection = ClientConnection(client, server_name="localhost", session=session_of(first))
    if early:
        connection.send_early_data(early)
    if refuse:
        server = server_config(RSA, versions=(version,), recorder=recorder, ticket_keys=keys)
    second = exchange(connection, server, recorder)
    assert second.server.negotiated.resumed
    return recorder


def client_auth(version: int) -> Callable[[], Recorder]:
    def make() -> Recorder:
        recorder = Recorder()
        exchange(client_config(ECDSA, versions=(version,), certificate=ECDSA.client_certified,
                               recorder=recorder),
                 server_config(ECDSA, versions=(version,), client_auth="required",
                               client_trust=ECDSA.trust, recorder=recorder), recorder)
        return recorder
    return make


def tls12(suite: int, key: object = ECDSA, **overrides: object) -> Callable[[], Recorder]:
    def make() -> Recorder:
        recorder = Recorder()
        rsa = {"enable_rsa_key_exchange": True} if suite in (
            CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256,
            CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384) else {}
        exchange(client_config(key, versions=(TLS12,), recorder=recorder, **rsa, **overrides),
                 server_config(key, versions=(TLS12,), cipher_suites=(suite,),
                               recorder=recorder, **rsa), recorder)
        return recorder
    return make


def stapled(version: int) -> Callable[[], Recorder]:
    """An OCSP staple: in the leaf's CertificateEntry (TLS 1.3, the Certificate
    compressed), in a CertificateStatus (TLS 1.2)."""
    def make() -> Recorder:
        recorder = Recorder()
        staple = StapleCallback(lambda leaf: make_ocsp.response(ECDSA.ca, leaf))
        exchange(client_config(ECDSA, versions=(version,), ocsp_stapling="require",
                               recorder=recorder),
                 server_config(ECDSA, versions=(version,), ocsp_staple=staple,
                               recorder=recorder), recorder)
        return recorder
    return make


def uncompressed13() -> Recorder:
    recorder = Recorder()
    exchange(client_config(ECDSA, certificate_compression=(), recorder=recorder),
             server_config(ECDSA, recorder=recorder), recorder)
    return recorder


def padded_and_fragmented() -> Recorder:
    """Records padded to 256-byte blocks, and a server flight split into 64-byte records
    (the client's record_size_limit), so messages span records."""
    recorder = Recorder()
    exchange(client_config(RSA, record_size_limit=64, record_padding_block=256,
                           recorder=recorder),
             server_config(RSA, record_padding_block=256, recorder=recorder), recorder)
    return recorder


FLOWS: dict[str, Callable[[], Recorder]] = {
    "tls13": full13,
    "tls13-hello-retry": hello_retry,
    "tls13-resumption": lambda: _resumed(TLS13),
    "tls13-0rtt-accepted": lambda: _resumed(TLS13, b"GET /early HTTP/1.1\r\n\r\n", 1024),
    "tls13-0rtt-refused": lambda: _resumed(TLS13, b"GET /early HTTP/1.1\r\n\r\n", 1024,
                                           refuse=True),
    "tls13-client-auth": client_auth(TLS13),
    "tls13-padding-fragments": padded_and_fragmented,
    "tls13-ocsp-staple": stapled(TLS13),
    "tls13-uncompressed-certificate": uncompressed13,
    "tls12-ocsp-staple": stapled(TLS12),
    "tls12-ecdhe-ecdsa": tls12(CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    "tls12-ecdhe-chacha": tls12(CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    "tls12-rsa-key-transport": tls12(CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384, RSA),
    "tls12-client-auth": client_auth(TLS12),
    "tls12-resumption": lambda: _resumed(TLS12),
}


@pytest.fixture(scope="module", params=sorted(FLOWS))
def flow(request: pytest.FixtureRequest) -> tuple[str, list[Explained]]:
    return request.param, _explained(FLOWS[request.param]())


def test_every_byte_of_every_record_is_covered_by_exactly_one_leaf(
        flow: tuple[str, list[Explained]]) -> None:
    name, connections = flow
    for explained in connections:
        assert explained.records
        assert tiling_problems(explained) == [], name


def test_every_protected_record_decrypts(flow: tuple[str, list[Explained]]) -> None:
    name, connections = flow
    for explained in connections:
        undecrypted = [(r.index, r.note) for r in explained.records if r.note]
        assert undecrypted == [], name
    if name == "tls13-0rtt-refused":
        # The server skipped the refused 0-RTT record unread, but the PSK (from the first
        # connection's ticket) gives its key: both recordings show it decrypted.
        for resumed in connections[2:]:
            assert any(r.protection == "client_early_traffic_secret" for r in resumed.records)
            assert not resumed.facts.early_data_accepted


def test_recomputed_values_agree_with_the_wire_and_the_engines(
        flow: tuple[str, list[Explained]]) -> None:
    name, connections = flow
    for explained in connections:
        assert failed_checks(explained) == [], name
        finished = [f for tree in explained.fields() for f in tree.walk()
                    if f.name == "verify_data"]
        assert len(finished) == 2 and all(f.check.startswith("verified") for f in finished)


def test_the_whole_key_schedule_is_computed_from_the_engines_inputs(
        flow: tuple[str, list[Explained]]) -> None:
    name, connections = flow
    for explained in connections:
        computed = {s.name for s in explained.steps.items if s.source == "computed"}
        if explained.facts.version == TLS13:
            assert {"handshake_secret", "master_secret", "client_handshake_traffic_secret",
                    "server_application_traffic_secret_0"} <= computed, name
        else:
            assert {"key_block", "client_write_key", "server_write_IV"} <= computed, name
            assert "master_secret" in computed or explained.facts.client_session_id, name


def test_hello_retry_transcript_starts_with_message_hash() -> None:
    client, _server = _explained(hello_retry())
    assert client.facts.hello_retry
    secret = client.steps.get("client_handshake_traffic_secret")
    assert secret is not None and "message_hash" in secret.inputs[1].text
    assert secret.check == "matches the key log"


def test_resumption_links_the_ticket_to_the_psk_and_checks_the_binder() -> None:
    explained = _explained(_resumed(TLS13))
    first, resumed = explained[0], explained[2]  # [client, server] of each connection
    assert any(s.name.startswith("psk for ticket") for s in first.steps.items)
    assert resumed.facts.selected_psk == 0
    assert resumed.steps.get("psk") is not None
    binders = [f for tree in resumed.fields() for f in tree.walk() if f.name == "binder"]
    assert binders and binders[0].check.startswith("verified")


def test_accepted_early_data_is_shown_as_0rtt_application_data() -> None:
    resumed = _explained(_resumed(TLS13, b"GET /early HTTP/1.1\r\n\r\n", 1024))[2]
    early = [r for r in resumed.records if r.protection == "client_early_traffic_secret"]
    assert early and resumed.facts.early_data_accepted
    data = [resumed.messages[i] for r in early for i in r.messages]
    assert [m.kind for m in data] == ["application_data", "handshake"]  # then EndOfEarlyData
    assert data[0].raw == b"GET /early HTTP/1.1\r\n\r\n"
    assert data[1].name == "EndOfEarlyData"


def test_rsa_key_transport_shows_the_encrypted_and_decrypted_pre_master_secret() -> None:
    client, server = _explained(tls12(CipherSuite.TLS_RSA_WITH_AES_256_GCM_SHA384, RSA)())
    encrypted = [f for tree in server.fields() for f in tree.walk()
                 if f.name == "EncryptedPreMasterSecret"]
    assert encrypted and encrypted[0].length == 2 + 256  # RSA-2048
    step = server.steps.get("pre_master_secret")
    assert step is not None and step.operation == "RSA decryption"
    assert step.check == "starts with client_version 0303" and len(step.output) == 48
    assert client.steps.get("pre_master_secret").operation == "RSA encryption"  # type: ignore[union-attr]
    assert client.steps.value("pre_master_secret") == step.output


def test_fragmented_messages_span_records_and_padding_is_a_field() -> None:
    client, _server = _explained(padded_and_fragmented())
    spanning = [m for m in client.messages if len(m.records) > 1]
    # The server's chain in 64-byte records, compressed or not: RFC 8879 lets it send
    # the chain as it is when brotli does not make it smaller, which a fresh RSA leaf
    # (mostly modulus and signature bytes) meets about one run in 25.
    assert any(m.name in ("Certificate", "CompressedCertificate") for m in spanning)
    assert any(m.name == "CertificateVerify" for m in spanning)
    assert any(f.name == "zeros" for r in client.records for f in r.tree.children)


def test_a_compressed_certificate_is_shown_decompressed_with_its_staple() -> None:
    client, _server = _explained(stapled(TLS13)())
    [message] = [m for m in client.messages if m.name == "CompressedCertificate"]
    assert message.tree.text.startswith("Certificate compressed with brotli: ")
    data = message.tree.find("compressed_certificate_message")
    assert data is not None and "certificate(s), CN=localhost" in data.text
    assert "OCSP staple: OCSP response: serial" in data.text and "is good" in data.text
    assert message.tree.find("uncompressed_length").rfc == "RFC 8879 §4"  # type: ignore[union-attr]
    # The chain inside was read: the server's CertificateVerify is checked against it.
    verify = next(m for m in client.messages if m.name == "CertificateVerify")
    assert verify.tree.find("signature value").check.startswith("verified")  # type: ignore[union-attr]


def test_a_tls12_certificate_status_is_shown_with_what_the_response_says() -> None:
    client, _server = _explained(stapled(TLS12)())
    [status] = [m for m in client.messages if m.name == "CertificateStatus"]
    assert status.tree.rfc == "RFC 6066 §8"
    response = status.tree.find("response")
    assert response is not None and response.text.startswith("OCSP response: serial")
    assert f"{ECDSA.leaf.certificate.serial_number:x} is good" in response.text
    # Who signed it and for how long it holds, as the trace and the page say too.
    assert f"responder {ECDSA.ca.certificate.subject.rfc4514_string()}; this update " in (
        response.text)
    assert ", next update 20" in response.text
    hello = next(m for m in client.messages if m.name == "ClientHello")
    request = hello.tree.find("status_request")
    assert request is not None
    assert "ocsp" in request.find("status_type").text  # type: ignore[union-attr]


def test_key_update_moves_to_the_next_generation_of_secrets() -> None:
    client = _explained(full13())[0]
    update = client.steps.get("server_application_traffic_secret_1")
    assert update is not None and update.label == "tls13 traffic upd" and update.protects == []
    key = client.steps.get("server_application_traffic_secret_1: key")
    assert key is not None and key.protects


def test_configs_without_a_recorder_use_the_plain_record_layer() -> None:
    from glasstls.record import RecordLayer
    from glasstls.recorder import RecordingRecordLayer

    plain = ClientConnection(ClientConfig(), server_name="example.com")
    assert type(engine_of(plain).record) is RecordLayer and plain.recorder is None
    recorded = ClientConnection(ClientConfig(recorder=Recorder()), server_name="example.com")
    assert isinstance(engine_of(recorded).record, RecordingRecordLayer)
    assert ServerConfig.__dataclass_fields__["recorder"].default is None
