"""What the peers say they negotiated, read from their own output.

Names are normalised to glasstls's (``HandshakeComplete``) vocabulary:
version "TLSv1.3", IANA suite names, groups "x25519" / "secp256r1" /
"secp384r1" / "X25519MLKEM768".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
HELLO_RETRY_RANDOM = "CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C"

# glasstls group name -> the name each peer's command line takes.
OPENSSL_GROUPS = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384"}
GNUTLS_GROUPS = {"x25519": "X25519", "secp256r1": "SECP256R1", "secp384r1": "SECP384R1"}
# glasstls (IANA) TLS 1.3 suite -> GnuTLS cipher keyword.
GNUTLS_CIPHERS = {
    "TLS_AES_128_GCM_SHA256": "AES-128-GCM",
    "TLS_AES_256_GCM_SHA384": "AES-256-GCM",
    "TLS_CHACHA20_POLY1305_SHA256": "CHACHA20-POLY1305",
}

_OPENSSL_TRACE_GROUPS = {"ecdh_x25519": "x25519", "secp256r1": "secp256r1",
                         "secp384r1": "secp384r1", "X25519MLKEM768": "X25519MLKEM768"}
_OPENSSL_TEMP_KEY_GROUPS = {"X25519": "x25519", "prime256v1": "secp256r1",
                            "secp384r1": "secp384r1"}
_GNUTLS_GROUPS_BACK = {f"ECDHE-{value}": key for key, value in GNUTLS_GROUPS.items()}
_GNUTLS_CIPHERS_BACK = {value: key for key, value in GNUTLS_CIPHERS.items()}


@dataclass(frozen=True)
class Negotiated:
    """A peer's own report of the connection's parameters."""

    version: str | None
    cipher_suite: str | None
    group: str | None
    signature_scheme: str | None = None


@dataclass(frozen=True)
class TracedServerHello:
    """One ServerHello (or HelloRetryRequest) from ``openssl -trace`` output."""

    random: str
    cipher_suite: str | None
    version: str | None
    group: str | None

    @property
    def hello_retry(self) -> bool:
        return self.random.upper() == HELLO_RETRY_RANDOM


def openssl_server_hellos(trace: str) -> list[TracedServerHello]:
    """Every ServerHello in ``openssl s_server/s_client -trace`` output, in order."""
    hellos = []
    blocks = re.split(r"^(?:Sent|Received) Record$", trace, flags=re.MULTILINE)
    for block in blocks:
        if not re.search(r"^\s+ServerHello, Length=\d+$", block, re.MULTILINE):
            continue
        time_part = re.search(r"gmt_unix_time=0x([0-9A-Fa-f]{8})", block)
        random_part = re.search(r"random_bytes \(len=28\): ([0-9A-Fa-f]{56})", block)
        suite = re.search(r"cipher_suite \{0x[0-9A-F]{2}, 0x[0-9A-F]{2}\} (\S+)", block)
        version = re.search(r"supported_versions\(43\).*\n\s+TLS 1\.([23]) \(77[12]\)", block)
        group = re.search(r"NamedGroup: (\S+)", block)
        hellos.append(TracedServerHello(
            random=(time_part.group(1) if time_part else "")
            + (random_part.group(1) if random_part else ""),
            cipher_suite=suite.group(1) if suite else None,
            version=f"TLSv1.{version.group(1)}" if version else None,
            group=_OPENSSL_TRACE_GROUPS.get(group.group(1), group.group(1)) if group else None,
        ))
    return hellos


def openssl_server_hello_extensions(trace: str) -> list[tuple[str, ...]]:
    """The extension names of every ServerHello in ``openssl -trace`` output, in order
    (OpenSSL's names: ``psk`` is pre_shared_key, i.e. a resumed TLS 1.3 session)."""
    found = []
    for match in re.finditer(r"^\s+ServerHello, Length=\d+$", trace, re.MULTILINE):
        body = trace[match.end():]
        end = re.search(r"^(?:\s{4}\w[\w ]*, Length=\d+|(?:Sent|Received) Record)$", body,
                        re.MULTILINE)
        body = body[:end.start()] if end else body
        found.append(tuple(re.findall(r"extension_type=(\w+)\(\d+\)", body)))
    return found


def openssl_trace_negotiated(trace: str) -> tuple[Negotiated, bool]:
    """(parameters of the final ServerHello, whether a HelloRetryRequest came first)."""
    hellos = openssl_server_hellos(trace)
    final = [hello for hello in hellos if not hello.hello_retry]
    assert final, f"no ServerHello in the openssl trace:\n{trace[-4000:]}"
    last = final[-1]
    # The server's CertificateVerify, decrypted by -trace.
    scheme = re.search(r"CertificateVerify, Length=\d+\n\s+Signature Algorithm: (\S+) \(0x",
                       trace)
    return (Negotiated(last.version, last.cipher_suite, last.group,
                       scheme.group(1) if scheme else None),
            any(hello.hello_retry for hello in hellos))


def openssl_client_brief(output: str) -> Negotiated:
    """``openssl s_client -brief``: Protocol version, Ciphersuite, Server Temp Key."""
    version = re.search(r"^Protocol version: (\S+)$", output, re.MULTILINE)
    suite = re.search(r"^Ciphersuite: (\S+)$", output, re.MULTILINE)
    # "Server Temp Key: X25519, 253 bits" / "Server Temp Key: ECDH, prime256v1, 256 bits"
    temp_key = re.search(r"^(?:Server|Peer) Temp Key: (?:ECDH, )?([^,]+),", output, re.MULTILINE)
    return Negotiated(
        version.group(1) if version else None,
        suite.group(1) if suite else None,
        _OPENSSL_TEMP_KEY_GROUPS.get(temp_key.group(1), temp_key.group(1)) if temp_key else None,
    )


def gnutls_description(output: str) -> Negotiated:
    """GnuTLS's session summary, e.g.
    ``- Description: (TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)``."""
    match = re.search(r"^- Description: \((TLS1\.[23])-[^)]*\)-\(([^)]*)\)-\(([^)]*)\)-\(([^)]*)\)",
                      output, re.MULTILINE)
    if match is None:
        return Negotiated(None, None, None)
    version, group, signature, cipher = match.groups()
    return Negotiated(
        version.replace("TLS", "TLSv"),
        _GNUTLS_CIPHERS_BACK.get(cipher, cipher),
        _GNUTLS_GROUPS_BACK.get(group, group),
        # "RSA-PSS-RSAE-SHA256" -> "rsa_pss_rsae_sha256", the IANA name.
        signature.lower().replace("-", "_"),
    )
