"""HKDF (RFC 5869), HKDF-Expand-Label and the TLS 1.3 key schedule (RFC 8446 §7),
and the transcript hash (§4.4.1). The full schedule is also checked against every
record of RFC 8448 in tests/transcripts."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings, strategies as st

from glasstls.constants import CipherSuite
from glasstls.crypto.hkdf import (
    HASHES,
    HmacKey,
    expand,
    expand_label,
    extract,
    hkdf_label_prefix,
    hmac_digest,
    hmac_once,
    hmac_pads,
    hmac_pair_last,
    label_prefix,
)
from glasstls.crypto.suites import SUITES, TLS13_SUITES, Suite
from glasstls.errors import InternalError
from glasstls.handshake.transcript import Transcript
from glasstls.keyschedule import (
    DERIVE_SECRET_LABELS,
    SECRET_PREFIXES,
    TRAFFIC_PREFIXES,
    EarlySecrets,
    KeySchedule,
    exporter,
    finished_verify_data,
    next_traffic_secret,
    resumption_psk,
    traffic_keys,
)

AES128 = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


# RFC 5869 Appendix A.1 and A.3 (SHA-256).
@pytest.mark.parametrize(("salt", "info", "prk", "okm"), [
    (bytes(range(13)), bytes(range(0xF0, 0xFA)),
     "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    (b"", b"",
     "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
], ids=["A.1", "A.3"])
def test_hkdf_matches_rfc5869_test_vectors(salt: bytes, info: bytes, prk: str, okm: str) -> None:
    ikm = b"\x0b" * 22
    assert extract("sha256", salt, ikm).hex() == prk
    assert expand("sha256", bytes.fromhex(prk), info, 42, 32).hex() == okm


def test_hkdf_expand_of_one_block_is_the_first_block_of_a_longer_expansion() -> None:
    prk = bytes(range(32))
    assert expand("sha256", prk, b"info", 20, 32) == expand("sha256", prk, b"info", 80, 32)[:20]


def test_expand_label_encodes_hkdf_label_as_rfc8446_section_7_1() -> None:
    secret = bytes(range(32))
    # struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }
    info = (16).to_bytes(2, "big") + bytes([9]) + b"tls13 key" + bytes([3]) + b"ctx"
    expected = hmac.digest(secret, info + b"\x01", "sha256")[:16]
    assert expand_label("sha256", secret, b"key", b"ctx", 16, 32) == expected


def test_early_secret_and_derived_secret_without_psk_are_the_rfc8448_values() -> None:
    # RFC 8448 §3: "extract secret 'early'" and "derive secret for handshake 'tls13 derived'".
    schedule = KeySchedule(AES128)
    assert schedule.secret.hex() == (
        "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    derived = expand_label("sha256", schedule.secret, b"derived", hashlib.sha256().digest(), 32, 32)
    assert derived.hex() == "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"


def test_psk_changes_the_early_secret_and_binder_keys_differ_by_kind() -> None:
    plain = KeySchedule(AES128)
    with_psk = KeySchedule(AES128, psk=b"\x01" * 32)
    assert plain.secret != with_psk.secret
    assert with_psk.binder_key(external=True) != with_psk.binder_key(external=False)


def test_handshake_without_key_exchange_uses_zeros() -> None:
    # RFC 8446 §7.1: psk_ke mode feeds a string of Hash.length zeros into the extract.
    a, b = KeySchedule(AES128), KeySchedule(AES128)
    a.enter_handshake(None)
    b.enter_handshake(bytes(32))
    assert a.secret == b.secret


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
def test_traffic_keys_have_the_suite_lengths(suite: object) -> None:
    secret = bytes(suite.hash_len)  # type: ignore[attr-defined]
    key, iv = traffic_keys(suite, secret)  # type: ignore[arg-type]
    assert len(key) == suite.key_len  # type: ignore[attr-defined]
    assert len(iv) == 12


def test_secrets_depend_on_the_transcript_and_the_direction() -> None:
    schedule = KeySchedule(AES128)
    schedule.enter_handshake(b"\x07" * 32)
    client, server = schedule.handshake_traffic_secrets(b"\x01" * 32)
    assert client != server
    assert schedule.handshake_traffic_secrets(b"\x02" * 32) != (client, server)


def test_next_traffic_secret_is_a_new_secret_each_generation() -> None:
    # RFC 8446 §7.2: application_traffic_secret_N+1 = Expand-Label(N, "traffic upd", "", len)
    secret0 = b"\x05" * 32
    secret1 = next_traffic_secret(AES128, secret0)
    assert secret1 == expand_label("sha256", secret0, b"traffic upd", b"", 32, 32)
    assert next_traffic_secret(AES128, secret1) not in (secret0, secret1)


def test_finished_verify_data_is_hmac_of_the_transcript_with_the_finished_key() -> None:
    base_key, transcript_hash = b"\x03" * 32, b"\x04" * 32
    finished_key = expand_label("sha256", base_key, b"finished", b"", 32, 32)
    assert finished_verify_data(AES128, base_key, transcript_hash) == hmac.digest(
        finished_key, transcript_hash, "sha256")


def test_exporter_depends_on_label_context_and_length() -> None:
    secret = b"\x09" * 32
    base = exporter(AES128, secret, b"EXPERIMENTAL test", b"context", 32)
    assert len(base) == 32
    assert exporter(AES128, secret, b"EXPERIMENTAL other", b"context", 32) != base
    assert exporter(AES128, secret, b"EXPERIMENTAL test", b"", 32) != base
    # The length is part of HkdfLabel: a shorter export is not a prefix of a longer one.
    assert exporter(AES128, secret, b"EXPERIMENTAL test", b"context", 16) != base[:16]


def test_resumption_psk_depends_on_the_ticket_nonce() -> None:
    secret = b"\x0a" * 32
    assert resumption_psk(AES128, secret, b"\x00") != resumption_psk(AES128, secret, b"\x01")


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
def test_resumption_psk_is_rfc8446_s_derivation_for_nonces_of_any_length(suite: Suite) -> None:
    # The whole HkdfLabel in one piece against RFC 8446 §4.6.1's HKDF-Expand-Label.
    secret = bytes(range(suite.hash_len))
    nonces = [b"", b"\x00", (1).to_bytes(8, "big"), (2).to_bytes(8, "big"), b"n" * 255]
    expected = [expand_label(suite.hash_name, secret, b"resumption", nonce, suite.hash_len,
                             suite.hash_len) for nonce in nonces]
    assert [resumption_psk(suite, secret, nonce) for nonce in nonces] == expected


def test_sha384_suite_schedule_produces_48_byte_secrets() -> None:
    suite = SUITES[CipherSuite.TLS_AES_256_GCM_SHA384]
    schedule = KeySchedule(suite)
    schedule.enter_handshake(b"\x01" * 48)
    client, server = schedule.handshake_traffic_secrets(bytes(48))
    assert len(client) == len(server) == 48
    assert len(traffic_keys(suite, client)[0]) == 32


# -- transcript --------------------------------------------------------------------------------


def test_transcript_hashes_the_exact_bytes_added() -> None:
    transcript = Transcript()
    transcript.set_hash("sha256")
    transcript.add(b"\x01\x00\x00\x01a")
    transcript.add(b"\x02\x00\x00\x01b")
    assert transcript.digest() == hashlib.sha256(b"\x01\x00\x00\x01a\x02\x00\x00\x01b").digest()
    assert transcript.digest_before_last() == hashlib.sha256(b"\x01\x00\x00\x01a").digest()


def test_transcript_replays_messages_added_before_the_hash_was_known() -> None:
    transcript = Transcript()
    transcript.add(b"hello")
    transcript.set_hash("sha384")
    transcript.add(b"world")
    assert transcript.digest() == hashlib.sha384(b"helloworld").digest()


def test_transcript_after_hello_retry_starts_with_message_hash() -> None:
    # RFC 8446 §4.4.1: message_hash || 00 00 Hash.length || Hash(ClientHello1)
    first_hello, retry = b"\x01\x00\x00\x02ch", b"\x02\x00\x00\x03hrr"
    transcript = Transcript()
    transcript.add(first_hello)
    transcript.set_hash("sha256")
    transcript.restart_after_hello_retry()
    transcript.add(retry)
    synthetic = b"\xfe\x00\x00\x20" + hashlib.sha256(first_hello).digest()
    assert transcript.digest() == hashlib.sha256(synthetic + retry).digest()


def test_transcript_digest_with_does_not_change_the_transcript() -> None:
    transcript = Transcript()
    transcript.set_hash("sha256")
    transcript.add(b"a")
    assert transcript.digest_with(b"b") == hashlib.sha256(b"ab").digest()
    assert transcript.digest() == hashlib.sha256(b"a").digest()


@settings(max_examples=200, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]),
       key=st.binary(max_size=200), data=st.binary(max_size=300))
def test_one_shot_hmac_equals_the_stdlib_hmac_and_a_kept_key(hash_name: str, key: bytes,
                                                              data: bytes) -> None:
    # Keys used once are hashed with their padded blocks (hmac_digest), keys used again
    # keep their hash states (HmacKey): both are RFC 2104's HMAC, keys longer than the
    # block (hashed first) included.
    expected = hmac.digest(key, data, hash_name)
    assert hmac_digest(hash_name, key, data) == expected
    assert HmacKey(hash_name, key).digest(data) == expected


@settings(max_examples=200, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]), data=st.data(),
       message=st.binary(max_size=300))
def test_hmac_once_is_the_stdlib_hmac_for_keys_up_to_a_block(hash_name: str, data: st.DataObject,
                                                            message: bytes) -> None:
    # hmac_once (the key schedule's salts and finished keys, one hash long) skips
    # hmac_digest's test for keys longer than the block: for every key up to the
    # block, empty and a whole block included, it is RFC 2104's HMAC.
    new, block = HASHES[hash_name]
    key = data.draw(st.binary(max_size=block))
    assert hmac_once(new, block, key, message) == hmac.digest(key, message, hash_name)


@settings(max_examples=100, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]), key=st.binary(max_size=200),
       first=st.binary(max_size=100), second=st.binary(max_size=100))
def test_a_pair_of_hmacs_under_one_key_is_each_the_stdlib_s(hash_name: str, key: bytes,
                                                            first: bytes, second: bytes) -> None:
    # digest_pair (a stage's two traffic secrets, a key and an IV): each its own MAC,
    # in order, the key's states left as they were for the next call.
    prk = HmacKey(hash_name, key)
    expected = (hmac.digest(key, first, hash_name), hmac.digest(key, second, hash_name))
    assert prk.digest_pair(first, second) == expected
    assert prk.digest_pair(first, second) == expected
    assert prk.digest(first) == expected[0]


@settings(max_examples=100, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]), key=st.binary(max_size=200),
       first=st.binary(max_size=100), second=st.binary(max_size=100))
def test_the_last_pair_of_hmacs_of_a_key_is_each_the_stdlib_s(hash_name: str, key: bytes,
                                                              first: bytes, second: bytes
                                                              ) -> None:
    # hmac_pair_last (a traffic secret's key and IV, the Early Secret's binder key and
    # "derived"): the same two MACs as the stdlib's, the second from the states
    # themselves, which it uses up.
    new, ipad, opad = hmac_pads(hash_name, key)
    assert hmac_pair_last(new(ipad), new(opad), first, second) == (
        hmac.digest(key, first, hash_name), hmac.digest(key, second, hash_name))


@settings(max_examples=100, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]), secret=st.binary(min_size=32, max_size=48),
       label=st.binary(min_size=1, max_size=40), context=st.binary(max_size=64),
       length=st.integers(min_value=1, max_value=200))
def test_expand_label_of_a_secret_used_once_equals_the_kept_key_s(
        hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> None:
    hash_len = hashlib.new(hash_name).digest_size
    once = expand_label(hash_name, secret, label, context, length, hash_len)
    assert once == HmacKey(hash_name, secret).expand_label(label, context, length)
    assert len(once) == length


# -- precomputed HkdfLabel prefixes ------------------------------------------------------------


def _hkdf_expand_label_from_scratch(hash_name: str, secret: bytes, label: bytes, context: bytes,
                                    length: int) -> bytes:
    """RFC 8446 §7.1 and RFC 5869 §2.3 written out with the stdlib's HMAC, for comparison."""
    full_label = b"tls13 " + label
    info = (length.to_bytes(2, "big") + len(full_label).to_bytes(1, "big") + full_label
            + len(context).to_bytes(1, "big") + context)
    output, block, counter = b"", b"", 1
    while len(output) < length:
        block = hmac.digest(secret, block + info + bytes([counter]), hash_name)
        output += block
        counter += 1
    return output[:length]


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("label", DERIVE_SECRET_LABELS, ids=lambda label: label.decode())
def test_derive_secret_with_its_precomputed_prefix_equals_the_rfc_definition(
        suite: Suite, label: bytes) -> None:
    # Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label,
    # Transcript-Hash(Messages), Hash.length): every label, every suite, from a table.
    schedule = KeySchedule(suite, psk=bytes(range(suite.hash_len)))
    transcript_hash = hashlib.new(suite.hash_name, label).digest()
    assert schedule.derive_secret(label, transcript_hash) == _hkdf_expand_label_from_scratch(
        suite.hash_name, schedule.secret, label, transcript_hash, suite.hash_len)


