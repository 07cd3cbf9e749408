"""Post-quantum authentication and the NIST-curve hybrids against pyOpenSSL on the
OpenSSL 3.5+ bundled with ``cryptography`` (OpenSSL 4 here).

- ML-DSA-65 certificates (draft-ietf-tls-mldsa) both ways: OpenSSL verifies the
  chain and glasstls's CertificateVerify, and glasstls verifies OpenSSL's.
- SecP256r1MLKEM768 and SecP384r1MLKEM1024 (draft-ietf-tls-ecdhe-mlkem) both ways,
  directly and through a HelloRetryRequest; pyOpenSSL's ``get_group_name()`` must
  agree with glasstls.

pyOpenSSL has no call to choose groups; its groups are set through the binding it
is built on (``cryptography.hazmat.bindings``), with ``SSL_CTX_set1_curves_list``,
OpenSSL's older name for ``SSL_CTX_set1_groups_list``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from glasstls import ClientConfig, ServerConfig
from glasstls.constants import TLS13, NamedGroup
from glasstls.trace import CERTIFICATE_VERIFY, HELLO_RETRY_REQUEST, RECEIVED, SENT
from peers import require_module
from pki import pki

from .driver import Background, Tracer, echo_once, glass_client, listen
from .test_pyopenssl import (
    FROM_GLASS,
    FROM_PYOPENSSL,
    REPLY_PREFIX,
    pyopenssl_client,
    pyopenssl_server,
)

pytestmark = pytest.mark.interop

HYBRIDS = ("SecP256r1MLKEM768", "SecP384r1MLKEM1024")


def set_groups(context: Any, groups: str) -> None:
    binding = require_module("cryptography.hazmat.bindings.openssl.binding").Binding
    assert binding.lib.SSL_CTX_set1_curves_list(context._context, groups.encode()) == 1, groups


def context(ssl_module: Any, files: dict[str, Path], *, server: bool,
            groups: str | None = None, client_certificate: bool = False) -> Any:
    ctx = ssl_module.Context(ssl_module.TLS_METHOD)
    ctx.set_min_proto_version(ssl_module.TLS1_3_VERSION)
    if groups is not None:
        set_groups(ctx, groups)
    if server:
        ctx.use_certificate_chain_file(str(files["cert"]))
        ctx.use_privatekey_file(str(files["key"]))
        if client_certificate:
            ctx.load_verify_locations(str(files["ca"]))
            ctx.set_verify(ssl_module.VERIFY_PEER | ssl_module.VERIFY_FAIL_IF_NO_PEER_CERT,
                           lambda *args: args[-1])
    else:
        ctx.load_verify_locations(str(files["ca"]))
        ctx.set_verify(ssl_module.VERIFY_PEER, lambda *args: args[-1])
    return ctx


def view(connection: Any) -> dict[str, Any]:
    peer = connection.get_peer_certificate()
    return {"version": connection.get_protocol_version_name(),
            "group": connection.get_group_name(),
            "peer_key": type(peer.to_cryptography().public_key()).__name__ if peer else None}


def glass_to_pyopenssl(ssl_module: Any, ctx: Any, config: ClientConfig) -> tuple[Any, dict]:
    with listen() as listener:
        peer = Background(pyopenssl_server, ssl_module, listener, ctx, view)
        with glass_client(listener.getsockname()[1], config) as glass:
            done = glass.handshake()
            glass.send(FROM_GLASS)
            assert glass.receive_until(b"\n") == FROM_PYOPENSSL
            glass.close()
            line, seen = peer.join()
    assert line == FROM_GLASS
    return done, seen


def pyopenssl_to_glass(ssl_module: Any, ctx: Any, config: ServerConfig,
                       start_glass_server: Any) -> tuple[Any, dict]:
    server = start_glass_server(config, echo_once(REPLY_PREFIX))
    reply, seen = pyopenssl_client(ssl_module, server.port, ctx, view)
    assert server.join() == FROM_PYOPENSSL
    assert reply == REPLY_PREFIX + FROM_PYOPENSSL
    return server.glass.negotiated, seen


@pytest.fixture
def ssl_module() -> Any:
    """pyOpenSSL's ``OpenSSL.SSL``, on the OpenSSL inside cryptography."""
    return require_module("OpenSSL.SSL")


@pytest.fixture(scope="module")
def mldsa_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return pki("mldsa65").write(tmp_path_factory.mktemp("pki-mldsa65"))


def test_glasstls_client_verifies_a_pyopenssl_server_with_an_mldsa65_certificate(
        ssl_module: Any, mldsa_files: dict[str, Path]) -> None:
    tracer = Tracer()
    config = ClientConfig(trust=pki("mldsa65").trust, versions=(TLS13,), trace=tracer)
    done, seen = glass_to_pyopenssl(ssl_module, context(ssl_module, mldsa_files, server=True),
                                    config)
    assert (done.version, done.signature_scheme) == ("TLSv1.3", "mldsa65")
    assert seen["version"] == "TLSv1.3"
    verify = next(e for e in tracer.steps if e.step == CERTIFICATE_VERIFY)
    assert verify.action == RECEIVED and verify.details["key"] == "ML-DSA-65"
    assert verify.details["signature_bytes"] == 3309  # FIPS 204: ML-DSA-65 signatures
    assert done.verified_chain  # the ML-DSA-65 chain passed path validation


