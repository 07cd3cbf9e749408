"""What the page and ``/api/handshake`` show: one connection's handshake as data.

``HandshakeRecorder`` is a trace callback for one connection; it keeps a bounded
number of the handshake's events. ``handshake_report`` turns the ClientHello as
received, the negotiated parameters, those events and the certificate chain the
server sent into a JSON-ready dict. The HTML page is rendered from that same dict,
so the two never disagree.

    recorder = HandshakeRecorder()
    connection = ServerConnection(dataclasses.replace(config, trace=recorder,
                                                      keep_client_hello=True))
    ...
    report = handshake_report(connection, recorder)
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .. import trace as t
from ..codec import Writer
from ..config import ServerConfig
from ..constants import CertificateCompressionAlgorithm, ExtensionType as X, describe, is_grease
from ..crypto.suites import SUITES
from ..events import HandshakeComplete
from ..messages.extensions import (
    ALPN,
    CompressCertificate,
    Extension,
    KeyShare,
    PreSharedKey,
    ServerNameList,
    SupportedVersions,
    U8List,
    U16List,
    find,
    find_typed,
)
from ..messages.handshake import ClientHello
from ..ocsp import describe_response
from ..trace import TraceEvent
from .explain import explain_step
from .ja4 import ja4
from .names import (
    HYBRID_GROUPS,
    POST_QUANTUM_GROUPS,
    POST_QUANTUM_SCHEMES,
    extension_name,
    group_name,
    scheme_name,
    suite_name,
    version_name,
)

# A connection keeps at most this many trace events: a handshake makes about
# twenty; what comes later (key updates, alerts) is counted, not kept.
MAX_EVENTS = 64


@dataclass
class HandshakeRecorder:
    """A trace callback for one connection: its handshake's events, in order.

    Application data records are only counted, and past ``limit`` events nothing
    more is kept, so a long-lived connection holds a bounded amount."""

    limit: int = MAX_EVENTS
    events: list[TraceEvent] = field(default_factory=list)
    dropped: int = 0
    application_records: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, event: TraceEvent) -> None:
        with self._lock:
            if event.step == t.APPLICATION_DATA:
                self.application_records += 1
            elif len(self.events) < self.limit:
                self.events.append(event)
            else:
                self.dropped += 1

    def snapshot(self) -> list[TraceEvent]:
        with self._lock:
            return list(self.events)


def _code(value: int, name: str, **flags: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": value, "hex": f"0x{value:04x}", "name": name,
                             "grease": is_grease(value)}
    entry.update({key: flag for key, flag in flags.items() if flag})
    return entry


def _group(value: int) -> dict[str, Any]:
    return _code(value, group_name(value), post_quantum=value in POST_QUANTUM_GROUPS,
                 hybrid=value in HYBRID_GROUPS)


def _text(data: bytes) -> str:
    """Bytes from the peer as text: printable ASCII kept, anything else escaped."""
    return data.decode("ascii", "backslashreplace")


def _extension_length(extension: Extension) -> int:
    w = Writer()
    extension.write(w)
    return len(w.buffer)


def describe_hello(hello: ClientHello, config: ServerConfig | None = None) -> dict[str, Any]:
    """Every field of the ClientHello, each code point with its number and name."""
    ours = set(config.cipher_suites) if config is not None else set(SUITES)
    extensions = hello.extensions
    versions = find(extensions, X.supported_versions)
    groups = find(extensions, X.supported_groups)
    shares = find(extensions, X.key_share)
    schemes = find(extensions, X.signature_algorithms)
    schemes_cert = find(extensions, X.signature_algorithms_cert)
    alpn = find(extensions, X.application_layer_protocol_negotiation)
    sni = find(extensions, X.server_name)
    modes = find(extensions, X.psk_key_exchange_modes)
    psk = find(extensions, X.pre_shared_key)
    compress = find_typed(extensions, X.compress_certificate, CompressCertificate)

    def scheme_list(extension: Extension | None) -> list[dict[str, Any]] | None:
        if not isinstance(extension, U16List):
            return None
        return [_code(s, scheme_name(s), post_quantum=s in POST_QUANTUM_SCHEMES)
                for s in extension.values]

    return {
        "bytes": len(hello.raw),
        "hex": hello.raw.hex(),
        "legacy_version": _code(hello.legacy_version, version_name(hello.legacy_version)),
        "random": hello.random.hex(),
        "legacy_session_id": hello.legacy_session_id.hex(),
        "supported_versions": ([_code(v, version_name(v)) for v in versions.versions]
                               if isinstance(versions, SupportedVersions) else None),
        "cipher_suites": [_code(s, suite_name(s), supported_here=s in ours)
                          for s in hello.cipher_suites],
        "compression_methods": list(hello.legacy_compression_methods),
        "supported_groups": ([_group(g) for g in groups.values]
                             if isinstance(groups, U16List) else None),
        "key_shares": ([{"group": _group(e.group), "bytes": len(e.key_exchange)}
                        for e in shares.entries] if isinstance(shares, KeyShare) else None),
        "signature_algorithms": scheme_list(schemes),
        "signature_algorithms_cert": scheme_list(schemes_cert),
        "alpn": ([_text(p) for p in alpn.protocols] if isinstance(alpn, ALPN) else None),
        "server_name": (_text(sni.host_name) if isinstance(sni, ServerNameList)
                        and sni.host_name else None),
        "psk_key_exchange_modes": (list(modes.values) if isinstance(modes, U8List) else None),
        "pre_shared_key_identities": (len(psk.identities) if isinstance(psk, PreSharedKey)
                                      else None),
        # RFC 8879: the certificate compression it can undo; RFC 6066 §8: OCSP asked for.
        "compress_certificate": ([describe(CertificateCompressionAlgorithm, a)
                                  for a in compress.algorithms] if compress else None),
        "status_request": find(extensions, X.status_request) is not None,
        "extensions": [
            {**_code(e.type, extension_name(e.type)), "bytes": _extension_length(e)}
            for e in extensions
        ],
    }


def describe_negotiated(negotiated: HandshakeComplete | None,
                        events: Sequence[TraceEvent] = ()) -> dict[str, Any] | None:
    if negotiated is None:
        return None
    compressed = next((e.details for e in events if e.step == t.COMPRESSED_CERTIFICATE
                       and e.action == t.SENT), None)
    return {
        "version": negotiated.version,
        "cipher_suite": negotiated.cipher_suite,
        "key_exchange": negotiated.key_exchange,
        "group": negotiated.group,
        "post_quantum": negotiated.group in {group_name(g) for g in POST_QUANTUM_GROUPS},
        "signature_scheme": negotiated.signature_scheme,
        "alpn": negotiated.alpn_protocol,
        "server_name": negotiated.server_name,
        "resumed": negotiated.resumed,
        "early_data_accepted": negotiated.early_data_accepted,
        "extended_master_secret": negotiated.extended_master_secret,
        # How the server's certificate chain travelled: compressed (RFC 8879) and with
        # an OCSP staple (RFC 6066 §8, RFC 8446 §4.4.2.1)?
        "certificate_compression": {
            "algorithm": compressed.get("algorithm"),
            "uncompressed_bytes": compressed.get("uncompressed_length"),
            "compressed_bytes": compressed.get("compressed_length"),
        } if compressed is not None else None,
        "ocsp_staple_bytes": len(negotiated.ocsp_response),
        # What the staple says (status, serial, responder, dates), unverified: the
        # browser is the one that checks it.
        "ocsp_staple": (describe_response(negotiated.ocsp_response)
                        if negotiated.ocsp_response else None),
    }


def _summary(event: TraceEvent) -> str:
    """One line of the step's most telling values."""
    d = event.details
    if event.step == t.CLIENT_HELLO:
        return (f"{len(d.get('cipher_suites', []))} cipher suites, "
                f"{len(d.get('extensions', []))} extensions")
    if event.step in t.CERTIFICATE_STEPS and isinstance(d.get("chain"), list):
        names = [str(c.get("common_name") or c.get("subject", "?")) for c in d["chain"]]
        text = f"{len(names)} certificate(s): " + " \u2190 ".join(names)
        if event.step == t.COMPRESSED_CERTIFICATE:
            text += (f" ({d.get('algorithm')}: {d.get('uncompressed_length')} \u2192 "
                     f"{d.get('compressed_length')} bytes)")
        return text
    parts = []
    for key, value in d.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        text = str(value)
        if len(text) > 40:
            text = text[:16] + "\u2026"
        parts.append(f"{key}: {text}")
    return ", ".join(parts)


