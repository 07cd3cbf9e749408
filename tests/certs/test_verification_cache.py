"""The trust store's remembered verifications (trust/cache.py): a chain received again
is answered without validating it again only for exactly the same question (chain,
name, purpose, options, trust store) and only while no certificate or CRL date that
could change the verdict has passed; refusals are never remembered."""

from __future__ import annotations

import dataclasses
import ssl
import threading
from collections.abc import Iterator, Sequence

import pytest
from cryptography import x509
from hypothesis import given, settings, strategies as st

import glasstls
from glasstls import TrustStore
from glasstls.certs import der, parse_chain
from glasstls.errors import AlertDescription, BadCertificate
from glasstls.trust import (
    CertificateReason,
    CertificateRejected,
    CrlCheck,
    Purpose,
    VerifyOptions,
    cache,
    verify_chain,
)
from glasstls.trust.cache import VerifiedChains, verify_remembered
from helpers.pump import client_config, connect, fails_with, server_config
from pki import pki

from .scenarios import DAY, NOW, SERVER_AUTH, Issued, crl, issue, new_key, pem

R = CertificateReason
DEFAULT = VerifyOptions()
T0 = NOW.timestamp()


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The names of the chains actually validated (not answered from a cache)."""
    calls: list[str | None] = []

    def counting(*args: object, **kwargs: object) -> list[x509.Certificate]:
        calls.append(kwargs["server_name"] if kwargs["check_name"] else None)  # type: ignore[arg-type]
        return verify_chain(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cache, "verify_chain", counting)
    yield calls


def _verify(trust: TrustStore, chain: Sequence[x509.Certificate], name: str | None = "localhost",
            at: float = T0, options: VerifyOptions = DEFAULT, *,
            remember: bool = True) -> list[bytes]:
    received = [der(c) for c in chain]
    path = verify_remembered(trust, chain, received, purpose=Purpose.SERVER, server_name=name,
                             check_name=name is not None, options=options, now=at,
                             remember=remember)
    return [der(c) for c in path]


def _refusal(trust: TrustStore, chain: Sequence[x509.Certificate], name: str | None = "localhost",
             at: float = T0, options: VerifyOptions = DEFAULT) -> CertificateRejected:
    with pytest.raises(CertificateRejected) as caught:
        _verify(trust, chain, name, at, options)
    return caught.value


ROOT = issue("cache root", None, ca=True, not_before=NOW - 10 * DAY, not_after=NOW + 400 * DAY)
LEAF = issue("localhost", ROOT, dns=["localhost"], ips=["127.0.0.1"], eku=SERVER_AUTH,
             not_after=NOW + 30 * DAY)
OTHER_LEAF = issue("localhost", ROOT, dns=["localhost"], eku=SERVER_AUTH)
STRANGER_ROOT = issue("stranger root", None, ca=True)
STRANGER = issue("localhost", STRANGER_ROOT, dns=["localhost"], eku=SERVER_AUTH)


def test_the_same_chain_and_name_is_validated_once(verifications: list[str | None]) -> None:
    trust = TrustStore([ROOT.certificate])
    first = _verify(trust, [LEAF.certificate])
    assert _verify(trust, [LEAF.certificate], at=T0 + 3600) == first
    assert first == [der(LEAF.certificate), der(ROOT.certificate)]
    assert verifications == ["localhost"]
    assert len(trust.verified_chains) == 1


def test_a_remembered_answer_gives_this_handshakes_own_certificates() -> None:
    # What verify_chain gives: the received certificate objects, then the store's anchor.
    trust = TrustStore([ROOT.certificate])
    _verify(trust, [LEAF.certificate])
    again = x509.load_der_x509_certificate(der(LEAF.certificate))
    path = verify_remembered(trust, [again], [der(again)], purpose=Purpose.SERVER,
                             server_name="localhost", check_name=True, options=VerifyOptions(),
                             now=T0)
    assert path[0] is again and path[1] is trust.certificates[0]


def test_another_name_is_validated_and_refused(verifications: list[str | None]) -> None:
    trust = TrustStore([ROOT.certificate])
    _verify(trust, [LEAF.certificate])
    refused = _refusal(trust, [LEAF.certificate], "other.test")
    assert refused.reason is R.NAME_MISMATCH and "other.test" in str(refused)
    assert _verify(trust, [LEAF.certificate], "127.0.0.1")
    assert _verify(trust, [LEAF.certificate], None)  # no name checked: its own question
    assert verifications == ["localhost", "other.test", "127.0.0.1", None]


def test_another_chain_is_validated_and_refused(verifications: list[str | None]) -> None:
    trust = TrustStore([ROOT.certificate])
    _verify(trust, [LEAF.certificate])
    assert _refusal(trust, [STRANGER.certificate]).reason is R.ISSUER_NOT_FOUND
    _verify(trust, [OTHER_LEAF.certificate])
    assert len(verifications) == 3


def test_other_options_are_another_question(verifications: list[str | None]) -> None:
    trust = TrustStore([ROOT.certificate], [crl(ROOT, [LEAF])])
    _verify(trust, [LEAF.certificate])
    refused = _refusal(trust, [LEAF.certificate], options=VerifyOptions(crl_check=CrlCheck.LEAF))
    assert refused.reason is R.REVOKED
    assert len(verifications) == 2


def test_a_refusal_is_never_remembered(verifications: list[str | None]) -> None:
    trust = TrustStore([ROOT.certificate])
    messages = {str(_refusal(trust, [STRANGER.certificate])) for _ in range(3)}
    assert len(messages) == 1 and len(verifications) == 3
    assert len(trust.verified_chains) == 0


def test_past_the_leafs_not_after_the_chain_is_validated_again(
        verifications: list[str | None]) -> None:
    trust = TrustStore([ROOT.certificate])
    not_after = LEAF.certificate.not_valid_after_utc.timestamp()
    _verify(trust, [LEAF.certificate])
    _verify(trust, [LEAF.certificate], at=not_after - 1)
    assert len(verifications) == 1
    refused = _refusal(trust, [LEAF.certificate], at=not_after + 1)
    assert refused.reason is R.EXPIRED
    assert len(verifications) == 2
    # Before its notBefore, too.
    assert _refusal(trust, [LEAF.certificate], at=T0 - 20 * 86400).reason is R.NOT_YET_VALID


def test_the_crls_next_update_ends_the_answer(verifications: list[str | None]) -> None:
    options = VerifyOptions(crl_check=CrlCheck.LEAF)
    trust = TrustStore([ROOT.certificate], [crl(ROOT, next_update=NOW + 7 * DAY)])
    _verify(trust, [LEAF.certificate], options=options)
    _verify(trust, [LEAF.certificate], at=T0 + 6 * 86400, options=options)
    assert len(verifications) == 1
    assert _refusal(trust, [LEAF.certificate], at=T0 + 8 * 86400,
                    options=options).reason is R.CRL_EXPIRED


def test_a_crl_issued_later_in_the_same_store_ends_the_answer(
        verifications: list[str | None]) -> None:
    # Two CRLs from the root: the newer one, current from tomorrow, revokes the leaf.
    options = VerifyOptions(crl_check=CrlCheck.LEAF)
    trust = TrustStore([ROOT.certificate], [crl(ROOT), crl(ROOT, [LEAF], last=NOW + DAY)])
    _verify(trust, [LEAF.certificate], options=options)
    assert _refusal(trust, [LEAF.certificate], at=T0 + 2 * 86400,
                    options=options).reason is R.REVOKED


def test_a_trust_store_cannot_change() -> None:
    trust = TrustStore([ROOT.certificate])
    with pytest.raises(AttributeError):
        trust.certificates = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        trust.crls = (crl(ROOT, [LEAF]),)  # type: ignore[misc]


def _fresh(context: glasstls.SSLContext) -> glasstls.ClientConfig:
    """The context's client config, without resuming (every handshake a full one)."""
    return dataclasses.replace(context.client_config(), session_cache=None)


