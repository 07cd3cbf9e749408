"""Groups, signature schemes, cipher suites and certificate decoding: the crypto seam."""

from __future__ import annotations

import os
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import x448, x25519
from hypothesis import given, settings, strategies as st

from glasstls.constants import CipherSuite, NamedGroup, SignatureScheme
from glasstls.crypto import signatures
from glasstls.crypto.groups import (
    DEFAULT_GROUPS,
    DEFAULT_KEY_SHARES,
    GROUPS,
    group_by_name,
    montgomery_constructors,
)
from glasstls.crypto.suites import SUITES, TLS13_SUITES, suite_by_name
from glasstls.errors import AlertDescription, BadCertificate, PeerMisbehaved
from pki import pki

S = SignatureScheme


# -- groups ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS.values(), ids=lambda g: g.name)
def test_group_client_and_server_agree_on_the_shared_secret(group: object) -> None:
    share = group.generate(os.urandom)  # type: ignore[attr-defined]
    assert len(share.public) == group.client_share_size  # type: ignore[attr-defined]
    server_share, secret = group.respond(share.public, os.urandom)  # type: ignore[attr-defined]
    assert len(server_share) == group.server_share_size  # type: ignore[attr-defined]
    assert share.complete(server_share) == secret


@pytest.mark.parametrize("group", GROUPS.values(), ids=lambda g: g.name)
def test_group_share_of_the_wrong_size_is_illegal_parameter(group: object) -> None:
    share = group.generate(os.urandom)  # type: ignore[attr-defined]
    with pytest.raises(PeerMisbehaved) as caught:
        group.respond(share.public[:-1], os.urandom)  # type: ignore[attr-defined]
    assert caught.value.alert == AlertDescription.illegal_parameter
    with pytest.raises(PeerMisbehaved) as caught:
        share.complete(bytes(group.server_share_size + 1))  # type: ignore[attr-defined]
    assert caught.value.alert == AlertDescription.illegal_parameter


@pytest.mark.parametrize("group_id", [NamedGroup.x25519, NamedGroup.x448])
def test_montgomery_low_order_point_is_illegal_parameter(group_id: int) -> None:
    # RFC 8446 §7.4.2: an all-zero X25519 or X448 shared secret must be refused.
    group = GROUPS[group_id]
    share = group.generate(os.urandom)
    for peer in (share.complete, lambda point: group.respond(point, os.urandom)):
        with pytest.raises(PeerMisbehaved) as caught:
            peer(bytes(group.server_share_size))
        assert caught.value.alert == AlertDescription.illegal_parameter
        assert "low-order point" in str(caught.value)


def test_x448_matches_the_rfc7748_test_vector() -> None:
    # RFC 7748 §6.2: Alice's and Bob's keys, public values and shared secret.
    alice = bytes.fromhex("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d"
                          "d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b")
    bob_public = bytes.fromhex("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430"
                               "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609")
    share = GROUPS[NamedGroup.x448].generate(lambda size: alice[:size])
    assert share.public.hex() == ("9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c"
                                  "22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0")
    assert share.complete(bob_public).hex() == (
        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56"
        "fd2464c335543936521c24403085d59a449a5037514a879d")


