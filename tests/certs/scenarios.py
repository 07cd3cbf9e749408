"""Certificate scenarios as people have them, written to files: made with the
``openssl`` command line, with ``trustme`` and with ``cryptography``.

Each ``Scenario`` names the chain a peer sends (leaf first) with its key, the CA
file the other side trusts (certificates and CRLs), the name asked for, the
``ssl.VERIFY_*`` flags, and OpenSSL's verdict: 0 for accepted, else its verify
code. ``glasstls_code`` is set only where glasstls deliberately differs, with
the reason in ``why`` (docs/ssl-compat.md lists the same differences).
"""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
SERVER_AUTH = [ExtendedKeyUsageOID.SERVER_AUTH]
CLIENT_AUTH = [ExtendedKeyUsageOID.CLIENT_AUTH]


@dataclass(frozen=True)
class Scenario:
    name: str
    chain: Path  # PEM, leaf first: what the peer sends
    key: Path
    cafile: Path  # what the verifying side trusts: certificates and CRLs
    code: int  # OpenSSL's verdict: 0 accepted, else X509_V_ERR_*
    host: str = "localhost"
    role: str = "server"  # whose certificate is checked
    flags: int = 0
    common_name_fallback: bool = False
    glasstls_code: int | None = None
    why: str = ""
    glasstls_says: str = ""  # words glasstls's refusal must contain, where it differs

    @property
    def expected_glasstls(self) -> int:
        return self.code if self.glasstls_code is None else self.glasstls_code


@dataclass
class Issued:
    certificate: x509.Certificate
    key: Any

    @property
    def name(self) -> x509.Name:
        return self.certificate.subject


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_key(kind: str = "ec") -> Any:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind.startswith("rsa"):
        return rsa.generate_private_key(65537, int(kind[3:] or 2048))
    return ec.generate_private_key(ec.SECP256R1())


def issue(common_name: str, issuer: Issued | None = None, *, key: Any = None,
          ca: bool | None = False, path_length: int | None = None,
          dns: Sequence[str] = (), ips: Sequence[str] = (), san_critical: bool = False,
          eku: Sequence[x509.ObjectIdentifier] | None = None,
          key_usage: dict[str, bool] | None = None, not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None,
          extra: Sequence[tuple[x509.ExtensionType, bool]] = ()) -> Issued:
    """A certificate made with cryptography: self-signed when ``issuer`` is None."""
    import ipaddress

    key = key if key is not None else new_key()
    signer = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(_name(common_name))
               .issuer_name(issuer.name if issuer else _name(common_name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - DAY)
               .not_valid_after(not_after or NOW + 30 * DAY)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False)
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca, path_length), True)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), True)
    elif key_usage is not None:
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment",
                               "data_encipherment", "key_agreement", "key_cert_sign",
                               "crl_sign", "encipher_only", "decipher_only"), False)
        builder = builder.add_extension(x509.KeyUsage(**{**flags, **key_usage}), True)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), san_critical)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical)
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signer, algorithm), key)


def crl(issuer: Issued, revoked: Sequence[Issued] = (), *, last: dt.datetime | None = None,
        next_update: dt.datetime | None = None) -> x509.CertificateRevocationList:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.name)
               .last_update(last or NOW - DAY).next_update(next_update or NOW + 7 * DAY))
    for item in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(item.certificate.serial_number)
            .revocation_date(NOW - DAY).build())
    return builder.sign(issuer.key, hashes.SHA256())


def pem(item: x509.Certificate | x509.CertificateRevocationList | Issued) -> bytes:
    if isinstance(item, Issued):
        item = item.certificate
    return item.public_bytes(serialization.Encoding.PEM)


