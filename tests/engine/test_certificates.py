"""The client's checks of the server's identity: chain, name, validity, trust, and
the CertificateVerify signature (which is checked even when chain checks are off)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from glasstls import AlertDescription, BadCertificate
from glasstls.constants import CipherSuite
from glasstls.crypto.suites import SUITES
from glasstls.events import HandshakeComplete
from helpers.pump import (
    SERVER_TO_CLIENT,
    KeyLog,
    Pair,
    client_config,
    connect,
    handshake_messages,
    reseal,
    server_config,
)
from pki import expired_pki, pki

AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


def failed_client(pair: Pair, alert: AlertDescription) -> None:
    """The client refused the server with ``alert``, and the server was told so."""
    assert pair.client.alert_sent == alert, pair.client.error
    assert pair.server.alerts_received == [alert]
    assert not pair.client.of_type(HandshakeComplete)
    assert not pair.server.of_type(HandshakeComplete)


def test_certificate_for_another_host_name_is_bad_certificate() -> None:
    test_pki = pki("ecdsa-p256")
    pair = connect(client_config(test_pki), server_config(test_pki), server_name="example.com")
    failed_client(pair, AlertDescription.bad_certificate)
    assert "'example.com'" in str(pair.client.error)
    assert "DNS:localhost" in str(pair.client.error)


def test_certificate_for_the_ip_address_the_client_dialled_is_accepted() -> None:
    test_pki = pki("ecdsa-p256")  # the test leaf names localhost and 127.0.0.1
    pair = connect(client_config(test_pki), server_config(test_pki), server_name="127.0.0.1")
    assert pair.complete
    assert pair.server.negotiated.server_name is None  # RFC 6066 §3: no IP in SNI


def test_wrong_host_name_is_accepted_when_host_name_checking_is_off() -> None:
    test_pki = pki("ecdsa-p256")
    pair = connect(client_config(test_pki, check_hostname=False), server_config(test_pki),
                   server_name="example.com")
    assert pair.complete
    assert pair.client.negotiated.verified_chain  # the chain itself was still verified


def test_expired_certificate_is_certificate_expired() -> None:
    test_pki = expired_pki()
    pair = connect(client_config(test_pki), server_config(test_pki))
    failed_client(pair, AlertDescription.certificate_expired)


def test_certificate_valid_now_is_expired_for_a_client_clock_ten_years_ahead() -> None:
    # The client's notion of "now" is its config clock, not the machine's.
    import time

    test_pki = pki("ecdsa-p256")
    pair = connect(client_config(test_pki, clock=lambda: time.time() + 10 * 365 * 86400),
                   server_config(test_pki))
    failed_client(pair, AlertDescription.certificate_expired)


def test_certificate_from_an_untrusted_authority_is_unknown_ca() -> None:
    pair = connect(client_config(pki("ecdsa-p384")), server_config(pki("ecdsa-p256")))
    failed_client(pair, AlertDescription.unknown_ca)


def test_empty_trust_store_is_unknown_ca() -> None:
    from glasstls import TrustStore

    test_pki = pki("ecdsa-p256")
    pair = connect(client_config(test_pki, trust=TrustStore([])), server_config(test_pki))
    failed_client(pair, AlertDescription.unknown_ca)


def test_ed25519_certificate_is_refused_by_path_validation_with_a_clear_reason() -> None:
    test_pki = pki("ed25519")
    pair = connect(client_config(test_pki), server_config(test_pki))
    failed_client(pair, AlertDescription.unsupported_certificate)
    assert isinstance(pair.client.error, BadCertificate)
    assert "Ed25519" in str(pair.client.error)


def _tamper_certificate_verify(keylog: KeyLog, edit: Callable[[bytes], bytes]
                               ) -> Callable[[str, bytes], bytes]:
    """A hook that rewrites the server's CertificateVerify in its first flight."""
    done = []

    def hook(direction: str, data: bytes) -> bytes:
        if direction != SERVER_TO_CLIENT or done:
            return data
        done.append(True)

        def change(content_type: int, plaintext: bytes) -> tuple[int, bytes]:
            messages = handshake_messages(plaintext)
            return content_type, b"".join(edit(m) if m[0] == 15 else m for m in messages)

        return reseal(data, AES128, keylog.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"], change)
    return hook


def _flip_last_signature_byte(message: bytes) -> bytes:
    return message[:-1] + bytes([message[-1] ^ 0x01])


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa-p256", "rsa-2048"])
def test_certificate_verify_is_checked_even_with_certificate_verification_off(
        key_type: str) -> None:
    test_pki = pki(key_type)
    keylog = KeyLog()
    pair = connect(
        client_config(test_pki, verify_certificates=False,
                      cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)),
        server_config(test_pki, keylog=keylog),
        hook=_tamper_certificate_verify(keylog, _flip_last_signature_byte))
    failed_client(pair, AlertDescription.decrypt_error)
    assert "signature" in str(pair.client.error)


def test_untampered_flight_through_the_reseal_hook_still_completes() -> None:
    # The control for the test above: re-encrypting alone changes nothing.
    test_pki = pki("ed25519")
    keylog = KeyLog()
    pair = connect(
        client_config(test_pki, verify_certificates=False,
                      cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)),
        server_config(test_pki, keylog=keylog),
        hook=_tamper_certificate_verify(keylog, lambda message: message))
    assert pair.complete


def test_certificate_verify_with_a_scheme_that_does_not_fit_the_key_is_illegal_parameter(
) -> None:
    # An ECDSA P-256 key cannot sign with ecdsa_secp384r1_sha384 in TLS 1.3.
    test_pki = pki("ecdsa-p256")
    keylog = KeyLog()

    def other_scheme(message: bytes) -> bytes:
        return message[:4] + b"\x05\x03" + message[6:]

    pair = connect(
        client_config(test_pki, cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,)),
        server_config(test_pki, keylog=keylog),
        hook=_tamper_certificate_verify(keylog, other_scheme))
    failed_client(pair, AlertDescription.illegal_parameter)


def test_no_certificate_fitting_the_clients_signature_schemes_is_handshake_failure() -> None:
    # The client offers only RSA-PSS; the server has only an ECDSA certificate.
    from glasstls.constants import SignatureScheme

    test_pki = pki("ecdsa-p256")
    pair = connect(
        client_config(test_pki, signature_schemes=(SignatureScheme.rsa_pss_rsae_sha256,)),
        server_config(test_pki))
    assert pair.server.alert_sent == AlertDescription.handshake_failure
    assert pair.client.alerts_received == [AlertDescription.handshake_failure]


def test_server_picks_the_certificate_the_client_can_verify() -> None:
    from glasstls.constants import SignatureScheme

    rsa, ecdsa = pki("rsa-2048"), pki("ecdsa-p256")
    pair = connect(
        client_config(rsa, signature_schemes=(SignatureScheme.rsa_pss_rsae_sha384,)),
        server_config(rsa, certificates=(ecdsa.certified, rsa.certified)))
    assert pair.complete
    assert pair.client.negotiated.signature_scheme == "rsa_pss_rsae_sha384"
    assert pair.client.negotiated.peer_certificates == rsa.certified.chain_der
