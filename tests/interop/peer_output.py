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


# -- TLS 1.2 -----------------------------------------------------------------------------

_OPENSSL_TRACE_CURVES = {"ecdh_x25519": "x25519", "secp256r1": "secp256r1",
                         "secp384r1": "secp384r1", "x25519": "x25519"}
_GNUTLS_CIPHER_SUFFIX = {"AES-128-GCM": "AES_128_GCM_SHA256",
                         "AES-256-GCM": "AES_256_GCM_SHA384",
                         "CHACHA20-POLY1305": "CHACHA20_POLY1305_SHA256"}


@dataclass(frozen=True)
class Negotiated12:
    """A peer's report of a TLS 1.2 connection."""

    version: str | None
    cipher_suite: str | None  # IANA name
    group: str | None  # None for RSA key transport
    extended_master_secret: bool | None


@dataclass(frozen=True)
class OpenSSLSession:
    """The ``SSL-Session:`` block of s_client, or of ``openssl sess_id -text``."""

    protocol: str | None
    cipher: str | None  # OpenSSL's name
    master_key: bytes
    extended_master_secret: bool | None


def openssl_session(output: str) -> OpenSSLSession:
    def field_of(name: str) -> str | None:
        match = re.search(rf"^\s+{name}\s*: ?(.*)$", output, re.MULTILINE)
        return match.group(1).strip() if match else None

    ems = field_of("Extended master secret")
    return OpenSSLSession(field_of("Protocol"), field_of("Cipher"),
                          bytes.fromhex(field_of("Master-Key") or ""),
                          None if ems is None else ems == "yes")


SESSION_PEM = re.compile(r"-----BEGIN SSL SESSION PARAMETERS-----.*?"
                         r"-----END SSL SESSION PARAMETERS-----\n", re.DOTALL)


def openssl_trace12(trace: str) -> Negotiated12:
    """``openssl -trace`` of a TLS 1.2 handshake: version, suite and extended_master_secret
    from the ServerHello, the curve from the ServerKeyExchange."""
    hello = re.search(r"^\s+ServerHello, Length=\d+\n(.*?)(?=^\S)", trace,
                      re.MULTILINE | re.DOTALL)
    assert hello, f"no ServerHello in the openssl trace:\n{trace[-4000:]}"
    block = hello.group(1)
    version = re.search(r"server_version=0x303 \(TLS 1\.2\)", block)
    suite = re.search(r"cipher_suite \{0x[0-9A-F]{2}, 0x[0-9A-F]{2}\} (\S+)", block)
    curve = re.search(r"^\s+ServerKeyExchange, Length=\d+\n.*?named_curve: (\S+)", trace,
                      re.MULTILINE | re.DOTALL)
    return Negotiated12(
        "TLSv1.2" if version else None,
        suite.group(1) if suite else None,
        _OPENSSL_TRACE_CURVES.get(curve.group(1), curve.group(1)) if curve else None,
        "extension_type=extended_master_secret(23)" in block,
    )


def gnutls_description12(output: str) -> Negotiated12:
    """GnuTLS's TLS 1.2 session summary, e.g.
    ``- Description: (TLS1.2-X.509)-(ECDHE-SECP384R1)-(ECDSA-SHA256)-(CHACHA20-POLY1305)``
    or ``(TLS1.2-X.509)-(RSA)-(AES-256-GCM)``, and ``- Options: extended master secret``."""
    match = re.search(r"^- Description: \((TLS1\.\d)-[^)]*\)((?:-\([^)]*\))+)$", output,
                      re.MULTILINE)
    if match is None:
        return Negotiated12(None, None, None, None)
    version, rest = match.groups()
    parts = re.findall(r"\(([^)]*)\)", rest)
    cipher = _GNUTLS_CIPHER_SUFFIX.get(parts[-1], parts[-1])
    if parts[0] == "RSA":
        suite, group = f"TLS_RSA_WITH_{cipher}", None
    else:
        kx, curve = parts[0].split("-", 1)
        authentication = "ECDSA" if parts[1].startswith("ECDSA") else "RSA"
        suite = f"TLS_{kx}_{authentication}_WITH_{cipher}"
        group = _GNUTLS_GROUPS_BACK.get(f"ECDHE-{curve}", curve)
    options = re.search(r"^- Options: (.*)$", output, re.MULTILINE)
    return Negotiated12(version.replace("TLS", "TLSv"), suite, group,
                        None if options is None else "extended master secret" in options.group(1))


# -- OCSP stapling -----------------------------------------------------------------------

_HEX_DUMP_LINE = re.compile(r"^\s+[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -])*[0-9a-f]{2})", re.MULTILINE)
_STAPLE_CARRIERS = re.compile(
    r"(?:CertificateStatus, Length=|extension_type=status_request\(5\), length=)(\d+)\n")


def _hex_dump_at(trace: str, start: int, length: int) -> bytes:
    """``length`` bytes of the hex dump that ``openssl -trace`` prints from ``start``."""
    data = bytearray()
    for line in _HEX_DUMP_LINE.finditer(trace, start):
        data += bytes.fromhex(re.sub(r"[ -]", "", line.group(1)))
        if len(data) >= length:
            break
    return bytes(data[:length])


def openssl_trace_staples(trace: str) -> list[bytes]:
    """The OCSP responses stapled in ``openssl -trace`` output, as DER, read from its
    hex dumps: TLS 1.2 CertificateStatus messages and TLS 1.3 status_request
    extensions of CertificateEntries (RFC 6066 §8: status_type ocsp(1), a uint24
    length, the response). A ClientHello's status_request is no staple and is left out."""
    staples = []
    for carrier in _STAPLE_CARRIERS.finditer(trace):
        body = _hex_dump_at(trace, carrier.end(), int(carrier.group(1)))
        if body[:1] == b"\x01" and int.from_bytes(body[1:4]) == len(body) - 4 > 0:
            staples.append(body[4:])
    return staples
