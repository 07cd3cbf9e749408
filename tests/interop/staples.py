"""What the OCSP stapling interop tests share: the test PKI, its OCSP responses
(made with cryptography's builder at test time, tests/helpers/ocsp.py), and the
parameters each peer is pinned to, so that both sides' reports can be compared.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from certs.scenarios import Issued as ScenarioIssued, issue
from glasstls.constants import TLS12, TLS13
from glasstls.crypto.devpki import Issued, make_leaf
from glasstls.trace import KEY_EXCHANGE, SERVER_HELLO, SERVER_KEY_EXCHANGE
from helpers import ocsp as make
from pki import pki

from .driver import Tracer
from .peer_output import (
    Negotiated,
    Negotiated12,
    gnutls_description,
    gnutls_description12,
    openssl_trace12,
    openssl_trace_negotiated,
)

TEST_PKI = pki("ecdsa-p256")  # matrix.CERTS["ecdsa"]: the files pki_files("ecdsa") writes
LEAF = TEST_PKI.leaf.certificate
VERSIONS = {"TLS13": TLS13, "TLS12": TLS12}
VERSION_NAMES = {TLS13: "TLSv1.3", TLS12: "TLSv1.2"}
STATUSES = ("good", "revoked", "expired")


def response(status: str, delegated: bool = False) -> bytes:
    """A DER OCSP response for the test leaf: "good", "revoked", or "expired" (good,
    but its nextUpdate two hours past), signed by the CA or a delegated responder;
    the same bytes for the same arguments throughout the session."""
    return _response(status, delegated)  # one cache key however the call is spelled


@functools.cache
def _response(status: str, delegated: bool) -> bytes:
    now = dt.datetime.now(dt.UTC)
    signer = make.responder(TEST_PKI.ca) if delegated else None
    if status == "expired":
        return make.response(TEST_PKI.ca, LEAF, signer=signer,
                             this_update=now - dt.timedelta(days=3),
                             next_update=now - dt.timedelta(hours=2))
    return make.response(TEST_PKI.ca, LEAF, status, signer=signer)


def staple_file(directory: Path, status: str, delegated: bool = False) -> Path:
    name = f"{status}-delegated.ocsp" if delegated else f"{status}.ocsp"
    return make.write(directory / name, response(status, delegated))


@dataclass(frozen=True)
class IntermediateChain:
    """The test CA -> an intermediate CA -> a leaf, and a good OCSP response for each
    certificate below the CA, each signed by that certificate's issuer."""

    intermediate: Issued
    leaf: Issued
    leaf_response: bytes
    intermediate_response: bytes

    def write(self, directory: Path) -> dict[str, Path]:
        """chain.pem (leaf first), key.pem, leaf.ocsp and intermediate.ocsp."""
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            "chain": (directory / "chain.pem", self.leaf.certificate_pem()
                      + self.intermediate.certificate.public_bytes(Encoding.PEM)),
            "key": (directory / "key.pem", self.leaf.key_pem()),
            "leaf_ocsp": (directory / "leaf.ocsp", self.leaf_response),
            "intermediate_ocsp": (directory / "intermediate.ocsp", self.intermediate_response),
        }
        for path, data in files.values():
            path.write_bytes(data)
        return {name: path for name, (path, _) in files.items()}


@functools.cache
def intermediate_chain() -> IntermediateChain:
    ca = TEST_PKI.ca
    made = issue("glasstls test intermediate", ScenarioIssued(ca.certificate, ca.key), ca=True)
    intermediate = Issued(made.certificate, made.key)
    leaf = make_leaf(intermediate, ("localhost", "127.0.0.1"))
    return IntermediateChain(intermediate, leaf,
                             make.response(intermediate, leaf.certificate, "good"),
                             make.response(ca, intermediate.certificate, "good"))


@dataclass(frozen=True)
class MustStaple:
    """A leaf of the test CA with the TLS feature status_request (RFC 7633), and a
    good OCSP response for it."""

    leaf: Issued
    response: bytes

    def write(self, directory: Path) -> dict[str, Path]:
        """cert.pem, key.pem and good.ocsp."""
        directory.mkdir(parents=True, exist_ok=True)
        files = {"cert": directory / "cert.pem", "key": directory / "key.pem",
                 "ocsp": directory / "good.ocsp"}
        files["cert"].write_bytes(self.leaf.certificate_pem())
        files["key"].write_bytes(self.leaf.key_pem())
        files["ocsp"].write_bytes(self.response)
        return files


@functools.cache
def must_staple() -> MustStaple:
    leaf = make_leaf(TEST_PKI.ca, ("localhost", "127.0.0.1"), must_staple=True)
    return MustStaple(leaf, make.response(TEST_PKI.ca, leaf.certificate, "good"))


@dataclass(frozen=True)
class Pinned:
    """A suite and group a peer is restricted to (IANA / glasstls names), and the
    peer's own options that restrict it."""

    cipher_suite: str
    group: str
    options: tuple[str, ...]


def glass_parameters(tracer: Tracer) -> tuple[str, str, str | None]:
    """(version, suite, group) a glasstls endpoint sent or received in its ServerHello
    (TLS 1.2: ServerKeyExchange), from its trace: known even when the handshake then
    failed. The group is None for a TLS 1.2 client that stopped at CertificateStatus,
    before the ServerKeyExchange."""
    [hello] = [e for e in tracer.steps if e.step == SERVER_HELLO]
    groups = {str(e.details["group"]) for e in tracer.steps
              if e.step in (KEY_EXCHANGE, SERVER_KEY_EXCHANGE)}
    assert len(groups) <= 1, groups
    version = str(hello.details["version"]).replace("TLS ", "TLSv")
    return version, str(hello.details["cipher_suite"]), groups.pop() if groups else None


def openssl_parameters(version: int, trace: str) -> tuple[str | None, ...]:
    """(version, suite, group) of the final ServerHello (TLS 1.2: and the
    ServerKeyExchange) in an ``openssl s_server/s_client -trace`` log."""
    if version == TLS13:
        negotiated: Negotiated | Negotiated12 = openssl_trace_negotiated(trace)[0]
    else:
        negotiated = openssl_trace12(trace)
    return negotiated.version, negotiated.cipher_suite, negotiated.group


def gnutls_parameters(version: int, output: str) -> tuple[str | None, ...]:
    """(version, suite, group) of the first session gnutls-serv or gnutls-cli
    described in ``output``."""
    described: Negotiated | Negotiated12 = (
        gnutls_description(output) if version == TLS13 else gnutls_description12(output))
    return described.version, described.cipher_suite, described.group
