"""The TLS 1.2 parameters the interop matrix covers, each peer's name for them, and
configs built from them.

Every TLS 1.2 suite glasstls has: ECDHE-ECDSA and ECDHE-RSA with AES-128-GCM,
AES-256-GCM and ChaCha20-Poly1305, and RSA key transport with AES-128/256-GCM
(RSA key transport needs ``enable_rsa_key_exchange``, on both glasstls sides).
"""

from __future__ import annotations

from dataclasses import dataclass

from glasstls import CipherSuite, ClientConfig, NamedGroup, ServerConfig
from glasstls.constants import TLS12

from .driver import Tracer
from .matrix import cert_pki


@dataclass(frozen=True)
class Suite12:
    iana: str
    openssl: str  # OpenSSL / Python ssl cipher string name
    cert: str  # "ecdsa" or "rsa" (the keys in matrix.CERTS)
    gnutls_kx: str  # GnuTLS key exchange keyword
    gnutls_cipher: str  # GnuTLS cipher keyword

    @property
    def rsa_key_transport(self) -> bool:
        return self.gnutls_kx == "RSA"

    @property
    def id(self) -> int:
        return int(CipherSuite[self.iana])


SUITES12 = {s.iana: s for s in (
    Suite12("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa",
            "ECDHE-ECDSA", "AES-128-GCM"),
    Suite12("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", "ecdsa",
            "ECDHE-ECDSA", "AES-256-GCM"),
    Suite12("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
            "ecdsa", "ECDHE-ECDSA", "CHACHA20-POLY1305"),
    Suite12("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "rsa",
            "ECDHE-RSA", "AES-128-GCM"),
    Suite12("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "rsa",
            "ECDHE-RSA", "AES-256-GCM"),
    Suite12("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", "rsa",
            "ECDHE-RSA", "CHACHA20-POLY1305"),
    Suite12("TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", "rsa", "RSA", "AES-128-GCM"),
    Suite12("TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", "rsa", "RSA", "AES-256-GCM"),
)}
GROUPS12 = ("x25519", "secp256r1", "secp384r1")

# Every ECDHE suite with every group, and the RSA key transport suites (no group).
MATRIX12 = [(suite, group) for suite, s in SUITES12.items() if not s.rsa_key_transport
            for group in GROUPS12] + [
    (suite, None) for suite, s in SUITES12.items() if s.rsa_key_transport]
# For the slower peers: every suite once, the groups taking turns.
DIAGONAL12 = [(suite, None if s.rsa_key_transport else GROUPS12[i % len(GROUPS12)])
              for i, (suite, s) in enumerate(SUITES12.items())]


def case_id(value: object) -> str:
    return "rsa-kx" if value is None else str(value)


def client_config12(suite: str, group: str | None = None, tracer: Tracer | None = None,
                    **options: object) -> ClientConfig:
    """A TLS 1.2-only glasstls client pinned to ``suite`` (and ``group``: note that
    OpenSSL then refuses a P-256 ECDSA certificate unless the group is secp256r1)."""
    s = SUITES12[suite]
    pinned: dict[str, object] = {"cipher_suites": (s.id,),
                                 "enable_rsa_key_exchange": s.rsa_key_transport}
    if group is not None:
        pinned["groups"] = pinned["key_share_groups"] = (int(NamedGroup[group]),)
    return ClientConfig(trust=cert_pki(s.cert).trust, versions=(TLS12,), trace=tracer,
                        **{**pinned, **options})  # type: ignore[arg-type]


def server_config12(suite: str, group: str | None = None, tracer: Tracer | None = None,
                    **options: object) -> ServerConfig:
    """A glasstls server (TLS 1.3 and 1.2 unless ``versions`` says otherwise) whose
    only TLS 1.2 suite is ``suite``, with the certificate that suite needs."""
    s = SUITES12[suite]
    pinned: dict[str, object] = {
        "cipher_suites": (int(CipherSuite.TLS_AES_128_GCM_SHA256), s.id),
        "enable_rsa_key_exchange": s.rsa_key_transport}
    if group is not None:
        pinned["groups"] = (int(NamedGroup[group]),)
    return ServerConfig(certificates=(cert_pki(s.cert).certified,), trace=tracer,
                        **{**pinned, **options})  # type: ignore[arg-type]