def test_a_crl_loaded_into_the_ssl_context_later_revokes_the_leaf(
        verifications: list[str | None]) -> None:
    ca, leaf = (Issued(i.certificate, i.key) for i in (pki().ca, pki().leaf))
    context = glasstls.SSLContext()
    context.verify_flags = ssl.VERIFY_CRL_CHECK_LEAF
    context.load_verify_locations(cadata=pem(ca).decode())
    context.load_verify_locations(cadata=pem(crl(ca)).decode())
    server = server_config(pki())
    for _ in range(2):
        assert connect(_fresh(context), server).complete
    assert len(verifications) == 1
    # A newer CRL from the same CA, which revokes the leaf.
    context.load_verify_locations(cadata=pem(crl(ca, [leaf], last=NOW - DAY / 2)).decode())
    pair = connect(_fresh(context), server)
    fails_with(pair.client, AlertDescription.certificate_revoked)
    assert len(verifications) == 2


def test_a_trust_anchor_loaded_later_is_a_new_store(verifications: list[str | None]) -> None:
    context = glasstls.SSLContext()
    context.load_verify_locations(cadata=pem(pki().ca.certificate).decode())
    server = server_config(pki())
    assert connect(_fresh(context), server).complete
    context.load_verify_locations(cadata=pem(ROOT.certificate).decode())
    assert connect(_fresh(context), server).complete
    assert len(verifications) == 2


