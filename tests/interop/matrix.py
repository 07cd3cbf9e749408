"""The TLS 1.3 parameters the interop matrix covers, and configs built from them."""

from __future__ import annotations

from glasstls import CipherSuite, ClientConfig, NamedGroup, ServerConfig
from glasstls.constants import TLS13
from pki import Pki, pki

from .driver import Tracer

SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
GROUPS = ("x25519", "secp256r1", "secp384r1")
# Certificate kinds, and the test PKI behind each.
CERTS = {"ecdsa": "ecdsa-p256", "rsa": "rsa-2048"}
# The TLS 1.3 CertificateVerify scheme each kind signs with (RSA: PSS, RFC 8446 §4.2.3).
SIGNATURES = {"ecdsa": "ecdsa_secp256r1_sha256", "rsa": "rsa_pss_rsae_sha256"}

# A smaller matrix for the slower peers: every suite, every group and both
# certificate kinds appear at least once.
DIAGONAL = (
    ("TLS_AES_128_GCM_SHA256", "x25519", "ecdsa"),
    ("TLS_AES_256_GCM_SHA384", "secp256r1", "rsa"),
    ("TLS_CHACHA20_POLY1305_SHA256", "secp384r1", "ecdsa"),
    ("TLS_AES_256_GCM_SHA384", "x25519", "rsa"),
)


def cert_pki(cert: str) -> Pki:
    return pki(CERTS[cert])


def suite_id(name: str) -> int:
    return int(CipherSuite[name])


def group_id(name: str) -> int:
    return int(NamedGroup[name])


def client_config(cert: str, suite: str | None = None, group: str | None = None,
                  tracer: Tracer | None = None, **options: object) -> ClientConfig:
    """A TLS 1.3-only client trusting ``cert``'s CA, pinned to ``suite`` and ``group``."""
    pinned: dict[str, object] = {}
    if suite is not None:
        pinned["cipher_suites"] = (suite_id(suite),)
    if group is not None:
        pinned["groups"] = pinned["key_share_groups"] = (group_id(group),)
    return ClientConfig(trust=cert_pki(cert).trust, versions=(TLS13,), trace=tracer,
                        **{**pinned, **options})  # type: ignore[arg-type]


def server_config(cert: str, suite: str | None = None, group: str | None = None,
                  tracer: Tracer | None = None, **options: object) -> ServerConfig:
    """A TLS 1.3-only server with ``cert``'s chain, pinned to ``suite`` and ``group``."""
    pinned: dict[str, object] = {}
    if suite is not None:
        pinned["cipher_suites"] = (suite_id(suite),)
    if group is not None:
        pinned["groups"] = (group_id(group),)
    return ServerConfig(certificates=(cert_pki(cert).certified,), versions=(TLS13,),
                        trace=tracer, **{**pinned, **options})  # type: ignore[arg-type]
