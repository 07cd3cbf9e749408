"""The TLS 1.2 PRF (RFC 5246 §5) and what is derived with it, against published values.

Sources of the expected values (facts, not code):

- P_SHA256 / P_SHA384 "test label" vectors: the TLS 1.2 PRF test vectors posted to
  the IETF TLS WG mailing list (https://www.ietf.org/mail-archive/web/tls/current/
  msg03416.html), used by many libraries' test suites (e.g. GnuTLS tests/tls12-prf.c).
- Master secret, key block and client verify_data: "The Illustrated TLS 1.2
  Connection" (https://tls12.xargs.org), an X25519 handshake whose private keys,
  randoms and every derived value are published.

The extended master secret (RFC 7627) has no published vector; it is checked against
OpenSSL's own ``TLS1-PRF`` here and by full handshakes with OpenSSL in
tests/interop/test_tls12_openssl.py (same master secret in both key logs).
"""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from glasstls.crypto import prf
from peers import require_binary

# -- IETF TLS WG P_hash vectors -------------------------------------------------------------

SHA256_SECRET = bytes.fromhex("9bbe436ba940f017b17652849a71db35")
SHA256_SEED = bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c")
SHA256_OUTPUT = bytes.fromhex(
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
    "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
    "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
    "87347b66")

SHA384_SECRET = bytes.fromhex("b80b733d6ceefcdc71566ea48e5567df")
SHA384_SEED = bytes.fromhex("cd665cf6a8447dd6ff8b27555edb7465")
SHA384_OUTPUT = bytes.fromhex(
    "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
    "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
    "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
    "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
    "91c8f3a26854308d5eaa3be85e0990703d73e56f")


def test_prf_sha256_matches_the_ietf_tls_wg_vector() -> None:
    assert prf.prf("sha256", SHA256_SECRET, b"test label", SHA256_SEED, 100) == SHA256_OUTPUT


def test_prf_sha384_matches_the_ietf_tls_wg_vector() -> None:
    assert prf.prf("sha384", SHA384_SECRET, b"test label", SHA384_SEED, 148) == SHA384_OUTPUT


@pytest.mark.parametrize("length", [0, 1, 12, 31, 32, 33, 48, 64, 99])
def test_prf_output_of_any_length_is_a_prefix_of_the_vector(length: int) -> None:
    # P_hash is a stream: the A(i) chain must not depend on how much is asked for.
    assert prf.prf("sha256", SHA256_SECRET, b"test label", SHA256_SEED, length) == (
        SHA256_OUTPUT[:length])


def test_prf_label_and_seed_are_concatenated_not_separated() -> None:
    # RFC 5246 §5: PRF(secret, label, seed) = P_hash(secret, label + seed).
    assert prf.p_hash("sha384", SHA384_SECRET, b"test label" + SHA384_SEED, 148) == (
        SHA384_OUTPUT)
    assert prf.prf("sha256", SHA256_SECRET, b"test labe", b"l" + SHA256_SEED, 100) == (
        SHA256_OUTPUT)


# -- The Illustrated TLS 1.2 Connection (tls12.xargs.org) ----------------------------------

CLIENT_RANDOM = bytes(range(0x00, 0x20))
SERVER_RANDOM = bytes(range(0x70, 0x90))
CLIENT_PRIVATE = bytes(range(0x20, 0x40))
SERVER_PUBLIC = bytes.fromhex("9fd7ad6dcff4298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615")
PRE_MASTER_SECRET = bytes.fromhex(
    "df4a291baa1eb7cfa6934b29b474baad2697e29f1f920dcc77c8a0a088447624")
MASTER_SECRET = bytes.fromhex(
    "916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049"
    "781c8e19fc1eb2a7387ac06ae237344c")
# TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: MAC keys (20), write keys (16), IVs (16).
KEY_BLOCK = {
    "client_write_mac_key": "1b7d117c7d5f690bc263cae8ef60af0f1878acc2",
    "server_write_mac_key": "2ad8bdd8c601a617126f63540eb20906f781fad2",
    "client_write_key": "f656d037b173ef3e11169f27231a84b6",
    "server_write_key": "752a18e7a9fcb7cbcdd8f98dd8f769eb",
    "client_write_iv": "a0d2550c9238eebfef5c32251abb67d6",
    "server_write_iv": "434528db4937d540d393135e06a11bb8",
}
# SHA-256 of ClientHello..ClientKeyExchange, and the client Finished it gives.
CLIENT_FINISHED_HANDSHAKE_HASH = bytes.fromhex(
    "061dda04b3c2217ff73bd79b9cf88a2bb6ec505404aac8722db03ef417b54cb4")
CLIENT_VERIFY_DATA = bytes.fromhex("cf919626f1360c536aaad73a")


def test_illustrated_x25519_exchange_gives_the_published_pre_master_secret() -> None:
    private = X25519PrivateKey.from_private_bytes(CLIENT_PRIVATE)
    assert private.exchange(X25519PublicKey.from_public_bytes(SERVER_PUBLIC)) == (
        PRE_MASTER_SECRET)


