"""The RFC 8448 client authentication handshake (``[Client_Authentication_Handshake]``
in data/transcripts.vec: the Botan project's version of RFC 8448 §5, with an ECDSA
P-256 server certificate and the RFC's RSA client certificate), replayed with
glasstls's building blocks.

The client's private key is not in the vectors (only ``client_certificate.pem``),
and RSA-PSS signatures are randomized; so the client's CertificateVerify is checked
the other way round: glasstls's certificate_verify_content() must give the listed
``Client_MessageToSign``, glasstls's signatures.verify() must accept the listed
signature with the certificate's key, and the record carrying the client's
Certificate, CertificateVerify and Finished is rebuilt byte for byte from the
certificate file, that signature and a Finished computed by glasstls.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from glasstls.constants import CipherSuite, ExtensionType as X, NamedGroup, SignatureScheme
from glasstls.crypto import signatures
from glasstls.crypto.groups import GROUPS
from glasstls.crypto.suites import SUITES
from glasstls.errors import AlertDescription, PeerMisbehaved
from glasstls.handshake.common import (
    CLIENT_CERTIFICATE_VERIFY,
    SERVER_CERTIFICATE_VERIFY,
    certificate_verify_content,
)
from glasstls.handshake.transcript import Transcript
from glasstls.keyschedule import KeySchedule, finished_verify_data, traffic_keys
from glasstls.messages import extensions as ext, handshake as hs
from glasstls.record import RecordLayer, Tls13Protection

from .rfc8448 import DATA, PoolRng, Section
from .test_rfc8448 import split_messages

SUITE = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]
CLIENT_AUTH = "Client_Authentication_Handshake"
CLOSE_NOTIFY = b"\x01\x00"
SERVER_MESSAGES = ("Message_EncryptedExtensions", "Message_CertificateRequest",
                   "Message_Server_Certificate", "Message_Server_CertificateVerify",
                   "Message_Server_Finished")


def load_pem_der(name: str) -> bytes:
    """The DER inside a PEM file of the vectors (some carry trailing zero bytes)."""
    lines = (DATA / name).read_text().strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


@dataclass
class ClientAuth:
    section: Section
    client_hello: bytes
    server_hello: bytes
    transcript: Transcript = field(default_factory=Transcript)
    shared_secret: bytes = b""
    client_handshake_secret: bytes = b""
    server_handshake_secret: bytes = b""
    server_records: list[tuple[int, bytes]] = field(default_factory=list)
    server_messages: list[bytes] = field(default_factory=list)
    hash_before_server_certificate_verify: bytes = b""
    hash_before_server_finished: bytes = b""
    client_application_secret: bytes = b""
    server_application_secret: bytes = b""
    client_certificate: bytes = b""  # the client's Certificate message
    hash_before_client_certificate_verify: bytes = b""
    client_certificate_verify: bytes = b""
    client_finished: bytes = b""


def client_certificate_der() -> bytes:
    der = load_pem_der("client_certificate.pem")
    x509.load_der_x509_certificate(der)  # the whole file is one certificate
    return der


@cache
def client_auth() -> ClientAuth:
    section = Section(CLIENT_AUTH)
    c = ClientAuth(section, section.record_payload("Record_ClientHello_1"),
                   section.record_payload("Record_ServerHello"))
    x25519 = GROUPS[NamedGroup.x25519]
    client_share = x25519.generate(PoolRng(section.hex("Client_RNG_Pool")[32:64]))
    server_public, c.shared_secret = x25519.respond(
        client_share.public, PoolRng(section.hex("Server_RNG_Pool")[32:64]))
    assert server_public.hex() in c.server_hello.hex()

    t = c.transcript
    t.add(c.client_hello)
    t.set_hash(SUITE.hash_name)
    t.add(c.server_hello)
    schedule = KeySchedule(SUITE)
    schedule.enter_handshake(c.shared_secret)
    c.client_handshake_secret, c.server_handshake_secret = (
        schedule.handshake_traffic_secrets(t.digest()))

    layer = RecordLayer()
    layer.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE,
                                                                 c.server_handshake_secret))
    layer.feed(section.hex("Record_ServerHandshakeMessages"))
    while (item := layer.next_record()) is not None:
        c.server_records.append(item)
    c.server_messages = split_messages(
        b"".join(payload for kind, payload in c.server_records if kind == 22))
    encrypted_extensions, request, certificate, certificate_verify, finished = c.server_messages
    for message in (encrypted_extensions, request, certificate):
        t.add(message)
    c.hash_before_server_certificate_verify = t.digest()
    t.add(certificate_verify)
    c.hash_before_server_finished = t.digest()
    t.add(finished)
    schedule.enter_master()
    c.client_application_secret, c.server_application_secret = (
        schedule.application_traffic_secrets(t.digest()))

    # The client's second flight: Certificate (empty context, during the handshake),
    # CertificateVerify with the listed signature, Finished.
    c.client_certificate = hs.serialize(hs.Certificate13(
        b"", (hs.CertificateEntry(client_certificate_der()),)))
    t.add(c.client_certificate)
    c.hash_before_client_certificate_verify = t.digest()
    c.client_certificate_verify = hs.serialize(hs.CertificateVerify(
        SignatureScheme.rsa_pss_rsae_sha256, section.hex("Client_MessageSignature")))
    t.add(c.client_certificate_verify)
    c.client_finished = hs.serialize(hs.Finished(finished_verify_data(
        SUITE, c.client_handshake_secret, t.digest())))
    return c


def writer(secret: bytes) -> RecordLayer:
    layer = RecordLayer()
    layer.write_protection = Tls13Protection(SUITE, *traffic_keys(SUITE, secret))
    return layer


def open_records(secret: bytes, data: bytes) -> list[tuple[int, bytes]]:
    layer = RecordLayer()
    layer.read_protection = Tls13Protection(SUITE, *traffic_keys(SUITE, secret))
    layer.feed(data)
    records = []
    while (item := layer.next_record()) is not None:
        records.append(item)
    return records


# -- the server's flight, with its CertificateRequest ------------------------------------------


def test_rfc8448_client_auth_server_flight_decrypts_to_exactly_the_listed_messages() -> None:
    c = client_auth()
    assert c.server_records == [(22, b"".join(c.section.hex(m) for m in SERVER_MESSAGES))]
    for name, raw in zip(SERVER_MESSAGES, c.server_messages, strict=True):
        assert raw == c.section.hex(name), name


def test_rfc8448_client_auth_certificate_request_parses_and_reserializes_byte_for_byte(
) -> None:
    raw = client_auth().section.hex("Message_CertificateRequest")
    request = hs.CertificateRequest13.parse(raw)
    assert hs.serialize(request) == raw
    # RFC 8446 §4.3.2: an empty context during the handshake, signature_algorithms.
    assert request.certificate_request_context == b""
    schemes = ext.find_typed(request.extensions, X.signature_algorithms, ext.U16List)
    assert schemes is not None
    assert SignatureScheme.rsa_pss_rsae_sha256 in schemes.values
    assert SignatureScheme.ecdsa_secp256r1_sha256 in schemes.values


def test_rfc8448_client_auth_server_certificate_verify_verifies_with_its_certificate() -> None:
    c = client_auth()
    content = certificate_verify_content(SERVER_CERTIFICATE_VERIFY,
                                         c.hash_before_server_certificate_verify)
    assert content == c.section.hex("Server_MessageToSign")
    verify = hs.CertificateVerify.parse(c.server_messages[3])
    assert verify.algorithm == SignatureScheme.ecdsa_secp256r1_sha256
    assert verify.signature == c.section.hex("Server_MessageSignature")
    certificate = hs.Certificate13.parse(c.server_messages[2])
    leaf = x509.load_der_x509_certificate(certificate.certificate_list[0].cert_data)
    pem = x509.load_pem_x509_certificate(
        (DATA / "server_certificate_client_auth.pem").read_bytes())
    assert leaf == pem
    signatures.verify(leaf.public_key(), verify.algorithm, content,  # type: ignore[arg-type]
                      verify.signature)


def test_rfc8448_client_auth_server_finished_verifies() -> None:
    c = client_auth()
    finished = hs.Finished.parse(c.server_messages[4])
    assert finished.verify_data == finished_verify_data(
        SUITE, c.server_handshake_secret, c.hash_before_server_finished)


# -- the client's Certificate, CertificateVerify and Finished -------------------------------------


def test_rfc8448_client_auth_client_flight_opens_to_certificate_verify_and_finished() -> None:
    c = client_auth()
    records = open_records(c.client_handshake_secret, c.section.hex("Record_ClientFinished"))
    assert [kind for kind, _ in records] == [22]
    certificate, certificate_verify, finished = split_messages(records[0][1])
    assert certificate == c.client_certificate
    assert certificate_verify == c.client_certificate_verify
    assert finished == c.client_finished


def test_rfc8448_client_auth_client_certificate_is_the_rfc_client_certificate() -> None:
    c = client_auth()
    certificate = hs.Certificate13.parse(c.client_certificate)
    assert certificate.chain == (client_certificate_der(),)
    key = x509.load_der_x509_certificate(certificate.chain[0]).public_key()
    assert signatures.describe_key(key).startswith("RSA")  # type: ignore[arg-type]


def test_rfc8448_client_auth_client_signs_the_transcript_through_its_certificate() -> None:
    c = client_auth()
    content = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY,
                                         c.hash_before_client_certificate_verify)
    assert content == c.section.hex("Client_MessageToSign")
    # The server context string gives other content.
    assert certificate_verify_content(SERVER_CERTIFICATE_VERIFY,
                                      c.hash_before_client_certificate_verify) != content


def test_rfc8448_client_auth_client_signature_verifies_with_the_client_certificate() -> None:
    c = client_auth()
    key = x509.load_der_x509_certificate(client_certificate_der()).public_key()
    signature = c.section.hex("Client_MessageSignature")
    signatures.verify(key, SignatureScheme.rsa_pss_rsae_sha256,  # type: ignore[arg-type]
                      c.section.hex("Client_MessageToSign"), signature)
    # The same signature over another transcript is refused with decrypt_error.
    wrong = certificate_verify_content(CLIENT_CERTIFICATE_VERIFY,
                                       c.hash_before_server_finished)
    with pytest.raises(PeerMisbehaved) as caught:
        signatures.verify(key, SignatureScheme.rsa_pss_rsae_sha256,  # type: ignore[arg-type]
                          wrong, signature)
    assert caught.value.alert == AlertDescription.decrypt_error


def test_rfc8448_client_auth_client_finished_covers_certificate_and_certificate_verify(
) -> None:
    c = client_auth()
    without_client_auth = finished_verify_data(
        SUITE, c.client_handshake_secret,
        hashlib.sha256(c.client_hello + c.server_hello + b"".join(c.server_messages)).digest())
    assert hs.Finished.parse(c.client_finished).verify_data != without_client_auth


def test_rfc8448_client_auth_client_record_is_reproduced_byte_for_byte() -> None:
    c = client_auth()
    produced = writer(c.client_handshake_secret).seal(
        22, c.client_certificate + c.client_certificate_verify + c.client_finished)
    assert produced == c.section.hex("Record_ClientFinished")


def test_rfc8448_client_auth_close_notify_records_are_reproduced_byte_for_byte() -> None:
    c = client_auth()
    assert writer(c.client_application_secret).seal(21, CLOSE_NOTIFY) == (
        c.section.hex("Record_Client_CloseNotify"))
    assert writer(c.server_application_secret).seal(21, CLOSE_NOTIFY) == (
        c.section.hex("Record_Server_CloseNotify"))


def test_rfc8448_client_auth_server_certificate_file_is_the_one_on_the_wire() -> None:
    c = client_auth()
    certificate = hs.Certificate13.parse(c.server_messages[2])
    pem = x509.load_pem_x509_certificate(
        (DATA / "server_certificate_client_auth.pem").read_bytes())
    assert certificate.chain == (pem.public_bytes(serialization.Encoding.DER),)