@pytest.mark.parametrize("suite", TLS13_SUITES, ids=lambda s: s.name)
def test_traffic_keys_from_precomputed_prefixes_equal_the_rfc_definition(suite: Suite) -> None:
    # RFC 8446 §7.3 and §4.4.4: write key, write IV and finished_key of a traffic secret.
    schedule = KeySchedule(suite)
    schedule.enter_handshake(bytes(range(32)))
    keys = schedule.handshake_keys(hashlib.new(suite.hash_name, b"hello").digest())
    for direction in (keys.client, keys.server):
        name, secret = suite.hash_name, direction.secret
        assert direction.key == _hkdf_expand_label_from_scratch(name, secret, b"key", b"",
                                                                 suite.key_len)
        assert direction.iv == _hkdf_expand_label_from_scratch(name, secret, b"iv", b"", 12)
        assert direction.finished_key == _hkdf_expand_label_from_scratch(
            name, secret, b"finished", b"", suite.hash_len)
        assert traffic_keys(suite, secret) == (direction.key, direction.iv)


def test_label_prefix_tables_hold_every_tls13_suite_and_derive_secret_label() -> None:
    assert set(TRAFFIC_PREFIXES) == {suite.id for suite in TLS13_SUITES}
    for hash_name, prefixes in SECRET_PREFIXES.items():
        assert set(prefixes) == set(DERIVE_SECRET_LABELS), hash_name


