"""Hypothesis strategies that build arbitrary *valid* handshake messages and extensions.

"Valid" means: what the parser would give back for the bytes the message serializes
to. So each extension is built in the form the parser uses for that extension type
in that message (``where``): a typed value where glasstls interprets the type there,
an ``UnknownExtension`` where it does not, with every vector within its RFC bounds.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from glasstls.constants import HELLO_RETRY_REQUEST_RANDOM, ExtensionType as X
from glasstls.messages import extensions as ext, handshake as hs

WHERES = (ext.CH, ext.SH, ext.HRR, ext.EE, ext.CT, ext.CR, ext.NST)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


def opaque(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=min_size, max_size=max_size)


# Types glasstls parses into a typed value in every message.
_TYPED_EVERYWHERE = frozenset({
    X.extended_master_secret, X.post_handshake_auth, X.encrypt_then_mac,
    X.supported_groups, X.signature_algorithms, X.signature_algorithms_cert,
    X.ec_point_formats, X.psk_key_exchange_modes, X.application_layer_protocol_negotiation,
    X.cookie, X.renegotiation_info, X.record_size_limit, X.certificate_authorities,
})
# Types glasstls parses into a typed value only in some messages.
_TYPED_IN: dict[int, frozenset[str]] = {
    X.key_share: frozenset({ext.CH, ext.SH, ext.HRR}),
    X.supported_versions: frozenset({ext.CH, ext.SH, ext.HRR}),
    X.pre_shared_key: frozenset({ext.CH, ext.SH}),
    X.early_data: frozenset({ext.CH, ext.EE, ext.NST}),
    X.server_name: frozenset({ext.CH, ext.SH, ext.EE}),
    X.compress_certificate: frozenset({ext.CH, ext.CR}),
    X.status_request: frozenset({ext.CH, ext.SH, ext.CT}),
}


def typed_types(where: str) -> frozenset[int]:
    return _TYPED_EVERYWHERE | {t for t, places in _TYPED_IN.items() if where in places}


def unknown_extension(where: str) -> st.SearchStrategy[ext.UnknownExtension]:
    typed = typed_types(where)
    return st.builds(ext.UnknownExtension, u16.filter(lambda t: t not in typed), opaque())


# RFC 6066 §3: a host name is a DNS name (the parser refuses anything else).
_label = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
                 min_size=1, max_size=12)
host_names = st.one_of(st.just(b""), st.builds(
    lambda labels, dot: (".".join(labels) + dot).encode(),
    st.lists(_label, min_size=1, max_size=4), st.sampled_from(["", "."])))


def _server_name_list() -> st.SearchStrategy[ext.ServerNameList]:
    # RFC 6066 §3: one name of each name_type at most.
    others = st.lists(st.tuples(st.integers(1, 0xFF), opaque(1)), max_size=3,
                      unique_by=lambda name: name[0]).map(tuple)
    return st.builds(ext.ServerNameList, host_names, others).filter(
        lambda s: bool(s.host_name or s.others))


def _key_share_entry() -> st.SearchStrategy[ext.KeyShareEntry]:
    return st.builds(ext.KeyShareEntry, u16, opaque(1, 70))


def _client_key_share() -> st.SearchStrategy[ext.KeyShare]:
    entries = st.lists(_key_share_entry(), max_size=4, unique_by=lambda e: e.group)
    return entries.map(lambda e: ext.KeyShare(tuple(e)))


def _client_pre_shared_key() -> st.SearchStrategy[ext.PreSharedKey]:
    identity = st.builds(ext.PskIdentity, opaque(1, 40), u32)
    binder = opaque(32, 64)
    return st.integers(1, 3).flatmap(lambda n: st.builds(
        ext.PreSharedKey, st.lists(identity, min_size=n, max_size=n).map(tuple),
        st.lists(binder, min_size=n, max_size=n).map(tuple)))


def typed_extension(ext_type: int, where: str) -> st.SearchStrategy[Any]:
    """The typed value glasstls parses ``ext_type`` into when it appears in ``where``."""
    if ext_type in (X.extended_master_secret, X.post_handshake_auth, X.encrypt_then_mac):
        return st.just(ext.Empty(ext_type))
    if ext_type == X.server_name:
        return _server_name_list() if where == ext.CH else st.just(ext.Empty(X.server_name))
    if ext_type in (X.supported_groups, X.signature_algorithms, X.signature_algorithms_cert):
        return st.lists(u16, min_size=1, max_size=20).map(
            lambda v: ext.U16List(ext_type, tuple(v)))
    if ext_type in (X.ec_point_formats, X.psk_key_exchange_modes):
        return opaque(1, 10).map(lambda v: ext.U8List(ext_type, v))
    if ext_type == X.application_layer_protocol_negotiation:
        return st.lists(opaque(1, 20), min_size=1, max_size=4).map(lambda p: ext.ALPN(tuple(p)))
    if ext_type == X.supported_versions:
        if where == ext.CH:
            return st.lists(u16, min_size=1, max_size=127).map(
                lambda v: ext.SupportedVersions(tuple(v)))
        return u16.map(lambda v: ext.SupportedVersions((v,), selected=True))
    if ext_type == X.key_share:
        if where == ext.CH:
            return _client_key_share()
        if where == ext.SH:
            return _key_share_entry().map(lambda e: ext.KeyShare((e,), where=ext.SH))
        return u16.map(lambda g: ext.KeyShare(selected_group=g, where=ext.HRR))
    if ext_type == X.cookie:
        return opaque(1, 100).map(lambda d: ext.Opaque16(X.cookie, d))
    if ext_type == X.renegotiation_info:
        return opaque(0, 40).map(ext.RenegotiationInfo)
    if ext_type == X.record_size_limit:
        return st.integers(64, 0xFFFF).map(ext.RecordSizeLimit)
    if ext_type == X.pre_shared_key:
        if where == ext.SH:
            return u16.map(lambda i: ext.PreSharedKey(selected_identity=i))
        return _client_pre_shared_key()
    if ext_type == X.early_data:
        if where == ext.NST:
            return u32.map(ext.EarlyDataIndication)
        return st.just(ext.EarlyDataIndication())
    if ext_type == X.certificate_authorities:
        return st.lists(opaque(1, 30), min_size=1, max_size=3).map(
            lambda n: ext.CertificateAuthorities(tuple(n)))
    if ext_type == X.compress_certificate:
        return st.lists(u16, min_size=1, max_size=127).map(
            lambda a: ext.CompressCertificate(tuple(a)))
    if ext_type == X.status_request:
        if where == ext.SH:
            return st.just(ext.Empty(X.status_request))
        if where == ext.CT:
            return opaque(1, 200).map(ext.OCSPStatus)
        ocsp_request = st.builds(ext.StatusRequest, st.just(1),
                                 st.lists(opaque(1, 20), max_size=3).map(tuple), opaque(0, 30))
        other = st.builds(ext.StatusRequest, st.integers(2, 0xFF), st.just(()), st.just(b""),
                          opaque(0, 30))
        return st.one_of(ocsp_request, other)
    raise AssertionError(f"no typed form for {ext_type} in {where}")


def extension(where: str) -> st.SearchStrategy[Any]:
    typed = sorted(typed_types(where) - {X.pre_shared_key})
    return st.one_of(unknown_extension(where),
                     st.sampled_from(typed).flatmap(lambda t: typed_extension(t, where)))


def extensions(where: str, max_size: int = 6) -> st.SearchStrategy[tuple[Any, ...]]:
    """An extension block: no type twice; in a ClientHello, pre_shared_key (if any) last."""
    block = st.lists(extension(where), max_size=max_size, unique_by=lambda e: e.type)
    if where != ext.CH:
        return block.map(tuple)
    psk = st.one_of(st.none(), _client_pre_shared_key())
    return st.tuples(block, psk).map(lambda b: tuple(b[0]) + ((b[1],) if b[1] else ()))


def client_hello() -> st.SearchStrategy[hs.ClientHello]:
    return st.builds(
        hs.ClientHello, u16, opaque(32, 32), opaque(0, 32),
        st.lists(u16, min_size=1, max_size=20).map(tuple), opaque(1, 5), extensions(ext.CH))


def server_hello() -> st.SearchStrategy[hs.ServerHello]:
    def build(retry: bool) -> st.SearchStrategy[hs.ServerHello]:
        random = st.just(HELLO_RETRY_REQUEST_RANDOM) if retry else opaque(32, 32)
        return st.builds(hs.ServerHello, u16, random, opaque(0, 32), u16, u8,
                         extensions(ext.HRR if retry else ext.SH))
    return st.booleans().flatmap(build)


def certificate13() -> st.SearchStrategy[hs.Certificate13]:
    entry = st.builds(hs.CertificateEntry, opaque(1, 60), extensions(ext.CT, 3))
    return st.builds(hs.Certificate13, opaque(0, 10),
                     st.lists(entry, max_size=4).map(tuple))


MESSAGES: dict[str, st.SearchStrategy[Any]] = {
    "ClientHello": client_hello(),
    "ServerHello": server_hello(),
    "EncryptedExtensions": st.builds(hs.EncryptedExtensions, extensions(ext.EE)),
    "Certificate13": certificate13(),
    "Certificate12": st.builds(hs.Certificate12,
                               st.lists(opaque(1, 60), max_size=4).map(tuple)),
    "CertificateRequest13": st.builds(hs.CertificateRequest13, opaque(0, 10),
                                      extensions(ext.CR)),
    "CertificateRequest12": st.builds(
        hs.CertificateRequest12, opaque(1, 10), st.lists(u16, min_size=1, max_size=10).map(tuple),
        st.lists(opaque(1, 30), max_size=3).map(tuple)),
    "CertificateVerify": st.builds(hs.CertificateVerify, u16, opaque(0, 300)),
    "Finished": st.builds(hs.Finished, opaque(0, 64)),
    "NewSessionTicket13": st.builds(hs.NewSessionTicket13, u32, u32, opaque(0, 20),
                                    opaque(1, 100), extensions(ext.NST)),
    "NewSessionTicket12": st.builds(hs.NewSessionTicket12, u32, opaque(0, 100)),
    "KeyUpdate": st.builds(hs.KeyUpdate, st.booleans()),
    "ServerKeyExchangeECDHE": st.builds(hs.ServerKeyExchangeECDHE, u16, opaque(1, 97), u16,
                                        opaque(0, 100)),
    "ClientKeyExchangeECDHE": st.builds(hs.ClientKeyExchangeECDHE, opaque(1, 97)),
    "ClientKeyExchangeRSA": st.builds(hs.ClientKeyExchangeRSA, opaque(0, 300)),
    "CompressedCertificate": st.builds(hs.CompressedCertificate, u16,
                                       st.integers(0, 2**24 - 1), opaque(1, 100)),
    "CertificateStatus": st.builds(hs.CertificateStatus, opaque(1, 200)),
    # EndOfEarlyData, ServerHelloDone, HelloRequest
    "EmptyMessage": st.sampled_from([5, 14, 0]).map(hs.EmptyMessage),
}

# The parser for each message (EmptyMessage has a function rather than a classmethod).
PARSERS: dict[str, Any] = {
    "ClientHello": hs.ClientHello.parse,
    "ServerHello": hs.ServerHello.parse,
    "EncryptedExtensions": hs.EncryptedExtensions.parse,
    "Certificate13": hs.Certificate13.parse,
    "Certificate12": hs.Certificate12.parse,
    "CertificateRequest13": hs.CertificateRequest13.parse,
    "CertificateRequest12": hs.CertificateRequest12.parse,
    "CertificateVerify": hs.CertificateVerify.parse,
    "Finished": hs.Finished.parse,
    "NewSessionTicket13": hs.NewSessionTicket13.parse,
    "NewSessionTicket12": hs.NewSessionTicket12.parse,
    "KeyUpdate": hs.KeyUpdate.parse,
    "ServerKeyExchangeECDHE": hs.ServerKeyExchangeECDHE.parse,
    "ClientKeyExchangeECDHE": hs.ClientKeyExchangeECDHE.parse,
    "ClientKeyExchangeRSA": hs.ClientKeyExchangeRSA.parse,
    "CompressedCertificate": hs.CompressedCertificate.parse,
    "CertificateStatus": hs.CertificateStatus.parse,
    "EmptyMessage": hs.parse_empty,
}
