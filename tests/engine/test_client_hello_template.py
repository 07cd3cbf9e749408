"""The ClientHello spliced from a config's precomputed template (HelloTemplate) is
exactly what serializing the hello from scratch gives, for any config, and its
extensions keep the order clients' fingerprints (JA3/JA4) and peers expect."""

from __future__ import annotations

import hashlib
import threading

from hypothesis import given, reject, settings, strategies as st

from glasstls import ClientConfig
from glasstls.constants import TLS12, TLS13, CipherSuite, ExtensionType as X, NamedGroup
from glasstls.crypto.groups import DEFAULT_GROUPS, GROUPS
from glasstls.crypto.signatures import DEFAULT_SCHEMES
from glasstls.crypto.suites import SUITES
from glasstls.errors import ConfigError
from glasstls.handshake.client_hello import _GREASE, HelloTemplate, build_client_hello
from glasstls.handshake.transcript import hash_of
from glasstls.keyschedule import KeySchedule, finished_verify_data
from glasstls.messages.extensions import PreSharedKey
from glasstls.messages.handshake import ClientHello, serialize
from glasstls.session import ClientSession

GREASE = "grease"

# The order every hello keeps (a hello carries a subsequence of it): GREASE first,
# server_name, ... pre_shared_key last (RFC 8446 §4.2.11), padding just before it.
ORDER = (
    GREASE, X.server_name, X.status_request, X.extended_master_secret,
    X.renegotiation_info, X.supported_groups, X.ec_point_formats, X.session_ticket,
    X.application_layer_protocol_negotiation, X.signature_algorithms,
    X.compress_certificate, X.key_share, X.supported_versions, X.psk_key_exchange_modes,
    X.cookie, X.post_handshake_auth, X.record_size_limit, GREASE, X.early_data, X.padding,
    X.pre_shared_key,
)

TLS13_SUITES = [s for s in SUITES if SUITES[s].is_tls13]
TLS12_SUITES = [CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]


def _rng(seed: int) -> object:
    stream = hashlib.shake_256(seed.to_bytes(8, "big"))
    used = 0

    def rng(n: int) -> bytes:
        nonlocal used
        used += n
        return stream.digest(used)[-n:]

    return rng


@st.composite
def configs(draw: st.DrawFn) -> ClientConfig:
    versions = draw(st.sampled_from([(TLS13,), (TLS12,), (TLS13, TLS12), (TLS12, TLS13)]))
    suites = draw(st.lists(st.sampled_from(TLS13_SUITES + TLS12_SUITES), min_size=1,
                           max_size=5, unique=True))
    groups = draw(st.lists(st.sampled_from(list(DEFAULT_GROUPS)), min_size=1, unique=True))
    schemes = tuple(draw(st.lists(st.sampled_from(DEFAULT_SCHEMES), min_size=1, unique=True)))
    # A small share (x25519) when offered, so that many hellos fall in 256..511 bytes.
    shares = (NamedGroup.x25519,) if NamedGroup.x25519 in groups else (groups[0],)
    try:
        return ClientConfig(
            versions=versions, cipher_suites=tuple(suites), groups=tuple(groups),
            key_share_groups=shares,
            signature_schemes=schemes,
            alpn_protocols=tuple(draw(st.lists(st.sampled_from(["h2", "http/1.1", "x" * 200]),
                                               max_size=2, unique=True))),
            record_size_limit=draw(st.sampled_from([None, 64, 2**14 + 1])),
            grease=draw(st.booleans()), post_handshake_auth=draw(st.booleans()),
            allow_psk_ke=draw(st.booleans()),
            middlebox_compatibility=draw(st.booleans()),
            enable_session_tickets=draw(st.booleans()),
            ocsp_stapling=draw(st.sampled_from(["off", "request"])),
            certificate_compression=draw(st.sampled_from([(), (2,), (1, 2)])),
            clock=lambda: 1000.0, rng=_rng(draw(st.integers(0, 2**32))),  # type: ignore[arg-type]
        )
    except ConfigError:
        reject()


def sessions() -> st.SearchStrategy[ClientSession | None]:
    tls13 = st.builds(
        lambda suite, ticket: ClientSession(
            TLS13, suite, bytes(SUITES[suite].hash_len), received_ms=0, lifetime=7200,
            server_name=None, alpn=None, ticket=ticket),
        st.sampled_from(TLS13_SUITES), st.binary(min_size=1, max_size=300))
    tls12 = st.builds(
        lambda ticket, session_id: ClientSession(
            TLS12, TLS12_SUITES[0], bytes(48), received_ms=0, lifetime=7200,
            server_name=None, alpn=None, ticket=ticket, session_id=session_id),
        st.binary(max_size=200), st.sampled_from([b"", bytes(range(32))]))
    return st.none() | tls13 | tls12


def _rank(types: list[int], grease: set[int]) -> list[int]:
    """Each extension's place in ORDER (the two GREASE extensions take its two slots)."""
    ranks, greased = [], 0
    for ext_type in types:
        if ext_type in grease:
            ranks.append(ORDER.index(GREASE) if greased == 0 else len(ORDER) - 4)
            greased += 1
        else:
            ranks.append(ORDER.index(ext_type))
    return ranks


