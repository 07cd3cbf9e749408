"""RFC 8448 §4 "Resumed 0-RTT Handshake", replayed with glasstls's building blocks.

The PSK comes from the §3 handshake (its resumption master secret and the ticket's
nonce); from it and the key shares in the random pools, glasstls's KeySchedule,
psk13.binder / with_binder, traffic_keys, Transcript and Tls13Protection must give
the RFC's binder (the ClientHello is rebuilt byte for byte), the RFC's secrets, and
the RFC's early data, EndOfEarlyData + Finished, application data and close_notify
records byte for byte.

The secrets quoted here are the ones printed in RFC 8448 §4; records and messages
come from data/transcripts.vec, with one exception. That file's encrypted server
flight for this handshake (``Record_ServerHandshakeMessages``) is not the RFC's: it
decrypts to an EncryptedExtensions without the RFC's empty server_name and to a
Finished over that, while its ``Message_Server_Finished`` and every client record
after it are the RFC's. So the RFC's EncryptedExtensions is spelled out below
(RFC 8448 §4); the RFC's Finished verifies over it and over nothing else, which
the tests check, and the client's records are reproduced from that transcript.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache

import pytest

from glasstls import ClientConfig, ClientConnection
from glasstls.constants import TLS13, CipherSuite, ExtensionType as X, HandshakeType, NamedGroup
from glasstls.crypto.groups import GROUPS
from glasstls.crypto.suites import SUITES
from glasstls.errors import BadRecordMac
from glasstls.handshake import psk13
from glasstls.handshake.transcript import Transcript
from glasstls.keyschedule import KeySchedule, finished_verify_data, resumption_psk, traffic_keys
from glasstls.messages import extensions as ext, handshake as hs
from glasstls.record import RecordLayer, Tls13Protection
from glasstls.session import ClientSession

from .rfc8448 import PoolRng, Section
from .test_rfc8448 import SIMPLE, replay, split_messages

SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
RESUMED = "Resumed_0RTT_Handshake"
CLOSE_NOTIFY = b"\x01\x00"
END_OF_EARLY_DATA = bytes([HandshakeType.end_of_early_data, 0, 0, 0])

# RFC 8448 §3 and §4, as printed there.
SIMPLE_RESUMPTION_MASTER_SECRET = (
    "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")
PSK = "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3"
EARLY_SECRET = "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c"
BINDER_KEY = "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256"
CLIENT_EARLY_TRAFFIC_SECRET = "3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62"
EARLY_EXPORTER_MASTER_SECRET = (
    "b2026866610937d7423e5be90862ccf24c0e6091186d34f812089ff5be2ef7df")
EARLY_KEY, EARLY_IV = "920205a5b7bf2115e6fc5c2942834f54", "6d475f0993c8e564610db2b9"
SHARED_SECRET = "f44194756ff9ec9d25180635d66ea6824c6ab3bf179977be37f723570e7ccb2e"
CLIENT_HANDSHAKE_TRAFFIC_SECRET = (
    "2faac08f851d35fea3604fcb4de82dc62c9b164a70974d0462e27f1ab278700f")
SERVER_HANDSHAKE_TRAFFIC_SECRET = (
    "fe927ae271312e8bf0275b581c54eef020450dc4ecffaa05a1a35d27518e7803")
CLIENT_APPLICATION_TRAFFIC_SECRET = (
    "2abbf2b8e381d23dbebe1dd2a7d16a8bf484cb4950d23fb7fb7fa8547062d9a1")
SERVER_APPLICATION_TRAFFIC_SECRET = (
    "cc21f1bf8feb7dd5fa505bd9c4b468a9984d554a993dc49e6d285598fb672691")
EXPORTER_MASTER_SECRET = "3fd93d4ffddc98e64b14dd107aedf8ee4add23f4510f58a4592d0b201bee56b4"
RESUMPTION_MASTER_SECRET = "5e95bdf1f89005ea2e9aa0ba85e728e3c19c5fe0c699e3f5bee59faebd0b5406"
# RFC 8448 §4 {server} EncryptedExtensions: supported_groups, record_size_limit,
# server_name (empty) and early_data.
RFC_ENCRYPTED_EXTENSIONS = bytes.fromhex(
    "080000280026000a00140012001d00170018001901000101010201030104001c0002400100000000"
    "002a0000")


@dataclass(frozen=True)
class Ticket:
    """The §3 server's NewSessionTicket and the PSK the client derives from it."""

    message: hs.NewSessionTicket13
    resumption_master_secret: bytes
    psk: bytes
    received_ms: int