@settings(max_examples=200, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]), secret=st.binary(max_size=200),
       label=st.binary(min_size=1, max_size=40), context=st.binary(max_size=255),
       length=st.integers(min_value=1, max_value=300))
def test_expand_label_and_derive_equal_the_rfc_definition(
        hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> None:
    # The kept prefixes (label_prefix), the key's derive and both expand_labels all
    # give RFC 8446 §7.1's HKDF-Expand-Label, outputs longer than one hash included.
    expected = _hkdf_expand_label_from_scratch(hash_name, secret, label, context, length)
    hash_len = hashlib.new(hash_name).digest_size
    key = HmacKey(hash_name, secret)
    assert key.expand_label(label, context, length) == expected
    assert expand_label(hash_name, secret, label, context, length, hash_len) == expected
    assert label_prefix(label, length, len(context)) == hkdf_label_prefix(label, length,
                                                                          len(context))
    if length <= hash_len:
        assert key.derive(label_prefix(label, length, len(context)), context, length) == expected


@settings(max_examples=200, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]),
       messages=st.lists(st.tuples(st.sampled_from([1, 2, 4, 8, 11, 13, 15, 20, 24]),
                                   st.binary(max_size=40)), min_size=1, max_size=8),
       hash_known_after=st.integers(min_value=0, max_value=8))