def test_handshakes_remember_the_servers_chain(verifications: list[str | None]) -> None:
    client, server = client_config(pki(), session_cache=None), server_config(pki())
    first, second = connect(client, server), connect(client, server)
    assert first.complete and second.complete
    assert len(verifications) == 1
    assert (first.client.negotiated.verified_chain
            == second.client.negotiated.verified_chain
            == (der(pki().leaf.certificate), der(pki().ca.certificate)))
    # The name is part of the question: a client that asks for another is refused.
    fails_with(connect(client, server, server_name="other.test").client,
               AlertDescription.bad_certificate, "other.test")


def test_the_server_remembers_client_chains(verifications: list[str | None]) -> None:
    client = client_config(pki(), certificate=pki().client_certified, verification_cache=False,
                           session_cache=None)
    server = server_config(pki(), client_auth="required", client_trust=pki().trust)
    for _ in range(3):
        assert connect(client, server).server.negotiated.verified_chain
    # The client (which does not remember) validated the server's chain each time.
    assert verifications.count("localhost") == 3 and verifications.count(None) == 1


def test_the_cache_can_be_turned_off(verifications: list[str | None]) -> None:
    client = client_config(pki(), verification_cache=False, session_cache=None)
    for _ in range(3):
        assert connect(client, server_config(pki())).complete
    assert len(verifications) == 3
    assert len(client.trust_store().verified_chains) == 0


def test_the_cache_is_bounded() -> None:
    trust = TrustStore([ROOT.certificate])
    trust.verified_chains = VerifiedChains(trust.certificates, trust.crls, size=2)
    for name in ("localhost", "127.0.0.1", None, "localhost"):
        _verify(trust, [LEAF.certificate], name)
    assert len(trust.verified_chains) == 2


