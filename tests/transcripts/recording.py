"""Recorded transcripts (Go ``crypto/tls`` style): complete flows through the engine,
recorded once with a seeded ``rng`` and a fixed clock, replayed one side at a time.

A flow is a script (connect, pump, send, key update, close...) run by a glasstls
client and a glasstls server in memory. Recording runs both sides and writes every
step of each (bytes sent, events returned, errors, trace events with secrets, key
log lines) to ``recorded/<flow>.hex``. Replaying runs *one* side for real and plays
the other from the file: each step of the live side must give exactly the recorded
lines, so any change to a byte on the wire, an event or a trace value shows up as a
diff naming the step.

All randomness comes from each side's config ``rng`` (seeded from the flow's name),
except three operations whose randomness OpenSSL draws itself and that
``cryptography`` gives no way to seed: ECDSA and RSA-PSS signatures, RSA PKCS#1 v1.5
encryption (TLS 1.2 RSA key transport) and ML-KEM encapsulation. Their outputs are
recorded as ``random`` lines, and so are certificate compression's (RFC 8879), whose
bytes may change with the codec library's version; on replay the engine's calls to
them (``signatures.sign``, ``rsa_kx.pkcs1v15_encrypt``, ``groups.mlkem_encapsulate``,
``compression.compress``) are answered from those lines after checking that the
inputs (key, scheme, message) are the recorded ones, and a replayed signature is
checked to verify (compressed bytes, to decompress to the input).

Regenerate on purpose with ``python tests/transcripts/record.py``; the tests never
write these files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import enum
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from glasstls import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    ServerConfig,
    ServerConnection,
    TLSError,
    TrustStore,
    compression,
)
from glasstls.constants import (
    TLS12,
    TLS13,
    CertificateCompressionAlgorithm,
    CipherSuite,
    NamedGroup,
)
from glasstls.crypto import groups, rsa_kx, signatures
from glasstls.crypto.devpki import make_ca, make_leaf
from glasstls.crypto.suites import RSA_KEY_TRANSPORT_SUITES
from glasstls.trace import TraceEvent
from helpers.rng import SeededRng

RECORDED = Path(__file__).parent / "recorded"
PKI_DIR = RECORDED / "pki"
# 2026-06-01 00:00:00 UTC: inside the recorded certificates' validity.
CLOCK = 1780272000.0
MONOTONIC = 1000.0
HEX_LINE = 64  # bytes per "out" line


# -- the recorded PKI ------------------------------------------------------------------

_PKI_FILES = ("ca", "other-ca", "server-ecdsa", "server-rsa", "client")


@dataclass(frozen=True)
class Pki:
    """Certificates and keys the flows use (fixed files, so recordings stay valid)."""

    ca: x509.Certificate
    other_ca: x509.Certificate
    server_ecdsa: CertifiedKey
    server_rsa: CertifiedKey
    client: CertifiedKey

    @property
    def trust(self) -> TrustStore:
        return TrustStore([self.ca])


def make_pki(directory: Path = PKI_DIR) -> None:
    """Write a new PKI (only when deliberately renewing it: every recording changes)."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)
    ca = make_ca("glasstls transcript CA", now=start, days=(end - start).days)
    other = make_ca("glasstls other CA", now=start, days=(end - start).days)
    issued = {
        "ca": ca, "other-ca": other,
        "server-ecdsa": make_leaf(ca, ("localhost", "127.0.0.1"), not_before=start,
                                  not_after=end),
        "server-rsa": make_leaf(ca, ("localhost",), key_type="rsa-2048", not_before=start,
                                not_after=end),
        "client": make_leaf(ca, ("glasstls transcript client",), client=True,
                            not_before=start, not_after=end),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, item in issued.items():
        (directory / f"{name}.pem").write_bytes(item.certificate_pem())
        if not name.endswith("ca"):
            (directory / f"{name}-key.pem").write_bytes(item.key_pem())


def load_pki(directory: Path = PKI_DIR) -> Pki:
    def certified(name: str) -> CertifiedKey:
        return CertifiedKey.from_pem((directory / f"{name}.pem").read_bytes(),
                                     (directory / f"{name}-key.pem").read_bytes())

    def certificate(name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())

    return Pki(certificate("ca"), certificate("other-ca"), certified("server-ecdsa"),
               certified("server-rsa"), certified("client"))


# -- flows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connect:
    client: str = "default"
    server: str = "default"
    server_name: str = "localhost"


@dataclass(frozen=True)
class Pump:
    pass


@dataclass(frozen=True)
class Send:
    side: str
    data: bytes


@dataclass(frozen=True)
class EarlyData:
    data: bytes


@dataclass(frozen=True)
class KeyUpdate:
    side: str
    request_peer_update: bool


@dataclass(frozen=True)
class RequestCertificate:
    pass


@dataclass(frozen=True)
class Close:
    side: str


Step = Connect | Pump | Send | EarlyData | KeyUpdate | RequestCertificate | Close


class Builder:
    """Makes one flow's configs: the recorded PKI, the side's seeded rng, the fixed
    clock and the recorder's callbacks, then the flow's own options."""

    def __init__(self, pki: Pki, client_base: dict[str, Any], server_base: dict[str, Any]
                 ) -> None:
        self.pki = pki
        self._client_base = client_base
        self._server_base = server_base

    def client(self, **options: Any) -> ClientConfig:
        return ClientConfig(**{"trust": self.pki.trust, **self._client_base, **options})

    def server(self, **options: Any) -> ServerConfig:
        return ServerConfig(**{"certificates": (self.pki.server_ecdsa,), **self._server_base,
                               **options})


Configs = tuple[dict[str, ClientConfig], dict[str, ServerConfig]]


@dataclass(frozen=True)
class Flow:
    name: str
    summary: str
    configs: Callable[[Builder], Configs]
    steps: tuple[Step, ...]


REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"
# A request and an answer, then both sides close.
CONVERSATION: tuple[Step, ...] = (Send("client", REQUEST), Pump(), Send("server", RESPONSE),
                                  Pump(), Close("client"), Pump(), Close("server"), Pump())
HANDSHAKE: tuple[Step, ...] = (Connect(), Pump())
AES128 = CipherSuite.TLS_AES_128_GCM_SHA256
AES256 = CipherSuite.TLS_AES_256_GCM_SHA384
CHACHA20 = CipherSuite.TLS_CHACHA20_POLY1305_SHA256
ONLY13: dict[str, Any] = {"versions": (TLS13,)}
ONLY12: dict[str, Any] = {"versions": (TLS12,)}


def _default(b: Builder, client: dict[str, Any] | None = None,
             server: dict[str, Any] | None = None) -> Configs:
    return {"default": b.client(**(client or {}))}, {"default": b.server(**(server or {}))}


def _early_data_rejected(b: Builder) -> Configs:
    server = b.server(max_early_data_size=4096)
    # The same ticket keys and anti-replay store, but 0-RTT is now off.
    no_early = dataclasses.replace(server, max_early_data_size=0)
    return ({"default": b.client(enable_early_data=True)},
            {"default": server, "no-early-data": no_early})


def _mutual(b: Builder, common: dict[str, Any] | None = None,
            server: dict[str, Any] | None = None) -> Configs:
    return _default(b, {"certificate": b.pki.client, **(common or {})},
                    {"client_auth": "required", "client_trust": b.pki.trust,
                     "client_ca_names": (b.pki.ca.subject,), **(common or {}),
                     **(server or {})})


FLOWS: tuple[Flow, ...] = (
    Flow("tls13-aes128-x25519mlkem768",
         "TLS 1.3 full handshake: TLS_AES_128_GCM_SHA256, X25519MLKEM768, ECDSA P-256 "
         "server certificate, GREASE and ALPN offered",
         lambda b: _default(b, {"grease": True, "alpn_protocols": ("h2", "http/1.1")},
                            {"alpn_protocols": ("http/1.1",)}),
         HANDSHAKE + CONVERSATION),
    Flow("tls13-aes256-x25519",
         "TLS 1.3: TLS_AES_256_GCM_SHA384 over x25519 (the server accepts only those)",
         lambda b: _default(b, {"key_share_groups": (NamedGroup.x25519,)},
                            {"cipher_suites": (AES256,), "groups": (NamedGroup.x25519,)}),
         HANDSHAKE + CONVERSATION),
    Flow("tls13-chacha20-x25519",
         "TLS 1.3: TLS_CHACHA20_POLY1305_SHA256 over x25519, RSA-2048 server certificate "
         "(RSA-PSS CertificateVerify)",
         lambda b: _default(b, {"key_share_groups": (NamedGroup.x25519,)},
                            {"cipher_suites": (CHACHA20,), "groups": (NamedGroup.x25519,),
                             "certificates": (b.pki.server_rsa,)}),
         HANDSHAKE + CONVERSATION),
    Flow("tls13-hello-retry-request",
         "TLS 1.3: the server wants secp256r1, which has no key share: HelloRetryRequest "
         "with a cookie, then the handshake on P-256",
         lambda b: _default(b, {}, {"groups": (NamedGroup.secp256r1,)}),
         HANDSHAKE + CONVERSATION),
    Flow("tls13-uncompressed-certificate",
         "TLS 1.3 with a client that offers no certificate compression: the server's "
         "Certificate goes as it is (RFC 8879 needs the client's compress_certificate)",
         lambda b: _default(b, {"certificate_compression": ()}),
         HANDSHAKE + CONVERSATION),
    Flow("tls13-mutual-auth",
         "TLS 1.3 with a required client certificate (ECDSA) and an RSA server certificate",
         lambda b: _mutual(b, server={"certificates": (b.pki.server_rsa,)}),
         HANDSHAKE + CONVERSATION),
    Flow("tls13-psk-resumption",
         "TLS 1.3: a full handshake that leaves two tickets, then a PSK (psk_dhe_ke) "
         "resumption with one of them",
         lambda b: _default(b),
         HANDSHAKE + CONVERSATION + HANDSHAKE + CONVERSATION),
    Flow("tls13-early-data-accepted",
         "TLS 1.3 0-RTT: a ticket allowing early data, then a resumption whose early "
         "data the server accepts (EndOfEarlyData)",
         lambda b: _default(b, {"enable_early_data": True}, {"max_early_data_size": 4096}),
         (*HANDSHAKE, *CONVERSATION, Connect(), EarlyData(REQUEST), Pump(),
          *CONVERSATION[2:])),
    Flow("tls13-early-data-rejected",
         "TLS 1.3 0-RTT rejected: the ticket allows early data but the server now takes "
         "none; it resumes and skips the early records",
         _early_data_rejected,
         (*HANDSHAKE, *CONVERSATION, Connect(server="no-early-data"), EarlyData(REQUEST),
          Pump(), *CONVERSATION)),
    Flow("tls13-key-update",
         "TLS 1.3 KeyUpdate both ways: the client asks the server to update too, then "
         "the server updates on its own",
         lambda b: _default(b),
         (*HANDSHAKE, Send("client", b"before"), Pump(), KeyUpdate("client", True), Pump(),
          Send("client", b"after client update"), Send("server", b"answer"), Pump(),
          KeyUpdate("server", False), Send("server", b"after server update"), Pump(),
          *CONVERSATION[4:])),
    Flow("tls13-post-handshake-auth",
         "TLS 1.3 post-handshake authentication: the server asks an established client "
         "for its certificate",
         lambda b: _default(b, {"certificate": b.pki.client, "post_handshake_auth": True},
                            {"client_trust": b.pki.trust}),
         (*HANDSHAKE, Send("client", REQUEST), Pump(), RequestCertificate(), Pump(),
          *CONVERSATION[2:])),
    Flow("tls13-unknown-ca",
         "TLS 1.3 failure: the client trusts another CA, so it rejects the server's "
         "chain with unknown_ca",
         lambda b: _default(b, {"trust": TrustStore([b.pki.other_ca])}),
         HANDSHAKE),
    Flow("tls12-ecdhe-ecdsa",
         "TLS 1.2 full handshake: ECDHE-ECDSA-AES128-GCM-SHA256 over x25519, extended "
         "master secret",
         lambda b: _default(b, ONLY12, ONLY12),
         HANDSHAKE + CONVERSATION),
    Flow("tls12-ecdhe-rsa",
         "TLS 1.2: ECDHE-RSA-CHACHA20-POLY1305 over secp256r1, RSA-2048 certificate",
         lambda b: _default(b, ONLY12, {**ONLY12, "certificates": (b.pki.server_rsa,),
                                        "groups": (NamedGroup.secp256r1,),
                                        "cipher_suites": (
                                            CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                                        )}),
         HANDSHAKE + CONVERSATION),
    Flow("tls12-rsa-key-transport",
         "TLS 1.2 RSA key transport (TLS_RSA_WITH_AES_128_GCM_SHA256): the client encrypts "
         "the pre-master secret to the server's RSA key",
         lambda b: _default(b, {**ONLY12, "enable_rsa_key_exchange": True,
                                "cipher_suites": RSA_KEY_TRANSPORT_SUITES},
                            {**ONLY12, "enable_rsa_key_exchange": True,
                             "certificates": (b.pki.server_rsa,)}),
         HANDSHAKE + CONVERSATION),
    Flow("tls12-session-id-resumption",
         "TLS 1.2: a full handshake, then an abbreviated one resuming the session id "
         "(no tickets)",
         lambda b: _default(b, {**ONLY12, "enable_session_tickets": False}, ONLY12),
         HANDSHAKE + CONVERSATION + HANDSHAKE + CONVERSATION),
    Flow("tls12-ticket-resumption",
         "TLS 1.2: a full handshake with a NewSessionTicket (RFC 5077), then an "
         "abbreviated one resuming the ticket",
         lambda b: _default(b, ONLY12, ONLY12),
         HANDSHAKE + CONVERSATION + HANDSHAKE + CONVERSATION),
    Flow("tls12-client-certificate",
         "TLS 1.2 with a required client certificate (Certificate, CertificateVerify)",
         lambda b: _mutual(b, ONLY12),
         HANDSHAKE + CONVERSATION),
    Flow("tls12-no-common-suite",
         "TLS 1.2 failure: the client offers only suites the server does not take, so "
         "the server answers handshake_failure",
         lambda b: _default(b, {**ONLY12, "cipher_suites": (
             CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,)},
             {**ONLY12, "cipher_suites": (
                 CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,)}),
         HANDSHAKE),
)

FLOW_BY_NAME = {flow.name: flow for flow in FLOWS}


# -- lines: how a step is written down ----------------------------------------------------


def _short(data: bytes) -> str:
    """Bytes as hex, or (long ones) as their length and SHA-256."""
    if len(data) <= 64:
        return data.hex()
    return f"{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()}"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return _short(bytes(value))
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Fields not given to __init__ are worked out from the others (a session's
        # early secrets, kept once used): not part of what a step records.
        return {"type": type(value).__name__,
                **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.init}}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, default=str)