def key_pem(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


class Maker:
    """Writes the files of each scenario into one directory."""

    def __init__(self, directory: Path, openssl: str) -> None:
        self.directory = directory
        self.openssl = openssl
        self.scenarios: list[Scenario] = []

    def path(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def add(self, name: str, chain: Sequence[Any], key: Any, trusted: Sequence[Any],
            code: int, **options: Any) -> None:
        self.scenarios.append(Scenario(
            name, self.path(f"{name}-chain.pem", b"".join(pem(c) for c in chain)),
            self.path(f"{name}-key.pem", key_pem(key) if not isinstance(key, bytes) else key),
            self.path(f"{name}-ca.pem", b"".join(pem(t) for t in trusted)), code, **options))

    def run(self, *argv: str) -> None:
        subprocess.run([self.openssl, *argv], check=True, capture_output=True,
                       cwd=self.directory, timeout=60)

    def openssl_files(self, stem: str) -> tuple[x509.Certificate, bytes]:
        certificate = x509.load_pem_x509_certificate((self.directory / f"{stem}.pem")
                                                     .read_bytes())
        return certificate, (self.directory / f"{stem}-key.pem").read_bytes()


def _openssl_scenarios(make: Maker, other_ca: Issued) -> None:
    # The usual self-signed certificate: openssl req -x509 sets basicConstraints CA:TRUE.
    make.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "req-x509-key.pem", "-out", "req-x509.pem", "-days", "30",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost")
    certificate, key = make.openssl_files("req-x509")
    make.add("openssl-req-x509-as-anchor", [certificate], key, [certificate], 0)
    make.add("openssl-req-x509-untrusted", [certificate], key, [other_ca], 18)
    # A CA and a client certificate with only a common name, the usual mutual-TLS
    # recipe (the extension file makes it version 3; see the v1 case below).
    make.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "client-ca-key.pem", "-out", "client-ca.pem", "-days", "30",
             "-subj", "/CN=Client CA")
    make.run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "cn-only-key.pem", "-out", "cn-only.csr", "-subj", "/CN=alice")
    (make.directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    make.run("x509", "-req", "-in", "cn-only.csr", "-CA", "client-ca.pem", "-CAkey",
             "client-ca-key.pem", "-CAcreateserial", "-days", "30", "-out", "cn-only.pem",
             "-extfile", "client.ext")
    make.run("x509", "-req", "-in", "cn-only.csr", "-CA", "client-ca.pem", "-CAkey",
             "client-ca-key.pem", "-CAcreateserial", "-days", "30", "-out", "cn-only-v1.pem")
    client_ca, _ = make.openssl_files("client-ca")
    for stem, code, options in (
        ("cn-only", 0, {}),
        ("cn-only-v1", 0, {"glasstls_code": 1, "glasstls_says": "version 3", "why": (
            "cryptography's path validator accepts X.509 version 3 certificates only")}),
    ):
        certificate, key = make.openssl_files(stem.replace("-v1", ""))
        certificate = x509.load_pem_x509_certificate((make.directory / f"{stem}.pem")
                                                     .read_bytes())
        make.add(f"openssl-{stem}-client-certificate", [certificate], key, [client_ca], code,
                 role="client", **options)
    # RSA-1024: below OpenSSL's default security level (2) for the peer's key.
    make.run("req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "rsa1024-key.pem",
             "-out", "rsa1024.csr", "-subj", "/CN=localhost")
    (make.directory / "server.ext").write_text("subjectAltName=DNS:localhost\n")
    make.run("x509", "-req", "-in", "rsa1024.csr", "-CA", "client-ca.pem", "-CAkey",
             "client-ca-key.pem", "-CAcreateserial", "-days", "30", "-out", "rsa1024.pem",
             "-extfile", "server.ext")
    certificate, key = make.openssl_files("rsa1024")
    make.add("openssl-rsa-1024-leaf", [certificate], key, [client_ca], 66)


def _trustme_scenarios(make: Maker) -> None:
    authority = trustme.CA()
    leaf = authority.issue_cert("localhost", "127.0.0.1")  # a critical subjectAltName
    key = leaf.private_key_pem.bytes()
    chain = [x509.load_pem_x509_certificate(b.bytes()) for b in leaf.cert_chain_pems]
    root = x509.load_pem_x509_certificate(authority.cert_pem.bytes())
    make.add("trustme-leaf", chain, key, [root], 0)
    make.add("trustme-leaf-by-ip", chain, key, [root], 0, host="127.0.0.1")
    make.add("trustme-leaf-wrong-ip", chain, key, [root], 64, host="127.0.0.2")
    child = authority.create_child_ca()
    leaf = child.issue_cert("localhost")
    chain = [x509.load_pem_x509_certificate(b.bytes()) for b in leaf.cert_chain_pems]
    key = leaf.private_key_pem.bytes()
    make.add("trustme-with-intermediate", chain, key, [root], 0)
    make.add("trustme-intermediate-not-sent", chain[:1], key, [root], 20)
    client = authority.issue_cert("client@example.test")
    chain = [x509.load_pem_x509_certificate(b.bytes()) for b in client.cert_chain_pems]
    make.add("trustme-client-certificate", chain, client.private_key_pem.bytes(), [root], 0,
             role="client")


def _cryptography_scenarios(make: Maker, root: Issued, other_ca: Issued) -> None:
    def leaf(name: str = "localhost", issuer: Issued = root, **options: Any) -> Issued:
        options.setdefault("dns", [name])
        return issue(name, issuer, eku=options.pop("eku", SERVER_AUTH), **options)

    own = issue("localhost", None, ca=False, dns=["localhost"])
    make.add("self-signed-ca-false-as-anchor", [own], own.key, [own], 0)
    make.add("self-signed-ca-false-untrusted", [own], own.key, [other_ca], 18)
    plain = leaf()
    make.add("plain-chain", [plain], plain.key, [root], 0)
    make.add("wrong-name", [plain], plain.key, [root], 62, host="www.example.test")
    item = leaf(not_before=NOW - 60 * DAY, not_after=NOW - 30 * DAY)
    make.add("expired", [item], item.key, [root], 10)
    item = leaf(not_before=NOW + 30 * DAY, not_after=NOW + 60 * DAY)
    make.add("not-yet-valid", [item], item.key, [root], 9)
    item = leaf("www.example.test", dns=["*.example.test"])
    make.add("wildcard", [item], item.key, [root], 0, host="www.example.test")
    make.add("wildcard-two-labels-deep", [item], item.key, [root], 62,
             host="a.www.example.test")
    item = leaf(eku=CLIENT_AUTH)
    make.add("client-only-eku-on-a-server", [item], item.key, [root], 26)
    item = leaf(key_usage={"key_cert_sign": True})
    make.add("key-usage-without-signing", [item], item.key, [root], 26)
    item = leaf(extra=[(x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), True)])
    make.add("critical-unknown-extension", [item], item.key, [root], 34)
    item = leaf(dns=[], eku=SERVER_AUTH)
    make.add("common-name-only-server", [item], item.key, [root], 62)
    make.add("common-name-only-server-with-fallback", [item], item.key, [root], 0,
             common_name_fallback=True)
    item = leaf(eku=SERVER_AUTH, key=new_key("ed25519"))
    make.add("ed25519-leaf", [item], item.key, [root], 0)
    ed_ca = issue("Ed25519 CA", None, key=new_key("ed25519"), ca=True)
    item = leaf(issuer=ed_ca)
    make.add("ed25519-ca", [item], item.key, [ed_ca], 0, glasstls_code=1,
             glasstls_says="cannot check Ed25519 signatures", why=(
                 "cryptography's path validator cannot check Ed25519 signatures on "
                 "certificates"))
    # Name constraints on an intermediate.
    constrained = issue("Constrained CA", root, ca=True, extra=[(x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("example.test")], excluded_subtrees=None), True)])
    item = leaf("www.example.test", issuer=constrained)
    make.add("name-constraints-permitted", [item, constrained], item.key, [root], 0,
             host="www.example.test")
    item = leaf("www.elsewhere.test", issuer=constrained)
    make.add("name-constraints-violated", [item, constrained], item.key, [root], 47,
             host="www.elsewhere.test")
    # Intermediates that may not issue.
    not_ca = issue("Not A CA", root, ca=False)
    item = leaf(issuer=not_ca)
    make.add("intermediate-with-ca-false", [item, not_ca], item.key, [root], 79)
    old_ca = issue("Expired CA", root, ca=True, not_before=NOW - 60 * DAY,
                   not_after=NOW - 30 * DAY)
    item = leaf(issuer=old_ca)
    make.add("expired-intermediate", [item, old_ca], item.key, [root], 10)
    other_root = issue("Untrusted Root", None, ca=True)
    item = leaf(issuer=other_root)
    make.add("untrusted-root-sent", [item, other_root], item.key, [root], 19)
    item = issue("alice", root, eku=SERVER_AUTH)
    make.add("server-only-eku-on-a-client", [item], item.key, [root], 26, role="client")
    _crl_scenarios(make, root, leaf)