def test_x25519_matches_the_rfc7748_test_vector() -> None:
    # RFC 7748 §6.1: Alice's private key and public value, Bob's public value, the
    # shared secret.
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_public = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    share = GROUPS[NamedGroup.x25519].generate(lambda size: alice[:size])
    assert share.public.hex() == (
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert share.complete(bob_public).hex() == (
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


@pytest.mark.parametrize(("group_id", "bob", "alice_public", "bob_public", "secret"), [
    # RFC 7748 §6.1 and §6.2: Bob answers Alice's public value.
    (NamedGroup.x25519,
     "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
     "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
     "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
     "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
    (NamedGroup.x448,
     "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120"
     "bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
     "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c"
     "22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0",
     "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430"
     "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
     "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56"
     "fd2464c335543936521c24403085d59a449a5037514a879d"),
])
def test_a_montgomery_server_answers_with_the_rfc7748_test_vector(
        group_id: int, bob: str, alice_public: str, bob_public: str, secret: str) -> None:
    # The server's respond() (one call for key, public value and secret) draws its
    # private key from rng once and answers as the RFC's Bob does.
    drawn: list[int] = []

    def rng(size: int) -> bytes:
        drawn.append(size)
        return bytes.fromhex(bob)[:size]

    public, shared = GROUPS[group_id].respond(bytes.fromhex(alice_public), rng)
    assert (public.hex(), shared.hex()) == (bob_public, secret)
    assert drawn == [GROUPS[group_id].server_share_size]


@pytest.mark.parametrize("group_id", [NamedGroup.x25519, NamedGroup.x448])
def test_montgomery_keys_made_directly_are_cryptographys_own(group_id: int,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    # The constructors taken directly make the keys cryptography's public
    # classmethods make; without that module layout, the classmethods are used.
    direct_private, direct_public = montgomery_constructors()[group_id]
    # Another layout: the bindings without their ``openssl`` attribute (a compiled
    # build imports the bindings module once, so hiding it in sys.modules would not do).
    monkeypatch.delattr(sys.modules["cryptography.hazmat.bindings._rust"], "openssl")
    public_private, public_public = montgomery_constructors()[group_id]
    classes = {NamedGroup.x25519: (x25519.X25519PrivateKey, x25519.X25519PublicKey),
               NamedGroup.x448: (x448.X448PrivateKey, x448.X448PublicKey)}[group_id]
    assert (public_private, public_public) == (classes[0].from_private_bytes,
                                               classes[1].from_public_bytes)
    size = GROUPS[group_id].client_share_size
    ours, theirs = os.urandom(size), public_private(os.urandom(size))
    peer = theirs.public_key().public_bytes_raw()
    key = direct_private(ours)
    assert isinstance(key, classes[0])
    assert isinstance(direct_public(peer), classes[1])
    assert key.public_key().public_bytes_raw() == (
        public_private(ours).public_key().public_bytes_raw())
    assert key.exchange(direct_public(peer)) == theirs.exchange(key.public_key())


def test_montgomery_private_constructors_that_changed_meaning_are_not_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A later cryptography whose private constructors take other arguments, or make
    # other keys, must leave the public classmethods in use, not fail in a handshake.
    import types

    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    wrong_key = types.SimpleNamespace(
        from_private_bytes=lambda data: rust_openssl.x25519.from_private_bytes(
            bytes(reversed(data))),
        from_public_bytes=rust_openssl.x25519.from_public_bytes)
    other_signature = types.SimpleNamespace(
        from_private_bytes=lambda data, backend: None,
        from_public_bytes=lambda data, backend: None)
    for module in (wrong_key, other_signature):
        monkeypatch.setattr(rust_openssl, "x25519", module)
        private, public = montgomery_constructors()[NamedGroup.x25519]
        assert (private, public) == (x25519.X25519PrivateKey.from_private_bytes,
                                     x25519.X25519PublicKey.from_public_bytes)


@pytest.mark.parametrize("group_id", [NamedGroup.secp256r1, NamedGroup.secp384r1,
                                      NamedGroup.secp521r1])
def test_ec_point_not_on_the_curve_or_compressed_is_illegal_parameter(group_id: int) -> None:
    group = GROUPS[group_id]
    share = group.generate(os.urandom)
    off_curve = b"\x04" + b"\x01" * (group.server_share_size - 1)
    compressed_tag = b"\x02" + share.public[1:]
    for bad in (off_curve, compressed_tag):
        with pytest.raises(PeerMisbehaved) as caught:
            share.complete(bad)
        assert caught.value.alert == AlertDescription.illegal_parameter


@pytest.mark.parametrize("group", GROUPS.values(), ids=lambda g: g.name)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_group_arbitrary_peer_share_is_a_clean_alert_or_a_secret(group: object,
                                                                  data: st.DataObject) -> None:
    size = data.draw(st.sampled_from([group.client_share_size,  # type: ignore[attr-defined]
                                      group.server_share_size, 0, 1]))  # type: ignore[attr-defined]
    peer = data.draw(st.binary(min_size=size, max_size=size))
    share = group.generate(os.urandom)  # type: ignore[attr-defined]
    for call in (lambda: share.complete(peer),
                 lambda: group.respond(peer, os.urandom)):  # type: ignore[attr-defined]
        try:
            call()
        except PeerMisbehaved as error:
            assert error.alert == AlertDescription.illegal_parameter


def test_x25519mlkem768_secret_is_mlkem_then_x25519() -> None:
    # draft-ietf-tls-ecdhe-mlkem: 32 bytes of ML-KEM secret, then 32 of X25519.
    group = GROUPS[NamedGroup.X25519MLKEM768]
    share = group.generate(os.urandom)
    server_share, secret = group.respond(share.public, os.urandom)
    assert len(secret) == 64
    assert len(server_share) == 1088 + 32


def test_new_groups_are_offered_after_the_old_ones_and_never_as_key_shares() -> None:
    # OpenSSL 3.0 offers P-521 and X448; the first flight's key shares stay as they were.
    assert DEFAULT_GROUPS[-2:] == (NamedGroup.secp521r1, NamedGroup.x448)
    assert not {NamedGroup.secp521r1, NamedGroup.x448} & set(DEFAULT_KEY_SHARES)


def test_group_by_name_knows_aliases() -> None:
    assert group_by_name("P-256").id == NamedGroup.secp256r1
    assert group_by_name("P-521").id == NamedGroup.secp521r1
    assert group_by_name("X448").id == NamedGroup.x448
    assert group_by_name("X25519MLKEM768").id == NamedGroup.X25519MLKEM768
    with pytest.raises(KeyError):
        group_by_name("ffdhe2048")


# -- signature schemes ------------------------------------------------------------------


EXPECTED_TLS13_SCHEME = {
    "ecdsa-p256": S.ecdsa_secp256r1_sha256,
    "ecdsa-p384": S.ecdsa_secp384r1_sha384,
    "rsa-2048": S.rsa_pss_rsae_sha256,
    "ed25519": S.ed25519,
}


@pytest.mark.parametrize("key_type", EXPECTED_TLS13_SCHEME)
def test_signature_round_trips_and_a_changed_message_is_decrypt_error(key_type: str) -> None:
    key = pki(key_type).leaf.key
    scheme = EXPECTED_TLS13_SCHEME[key_type]
    signature = signatures.sign(key, scheme, b"content")
    signatures.verify(key.public_key(), scheme, b"content", signature)
    with pytest.raises(PeerMisbehaved) as caught:
        signatures.verify(key.public_key(), scheme, b"contents", signature)
    assert caught.value.alert == AlertDescription.decrypt_error


def test_garbage_signature_is_decrypt_error_not_a_crash() -> None:
    key = pki("ecdsa-p256").leaf.key.public_key()
    with pytest.raises(PeerMisbehaved) as caught:
        signatures.verify(key, S.ecdsa_secp256r1_sha256, b"content", b"\x30\x00")
    assert caught.value.alert == AlertDescription.decrypt_error


@pytest.mark.parametrize(("key_type", "scheme", "tls13", "fits"), [
    # RFC 8446 §4.2.3: in TLS 1.3 the ECDSA scheme names the curve ...
    ("ecdsa-p256", S.ecdsa_secp384r1_sha384, True, False),
    ("ecdsa-p256", S.ecdsa_secp384r1_sha384, False, True),  # ... in TLS 1.2 only the hash
    ("ecdsa-p384", S.ecdsa_secp384r1_sha384, True, True),
    # ... and PKCS#1 v1.5 is for certificates only.
    ("rsa-2048", S.rsa_pkcs1_sha256, True, False),
    ("rsa-2048", S.rsa_pkcs1_sha256, False, True),
    ("rsa-2048", S.rsa_pss_rsae_sha512, True, True),
    ("rsa-2048", S.rsa_pss_pss_sha256, True, False),  # needs an RSASSA-PSS key
    ("rsa-2048", S.ecdsa_secp256r1_sha256, True, False),
    ("ed25519", S.ed25519, True, True),
    ("ed25519", S.ecdsa_secp256r1_sha256, True, False),
    ("ecdsa-p256", 0x0A0A, True, False),  # unknown (GREASE) scheme
])
def test_scheme_fits_key(key_type: str, scheme: int, tls13: bool, fits: bool) -> None:
    key = pki(key_type).leaf.key
    assert signatures.scheme_fits_key(scheme, key, tls13=tls13) is fits
    assert signatures.scheme_fits_key(scheme, key.public_key(), tls13=tls13) is fits


def test_describe_key() -> None:
    assert signatures.describe_key(pki("rsa-2048").leaf.key) == "RSA 2048"
    assert signatures.describe_key(pki("ecdsa-p384").leaf.key) == "ECDSA secp384r1"
    assert signatures.describe_key(pki("ed25519").leaf.key) == "Ed25519"


# -- cipher suites -----------------------------------------------------------------------


@pytest.mark.parametrize(("suite_id", "key_len", "hash_len"), [
    (CipherSuite.TLS_AES_128_GCM_SHA256, 16, 32),
    (CipherSuite.TLS_AES_256_GCM_SHA384, 32, 48),
    (CipherSuite.TLS_CHACHA20_POLY1305_SHA256, 32, 32),
])
def test_tls13_suite_rows(suite_id: int, key_len: int, hash_len: int) -> None:
    suite = SUITES[suite_id]
    assert (suite.key_len, suite.hash_len, suite.iv_len, suite.explicit_nonce_len) == (
        key_len, hash_len, 12, 0)
    assert suite.is_tls13
    assert suite_by_name(suite.name) is suite


def test_suite_by_openssl_name() -> None:
    assert suite_by_name("ECDHE-RSA-AES128-GCM-SHA256").id == (
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    with pytest.raises(KeyError):
        suite_by_name("RC4-MD5")


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
def test_aead_tag_failure_is_bad_record_mac(suite: object) -> None:
    from glasstls.errors import BadRecordMac

    aead = suite.new_aead(bytes(suite.key_len))  # type: ignore[attr-defined]
    sealed = aead.seal(bytes(12), b"data", b"aad")
    assert aead.open(bytes(12), sealed, b"aad") == b"data"
    with pytest.raises(BadRecordMac):
        aead.open(bytes(12), sealed, b"AAD")


# -- certificates that do not decode -------------------------------------------------------


def _leaf_der(key_type: str = "ecdsa-p256") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return pki(key_type).leaf.certificate.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(("change", "why"), [
    # The issuer's organization as a tag-13 string: decoded only when read.
    ((b"\x06\x03U\x04\n\x0c", b"\x06\x03U\x04\n\x0d"), "issuer"),
    # X.509 version 4.
    ((b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x03"), "version"),
])
def test_certificate_that_does_not_decode_is_bad_certificate(change: tuple[bytes, bytes],
                                                             why: str) -> None:
    from glasstls.certs import parse_chain

    der = _leaf_der()
    assert change[0] in der, why
    with pytest.raises(BadCertificate) as caught:
        parse_chain([der.replace(*change, 1)])
    assert caught.value.alert == AlertDescription.bad_certificate


def test_certificate_with_an_unknown_key_algorithm_is_unsupported_certificate() -> None:
    from glasstls.certs import leaf_public_key, parse_chain

    id_ec_public_key = b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"
    der = _leaf_der()
    assert id_ec_public_key in der
    (certificate,) = parse_chain([der.replace(id_ec_public_key, id_ec_public_key[:-1] + b"\x09")])
    with pytest.raises(BadCertificate) as caught:
        leaf_public_key(certificate)
    assert caught.value.alert == AlertDescription.unsupported_certificate