@settings(max_examples=300, deadline=None)
@given(config=configs(), session=sessions(), early=st.booleans(), retry=st.booleans(),
       server_name=st.sampled_from([None, "", "example.com", "example.com.", "a" * 60 + ".test",
                                    "192.0.2.1", "::1", "bücher.example"]))
def test_the_spliced_hello_is_its_serialization_from_scratch(
        config: ClientConfig, session: ClientSession | None, early: bool, retry: bool,
        server_name: str | None) -> None:
    options = {}
    prefix = b""  # the transcript before the hello: message_hash and HelloRetryRequest
    if retry and TLS13 in config.versions:
        prefix = b"\xfe" * 40
        # The second hello after a HelloRetryRequest: one share, a cookie, the first's
        # random, session id and GREASE.
        options = {"random": bytes(32), "session_id": b"\x01" * 32, "cookie": b"c" * 40,
                   "transcript_prefix": prefix,
                   "key_share_groups": (config.groups[-1],),
                   "grease": {"suite": 0x1A1A, "group": 0x2A2A, "version": 0x3A3A,
                              "extension1": 0x4A4A, "extension2": 0x5A5A, "scheme": 0x6A6A}
                   if config.grease else {}}
    sent = build_client_hello(config, server_name, session=session, early_data=early,
                              **options)  # type: ignore[arg-type]
    hello = sent.hello
    assert hello.raw == serialize(hello)
    assert ClientHello.parse(hello.raw).extensions == hello.extensions
    types = [e.type for e in hello.extensions]
    assert sent.offered_extensions == frozenset(types)
    grease = set(_GREASE)
    ranks = _rank(types, grease)
    assert ranks == sorted(ranks), types
    # What is offered follows from the config, the session and the name.
    offer13, offer12 = TLS13 in config.versions, TLS12 in config.versions
    present = set(types)
    assert (X.key_share in present) == (X.supported_versions in present) == offer13
    assert (X.ec_point_formats in present) == (X.renegotiation_info in present) == offer12
    assert (X.session_ticket in present) == (offer12 and config.enable_session_tickets)
    assert (X.post_handshake_auth in present) == (offer13 and config.post_handshake_auth)
    assert (X.compress_certificate in present) == (offer13 and bool(
        config.certificate_compression))
    assert (X.server_name in present) == (server_name in ("example.com", "example.com.",
                                                         "a" * 60 + ".test", "bücher.example"))
    assert (X.pre_shared_key in present) == (session is not None and session.version == TLS13
                                             and offer13)
    assert len([t for t in types if t in grease]) == (2 if config.grease else 0)
    if X.pre_shared_key in present:
        # RFC 8446 §4.2.11.2: the binder written in place is the MAC, under the PSK's
        # binder key, of the hello up to its binders list (worked out from the PSK).
        assert session is not None
        psk = hello.extensions[-1]
        assert isinstance(psk, PreSharedKey) and types[-1] == X.pre_shared_key
        suite = SUITES[session.cipher_suite]
        binder = finished_verify_data(
            suite, KeySchedule(suite, session.secret).binder_key(external=False),
            hash_of(suite.hash_name, prefix + hello.truncated_for_binders()))
        assert psk.binders == (binder,) and hello.raw.endswith(binder)
    suites = list(hello.cipher_suites)
    if config.grease:
        assert suites.pop(0) in grease
    expected = [s for s in config.cipher_suites if SUITES[s].is_tls13 and offer13]
    expected += config.tls12_suites if offer12 else ()
    assert suites == expected
    groups = [g for g in config.groups if offer13 or GROUPS[g].tls12]
    offered_groups = hello.extensions[types.index(X.supported_groups)]
    assert list(offered_groups.values)[1 if config.grease else 0:] == groups  # type: ignore[union-attr]


def test_a_config_makes_its_template_once_and_equal_configs_equal_templates() -> None:
    config = ClientConfig(alpn_protocols=("h2",), grease=False)
    templates: list[HelloTemplate] = []
    threads = [threading.Thread(target=lambda: templates.append(config.hello_template))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(t == templates[0] for t in templates)
    assert config.hello_template is config.hello_template
    again = ClientConfig(alpn_protocols=("h2",), grease=False)
    assert again.hello_template == config.hello_template
    assert again.hello_template is not config.hello_template


def test_two_hellos_of_one_config_share_only_what_the_config_fixes() -> None:
    config = ClientConfig(versions=(TLS13,), alpn_protocols=("h2",))
    first = build_client_hello(config, "one.example").hello
    second = build_client_hello(config, "two.example").hello
    assert first.random != second.random
    assert first.legacy_session_id != second.legacy_session_id
    shared = [a for a, b in zip(first.extensions, second.extensions, strict=True) if a is b]
    # The template's extensions are the same objects; the name and shares are not.
    assert {e.type for e in shared} >= {X.supported_groups, X.signature_algorithms,
                                        X.supported_versions, X.psk_key_exchange_modes}
    assert not {X.server_name, X.key_share} & {e.type for e in shared}
