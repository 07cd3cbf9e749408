"""One seed reproduces a whole connection: every random value the engine uses (the
randoms, session ids, key shares, GREASE, the HelloRetryRequest cookie, ticket keys
and nonces, age_add) comes from the config's ``rng``. Ed25519 and PKCS#1 v1.5
signatures and the classic groups are deterministic given their keys, so two runs
from one seed put the same bytes on the wire. (ECDSA, RSA-PSS, RSA encryption and
ML-KEM draw randomness inside OpenSSL: see tests/transcripts/recording.py.)"""

from __future__ import annotations

from typing import Any

from glasstls.constants import TLS12, NamedGroup, SignatureScheme
from helpers.pump import CLIENT_TO_SERVER, SERVER_TO_CLIENT, Pair, client_config, server_config
from helpers.rng import SeededRng
from pki import pki

# A fixed time at which the test certificates are valid.
NOW = pki("rsa-2048").leaf.certificate.not_valid_before_utc.timestamp() + 7200


def _wire(seed: str, key_type: str, client_options: dict[str, Any] | None = None,
          **options: Any) -> list[tuple[str, bytes]]:
    test_pki = pki(key_type)
    def clock() -> float:
        return NOW

    client = client_config(test_pki, rng=SeededRng(seed + "/client"), clock=clock,
                           key_share_groups=(NamedGroup.x25519,), grease=True,
                           **(client_options or {}), **options)
    server = server_config(test_pki, rng=SeededRng(seed + "/server"), clock=clock,
                           groups=(NamedGroup.secp256r1,), **options)
    wire = []
    for _ in range(2):  # a full handshake with a HelloRetryRequest, then a resumption
        pair = Pair(client, server).pump()
        assert pair.complete, (pair.client.error, pair.server.error)
        pair.client.connection.send(b"ping")
        pair.server.connection.send(b"pong")
        pair.pump()
        wire += pair.wire
    return wire


def test_one_seed_reproduces_every_byte_of_tls13_with_retry_and_tickets() -> None:
    # cryptography's path validator refuses Ed25519: the signature is still checked.
    unverified = {"verify_certificates": False}
    first = _wire("a", "ed25519", unverified)
    assert first == _wire("a", "ed25519", unverified)
    assert len([d for d, _ in first if d == CLIENT_TO_SERVER]) > 2
    assert first != _wire("b", "ed25519", unverified)


def test_one_seed_reproduces_every_byte_of_tls12_with_tickets() -> None:
    options = {"versions": (TLS12,), "signature_schemes": (SignatureScheme.rsa_pkcs1_sha256,)}
    first = _wire("a", "rsa-2048", **options)
    assert first == _wire("a", "rsa-2048", **options)
    assert [d for d, _ in first][:2] == [CLIENT_TO_SERVER, SERVER_TO_CLIENT]
    assert first != _wire("b", "rsa-2048", **options)