def test_pyopenssl_client_verifies_a_glasstls_server_with_an_mldsa65_certificate(
        ssl_module: Any, mldsa_files: dict[str, Path], start_glass_server: Any) -> None:
    tracer = Tracer()
    config = ServerConfig(certificates=(pki("mldsa65").certified,), versions=(TLS13,),
                          trace=tracer)
    done, seen = pyopenssl_to_glass(ssl_module, context(ssl_module, mldsa_files, server=False),
                                    config, start_glass_server)
    # OpenSSL verified the chain and our CertificateVerify (VERIFY_PEER), over ML-DSA-65.
    assert done.signature_scheme == "mldsa65"
    assert seen == {"version": "TLSv1.3", "group": "X25519MLKEM768",
                    "peer_key": "MLDSA65PublicKey"}
    assert tracer.saw(CERTIFICATE_VERIFY, SENT)


def test_glasstls_client_authenticates_to_pyopenssl_with_an_mldsa65_certificate(
        ssl_module: Any, mldsa_files: dict[str, Path]) -> None:
    test_pki = pki("mldsa65")
    ctx = context(ssl_module, mldsa_files, server=True, client_certificate=True)
    config = ClientConfig(trust=test_pki.trust, versions=(TLS13,),
                          certificate=test_pki.client_certified)
    done, seen = glass_to_pyopenssl(ssl_module, ctx, config)
    assert done.signature_scheme == "mldsa65"
    assert seen["peer_key"] == "MLDSA65PublicKey"  # OpenSSL accepted our ML-DSA client


@pytest.mark.parametrize("group", HYBRIDS)
def test_glasstls_client_and_pyopenssl_server_agree_on_a_hybrid(
        ssl_module: Any, pki_files: Any, group: str) -> None:
    tracer = Tracer()
    config = ClientConfig(trust=pki("ecdsa-p256").trust, versions=(TLS13,), trace=tracer,
                          groups=(NamedGroup[group],), key_share_groups=(NamedGroup[group],))
    ctx = context(ssl_module, pki_files("ecdsa"), server=True, groups=group)
    done, seen = glass_to_pyopenssl(ssl_module, ctx, config)
    assert done.group == seen["group"] == group
    assert not tracer.saw(HELLO_RETRY_REQUEST)


@pytest.mark.parametrize("group", HYBRIDS)
def test_pyopenssl_client_and_glasstls_server_agree_on_a_hybrid(
        ssl_module: Any, pki_files: Any, start_glass_server: Any, group: str) -> None:
    tracer = Tracer()
    config = ServerConfig(certificates=(pki("ecdsa-p256").certified,), versions=(TLS13,),
                          trace=tracer)  # default groups: the hybrids are enabled
    ctx = context(ssl_module, pki_files("ecdsa"), server=False, groups=group)
    done, seen = pyopenssl_to_glass(ssl_module, ctx, config, start_glass_server)
    assert done.group == seen["group"] == group
    assert not tracer.saw(HELLO_RETRY_REQUEST)


@pytest.mark.parametrize("group", HYBRIDS)
def test_pyopenssl_server_asks_the_default_glasstls_client_to_retry_with_a_hybrid(
        ssl_module: Any, pki_files: Any, group: str) -> None:
    # glasstls sends X25519MLKEM768 and x25519 shares; this server takes only `group`.
    tracer = Tracer()
    config = ClientConfig(trust=pki("ecdsa-p256").trust, versions=(TLS13,), trace=tracer)
    ctx = context(ssl_module, pki_files("ecdsa"), server=True, groups=group)
    done, seen = glass_to_pyopenssl(ssl_module, ctx, config)
    assert tracer.saw(HELLO_RETRY_REQUEST, RECEIVED)
    retry = next(e for e in tracer.steps if e.step == HELLO_RETRY_REQUEST)
    assert retry.details["selected_group"] == group
    assert done.group == seen["group"] == group


@pytest.mark.parametrize("group", HYBRIDS)
def test_glasstls_server_asks_pyopenssl_to_retry_with_a_hybrid(
        ssl_module: Any, pki_files: Any, start_glass_server: Any, group: str) -> None:
    # pyOpenSSL sends an x25519 share first and supports `group`, the server's only one.
    tracer = Tracer()
    config = ServerConfig(certificates=(pki("ecdsa-p256").certified,), versions=(TLS13,),
                          trace=tracer, groups=(NamedGroup[group],))
    ctx = context(ssl_module, pki_files("ecdsa"), server=False, groups=f"X25519:{group}")
    done, seen = pyopenssl_to_glass(ssl_module, ctx, config, start_glass_server)
    assert tracer.saw(HELLO_RETRY_REQUEST, SENT)
    assert done.group == seen["group"] == group