@cache
def simple_ticket() -> Ticket:
    r = replay(SIMPLE)
    transcript = Transcript()
    transcript.set_hash(SUITE.hash_name)
    for message in (*[r.section.record_payload("Record_ClientHello_1"),
                      r.section.record_payload("Record_ServerHello")],
                    *r.server_messages, r.client_finished):
        transcript.add(message)
    schedule = KeySchedule(SUITE)
    schedule.enter_handshake(r.shared_secret)
    schedule.enter_master()
    resumption_master_secret = schedule.resumption_master_secret(transcript.digest())
    reader = RecordLayer()
    reader.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE,
                                                                  r.server_application_secret))
    reader.feed(r.section.hex("Record_NewSessionTicket"))
    kind, payload = reader.next_record() or (0, b"")
    assert kind == 22
    message = hs.NewSessionTicket13.parse(payload)
    return Ticket(message, resumption_master_secret,
                  resumption_psk(SUITE, resumption_master_secret, message.ticket_nonce),
                  int(r.section.values["CurrentTimestamp"]))


@dataclass
class Resumed:
    """The §4 handshake, recomputed step by step from the PSK and the pools."""

    section: Section
    psk: bytes
    client_hello: bytes
    server_hello: bytes
    shared_secret: bytes = b""
    schedule: KeySchedule = field(default_factory=lambda: KeySchedule(SUITE))
    client_hello_hash: bytes = b""
    client_early_secret: bytes = b""
    early_exporter_secret: bytes = b""
    client_handshake_secret: bytes = b""
    server_handshake_secret: bytes = b""
    # What the file's server flight record decrypts to (see the module docstring).
    server_records: list[tuple[int, bytes]] = field(default_factory=list)
    file_server_messages: list[bytes] = field(default_factory=list)
    # The RFC's EncryptedExtensions and server Finished.
    server_messages: list[bytes] = field(default_factory=list)
    hash_before_server_finished: bytes = b""
    hash_after_server_finished: bytes = b""
    client_finished: bytes = b""
    client_application_secret: bytes = b""
    server_application_secret: bytes = b""
    exporter_secret: bytes = b""
    resumption_master_secret: bytes = b""


@cache
def resumed() -> Resumed:
    section = Section(RESUMED)
    r = Resumed(section, simple_ticket().psk, section.record_payload("Record_ClientHello_1"),
                section.record_payload("Record_ServerHello"))
    r.schedule = KeySchedule(SUITE, r.psk)
    r.client_hello_hash = hashlib.sha256(r.client_hello).digest()
    r.client_early_secret = r.schedule.client_early_traffic_secret(r.client_hello_hash)
    r.early_exporter_secret = r.schedule.early_exporter_master_secret(r.client_hello_hash)

    # psk_dhe_ke: the x25519 keys are the second half of each side's pool.
    x25519 = GROUPS[NamedGroup.x25519]
    client_share = x25519.generate(PoolRng(section.hex("Client_RNG_Pool")[32:64]))
    server_public, r.shared_secret = x25519.respond(
        client_share.public, PoolRng(section.hex("Server_RNG_Pool")[32:64]))
    assert server_public.hex() in r.server_hello.hex()

    transcript = Transcript()
    transcript.add(r.client_hello)
    transcript.set_hash(SUITE.hash_name)
    transcript.add(r.server_hello)
    r.schedule.enter_handshake(r.shared_secret)
    r.client_handshake_secret, r.server_handshake_secret = (
        r.schedule.handshake_traffic_secrets(transcript.digest()))

    layer = RecordLayer()
    layer.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE,
                                                                 r.server_handshake_secret))
    layer.feed(section.hex("Record_ServerHandshakeMessages"))
    while (item := layer.next_record()) is not None:
        r.server_records.append(item)
    r.file_server_messages = split_messages(
        b"".join(payload for kind, payload in r.server_records if kind == 22))
    r.server_messages = [RFC_ENCRYPTED_EXTENSIONS, section.hex("Message_Server_Finished")]
    encrypted_extensions, server_finished = r.server_messages
    transcript.add(encrypted_extensions)
    r.hash_before_server_finished = transcript.digest()
    transcript.add(server_finished)
    r.hash_after_server_finished = transcript.digest()

    r.schedule.enter_master()
    r.client_application_secret, r.server_application_secret = (
        r.schedule.application_traffic_secrets(r.hash_after_server_finished))
    r.exporter_secret = r.schedule.exporter_master_secret(r.hash_after_server_finished).value
    # RFC 8446 §4.4.1: EndOfEarlyData is in the transcript the client Finished covers.
    transcript.add(END_OF_EARLY_DATA)
    r.client_finished = hs.serialize(hs.Finished(finished_verify_data(
        SUITE, r.client_handshake_secret, transcript.digest())))
    transcript.add(r.client_finished)
    r.resumption_master_secret = r.schedule.resumption_master_secret(transcript.digest())
    return r