def test_master_secret_matches_the_illustrated_tls12_connection() -> None:
    assert prf.master_secret("sha256", PRE_MASTER_SECRET, CLIENT_RANDOM, SERVER_RANDOM) == (
        MASTER_SECRET)


def test_key_block_matches_the_illustrated_tls12_connection_with_randoms_swapped() -> None:
    # RFC 5246 §6.3: the key expansion seed is server_random + client_random.
    block = prf.key_block("sha256", MASTER_SECRET, CLIENT_RANDOM, SERVER_RANDOM, 104)
    sizes = (20, 20, 16, 16, 16, 16)
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    parts = {name: block[o:o + n].hex() for name, o, n in zip(KEY_BLOCK, offsets, sizes,
                                                              strict=True)}
    assert parts == KEY_BLOCK


def test_client_finished_verify_data_matches_the_illustrated_tls12_connection() -> None:
    assert prf.finished_verify_data("sha256", MASTER_SECRET, True,
                                    CLIENT_FINISHED_HANDSHAKE_HASH) == CLIENT_VERIFY_DATA
    # The server's label gives another value from the same hash.
    assert prf.finished_verify_data("sha256", MASTER_SECRET, False,
                                    CLIENT_FINISHED_HANDSHAKE_HASH) != CLIENT_VERIFY_DATA


def test_one_master_secret_key_makes_the_key_block_and_both_finished_in_any_order() -> None:
    # The handshake reuses one padded HMAC key for all three; no output may depend
    # on what was derived under it before.
    master = prf.MasterSecret("sha256", MASTER_SECRET)
    server = master.finished_verify_data(False, CLIENT_FINISHED_HANDSHAKE_HASH)
    block = master.key_block(CLIENT_RANDOM, SERVER_RANDOM, 104)
    assert master.finished_verify_data(True, CLIENT_FINISHED_HANDSHAKE_HASH) == (
        CLIENT_VERIFY_DATA)
    assert block.hex() == "".join(KEY_BLOCK.values())  # the published key block
    assert master.finished_verify_data(False, CLIENT_FINISHED_HANDSHAKE_HASH) == server
    assert master.secret == MASTER_SECRET


# -- extended master secret and exporters against OpenSSL's TLS1-PRF ------------------------


def openssl_tls1_prf(digest: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """OpenSSL's implementation of the same PRF (``openssl kdf ... TLS1-PRF``)."""
    openssl = require_binary("openssl")
    result = subprocess.run(
        [openssl, "kdf", "-keylen", str(length), "-kdfopt", f"digest:{digest}",
         "-kdfopt", f"hexsecret:{secret.hex()}", "-kdfopt", f"hexseed:{seed.hex()}",
         "-binary", "TLS1-PRF"],
        capture_output=True, check=True, timeout=30)
    return result.stdout


@pytest.mark.interop
@pytest.mark.parametrize(("hash_name", "digest"), [("sha256", "SHA256"), ("sha384", "SHA384")])
def test_extended_master_secret_equals_openssl_tls1_prf_over_the_session_hash(
        hash_name: str, digest: str) -> None:
    # RFC 7627 §4: PRF(pre_master_secret, "extended master secret", session_hash).
    session_hash = bytes(range(48 if hash_name == "sha384" else 32))
    expected = openssl_tls1_prf(digest, PRE_MASTER_SECRET,
                                b"extended master secret" + session_hash, 48)
    assert len(expected) == 48
    assert prf.extended_master_secret(hash_name, PRE_MASTER_SECRET, session_hash) == expected
    assert expected != prf.master_secret(hash_name, PRE_MASTER_SECRET, CLIENT_RANDOM,
                                         SERVER_RANDOM)


@pytest.mark.interop
def test_exporter_with_and_without_context_equals_openssl_tls1_prf() -> None:
    # RFC 5705 §4: no context and an empty context are different inputs.
    randoms = CLIENT_RANDOM + SERVER_RANDOM
    label = b"EXPERIMENTAL glasstls"
    without = openssl_tls1_prf("SHA256", MASTER_SECRET, label + randoms, 40)
    empty = openssl_tls1_prf("SHA256", MASTER_SECRET, label + randoms + b"\x00\x00", 40)
    given = openssl_tls1_prf("SHA256", MASTER_SECRET, label + randoms + b"\x00\x03abc", 40)
    export = prf.export
    assert export("sha256", MASTER_SECRET, CLIENT_RANDOM, SERVER_RANDOM, label, None, 40) == (
        without)
    assert export("sha256", MASTER_SECRET, CLIENT_RANDOM, SERVER_RANDOM, label, b"", 40) == empty
    assert export("sha256", MASTER_SECRET, CLIENT_RANDOM, SERVER_RANDOM, label, b"abc", 40) == (
        given)
    assert len({without, empty, given}) == 3