def trace_line(event: TraceEvent) -> str:
    data = event.to_json()
    data.pop("connection")  # a process-wide counter
    return "trace " + _json(data)


def out_lines(data: bytes) -> list[str]:
    return [f"out {data[i:i + HEX_LINE].hex()}" for i in range(0, len(data), HEX_LINE)]


@dataclass
class Entry:
    """One step of one side: its header and the lines it produced."""

    side: str
    action: str
    argument: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def header(self) -> str:
        return f"@ {self.side} {self.action}" + (f" {self.argument}" if self.argument else "")

    @property
    def out(self) -> bytes:
        return b"".join(bytes.fromhex(line[4:]) for line in self.lines
                        if line.startswith("out "))

    @property
    def randoms(self) -> list[dict[str, Any]]:
        return [json.loads(line.split(" ", 2)[2]) | {"kind": line.split(" ", 2)[1]}
                for line in self.lines if line.startswith("random ")]


@dataclass
class Transcript:
    flow: Flow
    entries: list[Entry] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"# glasstls recorded transcript: {self.flow.name}",
            f"# {self.flow.summary}",
            "# Written by tests/transcripts/record.py (see recording.py); do not edit.",
        ]
        for entry in self.entries:
            lines.append(entry.header)
            lines += [f"  {line}" for line in entry.lines]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, flow: Flow, text: str) -> Transcript:
        transcript = cls(flow)
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith("@ "):
                side, action, *rest = line[2:].split(" ", 2)
                transcript.entries.append(Entry(side, action, rest[0] if rest else ""))
            else:
                transcript.entries[-1].lines.append(line.strip())
        return transcript


