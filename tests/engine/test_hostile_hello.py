"""ClientHellos built to cost the server work (issue 12 item 11): long lists, the one
usable entry last. None may cost more than 10 times a normal hello, measured as a
ratio of CPU times in the same run; lists beyond the server's caps are refused with
decode_error, and duplicates the RFCs forbid with illegal_parameter."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st

from glasstls import ServerConfig, ServerConnection, TLSError, limits
from glasstls.codec import Reader
from glasstls.constants import ExtensionType as X, NamedGroup
from glasstls.errors import AlertDescription
from glasstls.messages import extensions as ext
from helpers.hostile import MAX_HELLO, hostile_client_hello, hostile_records, normal_client_hello
from helpers.pump import server_config, split_records
from pki import pki

CONFIG = server_config(pki("ecdsa-p256"))
RATIO_LIMIT = 10


def serve_hello(config: ServerConfig, records: bytes) -> TLSError | None:
    """A fresh server fed the hello: None when it answered with its flight."""
    server = ServerConnection(config)
    try:
        server.receive_data(records)
    except TLSError as error:
        assert split_records(server.data_to_send())[-1][0] == 21  # its alert, queued
        return error
    assert server.data_to_send()[:1] == b"\x16"  # a ServerHello
    return None


def cost_ratio(records: bytes, tls13: bool = True) -> float:
    """CPU time of a server answering ``records``, over that of a normal hello of the
    same version: the least of several runs of each (this thread's CPU time, so other
    processes count little), the two measured in turn so that a burst of load on the
    machine lands on both."""
    normal = hostile_records(normal_client_hello(tls13))
    assert serve_hello(CONFIG, normal) is None
    best = {normal: float("inf"), records: float("inf")}
    for _ in range(5):
        for hello in best:
            start = time.thread_time()
            serve_hello(CONFIG, hello)
            best[hello] = min(best[hello], time.thread_time() - start)
    return best[records] / best[normal]


def test_the_64_kib_hello_of_the_issue_costs_less_than_10_normal_ones() -> None:
    # 6,500 key shares and 16,350 supported groups, the usable group last: 0.6 s of
    # CPU before (1,300x a normal hello); now refused at its header, larger than a
    # ClientHello may be (limits.MAX_HELLO).
    hello = hostile_client_hello(key_shares=6500, groups=16350)
    assert len(hello) > 65000
    error = serve_hello(CONFIG, hostile_records(hello))
    assert error is not None and error.alert == AlertDescription.illegal_parameter
    assert cost_ratio(hostile_records(hello)) < RATIO_LIMIT


def test_a_hello_of_the_largest_size_with_long_lists_is_refused_at_its_first_long_list() -> None:
    # The same attack within limits.MAX_HELLO: 1,500 key shares and 4,000 groups.
    hello = hostile_client_hello(key_shares=1500, groups=4000)
    assert limits.MAX_HELLO - 1000 < len(hello) - 4 <= limits.MAX_HELLO
    error = serve_hello(CONFIG, hostile_records(hello))
    assert error is not None and error.alert == AlertDescription.decode_error
    assert cost_ratio(hostile_records(hello)) < RATIO_LIMIT


# Each list's cap, and about how many entries fit in a 64 KiB hello.
_LISTS = {
    "key_shares": (ext.MAX_KEY_SHARES, 12000),
    "groups": (ext.MAX_GROUPS, 31000),
    "suites": (ext.MAX_CIPHER_SUITES, 31000),
    "extensions": (ext.MAX_EXTENSIONS, 15000),
    "schemes": (ext.MAX_SIGNATURE_SCHEMES, 31000),
    "psk_identities": (ext.MAX_PSK_IDENTITIES, 1500),
}


@st.composite
def hostile_hellos(draw: st.DrawFn) -> tuple[bytes, bool]:
    """One list as long as the hello allows, or around its cap; the others anywhere
    up to just past theirs; padded to 64 KiB or not."""
    tls13 = draw(st.booleans())
    lists = [n for n in _LISTS if tls13 or n not in ("key_shares", "psk_identities")]
    longest = draw(st.sampled_from(lists))
    sizes = {name: draw(st.integers(0, _LISTS[name][0] + 1)) for name in lists}
    cap, most = _LISTS[longest]
    sizes[longest] = draw(st.one_of(st.sampled_from([cap - 1, cap, cap + 1]),
                                    st.integers(cap, most)))
    hello = b""
    with contextlib.suppress(ValueError):  # more than one 2-byte vector holds
        hello = hostile_client_hello(
            tls13=tls13, share_size=draw(st.sampled_from([1, 32, 1216])),
            padding_to=draw(st.sampled_from([0, MAX_HELLO])),
            seed=draw(st.integers(0, 1000)), **sizes)
    assume(0 < len(hello) <= MAX_HELLO)
    event(f"{'TLS 1.3' if tls13 else 'TLS 1.2'}, long {longest}")
    return hello, tls13


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(case=hostile_hellos())
def test_no_hello_up_to_64_kib_costs_more_than_10_normal_ones(case: tuple[bytes, bool]) -> None:
    hello, tls13 = case
    ratio = cost_ratio(hostile_records(hello), tls13)
    assert ratio < RATIO_LIMIT, f"{len(hello)}-byte hello cost {ratio:.1f}x a normal one"


# -- the caps, one at a time -------------------------------------------------------------

# The ClientHello's own extensions before any unknown one is added.
_TYPED_EXTENSIONS = 5

CAPPED = {
    "key shares": (lambda n: {"key_shares": n - 1}, ext.MAX_KEY_SHARES),
    "groups": (lambda n: {"groups": n - 1}, ext.MAX_GROUPS),
    "cipher suites": (lambda n: {"suites": n - 1}, ext.MAX_CIPHER_SUITES),
    "extensions": (lambda n: {"extensions": n - _TYPED_EXTENSIONS}, ext.MAX_EXTENSIONS),
    "signature schemes": (lambda n: {"schemes": n - 3}, ext.MAX_SIGNATURE_SCHEMES),
    "psk identities": (lambda n: {"psk_identities": n}, ext.MAX_PSK_IDENTITIES),
}


@pytest.mark.parametrize("what", sorted(CAPPED))
def test_a_list_at_its_cap_is_served_and_one_entry_more_is_decode_error(what: str) -> None:
    make, cap = CAPPED[what]
    at_cap = hostile_client_hello(**{"key_shares": 0, "groups": 0, **make(cap)})
    assert serve_hello(CONFIG, hostile_records(at_cap)) is None
    beyond = hostile_client_hello(**{"key_shares": 0, "groups": 0, **make(cap + 1)})
    error = serve_hello(CONFIG, hostile_records(beyond))
    assert error is not None and error.alert == AlertDescription.decode_error
    assert f"{cap}" in str(error)


def _parse_client_extension(ext_type: int, body: bytes) -> object:
    block = (4 + len(body)).to_bytes(2, "big") + ext_type.to_bytes(2, "big") + (
        len(body).to_bytes(2, "big") + body)
    with Reader(block) as r:
        return ext.parse_extensions(r, ext.CH)[0]


def _vector(entries: list[bytes], length_size: int = 2) -> bytes:
    body = b"".join(entries)
    return len(body).to_bytes(length_size, "big") + body


@pytest.mark.parametrize(("ext_type", "entry", "cap"), [
    (X.application_layer_protocol_negotiation, lambda i: bytes([2]) + i.to_bytes(2, "big"),
     ext.MAX_ALPN_PROTOCOLS),
    (X.certificate_authorities, lambda i: b"\x00\x02" + i.to_bytes(2, "big"),
     ext.MAX_CERTIFICATE_AUTHORITIES),
])
def test_hello_lists_without_a_generator_are_capped_too(
        ext_type: int, entry: Callable[[int], bytes], cap: int) -> None:
    assert _parse_client_extension(ext_type, _vector([entry(i) for i in range(cap)]))
    with pytest.raises(TLSError, match=f"more than {cap}") as caught:
        _parse_client_extension(ext_type, _vector([entry(i) for i in range(cap + 1)]))
    assert caught.value.alert == AlertDescription.decode_error
    # Only the hello is capped: a CertificateRequest may name hundreds of CAs.
    if ext_type == X.certificate_authorities:
        body = _vector([entry(i) for i in range(cap + 1)])
        block = (4 + len(body)).to_bytes(2, "big") + ext_type.to_bytes(2, "big") + (
            len(body).to_bytes(2, "big") + body)
        with Reader(block) as r:
            assert ext.parse_extensions(r, ext.CR)


# -- duplicates the RFCs forbid -------------------------------------------------------------


def test_two_key_shares_for_one_group_are_illegal_parameter() -> None:
    # RFC 8446 §4.2.8: clients MUST NOT offer two KeyShareEntry values for one group.
    share = bytes(32)
    entries = [NamedGroup.x25519.to_bytes(2, "big") + b"\x00\x20" + share] * 2
    with pytest.raises(TLSError, match="twice") as caught:
        _parse_client_extension(X.key_share, _vector(entries))
    assert caught.value.alert == AlertDescription.illegal_parameter


def test_two_key_shares_for_one_group_make_the_server_send_illegal_parameter() -> None:
    hello = hostile_client_hello(key_shares=0, groups=0, repeat_usable_share=True)
    error = serve_hello(CONFIG, hostile_records(hello))
    assert error is not None and error.alert == AlertDescription.illegal_parameter


def test_two_names_of_one_type_in_server_name_are_illegal_parameter() -> None:
    # RFC 6066 §3: the ServerNameList MUST NOT contain two names of the same name_type.
    names = [b"\x00\x00\x09localhost", b"\x00\x00\x0bexample.com"]
    with pytest.raises(TLSError, match="two names") as caught:
        _parse_client_extension(X.server_name, _vector(names))
    assert caught.value.alert == AlertDescription.illegal_parameter
    others = [b"\x07\x00\x01a", b"\x07\x00\x01b"]
    with pytest.raises(TLSError, match="two names"):
        _parse_client_extension(X.server_name, _vector(others))


def test_an_empty_key_exchange_is_decode_error() -> None:
    # RFC 8446 §4.2.8: key_exchange<1..2^16-1>.
    with pytest.raises(TLSError) as caught:
        _parse_client_extension(X.key_share, _vector([b"\x00\x1d\x00\x00"]))
    assert caught.value.alert == AlertDescription.decode_error