def describe_timeline(events: list[TraceEvent], tls12: bool = False) -> list[dict[str, Any]]:
    start = events[0].timestamp if events else 0.0
    return [{
        "step": event.step,
        "action": event.action,
        "direction": event.direction,
        "timestamp": event.timestamp,
        "time_ms": round((event.timestamp - start) * 1000, 3),
        "summary": _summary(event),
        "explanation": explain_step(event.step, event.action, event.details, tls12),
        "details": event.details,
    } for event in events]


def _certificate_index(config: ServerConfig) -> dict[str, x509.Certificate]:
    index: dict[str, x509.Certificate] = {}
    for certified in config.certificates:
        for certificate in certified.chain:
            index.setdefault(format(certificate.serial_number, "x"), certificate)
    return index


def describe_chain(events: list[TraceEvent], config: ServerConfig) -> list[dict[str, Any]]:
    """The chain the server sent (from its Certificate step), each certificate with
    its SHA-256 fingerprint and the base64 SHA-256 of its public key (an SPKI pin)."""
    sent = next((e for e in events if e.step in t.CERTIFICATE_STEPS and e.action == t.SENT),
                None)
    if sent is None or not isinstance(sent.details.get("chain"), list):
        return []
    index = _certificate_index(config)
    chain = []
    for described in sent.details["chain"]:
        entry = dict(described)
        certificate = index.get(str(described.get("serial", "")))
        if certificate is not None:
            der = certificate.public_bytes(serialization.Encoding.DER)
            spki = certificate.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            entry["sha256"] = hashlib.sha256(der).hexdigest()
            entry["spki_sha256_base64"] = base64.b64encode(hashlib.sha256(spki).digest()).decode()
        chain.append(entry)
    return chain


def handshake_report(connection: Any, recorder: HandshakeRecorder,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of ``/api/handshake`` for one server-side connection (a
    ``ServerConnection`` whose config's trace was ``recorder``)."""
    hello: ClientHello | None = connection.client_hello
    config: ServerConfig = connection.config
    negotiated = connection.negotiated
    events = recorder.snapshot()
    report: dict[str, Any] = {
        "about": "The TLS handshake of the connection that carried this request, as the "
                 "glasstls server saw it.",
        "client_hello": describe_hello(hello, config) if hello is not None else None,
        "ja4": ja4(hello).to_json() if hello is not None else None,
        "negotiated": describe_negotiated(negotiated, events),
        "timeline": describe_timeline(events, negotiated is not None
                                      and negotiated.version == "TLSv1.2"),
        "certificate_chain": describe_chain(events, config),
        "trace_events_not_kept": recorder.dropped,
    }
    if extra:
        report.update(extra)
    return report


__all__ = ["MAX_EVENTS", "HandshakeRecorder", "describe_hello", "handshake_report"]
