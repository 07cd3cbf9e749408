"""Handshake messages as frozen data (RFC 8446 §4, RFC 5246 §7.4).

Each class has ``parse(raw)`` and ``serialize()``; a parsed message keeps the
exact bytes it came from in ``raw`` (header included), which is what the
transcript hashes. Messages whose format differs between TLS 1.2 and 1.3 are
separate classes; the state machine chooses which to parse.

Each message also has a ``name`` (the trace step: "ClientHello", "HelloRetryRequest"...)
and ``describe()``: its fields as trace values, the same for the side that sends it
and the side that receives it. The connection traces every message once, where it
is sent or received, with these values.
"""

from __future__ import annotations

import struct
from dataclasses import field
from typing import Any, ClassVar, Protocol, TypeVar

from ..codec import Reader, Writer
from ..constants import (
    DOWNGRADE_TLS12,
    HELLO_RETRY_REQUEST_RANDOM,
    CertificateCompressionAlgorithm,
    CertificateStatusType,
    CipherSuite,
    ExtensionType,
    ExtensionType as X,
    HandshakeType as H,
    NamedGroup,
    ProtocolVersion,
    SignatureScheme,
    describe as describe_code,
)
from ..crypto.suites import SUITES
from ..errors import (
    DecodeError,
    IllegalParameter,
)
from ..immutable import frozen
from .extensions import (
    ALPN,
    CH,
    CR,
    CT,
    EE,
    HRR,
    MAX_CIPHER_SUITES,
    NST,
    SH,
    EarlyDataIndication,
    Extension,
    KeyShare,
    Opaque16,
    PreSharedKey,
    ServerNameList,
    SupportedVersions,
    U16List,
    find,
    find_typed,
    parse_certificate_status,
    parse_extensions,
    write_extensions,
)
from .hello_block import HelloFields, read_client_hello
from .server_reads import (
    ServerHelloFields,
    TicketFields,
    read_certificate,
    read_certificate_verify,
    read_encrypted_extensions,
    read_new_session_ticket,
    read_server_hello,
)

NAMES: dict[int, str] = {
    H.hello_request: "HelloRequest", H.client_hello: "ClientHello",
    H.server_hello: "ServerHello", H.new_session_ticket: "NewSessionTicket",
    H.end_of_early_data: "EndOfEarlyData", H.encrypted_extensions: "EncryptedExtensions",
    H.certificate: "Certificate", H.server_key_exchange: "ServerKeyExchange",
    H.certificate_request: "CertificateRequest", H.server_hello_done: "ServerHelloDone",
    H.certificate_verify: "CertificateVerify", H.client_key_exchange: "ClientKeyExchange",
    H.finished: "Finished", H.key_update: "KeyUpdate",
    H.certificate_status: "CertificateStatus", H.compressed_certificate: "CompressedCertificate",
}


class Message(Protocol):
    @property
    def msg_type(self) -> int: ...

    @property
    def raw(self) -> bytes: ...

    @property
    def name(self) -> str: ...

    def write_body(self, w: Writer) -> None: ...

    def describe(self) -> dict[str, Any]: ...


def _extension_names(extensions: tuple[Extension, ...]) -> list[str]:
    return [describe_code(X, e.type) for e in extensions]


def _decoded(protocol: bytes) -> str:
    return protocol.decode("ascii", "backslashreplace")


M = TypeVar("M", bound="Message")


def serialize(message: Message) -> bytes:
    """The message with its 4-byte header (type, uint24 length)."""
    # The header is written in place and its length filled in after the body: the
    # work of u8/open_vector/close_vector without their calls (some six messages
    # per handshake).
    w = Writer()
    buffer = w.buffer
    buffer += _HEADERS[message.msg_type]
    message.write_body(w)
    length = len(buffer) - 4
    if length > 0xFFFFFF:
        raise ValueError(f"{length} bytes do not fit a 3-byte length")
    buffer[1:4] = length.to_bytes(3, "big")
    return bytes(buffer)


_U16 = struct.Struct(">H")
_SUITE_AND_METHOD = struct.Struct(">HB")

# Each message type's header with a zero length, to be filled in.
_HEADERS = {msg_type: bytes((msg_type, 0, 0, 0)) for msg_type in range(256)}


def body_reader(raw: bytes) -> Reader:
    """A reader over the body of ``raw``, whose header length must match the body."""
    if len(raw) < 4 or int.from_bytes(raw[1:4], "big") != len(raw) - 4:
        raise DecodeError("handshake message length does not match its header")
    return Reader(raw, 4)