def test_transcript_hash_before_the_last_message_is_kept_for_the_messages_that_need_it(
        hash_name: str, messages: list[tuple[int, bytes]], hash_known_after: int) -> None:
    # RFC 8446 §4.4.3, §4.4.4 (and §7.1's early secret for the server, after its
    # ServerHello): the hash up to a CertificateVerify, a Finished or a ServerHello is
    # there once it is added; after any other message, asking for it is an error
    # rather than an older hash. The hash may be chosen after some messages.
    transcript = Transcript()
    raws = [bytes([kind, 0, 0, len(body)]) + body for kind, body in messages]
    for index, raw in enumerate(raws):
        if index == hash_known_after:
            transcript.set_hash(hash_name)
        transcript.add(raw)
    transcript.set_hash(hash_name)
    assert transcript.digest() == hashlib.new(hash_name, b"".join(raws)).digest()
    if messages[-1][0] in (2, 15, 20):
        assert transcript.digest_before_last() == hashlib.new(hash_name,
                                                              b"".join(raws[:-1])).digest()
    else:
        with pytest.raises(InternalError):
            transcript.digest_before_last()


@settings(max_examples=50, deadline=None)
@given(psk=st.binary(min_size=0, max_size=80), hash_name=st.sampled_from(["sha256", "sha384"]))
def test_early_secrets_are_rfc8446_s_derivations_from_the_psk(psk: bytes, hash_name: str) -> None:
    # RFC 8446 §7.1 and §4.2.11.2, written out with the generic HKDF functions:
    # Early Secret = HKDF-Extract(0, PSK); binder_key = Derive-Secret(., "res binder",
    # ""); its finished_key = HKDF-Expand-Label(binder_key, "finished", "", Hash.length);
    # and Derive-Secret(., "derived", ""), the Handshake Secret's salt.
    length = hashlib.new(hash_name).digest_size
    empty = hashlib.new(hash_name).digest()
    early = extract(hash_name, bytes(length), psk)
    binder_key = expand_label(hash_name, early, b"res binder", empty, length, length)
    secrets = EarlySecrets(hash_name, psk)
    assert secrets.secret == early
    assert secrets.binder_finished_key == expand_label(hash_name, binder_key, b"finished", b"",
                                                       length, length)
    assert secrets.derived == expand_label(hash_name, early, b"derived", empty, length, length)
    # ...and a schedule from them is the schedule from the PSK.
    suite = next(s for s in TLS13_SUITES if s.hash_name == hash_name)
    from_psk, from_early = KeySchedule(suite, psk=psk), KeySchedule(suite, early=secrets)
    assert from_early.resumption_binder(empty) == from_psk.resumption_binder(empty)
    from_psk.enter_handshake(b"\x07" * 32)
    from_early.enter_handshake(b"\x07" * 32)
    assert from_early.secret == from_psk.secret


