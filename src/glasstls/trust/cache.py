"""Chains already verified against a trust store, so that a client which connects to
the same server again and again (a pool of HTTP connections, a health check) does not
build and check the same path every time (with an ECDSA chain, about an eighth of the
instructions of a full handshake, client and server together).

A remembered answer is given only to exactly the same question:

- the key is the chain as received (the DER of every certificate, in order), the
  purpose, whether a name is checked and which (as given, before any normalising),
  and the ``VerifyOptions`` (every option that can change the verdict);
- each ``TrustStore`` has its own cache, and a store never changes: loading another
  CA or CRL (``SSLContext.load_verify_locations`` too) makes a new store, so no
  answer outlives the anchors and CRLs it was given against;
- an answer holds only while the time compares with every date the verdict can
  depend on exactly as the time of the original verification did: the validity of
  each received certificate and of each certificate in the store (path building may
  choose among them), and the dates of the store's CRLs when CRLs are checked;
- only successes are remembered: a refusal is worked out again each time, with its
  reason and facts.

What each handshake proves with its own keys (CertificateVerify, ServerKeyExchange,
the client's signature) is checked every time: only the chain to a trust anchor and
the name are remembered.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from cryptography import x509

from .policy import CrlCheck, Purpose, VerifyOptions
from .verify import verify_chain

if TYPE_CHECKING:
    from ..certs import TrustStore

# How many verified chains a trust store remembers; the least recently used goes first.
DEFAULT_SIZE = 256


class Question(NamedTuple):
    """What a verification's verdict depends on besides the trust store and the time."""

    chain: tuple[bytes, ...]  # as received
    purpose: Purpose
    check_name: bool
    name: str | None  # None when no name is checked
    options: VerifyOptions

    @classmethod
    def of(cls, received: Sequence[bytes], purpose: Purpose, server_name: str | None,
           check_name: bool, options: VerifyOptions) -> Question:
        return cls(tuple(received), purpose, check_name, server_name if check_name else None,
                   options)


class _Answer(NamedTuple):
    start: float  # the answer holds for start <= now < end
    end: float
    # The verified path, leaf first: a position in the received chain (the answer
    # gives that handshake's own certificate object there), or a store certificate.
    path: tuple[int | x509.Certificate, ...]


def _moments(dated: x509.Certificate | x509.CertificateRevocationList
             ) -> tuple[_dt.datetime, _dt.datetime | None]:
    if isinstance(dated, x509.Certificate):
        return dated.not_valid_before_utc, dated.not_valid_after_utc
    return dated.last_update_utc, dated.next_update_utc


def _sorted_dates(dated: Iterable[x509.Certificate | x509.CertificateRevocationList]
                  ) -> list[float]:
    return sorted(moment.timestamp() for item in dated for moment in _moments(item)
                  if moment is not None)


class VerifiedChains:
    """The successful verifications against one trust store (its certificates and
    CRLs given here); safe to share between threads."""

    def __init__(self, certificates: Sequence[x509.Certificate],
                 crls: Sequence[x509.CertificateRevocationList],
                 size: int = DEFAULT_SIZE) -> None:
        self._certificates = certificates
        self._crls = crls
        self._size = size
        self._answers: OrderedDict[Question, _Answer] = OrderedDict()
        self._lock = threading.Lock()
        # The store's dates, sorted, made on the first answer to remember (the
        # system store has a few hundred).
        self._store_dates: list[float] | None = None
        self._crl_dates: list[float] | None = None

    def __len__(self) -> int:
        return len(self._answers)

    def lookup(self, question: Question, chain: Sequence[x509.Certificate], now: float
               ) -> list[x509.Certificate] | None:
        """The remembered path for ``question`` at ``now`` (with ``chain``'s own
        certificate objects, as verifying ``chain`` gives), or None."""
        with self._lock:
            answer = self._answers.get(question)
            if answer is None:
                return None
            if not answer.start <= now < answer.end:
                del self._answers[question]  # verified again, and remembered again if still good
                return None
            self._answers.move_to_end(question)
        return [chain[p] if isinstance(p, int) else p for p in answer.path]

    def remember(self, question: Question, chain: Sequence[x509.Certificate],
                 path: Sequence[x509.Certificate], now: float) -> None:
        """Keep a successful verification of ``chain`` at ``now``."""
        dates = [_sorted_dates(chain), self._dates(crls=False)]
        if question.options.crl_check is not CrlCheck.NONE:
            dates.append(self._dates(crls=True))
        start, end = _window(dates, now)
        if not start <= now < end:
            return  # verified at the very second a date turns: not worth keeping
        positions = {id(certificate): i for i, certificate in enumerate(chain)}
        answer = _Answer(start, end, tuple(positions.get(id(c), c) for c in path))
        with self._lock:
            self._answers[question] = answer
            self._answers.move_to_end(question)
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)

    def _dates(self, crls: bool) -> list[float]:
        # Made once; two threads making it at the same time make the same list.
        if crls:
            if self._crl_dates is None:
                self._crl_dates = _sorted_dates(self._crls)
            return self._crl_dates
        if self._store_dates is None:
            self._store_dates = _sorted_dates(self._certificates)
        return self._store_dates


def _window(dates: Iterable[list[float]], now: float) -> tuple[float, float]:
    """The times that compare with every date in ``dates`` (sorted lists) as ``now``
    does, whether a verifier compares exact times or whole seconds: from the whole
    second after the last date at or before ``now``, up to the whole second of the
    first date after it."""
    before, after = -math.inf, math.inf
    for sorted_dates in dates:
        i = bisect_right(sorted_dates, now)
        if i:
            before = max(before, sorted_dates[i - 1])
        if i < len(sorted_dates):
            after = min(after, sorted_dates[i])
    start = math.floor(before) + 1 if before > -math.inf else -math.inf
    end = math.floor(after) if after < math.inf else math.inf
    return start, end


def verify_remembered(trust: TrustStore, chain: Sequence[x509.Certificate],
                      received: Sequence[bytes], *, purpose: Purpose, server_name: str | None,
                      check_name: bool, options: VerifyOptions, now: float,
                      remember: bool = True) -> list[x509.Certificate]:
    """``verify_chain`` of ``chain`` (parsed from ``received``), answered from the
    store's remembered verifications when it answered the same question before
    (and only verified, neither looked up nor remembered, with ``remember`` off)."""
    question = Question.of(received, purpose, server_name, check_name, options)
    remembered = trust.verified_chains
    path = remembered.lookup(question, chain, now) if remember else None
    if path is None:
        path = verify_chain(trust, chain, purpose=purpose, server_name=server_name,
                            check_name=check_name, options=options, now=now)
        if remember:
            remembered.remember(question, chain, path, now)
    return path


__all__ = ["DEFAULT_SIZE", "Question", "VerifiedChains", "verify_remembered"]