def writer(secret: bytes) -> RecordLayer:
    layer = RecordLayer()
    layer.write_protection = Tls13Protection(SUITE, *traffic_keys(SUITE, secret))
    return layer


def offered_psk(client_hello: bytes) -> ext.PreSharedKey:
    psk = hs.ClientHello.parse(client_hello).extensions[-1]
    assert isinstance(psk, ext.PreSharedKey)
    return psk


# -- the PSK and the binder ------------------------------------------------------------


def test_rfc8448_resumption_psk_comes_from_the_first_handshakes_ticket() -> None:
    ticket = simple_ticket()
    assert ticket.resumption_master_secret.hex() == SIMPLE_RESUMPTION_MASTER_SECRET
    assert ticket.message.ticket_nonce == b"\x00\x00"
    assert ticket.psk.hex() == PSK
    # The ticket the §4 client offers is the one the §3 server sent.
    (identity,) = offered_psk(resumed().client_hello).identities
    assert identity.identity == ticket.message.ticket == Section(RESUMED).hex("SessionTicket")


def test_rfc8448_resumption_obfuscated_ticket_age_is_the_age_plus_age_add() -> None:
    # RFC 8446 §4.2.11.1; the §4 hello comes 6 ms after the ticket in these vectors.
    ticket = simple_ticket()
    (identity,) = offered_psk(resumed().client_hello).identities
    age_ms = int(Section(RESUMED).values["CurrentTimestamp"]) - ticket.received_ms
    assert identity.obfuscated_ticket_age == (age_ms + ticket.message.ticket_age_add) % 2**32


def test_rfc8448_resumption_early_secret_and_binder_key_are_the_rfc_values() -> None:
    schedule = KeySchedule(SUITE, bytes.fromhex(PSK))
    assert schedule.secret.hex() == EARLY_SECRET
    assert schedule.binder_key(external=False).hex() == BINDER_KEY
    # The external-PSK label gives another key (RFC 8446 §7.1 "ext binder").
    assert schedule.binder_key(external=True).hex() != BINDER_KEY


def test_rfc8448_resumption_binder_verifies_over_the_truncated_client_hello() -> None:
    r = resumed()
    hello = hs.ClientHello.parse(r.client_hello)
    truncated_hash = hashlib.sha256(hello.truncated_for_binders()).digest()
    (binder,) = offered_psk(r.client_hello).binders
    assert psk13.binder(KeySchedule(SUITE, r.psk), truncated_hash) == binder
    # ... and only with this PSK, over this hello.
    assert psk13.binder(KeySchedule(SUITE, bytes(32)), truncated_hash) != binder
    whole_hash = hashlib.sha256(r.client_hello).digest()
    assert psk13.binder(KeySchedule(SUITE, r.psk), whole_hash) != binder


def test_rfc8448_resumption_client_hello_is_rebuilt_byte_for_byte_with_the_binder() -> None:
    # Zero the binder, then let glasstls's with_binder() fill it in again.
    r = resumed()
    hello = hs.ClientHello.parse(r.client_hello)
    psk = offered_psk(r.client_hello)
    blank = hs.ClientHello(hello.legacy_version, hello.random, hello.legacy_session_id,
                           hello.cipher_suites, hello.legacy_compression_methods,
                           (*hello.extensions[:-1],
                            ext.PreSharedKey(psk.identities, (bytes(32),))))
    blank = hs.ClientHello.parse(hs.serialize(blank))
    assert blank.raw != r.client_hello
    ticket = simple_ticket()
    session = ClientSession(TLS13, SUITE.id, r.psk, ticket.received_ms,
                            ticket.message.ticket_lifetime, "server", None,
                            ticket=ticket.message.ticket, age_add=ticket.message.ticket_age_add)
    assert psk13.with_binder(blank, session, b"").raw == r.client_hello