@settings(max_examples=200, deadline=None)
@given(hash_name=st.sampled_from(["sha256", "sha384"]),
       messages=st.lists(st.tuples(st.sampled_from([1, 2, 8, 11, 15, 20]), st.binary(max_size=40),
                                   st.booleans()), min_size=1, max_size=8),
       hash_known_after=st.integers(min_value=0, max_value=8))
def test_a_sent_message_keeps_no_hash_before_it_and_the_digest_covers_every_message(
        hash_name: str, messages: list[tuple[int, bytes, bool]], hash_known_after: int) -> None:
    # add_sent, as a server adds its ServerHello and flight: the hash before a message
    # this side sent is never asked for (a server takes the hash through the
    # ClientHello for its early traffic secret before adding its ServerHello), so no
    # copy of the state is kept once the hash is known, whether the hash was started
    # before the message or by it (messages kept until the hash is known are hashed
    # as received ones); the digest is every message's, received and sent, in order.
    transcript = Transcript()
    raws = [bytes([kind, 0, 0, len(body)]) + body for kind, body, _ in messages]
    for index, (raw, (_, _, sent)) in enumerate(zip(raws, messages, strict=True)):
        if index == hash_known_after:
            transcript.set_hash(hash_name)
        if sent:
            transcript.add_sent(raw)
        else:
            transcript.add(raw)
    transcript.set_hash(hash_name)
    assert transcript.digest() == hashlib.new(hash_name, b"".join(raws)).digest()
    sent_with_the_hash_known = messages[-1][2] and hash_known_after < len(messages)
    if sent_with_the_hash_known or messages[-1][0] not in (2, 15, 20):
        with pytest.raises(InternalError):
            transcript.digest_before_last()
    else:
        assert transcript.digest_before_last() == hashlib.new(hash_name,
                                                              b"".join(raws[:-1])).digest()


