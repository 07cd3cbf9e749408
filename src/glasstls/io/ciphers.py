"""OpenSSL cipher strings (``SSLContext.set_ciphers``) for glasstls's TLS 1.2 suites.

Only TLS 1.2 suites are chosen this way, as with OpenSSL: TLS 1.3 suites are not
affected by ``set_ciphers``. The common part of OpenSSL's syntax is understood:

- suite names, OpenSSL's (``ECDHE-RSA-AES128-GCM-SHA256``) or IANA's;
- aliases: ``ECDHE``/``EECDH``/``kECDHE``, ``kRSA``/``RSA``, ``aRSA``, ``aECDSA``/
  ``ECDSA``, ``AESGCM``, ``AES``, ``AES128``, ``AES256``, ``CHACHA20``,
  ``SHA256``, ``SHA384``, ``HIGH``, ``ALL``, ``DEFAULT``; ``A+B`` means both;
- ``!X`` removes for good, ``-X`` removes, ``+X`` moves to the end;
- ``@STRENGTH`` and ``@SECLEVEL=n`` are accepted and ignored.

Aliases for things glasstls does not implement (``DHE``, ``aNULL``, ``3DES``,
``CAMELLIA``, ...) match no suite. ``DEFAULT`` is glasstls's forward-secret
default; ``ALL`` and ``HIGH`` add RSA key transport.

    >>> [s.openssl_name for s in parse_cipher_string("ECDHE+AESGCM:!ECDSA")]
    ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384']
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable

from ..crypto.suites import DEFAULT_TLS12_SUITES, SUITES, TLS12_SUITES, Suite

Predicate = Callable[[Suite], bool]

_ALIASES: dict[str, Predicate] = {
    "ALL": lambda s: True,
    "HIGH": lambda s: True,
    "DEFAULT": lambda s: s.id in DEFAULT_TLS12_SUITES,
    "ECDHE": lambda s: s.key_exchange == "ECDHE",
    "kRSA": lambda s: s.key_exchange == "RSA",
    "aRSA": lambda s: s.authentication == "RSA",
    "aECDSA": lambda s: s.authentication == "ECDSA",
    "AESGCM": lambda s: s.cipher in ("AES-128-GCM", "AES-256-GCM"),
    "AES128": lambda s: s.cipher == "AES-128-GCM",
    "AES256": lambda s: s.cipher == "AES-256-GCM",
    "CHACHA20": lambda s: s.cipher == "CHACHA20-POLY1305",
    "SHA256": lambda s: s.hash_name == "sha256",
    "SHA384": lambda s: s.hash_name == "sha384",
}
_SYNONYMS = {
    "EECDH": "ECDHE", "kECDHE": "ECDHE", "kEECDH": "ECDHE", "ECDH": "ECDHE",
    "RSA": "kRSA", "ECDSA": "aECDSA", "AES": "AESGCM", "AESGCM128": "AES128",
    "AESGCM256": "AES256", "CHACHA20-POLY1305": "CHACHA20",
}
_ORDER = {suite.id: index for index, suite in enumerate(
    [SUITES[s] for s in DEFAULT_TLS12_SUITES]
    + [s for s in TLS12_SUITES if s.id not in DEFAULT_TLS12_SUITES])}


def _member_of(ids: frozenset[int]) -> Predicate:
    return lambda s: s.id in ids


def _matcher(term: str) -> Predicate:
    parts = term.split("+")
    predicates: list[Predicate] = []
    for part in parts:
        name = _SYNONYMS.get(part, part)
        if name in _ALIASES:
            predicates.append(_ALIASES[name])
            continue
        exact = frozenset(s.id for s in TLS12_SUITES if part in (s.openssl_name, s.name))
        if exact:
            predicates.append(_member_of(exact))
        else:
            return lambda s: False  # an alias or suite glasstls does not have
    return lambda s: all(p(s) for p in predicates)


def parse_cipher_string(spec: str) -> list[Suite]:
    """The TLS 1.2 suites an OpenSSL cipher string selects, in order. Raises
    ``ssl.SSLError`` when it selects none (as ``ssl`` does)."""
    chosen: list[Suite] = []
    banned: set[int] = set()
    ordered = sorted(TLS12_SUITES, key=lambda s: _ORDER[s.id])
    for token in re.split(r"[:, ]+", spec.strip()):
        if not token or token.startswith("@"):
            continue
        operator, term = (token[0], token[1:]) if token[0] in "!-+" else ("", token)
        matches = [s for s in ordered if _matcher(term)(s)]
        if operator == "!":
            banned.update(s.id for s in matches)
            chosen = [s for s in chosen if s.id not in banned]
        elif operator == "-":
            chosen = [s for s in chosen if s not in matches]
        elif operator == "+":
            moved = [s for s in chosen if s in matches]
            chosen = [s for s in chosen if s not in matches] + moved
        else:
            chosen += [s for s in matches if s not in chosen and s.id not in banned]
    if not chosen:
        raise ssl.SSLError(ssl.SSL_ERROR_SSL, "No cipher can be selected.")
    return chosen


def cipher_description(suite: Suite) -> dict[str, object]:
    """A suite as an entry of ``SSLContext.get_ciphers()``."""
    tls13 = suite.is_tls13
    symmetric = suite.cipher.lower()
    return {
        "id": 0x03000000 | suite.id,
        "name": suite.openssl_name,
        "protocol": "TLSv1.3" if tls13 else "TLSv1.2",
        "description": (f"{suite.openssl_name} {'TLSv1.3' if tls13 else 'TLSv1.2'} "
                        f"Kx={suite.key_exchange or 'any'} Au={suite.authentication or 'any'} "
                        f"Enc={suite.cipher} Mac=AEAD"),
        "strength_bits": suite.key_len * 8,
        "alg_bits": suite.key_len * 8,
        "aead": True,
        "symmetric": symmetric,
        "digest": None,
        "kea": f"kx-{(suite.key_exchange or 'any').lower()}",
        "auth": f"auth-{(suite.authentication or 'any').lower()}",
    }


__all__ = ["cipher_description", "parse_cipher_string"]