def path_of(flow: Flow) -> Path:
    return RECORDED / f"{flow.name}.hex"


def load(flow: Flow) -> Transcript:
    path = path_of(flow)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: record it with "
                                f"python tests/transcripts/record.py {flow.name}")
    return Transcript.parse(flow, path.read_text())


# -- randomness OpenSSL draws itself: recorded, then replayed -----------------------------


def _key_id(key: Any) -> str:
    public = key.public_key() if hasattr(key, "public_key") else key
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


class Randomness:
    """Stands in for those primitives while a flow runs. Recording: calls the
    real one and writes a ``random`` line. Replaying: checks the inputs against the
    next recorded line of the live side and returns its output."""

    def __init__(self, sink: Callable[[str], None], replay: list[dict[str, Any]] | None,
                 reuse: list[dict[str, Any]] | None = None) -> None:
        self._sink = sink
        self._replay = replay
        # Recording again: outputs of an earlier recording, used where the inputs are
        # the same, so that an unchanged flow records to an unchanged file.
        self._reuse = {self._inputs_key(r): r for r in reuse or ()}
        self._real_sign = signatures.sign
        self._real_encrypt = rsa_kx.pkcs1v15_encrypt
        self._real_encapsulate = groups.mlkem_encapsulate
        self._real_compress = compression.compress

    @staticmethod
    def _inputs_key(values: dict[str, Any]) -> str:
        outputs = ("signature", "ciphertext", "secret", "compressed")
        return json.dumps({k: v for k, v in values.items() if k not in outputs},
                          sort_keys=True)

    def _earlier(self, kind: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
        return self._reuse.get(self._inputs_key({**inputs, "kind": kind}))

    def _expect(self, kind: str, inputs: dict[str, Any]) -> dict[str, Any]:
        assert self._replay is not None
        assert self._replay, f"{kind} {inputs}: no more recorded randomness"
        recorded = self._replay.pop(0)
        assert recorded["kind"] == kind and all(recorded[k] == v for k, v in inputs.items()), (
            f"{kind} called with {inputs}; the recording has {recorded}")
        return recorded

    def _write(self, kind: str, values: dict[str, Any]) -> None:
        self._sink(f"random {kind} {json.dumps(values, sort_keys=True)}")

    def sign(self, key: Any, scheme_id: int, data: bytes) -> bytes:
        inputs = {"scheme": signatures.SCHEMES[scheme_id].name, "key": _key_id(key),
                  "data": hashlib.sha256(data).hexdigest()}
        earlier = self._earlier("sign", inputs)
        if self._replay is None and earlier is None:
            signature = self._real_sign(key, scheme_id, data)
        elif self._replay is None:
            assert earlier is not None
            signature = bytes.fromhex(earlier["signature"])
            signatures.verify(key.public_key(), scheme_id, data, signature)
        else:
            signature = bytes.fromhex(self._expect("sign", inputs)["signature"])
            signatures.verify(key.public_key(), scheme_id, data, signature)
            if signatures.SCHEMES[scheme_id].kind in ("ed25519", "rsa_pkcs1"):
                assert signature == self._real_sign(key, scheme_id, data)  # deterministic
        self._write("sign", {**inputs, "signature": signature.hex()})
        return signature

    def encrypt(self, public_key: Any, plaintext: bytes) -> bytes:
        inputs = {"key": _key_id(public_key), "plaintext": hashlib.sha256(plaintext).hexdigest()}
        earlier = self._earlier("encrypt", inputs)
        if self._replay is None:
            ciphertext = (bytes.fromhex(earlier["ciphertext"]) if earlier is not None
                          else self._real_encrypt(public_key, plaintext))
        else:
            ciphertext = bytes.fromhex(self._expect("encrypt", inputs)["ciphertext"])
        self._write("encrypt", {**inputs, "ciphertext": ciphertext.hex()})
        return ciphertext

    def encapsulate(self, encapsulation_key: bytes) -> tuple[bytes, bytes]:
        inputs = {"key": hashlib.sha256(encapsulation_key).hexdigest()}
        earlier = self._earlier("encapsulate", inputs)
        if self._replay is None and earlier is None:
            secret, ciphertext = self._real_encapsulate(encapsulation_key)
        else:
            recorded = earlier if self._replay is None else self._expect("encapsulate", inputs)
            assert recorded is not None
            secret, ciphertext = (bytes.fromhex(recorded["secret"]),
                                  bytes.fromhex(recorded["ciphertext"]))
        self._write("encapsulate", {**inputs, "secret": secret.hex(),
                                    "ciphertext": ciphertext.hex()})
        return secret, ciphertext

    def compress(self, algorithm: int, body: bytes) -> bytes:
        inputs = {"algorithm": CertificateCompressionAlgorithm(algorithm).name,
                  "body": hashlib.sha256(body).hexdigest()}
        earlier = self._earlier("compress", inputs)
        if self._replay is None and earlier is None:
            compressed = self._real_compress(algorithm, body)
        else:
            recorded = earlier if self._replay is None else self._expect("compress", inputs)
            assert recorded is not None
            compressed = bytes.fromhex(recorded["compressed"])
            assert compression.decompress(algorithm, compressed, len(body)) == body
        self._write("compress", {**inputs, "compressed": compressed.hex()})
        return compressed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        saved = (signatures.sign, rsa_kx.pkcs1v15_encrypt, groups.mlkem_encapsulate,
                 compression.compress, compression.SHARED_CACHE)
        signatures.sign = self.sign  # type: ignore[assignment]
        rsa_kx.pkcs1v15_encrypt = self.encrypt
        groups.mlkem_encapsulate = self.encapsulate
        compression.compress = self.compress
        # A cache of this run's own, so that every compression is seen here.
        compression.SHARED_CACHE = compression.CompressionCache()
        try:
            yield
        finally:
            (signatures.sign, rsa_kx.pkcs1v15_encrypt, groups.mlkem_encapsulate,
             compression.compress, compression.SHARED_CACHE) = saved


# -- running a flow -------------------------------------------------------------------------


class TranscriptMismatch(AssertionError):
    pass


def _comparable(lines: list[str]) -> list[str]:
    """A step's lines with the ``random`` ones last: when the engine calls a
    primitive, relative to its trace events, is not part of what it reports."""
    return ([line for line in lines if not line.startswith("random ")]
            + [line for line in lines if line.startswith("random ")])


class Run:
    """One run of a flow: ``live`` sides run for real; the others come from
    ``recorded``. Each live step is compared with the recording as soon as it ends."""

    def __init__(self, flow: Flow, pki: Pki, live: tuple[str, ...],
                 recorded: Transcript | None = None, earlier: Transcript | None = None
                 ) -> None:
        self.flow = flow
        self._earlier = [r for entry in earlier.entries for r in entry.randoms] if (
            earlier is not None) else None
        self.live = live
        self.recorded = recorded
        self.transcript = Transcript(flow)
        self._current: Entry | None = None
        self._recorded_entries = list(recorded.entries) if recorded else []
        self._position = 0
        self._pending = {"client": b"", "server": b""}
        self._failed = {"client": False, "server": False}
        self.connections: dict[str, ClientConnection | ServerConnection] = {}
        bases = {side: {"rng": SeededRng(f"{flow.name}/{side}"), "clock": lambda: CLOCK,
                        "monotonic": lambda: MONOTONIC, "trace": self._trace,
                        "trace_secrets": True, "keylog": self._keylog}
                 for side in ("client", "server")}
        self.clients, self.servers = flow.configs(Builder(pki, bases["client"],
                                                          bases["server"]))

    # -- what the live side's callbacks write into the current step ---------------------

    def _note(self, line: str) -> None:
        assert self._current is not None, f"{line[:60]} outside any step"
        self._current.lines.append(line)

    def _trace(self, event: TraceEvent) -> None:
        self._note(trace_line(event))

    def _keylog(self, line: str) -> None:
        self._note(f"keylog {line}")

    # -- steps ----------------------------------------------------------------------

    def _step(self, side: str, action: str, argument: str,
              call: Callable[[], tuple[list[Any], BaseException | None]]) -> None:
        entry = Entry(side, action, argument)
        if side in self.live:
            self._current = entry
            try:
                events, error = call()
            finally:
                self._current = None
            connection = self.connections[side]
            during = entry.lines
            entry.lines = out_lines(connection.data_to_send())
            entry.lines += [f"event {_json(e)}" for e in events]
            if error is not None:
                entry.lines.append("error " + _json({
                    "type": type(error).__name__, "message": str(error),
                    "alert": getattr(error, "alert", None)}))
                self._failed[side] = True
            entry.lines += during
            self._compare(entry)
        else:
            entry = self._next_recorded(entry)
            self._failed[side] = self._failed[side] or any(
                line.startswith("error ") for line in entry.lines)
        self.transcript.entries.append(entry)
        self._pending[side] += entry.out

    def _next_recorded(self, expected: Entry) -> Entry:
        assert self.recorded is not None
        if self._position >= len(self._recorded_entries):
            raise TranscriptMismatch(f"{self.flow.name}: the recording ends before "
                                     f"{expected.header}")
        entry = self._recorded_entries[self._position]
        self._position += 1
        if entry.header != expected.header:
            raise TranscriptMismatch(f"{self.flow.name}: step {self._position} is "
                                     f"{entry.header!r} in the recording, {expected.header!r} now")
        return entry

    def _compare(self, entry: Entry) -> None:
        if self.recorded is None:
            return
        recorded = self._next_recorded(entry)
        if _comparable(recorded.lines) != _comparable(entry.lines):
            diff = "\n".join(difflib.unified_diff(
                _comparable(recorded.lines), _comparable(entry.lines), "recorded", "replayed",
                lineterm="", n=2))
            raise TranscriptMismatch(f"{self.flow.name}, step {self._position} "
                                     f"({entry.header}) differs:\n{diff}")

    def _call(self, function: Callable[[], Any]) -> Callable[[], tuple[list[Any],
                                                                        BaseException | None]]:
        def call() -> tuple[list[Any], BaseException | None]:
            try:
                result = function()
            except TLSError as error:
                return list(error.events), error
            return (result if isinstance(result, list) else []), None
        return call

    def connect(self, step: Connect) -> None:
        self._pending = {"client": b"", "server": b""}
        self._failed = {"client": False, "server": False}
        if "server" in self.live:
            self.connections["server"] = ServerConnection(self.servers[step.server])
        config = self.clients[step.client]

        def open_client() -> list[Any]:
            self.connections["client"] = ClientConnection(config, server_name=step.server_name)
            return []

        self._step("client", "open", step.server_name, self._call(open_client))

    def deliver(self, receiver: str) -> bool:
        sender = "server" if receiver == "client" else "client"
        data = self._pending[sender]
        if not data:
            return False
        self._pending[sender] = b""
        if self._failed[receiver]:
            return True  # a failed connection reads no more
        self._step(receiver, "receive", str(len(data)), self._call(
            lambda: self.connections[receiver].receive_data(data)))
        return True

    def pump(self) -> None:
        for _ in range(64):
            moved = self.deliver("server")
            moved = self.deliver("client") or moved
            if not moved:
                return
        raise AssertionError("still exchanging bytes after 64 rounds")

    def run(self) -> Transcript:
        replayed = [entry.randoms for entry in self._recorded_entries]
        randoms = {side: [r for entry, rs in zip(self._recorded_entries, replayed, strict=True)
                          if entry.side == side for r in rs]
                   for side in ("client", "server")}
        live_randoms = randoms[self.live[0]] if self.recorded is not None else None
        randomness = Randomness(self._note, live_randoms, self._earlier)
        with randomness.installed():
            for step in self.flow.steps:
                self._run_step(step)
        if self.recorded is not None and self._position != len(self._recorded_entries):
            raise TranscriptMismatch(f"{self.flow.name}: the recording has "
                                     f"{len(self._recorded_entries) - self._position} more steps")
        return self.transcript

    def _run_step(self, step: Step) -> None:
        if isinstance(step, Connect):
            self.connect(step)
        elif isinstance(step, Pump):
            self.pump()
        elif isinstance(step, Send):
            self._step(step.side, "send", step.data.hex(), self._call(
                lambda: self.connections[step.side].send(step.data)))
        elif isinstance(step, EarlyData):
            def early() -> list[Any]:
                client = self.connections["client"]
                assert isinstance(client, ClientConnection)
                taken = client.send_early_data(step.data)
                assert taken == len(step.data)
                return []
            self._step("client", "early-data", step.data.hex(), self._call(early))
        elif isinstance(step, KeyUpdate):
            self._step(step.side, "key-update", "request" if step.request_peer_update else "",
                       self._call(lambda: self.connections[step.side].key_update(
                           step.request_peer_update)))
        elif isinstance(step, RequestCertificate):
            def request() -> list[Any]:
                server = self.connections["server"]
                assert isinstance(server, ServerConnection)
                server.request_client_certificate()
                return []
            self._step("server", "request-certificate", "", self._call(request))
        else:
            self._step(step.side, "close", "", self._call(
                lambda: self.connections[step.side].close()))


def record(flow: Flow, pki: Pki, earlier: Transcript | None = None) -> Transcript:
    """Both sides live; ``earlier`` (the previous recording) lends its random outputs
    wherever the inputs are unchanged."""
    return Run(flow, pki, ("client", "server"), earlier=earlier).run()


def replay(flow: Flow, pki: Pki, side: str) -> Transcript:
    return Run(flow, pki, (side,), load(flow)).run()