# -- early data -------------------------------------------------------------------------


def test_rfc8448_resumption_client_early_secrets_and_keys_are_the_rfc_values() -> None:
    r = resumed()
    assert r.client_early_secret.hex() == CLIENT_EARLY_TRAFFIC_SECRET
    assert r.early_exporter_secret.hex() == EARLY_EXPORTER_MASTER_SECRET
    key, iv = traffic_keys(SUITE, r.client_early_secret)
    assert (key.hex(), iv.hex()) == (EARLY_KEY, EARLY_IV)


def test_rfc8448_resumption_early_data_record_is_reproduced_byte_for_byte() -> None:
    r = resumed()
    early = writer(r.client_early_secret)
    produced = early.seal(23, r.section.hex("Client_EarlyAppData"))
    assert r.section.hex("Client_EarlyAppData") == b"ABCDEF"
    assert produced == r.section.hex("Record_Client_EarlyAppData")


def test_rfc8448_resumption_early_data_record_opens_only_under_the_early_keys() -> None:
    r = resumed()
    layer = RecordLayer()
    layer.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE, r.client_early_secret))
    layer.feed(r.section.hex("Record_Client_EarlyAppData"))
    assert layer.next_record() == (23, b"ABCDEF")
    wrong = RecordLayer()
    wrong.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE,
                                                                 r.client_handshake_secret))
    wrong.feed(r.section.hex("Record_Client_EarlyAppData"))
    with pytest.raises(BadRecordMac):
        wrong.next_record()


# -- the server's flight ------------------------------------------------------------------


def test_rfc8448_resumption_handshake_secrets_are_the_rfc_values() -> None:
    r = resumed()
    assert r.shared_secret.hex() == SHARED_SECRET
    assert r.client_handshake_secret.hex() == CLIENT_HANDSHAKE_TRAFFIC_SECRET
    assert r.server_handshake_secret.hex() == SERVER_HANDSHAKE_TRAFFIC_SECRET


def test_rfc8448_resumption_server_accepts_the_psk_and_the_early_data() -> None:
    r = resumed()
    server_hello = hs.ServerHello.parse(r.server_hello)
    assert ext.find_typed(server_hello.extensions, X.pre_shared_key,
                          ext.PreSharedKey) == ext.PreSharedKey(selected_identity=0)
    for encrypted_extensions in (r.server_messages[0], r.file_server_messages[0]):
        parsed = hs.EncryptedExtensions.parse(encrypted_extensions)
        assert hs.serialize(parsed) == encrypted_extensions
        assert ext.find(parsed.extensions, X.early_data) is not None
    # No Certificate, no CertificateVerify: the PSK authenticates the server.
    assert [m[0] for m in r.file_server_messages] == [HandshakeType.encrypted_extensions,
                                                     HandshakeType.finished]


def test_rfc8448_resumption_rfc_server_finished_verifies_over_the_rfc_encrypted_extensions(
) -> None:
    r = resumed()
    finished = hs.Finished.parse(r.server_messages[1])
    assert finished.verify_data == finished_verify_data(
        SUITE, r.server_handshake_secret, r.hash_before_server_finished)
    # Over the file's EncryptedExtensions (no server_name) it does not.
    other = hashlib.sha256(r.client_hello + r.server_hello + r.file_server_messages[0]).digest()
    assert finished.verify_data != finished_verify_data(SUITE, r.server_handshake_secret, other)


def test_rfc8448_resumption_file_server_flight_is_a_consistent_flight_under_the_rfc_keys(
) -> None:
    # The file's flight opens under the RFC's server handshake key, its Finished
    # verifies over its own EncryptedExtensions, and it re-seals byte for byte.
    r = resumed()
    assert r.server_records == [(22, b"".join(r.file_server_messages))]
    encrypted_extensions, finished = r.file_server_messages
    assert encrypted_extensions == r.section.hex("Message_EncryptedExtensions")
    transcript_hash = hashlib.sha256(r.client_hello + r.server_hello
                                     + encrypted_extensions).digest()
    assert hs.Finished.parse(finished).verify_data == finished_verify_data(
        SUITE, r.server_handshake_secret, transcript_hash)
    assert writer(r.server_handshake_secret).seal(22, encrypted_extensions + finished) == (
        r.section.hex("Record_ServerHandshakeMessages"))


# -- the client's second flight and after -------------------------------------------------