def _schedule_from_scratch(suite: Suite, psk: bytes | None, shared_secret: bytes,
                           hello_hash: bytes, finished_hash: bytes) -> dict[str, bytes]:
    """RFC 8446 §7.1 and §7.3 with the stdlib's hmac, step by step, nothing kept."""
    name, length = suite.hash_name, suite.hash_len
    empty = hashlib.new(name).digest()

    def extract(salt: bytes, ikm: bytes) -> bytes:
        return hmac.digest(salt, ikm, name)

    def derive(secret: bytes, label: bytes, context: bytes, size: int = length) -> bytes:
        return _hkdf_expand_label_from_scratch(name, secret, label, context, size)

    early = extract(bytes(length), psk if psk is not None else bytes(length))
    handshake = extract(derive(early, b"derived", empty), shared_secret)
    master = extract(derive(handshake, b"derived", empty), bytes(length))
    out = {"early": early, "handshake": handshake, "master": master,
           "res master": derive(master, b"res master", finished_hash)}
    for label, secret in (("c hs", derive(handshake, b"c hs traffic", hello_hash)),
                          ("s hs", derive(handshake, b"s hs traffic", hello_hash)),
                          ("c ap", derive(master, b"c ap traffic", finished_hash)),
                          ("s ap", derive(master, b"s ap traffic", finished_hash))):
        out[label] = secret
        out[label + " key"] = derive(secret, b"key", b"", suite.key_len)
        out[label + " iv"] = derive(secret, b"iv", b"", 12)
        if label.endswith("hs"):
            out[label + " finished"] = derive(secret, b"finished", b"")
    return out


@settings(max_examples=60, deadline=None)
@given(suite=st.sampled_from(TLS13_SUITES), psk=st.none() | st.binary(min_size=32, max_size=48),
       shared_secret=st.binary(min_size=32, max_size=64), hello=st.binary(), finished=st.binary())
def test_the_schedule_with_its_hash_states_equals_the_rfc_definition_each_time(
        suite: Suite, psk: bytes | None, shared_secret: bytes, hello: bytes,
        finished: bytes) -> None:
    # KeySchedule keeps each multi-use secret's two HMAC hash states and copies them
    # per message, updates them in place for a key's last HMAC, and shares the
    # no-PSK salt's states between all schedules: two schedules in a row, every
    # secret and key against the definition (a state updated where it must not be
    # would change the second schedule's, or a later secret of the same one).
    hello_hash = hashlib.new(suite.hash_name, hello).digest()
    finished_hash = hashlib.new(suite.hash_name, finished).digest()
    expected = _schedule_from_scratch(suite, psk, shared_secret, hello_hash, finished_hash)
    for _ in range(2):
        schedule = KeySchedule(suite, psk)
        assert schedule.secret == expected["early"]
        schedule.enter_handshake(shared_secret)
        assert schedule.secret == expected["handshake"]
        keys = schedule.handshake_keys(hello_hash)
        assert schedule.handshake_traffic_secrets(hello_hash) == (keys.client.secret,
                                                                  keys.server.secret)
        schedule.enter_master()
        assert schedule.secret == expected["master"]
        application = schedule.application_keys(finished_hash)
        assert schedule.resumption_master_secret(finished_hash) == expected["res master"]
        # (its HMAC takes the stage's states for itself: anything after makes them again)
        assert schedule.resumption_master_secret(finished_hash) == expected["res master"]
        assert schedule.derive_secret(b"exp master", finished_hash) == (
            _hkdf_expand_label_from_scratch(suite.hash_name, expected["master"], b"exp master",
                                            finished_hash, suite.hash_len))
        for label, traffic in (("c hs", keys.client), ("s hs", keys.server),
                               ("c ap", application.client), ("s ap", application.server)):
            assert traffic.secret == expected[label]
            assert traffic.key == expected[label + " key"]
            assert traffic.iv == expected[label + " iv"]
            assert traffic.finished_key == expected.get(label + " finished", b"")