def _crl_scenarios(make: Maker, root: Issued, leaf: Any) -> None:
    leaf_flag = int(ssl.VERIFY_CRL_CHECK_LEAF)
    chain_flag = int(ssl.VERIFY_CRL_CHECK_CHAIN)
    good, bad = leaf(), leaf()
    root_crl = crl(root, [bad])
    make.add("crl-leaf-revoked", [bad], bad.key, [root, root_crl], 23, flags=leaf_flag)
    make.add("crl-leaf-not-revoked", [good], good.key, [root, root_crl], 0, flags=leaf_flag)
    make.add("crl-missing", [good], good.key, [root], 3, flags=leaf_flag)
    stale = crl(root, [], last=NOW - 30 * DAY, next_update=NOW - 20 * DAY)
    make.add("crl-expired", [good], good.key, [root, stale], 12, flags=leaf_flag)
    intermediate = issue("Intermediate CA", root, ca=True)
    item = leaf(issuer=intermediate)
    revoked_intermediate = crl(root, [intermediate])
    make.add("crl-chain-intermediate-revoked", [item, intermediate], item.key,
             [root, revoked_intermediate, crl(intermediate)], 23, flags=chain_flag)
    make.add("crl-chain-all-good", [item, intermediate], item.key,
             [root, crl(root), crl(intermediate)], 0, flags=chain_flag)
    make.add("crl-leaf-check-ignores-the-intermediate", [item, intermediate], item.key,
             [root, revoked_intermediate, crl(intermediate)], 0, flags=leaf_flag)
    early = crl(root, [], last=NOW + 10 * DAY, next_update=NOW + 20 * DAY)
    make.add("crl-not-yet-valid", [good], good.key, [root, early], 11, flags=leaf_flag)
    impostor = Issued(root.certificate, new_key())  # same issuer name, another key
    make.add("crl-bad-signature", [good], good.key, [root, crl(impostor)], 8, flags=leaf_flag)
    # A trusted intermediate without its root: an anchor only for partial chains.
    make.add("intermediate-as-partial-chain-anchor", [item], item.key, [intermediate], 0,
             flags=int(ssl.VERIFY_X509_PARTIAL_CHAIN))
    make.add("intermediate-in-store-without-its-root", [item], item.key, [intermediate], 2)


def make_scenarios(directory: Path, openssl: str) -> list[Scenario]:
    make = Maker(directory, openssl)
    root = issue("glasstls scenario root", None, ca=True)
    other_ca = issue("Some Other CA", None, ca=True)
    _openssl_scenarios(make, other_ca)
    _trustme_scenarios(make)
    _cryptography_scenarios(make, root, other_ca)
    return make.scenarios