def test_rfc8448_resumption_end_of_early_data_and_finished_are_reproduced_byte_for_byte(
) -> None:
    # RFC 8446 §4.5: EndOfEarlyData under the early keys (their second record),
    # then the Finished under the client handshake keys.
    r = resumed()
    early = writer(r.client_early_secret)
    early.seal(23, r.section.hex("Client_EarlyAppData"))
    produced = early.seal(22, END_OF_EARLY_DATA)
    produced += writer(r.client_handshake_secret).seal(22, r.client_finished)
    assert produced == r.section.hex("Record_ClientFinished")


def test_rfc8448_resumption_application_secrets_are_the_rfc_values() -> None:
    r = resumed()
    assert r.client_application_secret.hex() == CLIENT_APPLICATION_TRAFFIC_SECRET
    assert r.server_application_secret.hex() == SERVER_APPLICATION_TRAFFIC_SECRET
    assert r.exporter_secret.hex() == EXPORTER_MASTER_SECRET


def test_rfc8448_resumption_master_secret_of_the_resumed_handshake_is_the_rfc_value() -> None:
    r = resumed()
    assert r.resumption_master_secret.hex() == RESUMPTION_MASTER_SECRET


def test_rfc8448_resumption_application_data_and_close_notify_are_reproduced_byte_for_byte(
) -> None:
    r = resumed()
    section = r.section
    client = writer(r.client_application_secret)
    server = writer(r.server_application_secret)
    assert client.seal(23, section.hex("Client_AppData")) == section.hex("Record_Client_AppData")
    assert server.seal(23, section.hex("Server_AppData")) == section.hex("Record_Server_AppData")
    assert client.seal(21, CLOSE_NOTIFY) == section.hex("Record_Client_CloseNotify")
    assert server.seal(21, CLOSE_NOTIFY) == section.hex("Record_Server_CloseNotify")


# -- the real client engine with the RFC's ticket --------------------------------------------


def test_rfc8448_resumption_client_engine_offers_the_rfc_ticket_with_the_rfc_age() -> None:
    """glasstls's ClientConnection, given the §3 ticket as a ClientSession and the §4
    clock and pool, offers the same identity and obfuscated age, the same random and
    key share, and a binder that verifies under the PSK over its own hello. (Its
    other extensions differ from the RFC client's, so the bytes after do too.)"""
    section = Section(RESUMED)
    ticket = simple_ticket()
    session = ClientSession(TLS13, SUITE.id, ticket.psk, ticket.received_ms,
                            ticket.message.ticket_lifetime, "server", None,
                            ticket=ticket.message.ticket, age_add=ticket.message.ticket_age_add,
                            max_early_data_size=1024)
    pool = section.hex("Client_RNG_Pool")
    client = ClientConnection(ClientConfig(
        rng=PoolRng(pool[:32], pool[32:64]), clock=lambda: section.timestamp,
        cipher_suites=(SUITE.id,), key_share_groups=(NamedGroup.x25519,),
        middlebox_compatibility=False, verify_certificates=False, enable_early_data=True,
        session_cache=None,
    ), server_name="server", session=session)
    assert client.send_early_data(b"ABCDEF") == 6
    sent = client.data_to_send()
    hello_length = 5 + int.from_bytes(sent[3:5], "big")
    ours = hs.ClientHello.parse(sent[5:hello_length])
    theirs = hs.ClientHello.parse(section.record_payload("Record_ClientHello_1"))
    assert ours.random == theirs.random
    assert ext.find_typed(ours.extensions, X.key_share, ext.KeyShare) == ext.find_typed(
        theirs.extensions, X.key_share, ext.KeyShare)
    ours_psk, theirs_psk = offered_psk(ours.raw), offered_psk(theirs.raw)
    assert ours_psk.identities == theirs_psk.identities
    assert ours.extensions[-1].type == X.pre_shared_key
    assert ext.find(ours.extensions, X.early_data) is not None
    truncated_hash = hashlib.sha256(ours.truncated_for_binders()).digest()
    assert ours_psk.binders == (psk13.binder(KeySchedule(SUITE, ticket.psk), truncated_hash),)

    # The early data record that follows is sealed under the early secret of *this* hello.
    early_secret = KeySchedule(SUITE, ticket.psk).client_early_traffic_secret(
        hashlib.sha256(ours.raw).digest())
    layer = RecordLayer()
    layer.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE, early_secret))
    layer.feed(sent[hello_length:])
    assert layer.next_record() == (23, b"ABCDEF")