def test_many_threads_verifying_the_same_chain() -> None:
    trust = TrustStore([ROOT.certificate])
    expected = [der(LEAF.certificate), der(ROOT.certificate)]
    results: list[list[bytes]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def run(index: int) -> None:
        start.wait()
        try:
            for i in range(40):
                results.append(_verify(trust, [LEAF.certificate], at=T0 + i))
                if (i + index) % 5 == 0:  # a refusal in between, never remembered
                    _refusal(trust, [LEAF.certificate], "other.test")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [expected] * 320
    assert len(trust.verified_chains) == 1


def test_identical_certificates_are_parsed_once() -> None:
    received = der(OTHER_LEAF.certificate)
    first = parse_chain([received])[0]
    assert parse_chain([bytes(bytearray(received))])[0] is first
    # A certificate that does not parse is refused every time, and never kept.
    broken = received[:-10]
    for _ in range(2):
        with pytest.raises(BadCertificate, match="does not parse"):
            parse_chain([broken])
    # Bounded: the oldest go first.
    many = [der(issue(f"leaf {i}", ROOT).certificate) for i in range(140)]
    parsed = parse_chain(many)
    assert parse_chain(many[-1:])[0] is parsed[-1]
    assert parse_chain(many[:1])[0] is not parsed[0]
    assert parse_chain(many[:1])[0] == parsed[0]


# -- dates outside the path found -------------------------------------------------------

# Two intermediates with the same name and key, one valid only from day 2: cryptography
# takes the first candidate that is valid, so from day 2 the path goes through it. The
# root renewed (same name and key) is valid from day 5, and from then on the path ends
# at it. So an answer must also end at the dates of certificates it did not use: those
# received and those in the store.
INTER_KEY = new_key()
INTER_SOON = issue("cache inter", ROOT, key=INTER_KEY, ca=True, not_before=NOW + 2 * DAY)
INTER_LONG = issue("cache inter", ROOT, key=INTER_KEY, ca=True, not_after=NOW + 60 * DAY)
INTER_LEAF = issue("localhost", INTER_LONG, dns=["localhost"], eku=SERVER_AUTH,
                   not_before=NOW - 2 * DAY, not_after=NOW + 20 * DAY)
ROOT_RENEWED = issue("cache root", None, key=ROOT.key, ca=True, not_before=NOW + 5 * DAY,
                     not_after=NOW + 800 * DAY)


def test_a_received_certificate_valid_later_ends_the_answer() -> None:
    trust = TrustStore([ROOT.certificate])
    chain = [INTER_LEAF.certificate, INTER_SOON.certificate, INTER_LONG.certificate]
    assert _verify(trust, chain)[1] == der(INTER_LONG.certificate)
    assert _verify(trust, chain, at=T0 + 3 * 86400)[1] == der(INTER_SOON.certificate)


def test_a_store_certificate_valid_later_ends_the_answer() -> None:
    trust = TrustStore([ROOT_RENEWED.certificate, ROOT.certificate])
    chain = [INTER_LEAF.certificate, INTER_LONG.certificate]
    assert _verify(trust, chain)[2] == der(ROOT.certificate)
    assert _verify(trust, chain, at=T0 + 6 * 86400)[2] == der(ROOT_RENEWED.certificate)


# -- the property: remembered answers are the verifier's answers -------------------------

LATE_LEAF = issue("localhost", ROOT, dns=["localhost"], eku=SERVER_AUTH,
                  not_before=NOW + 2 * DAY)
REVOKED_LEAF = issue("localhost", ROOT, dns=["localhost"], eku=SERVER_AUTH)
CHAINS: list[list[Issued]] = [
    [LEAF], [OTHER_LEAF], [STRANGER], [INTER_LEAF, INTER_SOON, INTER_LONG],
    [INTER_LEAF, INTER_LONG], [LATE_LEAF], [REVOKED_LEAF], [LEAF, ROOT],
]
NAMES = ["localhost", "127.0.0.1", "other.test", None]
OPTIONS = [VerifyOptions(), VerifyOptions(crl_check=CrlCheck.LEAF),
           VerifyOptions(partial_chain=False)]
CRLS = [crl(ROOT, [REVOKED_LEAF], next_update=NOW + 5 * DAY),
        crl(ROOT, [REVOKED_LEAF, LEAF], last=NOW + 4 * DAY, next_update=NOW + 9 * DAY)]
STORE = [ROOT_RENEWED.certificate, ROOT.certificate]


def _dates() -> list[float]:
    found = [moment.timestamp() for item in [*CHAINS, [ROOT_RENEWED]] for issued in item
             for moment in (issued.certificate.not_valid_before_utc,
                            issued.certificate.not_valid_after_utc)]
    found += [moment.timestamp() for item in CRLS
              for moment in (item.last_update_utc, item.next_update_utc) if moment]
    return found


# Every date, half a second and a second either side (a verifier may compare whole
# seconds), and times in between.
TIMES = sorted({d + offset for d in _dates() for offset in (-1, -0.5, 0, 0.5, 1)}
               | {T0 + n * 43200.0 for n in range(-4, 30)})
QUESTION = st.tuples(st.sampled_from(range(len(CHAINS))), st.sampled_from(NAMES),
                     st.sampled_from(range(len(OPTIONS))))


def _answer(trust: TrustStore, question: tuple[int, str | None, int], at: float,
            remember: bool) -> tuple[str, object]:
    chain, name, options = question
    try:
        return "ok", _verify(trust, [c.certificate for c in CHAINS[chain]], name, at,
                             OPTIONS[options], remember=remember)
    except CertificateRejected as refused:
        return "refused", (refused.reason, str(refused))


@settings(max_examples=200, deadline=None)
@given(st.lists(QUESTION, min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 2), st.sampled_from(TIMES)), min_size=1, max_size=30))
def test_remembered_answers_are_the_verifiers(
        questions: list[tuple[int, str | None, int]], asked: list[tuple[int, float]]) -> None:
    """A few questions asked at random times, through one store that remembers and
    one that does not: the same verdicts, paths, reasons and messages."""
    remembering, fresh = TrustStore(STORE, CRLS), TrustStore(STORE, CRLS)
    for which, at in asked:
        question = questions[which % len(questions)]
        assert (_answer(remembering, question, at, remember=True)
                == _answer(fresh, question, at, remember=False))
    assert len(fresh.verified_chains) == 0