@frozen
class ClientHello:
    msg_type: ClassVar[int] = H.client_hello
    legacy_version: int
    random: bytes
    legacy_session_id: bytes
    cipher_suites: tuple[int, ...]
    legacy_compression_methods: bytes
    extensions: tuple[Extension, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> ClientHello:
        # A well-formed hello is read with offsets (hello_block.py); any other with
        # the codec, which refuses it with its exact alert and message.
        fields = read_client_hello(raw) or cls.read_fields(raw)
        extensions = fields[5]
        psk = find(extensions, ExtensionType.pre_shared_key)
        if psk is not None and extensions[-1] is not psk:
            # RFC 8446 §4.2.11: pre_shared_key MUST be the last extension.
            raise IllegalParameter("pre_shared_key is not the last extension")
        return cls(*fields, raw)

    @staticmethod
    def read_fields(raw: bytes) -> HelloFields:
        """The fields of ``parse`` read with the codec (the reference reading)."""
        with body_reader(raw) as r:
            legacy_version = r.u16()
            random = r.raw(32)
            session_id = r.opaque(1, maximum=32)
            suites = r.u16_list(2, minimum=2, maximum_count=MAX_CIPHER_SUITES)
            compression = r.opaque(1, minimum=1)
            # RFC 5246 §7.4.1.2: a ClientHello may end without an extensions block.
            extensions = parse_extensions(r, CH) if r.remaining else ()
        return legacy_version, random, session_id, suites, compression, extensions

    def write_body(self, w: Writer) -> None:
        w.u16(self.legacy_version)
        w.raw(self.random)
        w.opaque(1, self.legacy_session_id)
        w.u16_list(self.cipher_suites)
        w.opaque(1, self.legacy_compression_methods)
        write_extensions(w, self.extensions)

    def truncated_for_binders(self) -> bytes:
        """RFC 8446 §4.2.11.2: the ClientHello up to (not including) the binders list."""
        psk = self.extensions[-1]
        assert isinstance(psk, PreSharedKey)
        return self.raw[: len(self.raw) - psk.binders_length]

    name: ClassVar[str] = "ClientHello"

    def describe(self) -> dict[str, Any]:
        """Every field by name, in order."""
        extensions = self.extensions
        details: dict[str, Any] = {
            "legacy_version": f"0x{self.legacy_version:04x}",
            "random": self.random.hex(),
            "session_id": self.legacy_session_id.hex(),
            "cipher_suites": [describe_code(CipherSuite, s) for s in self.cipher_suites],
            "extensions": [f"{describe_code(X, e.type)} ({e.type})" for e in extensions],
        }
        versions = find_typed(extensions, X.supported_versions, SupportedVersions)
        if versions is not None:
            details["supported_versions"] = [
                describe_code(ProtocolVersion, v).replace("TLS1", "TLS 1.")
                for v in versions.versions]
        groups = find_typed(extensions, X.supported_groups, U16List)
        if groups is not None:
            details["supported_groups"] = [describe_code(NamedGroup, g) for g in groups.values]
        shares = find_typed(extensions, X.key_share, KeyShare)
        if shares is not None:
            details["key_shares"] = [
                {"group": describe_code(NamedGroup, e.group), "bytes": len(e.key_exchange)}
                for e in shares.entries]
        schemes = find_typed(extensions, X.signature_algorithms, U16List)
        if schemes is not None:
            details["signature_algorithms"] = [describe_code(SignatureScheme, s)
                                               for s in schemes.values]
        alpn = find_typed(extensions, X.application_layer_protocol_negotiation, ALPN)
        if alpn is not None:
            details["alpn"] = [_decoded(p) for p in alpn.protocols]
        sni = find_typed(extensions, X.server_name, ServerNameList)
        if sni is not None and sni.host_name:
            details["server_name"] = _decoded(sni.host_name)
        return details


@frozen
class ServerHello:
    """ServerHello, or a HelloRetryRequest when ``random`` is the special value."""

    msg_type: ClassVar[int] = H.server_hello
    legacy_version: int
    random: bytes
    legacy_session_id_echo: bytes
    cipher_suite: int
    legacy_compression_method: int
    extensions: tuple[Extension, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HELLO_RETRY_REQUEST_RANDOM

    @classmethod
    def parse(cls, raw: bytes) -> ServerHello:
        # The usual TLS 1.3 ServerHello is read with offsets (server_reads.py); any
        # other with the codec, which refuses it with its exact alert and message.
        return cls(*(read_server_hello(raw) or cls.read_fields(raw)), raw)

    @staticmethod
    def read_fields(raw: bytes) -> ServerHelloFields:
        """The fields of ``parse`` read with the codec (the reference reading)."""
        with body_reader(raw) as r:
            legacy_version = r.u16()
            random = r.raw(32)
            session_id = r.opaque(1, maximum=32)
            suite = r.u16()
            compression = r.u8()
            where = HRR if random == HELLO_RETRY_REQUEST_RANDOM else SH
            extensions = parse_extensions(r, where) if r.remaining else ()
        return legacy_version, random, session_id, suite, compression, extensions

    def write_body(self, w: Writer) -> None:
        # Into the buffer directly, without a writer call per field (every handshake
        # writes one).
        buffer = w.buffer
        buffer += _U16.pack(self.legacy_version)
        buffer += self.random
        session_id = self.legacy_session_id_echo
        buffer.append(len(session_id))  # ValueError past 255, as Writer.opaque
        buffer += session_id
        buffer += _SUITE_AND_METHOD.pack(self.cipher_suite, self.legacy_compression_method)
        write_extensions(w, self.extensions)

    @property
    def name(self) -> str:
        return "HelloRetryRequest" if self.is_hello_retry_request else "ServerHello"

    def describe(self) -> dict[str, Any]:
        extensions = self.extensions
        suite = describe_code(CipherSuite, self.cipher_suite)
        key_share = find_typed(extensions, X.key_share, KeyShare)
        if self.is_hello_retry_request:
            group = key_share.selected_group if key_share is not None else None
            cookie = find_typed(extensions, X.cookie, Opaque16)
            return {"cipher_suite": suite,
                    "selected_group": describe_code(NamedGroup, group) if group is not None
                    else None,
                    "cookie_bytes": len(cookie.data) if cookie is not None else 0}
        if find(extensions, X.supported_versions) is not None:
            group = key_share.entries[0].group if key_share and key_share.entries else None
            return {"version": "TLS 1.3", "cipher_suite": suite,
                    "group": describe_code(NamedGroup, group) if group is not None else None,
                    "random": self.random.hex(),
                    "session_id_echo": self.legacy_session_id_echo.hex(),
                    "resumed": find(extensions, X.pre_shared_key) is not None,
                    "extensions": _extension_names(extensions)}
        known = SUITES.get(self.cipher_suite)
        return {"version": "TLS 1.2", "cipher_suite": suite,
                "key_exchange": known.key_exchange if known is not None else None,
                "random": self.random.hex(), "session_id": self.legacy_session_id_echo.hex(),
                "extended_master_secret": find(extensions, X.extended_master_secret) is not None,
                "secure_renegotiation": find(extensions, X.renegotiation_info) is not None,
                "downgrade_sentinel": self.random[-8:] == DOWNGRADE_TLS12,
                "extensions": _extension_names(extensions)}


@frozen
class EncryptedExtensions:
    msg_type: ClassVar[int] = H.encrypted_extensions
    extensions: tuple[Extension, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> EncryptedExtensions:
        # With no extension, read with offsets (server_reads.py); else with the codec.
        extensions = read_encrypted_extensions(raw)
        if extensions is not None:
            return cls(extensions, raw)
        with body_reader(raw) as r:
            return cls(parse_extensions(r, EE), raw)

    def write_body(self, w: Writer) -> None:
        write_extensions(w, self.extensions)

    name: ClassVar[str] = "EncryptedExtensions"

    def describe(self) -> dict[str, Any]:
        alpn = find_typed(self.extensions, X.application_layer_protocol_negotiation, ALPN)
        return {"extensions": _extension_names(self.extensions),
                "alpn": _decoded(alpn.protocols[0]) if alpn is not None and alpn.protocols
                else None,
                "early_data": "accepted" if find(self.extensions, X.early_data) is not None
                else None}


@frozen
class CertificateEntry:
    cert_data: bytes  # DER X.509
    extensions: tuple[Extension, ...] = ()


@frozen
class Certificate13:
    msg_type: ClassVar[int] = H.certificate
    certificate_request_context: bytes
    certificate_list: tuple[CertificateEntry, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> Certificate13:
        # Entries without extensions read with offsets (server_reads.py); any other
        # Certificate with the codec, which refuses it with its exact alert and message.
        fields = read_certificate(raw)
        if fields is not None:
            return cls(fields[0], tuple([CertificateEntry(*entry) for entry in fields[1]]),
                       raw)
        entries = []
        with body_reader(raw) as r:
            context = r.opaque(1)
            with r.vector(3) as body:
                while body.remaining:
                    cert = body.opaque(3, minimum=1)
                    entries.append(CertificateEntry(cert, parse_extensions(body, CT)))
        return cls(context, tuple(entries), raw)

    def write_body(self, w: Writer) -> None:
        w.opaque(1, self.certificate_request_context)
        with w.vector(3):
            for entry in self.certificate_list:
                w.opaque(3, entry.cert_data)
                write_extensions(w, entry.extensions)

    @property
    def chain(self) -> tuple[bytes, ...]:
        return tuple(entry.cert_data for entry in self.certificate_list)

    name: ClassVar[str] = "Certificate"

    def describe(self) -> dict[str, Any]:
        return {}  # the chain is described by the side that parsed it


@frozen
class Certificate12:
    msg_type: ClassVar[int] = H.certificate
    chain: tuple[bytes, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> Certificate12:
        certs = []
        with body_reader(raw) as r, r.vector(3) as body:
            while body.remaining:
                certs.append(body.opaque(3, minimum=1))
        return cls(tuple(certs), raw)

    def write_body(self, w: Writer) -> None:
        with w.vector(3):
            for cert in self.chain:
                w.opaque(3, cert)

    name: ClassVar[str] = "Certificate"

    def describe(self) -> dict[str, Any]:
        return {}  # the chain is described by the side that parsed it


@frozen
class CompressedCertificate:
    """RFC 8879 §4: a Certificate message (its body) compressed, in place of it."""

    msg_type: ClassVar[int] = H.compressed_certificate
    algorithm: int
    uncompressed_length: int
    compressed_certificate_message: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CompressedCertificate:
        with body_reader(raw) as r:
            return cls(r.u16(), r.u24(), r.opaque(3, minimum=1), raw)

    def write_body(self, w: Writer) -> None:
        w.u16(self.algorithm)
        w.u24(self.uncompressed_length)
        w.opaque(3, self.compressed_certificate_message)

    name: ClassVar[str] = "CompressedCertificate"

    def describe(self) -> dict[str, Any]:
        return {"algorithm": describe_code(CertificateCompressionAlgorithm, self.algorithm),
                "uncompressed_length": self.uncompressed_length,
                "compressed_length": len(self.compressed_certificate_message)}


@frozen
class CertificateStatus:
    """RFC 6066 §8 (TLS 1.2): the OCSP response for the server's certificate."""

    msg_type: ClassVar[int] = H.certificate_status
    ocsp_response: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CertificateStatus:
        with body_reader(raw) as r:
            return cls(parse_certificate_status(r), raw)

    def write_body(self, w: Writer) -> None:
        w.u8(CertificateStatusType.ocsp)
        w.opaque(3, self.ocsp_response)

    name: ClassVar[str] = "CertificateStatus"

    def describe(self) -> dict[str, Any]:
        return {"status_type": "ocsp", "ocsp_response_bytes": len(self.ocsp_response)}


@frozen
class CertificateRequest13:
    msg_type: ClassVar[int] = H.certificate_request
    certificate_request_context: bytes
    extensions: tuple[Extension, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CertificateRequest13:
        with body_reader(raw) as r:
            return cls(r.opaque(1), parse_extensions(r, CR), raw)

    def write_body(self, w: Writer) -> None:
        w.opaque(1, self.certificate_request_context)
        write_extensions(w, self.extensions)

    name: ClassVar[str] = "CertificateRequest"

    def describe(self) -> dict[str, Any]:
        return {"extensions": _extension_names(self.extensions)}


@frozen
class CertificateRequest12:
    msg_type: ClassVar[int] = H.certificate_request
    certificate_types: bytes
    signature_algorithms: tuple[int, ...]
    certificate_authorities: tuple[bytes, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CertificateRequest12:
        names = []
        with body_reader(raw) as r:
            types = r.opaque(1, minimum=1)
            schemes = r.u16_list(2, minimum=2)
            with r.vector(2) as body:
                while body.remaining:
                    names.append(body.opaque(2, minimum=1))
        return cls(types, schemes, tuple(names), raw)

    def write_body(self, w: Writer) -> None:
        w.opaque(1, self.certificate_types)
        w.u16_list(self.signature_algorithms)
        with w.vector(2):
            for name in self.certificate_authorities:
                w.opaque(2, name)

    name: ClassVar[str] = "CertificateRequest"

    def describe(self) -> dict[str, Any]:
        return {"signature_algorithms": [describe_code(SignatureScheme, s)
                                         for s in self.signature_algorithms],
                "certificate_authorities": len(self.certificate_authorities)}


@frozen
class CertificateVerify:
    msg_type: ClassVar[int] = H.certificate_verify
    algorithm: int
    signature: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CertificateVerify:
        fields = read_certificate_verify(raw)  # with offsets; the codec refuses any other
        if fields is not None:
            return cls(*fields, raw)
        with body_reader(raw) as r:
            return cls(r.u16(), r.opaque(2), raw)

    def write_body(self, w: Writer) -> None:
        w.u16(self.algorithm)
        w.opaque(2, self.signature)

    name: ClassVar[str] = "CertificateVerify"

    def describe(self) -> dict[str, Any]:
        return {"signature_scheme": describe_code(SignatureScheme, self.algorithm),
                "signature_bytes": len(self.signature)}


@frozen
class Finished:
    msg_type: ClassVar[int] = H.finished
    verify_data: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> Finished:
        # The whole body is verify_data (its length is the state's to check): no
        # Reader needed, only body_reader's header check.
        if len(raw) < 4 or int.from_bytes(raw[1:4], "big") != len(raw) - 4:
            raise DecodeError("handshake message length does not match its header")
        return cls(raw[4:], raw)

    def write_body(self, w: Writer) -> None:
        w.raw(self.verify_data)

    name: ClassVar[str] = "Finished"

    def describe(self) -> dict[str, Any]:
        return {"verify_data_bytes": len(self.verify_data)}


@frozen
class NewSessionTicket13:
    msg_type: ClassVar[int] = H.new_session_ticket
    ticket_lifetime: int
    ticket_age_add: int
    ticket_nonce: bytes
    ticket: bytes
    extensions: tuple[Extension, ...]
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> NewSessionTicket13:
        # As ServerHello.parse: the usual ticket with offsets, any other with the codec.
        return cls(*(read_new_session_ticket(raw) or cls.read_fields(raw)), raw)

    @staticmethod
    def read_fields(raw: bytes) -> TicketFields:
        """The fields of ``parse`` read with the codec (the reference reading)."""
        with body_reader(raw) as r:
            return (r.u32(), r.u32(), r.opaque(1), r.opaque(2, minimum=1),
                    parse_extensions(r, NST))

    def write_body(self, w: Writer) -> None:
        w.u32(self.ticket_lifetime)
        w.u32(self.ticket_age_add)
        w.opaque(1, self.ticket_nonce)
        w.opaque(2, self.ticket)
        write_extensions(w, self.extensions)

    name: ClassVar[str] = "NewSessionTicket"

    def describe(self) -> dict[str, Any]:
        return {"lifetime": self.ticket_lifetime, "ticket_bytes": len(self.ticket),
                "max_early_data_size": self.max_early_data_size}

    @property
    def max_early_data_size(self) -> int:
        early = find_typed(self.extensions, X.early_data, EarlyDataIndication)
        return (early.max_early_data_size or 0) if early is not None else 0


@frozen
class NewSessionTicket12:
    msg_type: ClassVar[int] = H.new_session_ticket
    ticket_lifetime_hint: int
    ticket: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> NewSessionTicket12:
        with body_reader(raw) as r:
            return cls(r.u32(), r.opaque(2), raw)

    def write_body(self, w: Writer) -> None:
        w.u32(self.ticket_lifetime_hint)
        w.opaque(2, self.ticket)

    name: ClassVar[str] = "NewSessionTicket"

    def describe(self) -> dict[str, Any]:
        return {"lifetime_hint": self.ticket_lifetime_hint, "ticket_bytes": len(self.ticket)}


@frozen
class KeyUpdate:
    msg_type: ClassVar[int] = H.key_update
    update_requested: bool
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> KeyUpdate:
        with body_reader(raw) as r:
            value = r.u8()
        if value > 1:
            # RFC 8446 §4.6.3: any other value is illegal_parameter.
            raise IllegalParameter(f"KeyUpdate request_update {value}")
        return cls(value == 1, raw)

    def write_body(self, w: Writer) -> None:
        w.u8(1 if self.update_requested else 0)

    name: ClassVar[str] = "KeyUpdate"

    def describe(self) -> dict[str, Any]:
        return {"update_requested": self.update_requested}


@frozen
class EmptyMessage:
    """EndOfEarlyData, ServerHelloDone, HelloRequest: a header and nothing else."""

    msg_type: int
    raw: bytes = field(default=b"", compare=False, repr=False)

    def write_body(self, w: Writer) -> None:
        pass

    @property
    def name(self) -> str:
        return NAMES.get(self.msg_type, str(self.msg_type))

    def describe(self) -> dict[str, Any]:
        return {}


def parse_empty(raw: bytes) -> EmptyMessage:
    with body_reader(raw):
        pass
    return EmptyMessage(raw[0], raw)


@frozen
class Serialized:
    """A message already serialized (a server's Certificate, made once per key)."""

    raw: bytes

    @property
    def msg_type(self) -> int:
        return self.raw[0]

    @property
    def name(self) -> str:
        return NAMES.get(self.msg_type, str(self.msg_type))

    def write_body(self, w: Writer) -> None:
        w.raw(self.raw[4:])

    def describe(self) -> dict[str, Any]:
        return {}


@frozen
class ServerKeyExchangeECDHE:
    """RFC 8422 §5.4: ServerECDHParams (named_curve only) and its signature."""

    msg_type: ClassVar[int] = H.server_key_exchange
    named_group: int
    public: bytes
    algorithm: int
    signature: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> ServerKeyExchangeECDHE:
        with body_reader(raw) as r:
            curve_type = r.u8()
            if curve_type != 3:
                raise IllegalParameter("ServerKeyExchange curve type is not named_curve")
            group = r.u16()
            public = r.opaque(1, minimum=1)
            return cls(group, public, r.u16(), r.opaque(2), raw)

    @property
    def params(self) -> bytes:
        return b"\x03" + self.named_group.to_bytes(2, "big") + bytes([len(self.public)]) + (
            self.public)

    def write_body(self, w: Writer) -> None:
        w.raw(self.params)
        w.u16(self.algorithm)
        w.opaque(2, self.signature)

    name: ClassVar[str] = "ServerKeyExchange"

    def describe(self) -> dict[str, Any]:
        return {"group": describe_code(NamedGroup, self.named_group),
                "server_public_bytes": len(self.public),
                "signature_scheme": describe_code(SignatureScheme, self.algorithm),
                "signature_bytes": len(self.signature)}


@frozen
class ClientKeyExchangeECDHE:
    msg_type: ClassVar[int] = H.client_key_exchange
    public: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> ClientKeyExchangeECDHE:
        with body_reader(raw) as r:
            return cls(r.opaque(1, minimum=1), raw)

    def write_body(self, w: Writer) -> None:
        w.opaque(1, self.public)

    name: ClassVar[str] = "ClientKeyExchange"

    def describe(self) -> dict[str, Any]:
        return {"key_exchange": "ECDHE", "client_public_bytes": len(self.public)}


@frozen
class ClientKeyExchangeRSA:
    """RFC 5246 §7.4.7.1: the pre-master secret encrypted to the server's RSA key."""

    msg_type: ClassVar[int] = H.client_key_exchange
    encrypted_pre_master_secret: bytes
    raw: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> ClientKeyExchangeRSA:
        with body_reader(raw) as r:
            return cls(r.opaque(2), raw)

    def write_body(self, w: Writer) -> None:
        w.opaque(2, self.encrypted_pre_master_secret)

    name: ClassVar[str] = "ClientKeyExchange"

    def describe(self) -> dict[str, Any]:
        return {"key_exchange": "RSA",
                "encrypted_pre_master_secret_bytes": len(self.encrypted_pre_master_secret),
                "encrypted_pre_master_secret": self.encrypted_pre_master_secret.hex()}


def message_with_raw(message: M) -> M:
    """The same message with ``raw`` filled in from its serialization."""
    import dataclasses

    return dataclasses.replace(message, raw=serialize(message))  # type: ignore[type-var]


def check_finished_length(message: Finished, expected: int) -> None:
    if len(message.verify_data) != expected:
        raise DecodeError(f"Finished of {len(message.verify_data)} bytes, expected {expected}")
