"""The ServerHello and NewSessionTicket read with offsets (messages/server_reads.py)
agree with the codec's reading (``ServerHello.read_fields``,
``NewSessionTicket13.read_fields``) on every message: the same fields, or the offsets
reader gives up and the codec raises as it always did.

Hostile messages are valid ones (the usual shapes and any other) damaged: a byte
changed, inserted or removed, the header's length kept consistent; the usual shapes
are also checked to have been read with offsets.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from glasstls.constants import HELLO_RETRY_REQUEST_RANDOM, ExtensionType as X
from glasstls.errors import PeerMisbehaved
from glasstls.messages import extensions as ext, handshake as hs, server_reads
from helpers.strategies import MESSAGES, server_hello

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

u16 = st.integers(0, 0xFFFF)


def _outcome(read: Any, raw: bytes) -> Any:
    try:
        fields = read(raw)
    except PeerMisbehaved as error:
        return (type(error).__name__, error.alert, str(error))
    extensions = fields[-1]
    return ("parsed", fields, dict(extensions.by_type) if extensions else {})


def _agree(raw: bytes, fast: Any, codec: Any) -> Any:
    """The offsets reading, when it accepts, is the codec's; the parse is one of them."""
    reference = _outcome(codec, raw)
    fields = fast(raw)
    if fields is not None:
        assert reference[0] == "parsed"
        assert _outcome(lambda _: fields, raw) == reference
    return reference


def _hello(raw: bytes) -> Any:
    return _agree(raw, server_reads.read_server_hello, hs.ServerHello.read_fields)


def _ticket(raw: bytes) -> Any:
    return _agree(raw, server_reads.read_new_session_ticket,
                  hs.NewSessionTicket13.read_fields)


def _damaged(raw: bytes, at: int, change: str, byte: int) -> bytes:
    body = raw[4:]
    at = at % (len(body) + 1)
    if change == "replace" and at < len(body):
        body = body[:at] + bytes((byte,)) + body[at + 1:]
    elif change == "insert":
        body = body[:at] + bytes((byte,)) + body[at:]
    else:
        body = body[:at] + body[at + 1:]
    return raw[:1] + len(body).to_bytes(3, "big") + body


# The usual shapes: supported_versions, key_share and pre_shared_key, in any order
# and any subset (OpenSSL's and glasstls's ServerHello); tickets with no extension or
# with early_data alone.
_USUAL_EXTENSIONS = st.lists(st.sampled_from(["versions", "share", "psk"]), unique=True).flatmap(
    lambda kinds: st.tuples(*[{
        "versions": u16.map(lambda v: ext.SupportedVersions((v,), selected=True)),
        "share": st.builds(ext.KeyShareEntry, u16, st.binary(min_size=1, max_size=100)).map(
            lambda e: ext.KeyShare((e,), where=ext.SH)),
        "psk": u16.map(lambda i: ext.PreSharedKey(selected_identity=i)),
    }[kind] for kind in kinds]))
_USUAL_HELLO = st.builds(hs.ServerHello, u16, st.binary(min_size=32, max_size=32),
                         st.binary(max_size=32), u16, st.integers(0, 255), _USUAL_EXTENSIONS)
_USUAL_TICKET = st.builds(
    hs.NewSessionTicket13, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.binary(max_size=255), st.binary(min_size=1, max_size=300),
    st.one_of(st.just(()), st.integers(0, 2**32 - 1).map(
        lambda n: (ext.EarlyDataIndication(n),))))

_DAMAGE = {"at": st.integers(0, 400), "change": st.sampled_from(["replace", "insert", "delete"]),
           "byte": st.integers(0, 255)}


@SETTINGS
@given(hello=_USUAL_HELLO)
def test_the_usual_server_hello_is_read_with_offsets_as_the_codec_reads_it(
        hello: hs.ServerHello) -> None:
    raw = hs.serialize(hello)
    assert _hello(raw)[0] == "parsed"
    assert server_reads.read_server_hello(raw) is not None
    assert hs.ServerHello.parse(raw) == hello


@SETTINGS
@given(hello=st.one_of(_USUAL_HELLO, server_hello()), **_DAMAGE)
def test_a_damaged_server_hello_gets_the_codec_s_outcome(hello: hs.ServerHello, at: int,
                                                         change: str, byte: int) -> None:
    raw = hs.serialize(hello)
    _hello(raw)
    _hello(_damaged(raw, at, change, byte))


def test_a_retry_request_and_a_server_hello_without_extensions_are_the_codec_s() -> None:
    retry = hs.serialize(hs.ServerHello(0x0303, HELLO_RETRY_REQUEST_RANDOM, b"", 0x1301, 0, (
        ext.SupportedVersions((0x0304,), selected=True),
        ext.KeyShare(selected_group=0x1D, where=ext.HRR))))
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\xc0\x2f" + b"\x00"  # no extensions block
    tls12 = b"\x02" + len(body).to_bytes(3, "big") + body
    for raw in (retry, tls12):
        assert server_reads.read_server_hello(raw) is None
        assert hs.ServerHello.parse(raw) == hs.ServerHello(*hs.ServerHello.read_fields(raw))


@SETTINGS
@given(ticket=_USUAL_TICKET)
def test_the_usual_ticket_is_read_with_offsets_as_the_codec_reads_it(
        ticket: hs.NewSessionTicket13) -> None:
    raw = hs.serialize(ticket)
    assert _ticket(raw)[0] == "parsed"
    assert server_reads.read_new_session_ticket(raw) is not None
    parsed = hs.NewSessionTicket13.parse(raw)
    assert parsed == ticket
    assert parsed.max_early_data_size == ticket.max_early_data_size


@SETTINGS
@given(ticket=st.one_of(_USUAL_TICKET, MESSAGES["NewSessionTicket13"]), **_DAMAGE)
def test_a_damaged_ticket_gets_the_codec_s_outcome(ticket: hs.NewSessionTicket13, at: int,
                                                   change: str, byte: int) -> None:
    raw = hs.serialize(ticket)
    _ticket(raw)
    _ticket(_damaged(raw, at, change, byte))


def test_a_ticket_with_an_empty_ticket_or_another_extension_is_the_codec_s() -> None:
    empty = b"\x04\x00\x00\x0d" + bytes(8) + b"\x00" + b"\x00\x00" + b"\x00\x00"
    assert server_reads.read_new_session_ticket(empty) is None
    assert _ticket(empty)[0] == "DecodeError"
    other = hs.serialize(hs.NewSessionTicket13(1, 2, b"", b"t", (
        ext.UnknownExtension(0x1234, b"\x00\x00\x00\x00"),)))
    assert server_reads.read_new_session_ticket(other) is None
    assert _ticket(other)[0] == "parsed"
    assert X.early_data not in _ticket(other)[2]


# -- EncryptedExtensions, Certificate, CertificateVerify -----------------------------
# Their codec readings, as the messages' parse methods make them when the offsets
# readers give up.

def _codec_encrypted_extensions(raw: bytes) -> Any:
    with hs.body_reader(raw) as r:
        return (ext.parse_extensions(r, ext.EE),)


def _codec_certificate(raw: bytes) -> Any:
    entries = []
    with hs.body_reader(raw) as r:
        context = r.opaque(1)
        with r.vector(3) as body:
            while body.remaining:
                cert = body.opaque(3, minimum=1)
                entries.append((cert, ext.parse_extensions(body, ext.CT)))
    return context, entries, ext.ExtensionBlock()  # (no block of its own to compare)


def _codec_certificate_verify(raw: bytes) -> Any:
    with hs.body_reader(raw) as r:
        return r.u16(), r.opaque(2), ext.ExtensionBlock()


def _certificate_outcome(read: Any, raw: bytes) -> Any:
    outcome = _outcome(read, raw)
    if outcome[0] != "parsed":
        return outcome
    context, entries = outcome[1][:2]
    return ("parsed", context, [(cert, tuple(block), dict(block.by_type))
                                for cert, block in entries])


_USUAL_CERTIFICATE = st.builds(
    hs.Certificate13, st.binary(max_size=10),
    st.lists(st.binary(min_size=1, max_size=80).map(hs.CertificateEntry),
             max_size=4).map(tuple))
_CERTIFICATE_VERIFY = st.builds(hs.CertificateVerify, u16, st.binary(max_size=300))


@SETTINGS
@given(message=st.one_of(st.just(hs.EncryptedExtensions(())),
                         MESSAGES["EncryptedExtensions"]), **_DAMAGE)
def test_encrypted_extensions_damaged_or_not_get_the_codec_s_outcome(
        message: hs.EncryptedExtensions, at: int, change: str, byte: int) -> None:
    raw = hs.serialize(message)
    for each in (raw, _damaged(raw, at, change, byte)):
        reference = _outcome(_codec_encrypted_extensions, each)
        extensions = server_reads.read_encrypted_extensions(each)
        if extensions is not None:
            assert reference == _outcome(lambda _: (extensions,), each)  # noqa: B023
    assert server_reads.read_encrypted_extensions(raw) is not None or message.extensions
    assert hs.EncryptedExtensions.parse(raw) == message


@SETTINGS
@given(message=st.one_of(_USUAL_CERTIFICATE, MESSAGES["Certificate13"]), **_DAMAGE)
def test_a_certificate_damaged_or_not_gets_the_codec_s_outcome(
        message: hs.Certificate13, at: int, change: str, byte: int) -> None:
    raw = hs.serialize(message)
    for each in (raw, _damaged(raw, at, change, byte)):
        reference = _certificate_outcome(_codec_certificate, each)
        fields = server_reads.read_certificate(each)
        if fields is not None:
            assert reference == _certificate_outcome(
                lambda _: (*fields, ext.ExtensionBlock()), each)  # noqa: B023
    if not any(entry.extensions for entry in message.certificate_list):
        assert server_reads.read_certificate(raw) is not None
    assert hs.Certificate13.parse(raw) == message


@SETTINGS
@given(message=_CERTIFICATE_VERIFY, **_DAMAGE)
def test_a_certificate_verify_damaged_or_not_gets_the_codec_s_outcome(
        message: hs.CertificateVerify, at: int, change: str, byte: int) -> None:
    raw = hs.serialize(message)
    for each in (raw, _damaged(raw, at, change, byte)):
        reference = _outcome(_codec_certificate_verify, each)
        fields = server_reads.read_certificate_verify(each)
        if fields is not None:
            assert reference == _outcome(lambda _: (*fields, ext.ExtensionBlock()),  # noqa: B023
                                         each)
        else:
            assert reference[0] != "parsed"
    assert hs.CertificateVerify.parse(raw) == message
