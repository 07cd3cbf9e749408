"""The TLS 1.3 key schedule (RFC 8446 §7.1) and traffic keys (§7.3).

Early Secret -> Handshake Secret -> Master Secret, each stage entered with one
call; the secrets of each stage are derived from a transcript hash the caller
supplies. ``handshake_keys`` and ``application_keys`` give a stage's traffic secrets
and keys for both directions at once, as one frozen value (``StageKeys``): the
states install keys from it, and the trace shows the very values it holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .crypto.hkdf import (
    HASHES,
    IPAD,
    OPAD,
    HmacKey,
    expand_label,
    extract,
    hkdf_label_prefix,
    hmac_digest,
    hmac_once,
    hmac_pads,
    hmac_pair,
    hmac_pair_last,
    label_prefix,
)
from .crypto.suites import TLS13_SUITES, Suite
from .immutable import frozen

if TYPE_CHECKING:
    from _hashlib import HASH

_EMPTY_HASHES = {name: hashlib.new(name, b"").digest() for name in ("sha256", "sha384")}

# RFC 8446 §7.1: Derive-Secret's labels. Its context is always a transcript hash,
# so each label's HkdfLabel prefix is a constant of the hash: worked out here once.
DERIVE_SECRET_LABELS = (b"ext binder", b"res binder", b"c e traffic", b"e exp master",
                        b"derived", b"c hs traffic", b"s hs traffic", b"c ap traffic",
                        b"s ap traffic", b"exp master", b"res master")
SECRET_PREFIXES = {
    name: {label: hkdf_label_prefix(label, len(empty), len(empty))
           for label in DERIVE_SECRET_LABELS}
    for name, empty in _EMPTY_HASHES.items()
}
# §7.3 and §4.4.4: the write key, the IV and the finished_key of a traffic secret
# (empty contexts), per suite id.
TRAFFIC_PREFIXES = {
    suite.id: (hkdf_label_prefix(b"key", suite.key_len, 0), hkdf_label_prefix(b"iv", 12, 0),
               hkdf_label_prefix(b"finished", suite.hash_len, 0))
    for suite in TLS13_SUITES
}
# The same three derivations' whole HMAC input, T(1)'s HkdfLabel and counter byte
# (their contexts are empty): what ``_traffic`` MACs, four times a handshake.
TRAFFIC_INPUTS = {suite_id: tuple(prefix + b"\x01" for prefix in prefixes)
                  for suite_id, prefixes in TRAFFIC_PREFIXES.items()}


_TrafficRow = tuple[Callable[[bytes], "HASH"], int, int, bytes, bytes, bytes]


def _traffic_row(suite: Suite) -> _TrafficRow:
    new, block = HASHES[suite.hash_name]
    key_input, iv_input, finished_input = TRAFFIC_INPUTS[suite.id]
    return new, block, suite.key_len, key_input, iv_input, finished_input


# ...with the suite's hash, its block size and key length, in one row for
# ``_traffic``, looked up once per stage for its two traffic secrets.
_TRAFFIC = {suite.id: _traffic_row(suite) for suite in TLS13_SUITES}


def _without_psk(hash_name: str) -> tuple[bytes, bytes]:
    """The Early Secret without a PSK, HKDF-Extract(0, 0), and Derive-Secret(it,
    "derived", ""): constants of the hash, the same in every full handshake."""
    zeros = bytes(hashlib.new(hash_name).digest_size)
    early = extract(hash_name, zeros, zeros)
    return early, HmacKey(hash_name, early).expand_label(b"derived", _EMPTY_HASHES[hash_name],
                                                         len(zeros))


_WITHOUT_PSK = {name: _without_psk(name) for name in _EMPTY_HASHES}
# Derive-Secret(., "derived", "")'s HMAC input, and a hash's length of zeros (the
# Master Secret's input key material).
_DERIVED_INPUTS = {name: SECRET_PREFIXES[name][b"derived"] + empty + b"\x01"
                   for name, empty in _EMPTY_HASHES.items()}
_ZEROS = {name: bytes(len(empty)) for name, empty in _EMPTY_HASHES.items()}


def _hmac_states(hash_name: str, key: bytes) -> tuple[HASH, HASH]:
    """A key's two HMAC hash states, after K ^ ipad and after K ^ opad (RFC 2104),
    to be copied for each message (``_hmac``); never updated themselves."""
    new, ipad, opad = hmac_pads(hash_name, key)
    return new(ipad), new(opad)


_WITHOUT_PSK_SECRET = {name: early for name, (early, _) in _WITHOUT_PSK.items()}
# ...and that salt's states, with which HKDF-Extract gives the Handshake Secret.
_WITHOUT_PSK_SALT = {name: _hmac_states(name, derived)
                     for name, (_, derived) in _WITHOUT_PSK.items()}
# HKDF-Extract(0, PSK) is an HMAC keyed with zeros: one key per hash.
_ZERO_SALT = {name: HmacKey(name, bytes(len(empty))) for name, empty in _EMPTY_HASHES.items()}
# A resumption PSK's Early Secret gives binder_key = Derive-Secret(., "res binder", "")
# and Derive-Secret(., "derived", ""): both contexts are the empty hash, so both whole
# HMAC inputs are constants of the hash; and the binder key's finished_key (§4.4.4)
# is HMAC(binder_key, HkdfLabel("finished", Hash.length, "") || 0x01).
_EARLY_INPUTS = {name: (SECRET_PREFIXES[name][b"res binder"] + empty + b"\x01",
                        _DERIVED_INPUTS[name])
                 for name, empty in _EMPTY_HASHES.items()}
_FINISHED_INPUTS = {name: hkdf_label_prefix(b"finished", len(empty), 0) + b"\x01"
                    for name, empty in _EMPTY_HASHES.items()}


class EarlySecrets:
    """What a resumption PSK alone gives (RFC 8446 §7.1): the Early Secret, the
    binder's finished_key (§4.2.11.2: from binder_key = Derive-Secret(Early Secret,
    "res binder", "")) and Derive-Secret(Early Secret, "derived", ""), the salt of the
    Handshake Secret. They are the same for every ClientHello that offers the PSK: a
    client keeps them with its session (``ClientSession.early_secrets``), so a session
    resumed again (as ssl's clients resume one ``session`` on many connections)
    derives only the binder's MAC and the stages after the ServerHello."""

    __slots__ = ("binder_finished_key", "derived", "hash_name", "psk", "secret")

    def __init__(self, hash_name: str, psk: bytes) -> None:
        self.hash_name = hash_name
        self.psk = psk
        # Early Secret = HKDF-Extract(0, PSK)
        self.secret = secret = _ZERO_SALT[hash_name].digest(psk)
        binder_input, derived_input = _EARLY_INPUTS[hash_name]
        # The Early Secret keys these two HMACs and no more here (a schedule that
        # derives a 0-RTT secret from it makes its states again): its states are
        # made for them and used up by the second.
        new, block = HASHES[hash_name]
        padded = secret.ljust(block, b"\x00")
        binder_key, self.derived = hmac_pair_last(
            new(padded.translate(IPAD)), new(padded.translate(OPAD)), binder_input, derived_input)
        self.binder_finished_key = hmac_once(new, block, binder_key, _FINISHED_INPUTS[hash_name])

    def made_from(self, hash_name: str, psk: bytes) -> bool:
        return psk is self.psk and hash_name == self.hash_name


class KeySchedule:
    """The schedule of one connection, one stage at a time (RFC 8446 §7.1).

    HMAC (RFC 2104) is H(K ^ opad || H(K ^ ipad || text)). A stage secret and a
    traffic secret each key two or three HMACs in a row: their two hash states,
    after K ^ ipad and K ^ opad, are made once (the secret is one hash long,
    shorter than a block) and copied for each message; the HMACs of the full
    handshake's fixed list (a stage's two traffic secrets, a traffic secret's key,
    IV and finished_key) are written out where they are made, their inputs'
    HkdfLabel prefixes constants of the hash (``SECRET_PREFIXES``, ``TRAFFIC_INPUTS``).
    A key used once is cheaper without the states (``hmac_digest``)."""

    __slots__ = ("_block", "_early", "_empty_hash", "_hash", "_len", "_new", "_prefixes",
                 "_salt", "_states", "secret", "suite")
    # The stage secret's two hash states, after K ^ ipad and K ^ opad: made as the
    # handshake and master stages are entered, otherwise when needed.
    _states: tuple[HASH, HASH] | None
    # HKDF-Extract's salt for the next stage, Derive-Secret(., "derived", ""), as
    # such states when known in advance (the no-PSK constant).
    _salt: tuple[HASH, HASH] | None
    # At the early secret of a resumption PSK whose secrets were worked out before.
    _early: EarlySecrets | None

    def __init__(self, suite: Suite, psk: bytes | None = None,
                 early: EarlySecrets | None = None) -> None:
        """The schedule at its Early Secret: of ``psk``, of the PSK whose ``early``
        secrets are given, or without a PSK."""
        self.suite = suite
        hash_name = self._hash = suite.hash_name
        self._new, self._block = HASHES[hash_name]
        self._len = suite.hash_len
        self._empty_hash = _EMPTY_HASHES[hash_name]
        self._prefixes = SECRET_PREFIXES[hash_name]
        self._early = early
        self._states = None  # made if an early secret is derived
        self._salt = None
        # Early Secret = HKDF-Extract(0, PSK or 0)
        if early is not None:
            self.secret = early.secret
        elif psk is None:
            self.secret, self._salt = _WITHOUT_PSK_SECRET[hash_name], _WITHOUT_PSK_SALT[hash_name]
        else:
            self.secret = _ZERO_SALT[hash_name].digest(psk)

    def _stage_states(self) -> tuple[HASH, HASH]:
        """The stage secret's hash states: made as a stage is entered, and when
        needed for the early secret or for a stage again after its last HMAC took
        them (its callers take ``self._states`` when it is set)."""
        padded = self.secret.ljust(self._block, b"\x00")
        states = self._states = self._new(padded.translate(IPAD)), self._new(padded.translate(OPAD))
        return states

    def derive_secret(self, label: bytes, transcript_hash: bytes) -> bytes:
        """Derive-Secret(stage secret, label, messages), given the messages' hash;
        ``label`` one of ``DERIVE_SECRET_LABELS``: T(1) = HMAC(secret, HkdfLabel ||
        0x01), one hash long."""
        return _hmac(self._states or self._stage_states(),
                     self._prefixes[label] + transcript_hash + b"\x01")

    def _next_stage(self, input_key_material: bytes) -> None:
        """HKDF-Extract(salt, IKM) into the next stage, the salt Derive-Secret(.,
        "derived", "")."""
        salt = self._salt
        if salt is not None:
            secret = _hmac(salt, input_key_material)
        else:
            if self._early is not None:
                derived = self._early.derived
            else:
                # Derive-Secret(., "derived", ""), its whole HMAC input a constant: the
                # stage's last HMAC, which has its states to itself (no copies).
                inner, outer = self._states or self._stage_states()
                inner.update(_DERIVED_INPUTS[self._hash])
                outer.update(inner.digest())
                derived = outer.digest()
            # A salt used once, one hash long.
            secret = hmac_once(self._new, self._block, derived, input_key_material)
        self.secret = secret
        self._salt = self._early = None
        # Each stage entered derives its two traffic secrets at least: its states at once.
        self._stage_states()

    # -- early secret ------------------------------------------------------------

    def binder_key(self, external: bool) -> bytes:
        return self.derive_secret(b"ext binder" if external else b"res binder", self._empty_hash)

    def resumption_binder(self, transcript_hash: bytes) -> bytes:
        """RFC 8446 §4.2.11.2: a resumption PSK's binder, the HMAC with binder_key's
        finished_key over the transcript through the truncated ClientHello."""
        early = self._early
        if early is not None:
            return hmac_digest(self._hash, early.binder_finished_key, transcript_hash)
        return finished_verify_data(self.suite, self.binder_key(external=False),
                                    transcript_hash)

    def client_early_traffic_secret(self, client_hello_hash: bytes) -> bytes:
        return self.derive_secret(b"c e traffic", client_hello_hash)

    def early_exporter_master_secret(self, client_hello_hash: bytes) -> bytes:
        return self.derive_secret(b"e exp master", client_hello_hash)

    # -- handshake secret --------------------------------------------------------

    def enter_handshake(self, shared_secret: bytes | None) -> None:
        self._next_stage(shared_secret if shared_secret is not None else bytes(self._len))

    def handshake_traffic_secrets(self, hello_hash: bytes) -> tuple[bytes, bytes]:
        return self._secret_pair(b"c hs traffic", b"s hs traffic", hello_hash)

    def _secret_pair(self, client_label: bytes, server_label: bytes, transcript_hash: bytes
                     ) -> tuple[bytes, bytes]:
        """Both directions' Derive-Secret of a stage just entered: T(1) each, the two
        HkdfLabels alike after their prefixes."""
        ipad, opad = self._states or self._stage_states()
        tail = transcript_hash + b"\x01"
        prefixes = self._prefixes
        return hmac_pair(ipad, opad, prefixes[client_label] + tail, prefixes[server_label] + tail)

    def handshake_keys(self, hello_hash: bytes) -> StageKeys:
        """RFC 8446 §7.1: the handshake traffic secrets (after ``enter_handshake``)
        and the keys they give."""
        client, server = self._secret_pair(b"c hs traffic", b"s hs traffic", hello_hash)
        suite = self.suite
        row = _TRAFFIC[suite.id]
        return StageKeys(suite, self.secret, _traffic(row, client, True),
                         _traffic(row, server, True))

    # -- master secret -----------------------------------------------------------

    def enter_master(self) -> None:
        # Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""),
        # 0): the zeros are a constant of the hash.
        self._next_stage(_ZEROS[self._hash])

    def application_traffic_secrets(self, finished_hash: bytes) -> tuple[bytes, bytes]:
        return self._secret_pair(b"c ap traffic", b"s ap traffic", finished_hash)

    def application_keys(self, finished_hash: bytes) -> ApplicationKeys:
        """RFC 8446 §7.1: the application traffic secrets (after ``enter_master``),
        their keys, and the exporter master secret."""
        client, server = self._secret_pair(b"c ap traffic", b"s ap traffic", finished_hash)
        suite = self.suite
        row = _TRAFFIC[suite.id]
        return ApplicationKeys(suite, self.secret, _traffic(row, client, False),
                               _traffic(row, server, False),
                               Tls13Exporter(suite, self.secret, finished_hash))

    def exporter_master_secret(self, finished_hash: bytes) -> Tls13Exporter:
        return Tls13Exporter(self.suite, self.secret, finished_hash)

    def resumption_master_secret(self, client_finished_hash: bytes) -> bytes:
        # At once: a client keeps 32 bytes rather than what would derive them, and
        # tickets usually follow the handshake. The master stage's last HMAC (the
        # exporter derives its own), so it has the stage's states to itself: they
        # are dropped, and made again from the secret if anything derives after it.
        inner, outer = self._states or self._stage_states()
        self._states = None
        inner.update(self._prefixes[b"res master"] + client_finished_hash + b"\x01")
        outer.update(inner.digest())
        return outer.digest()


@frozen
class TrafficKeys:
    """One direction's traffic secret and the write key and IV it gives (§7.3)."""

    secret: bytes
    key: bytes
    iv: bytes
    # The handshake stage's finished_key (§4.4.4), derived beside the key and IV from
    # the same HMAC key; b"" at the application stage.
    finished_key: bytes = b""


@frozen
class StageKeys:
    """A key schedule stage as computed: its secret and both directions' keys."""

    suite: Suite
    stage_secret: bytes
    client: TrafficKeys
    server: TrafficKeys

    stage: ClassVar[str] = "handshake"
    stage_secret_name: ClassVar[str] = "handshake_secret"

    def _secrets(self) -> dict[str, bytes]:
        return {self.stage_secret_name: self.stage_secret,
                f"client_{self.stage}_traffic_secret": self.client.secret,
                f"server_{self.stage}_traffic_secret": self.server.secret}

    def describe(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Trace details (names and sizes) and the secret values themselves."""
        secrets = self._secrets()
        secrets |= {"client_write_key": self.client.key, "client_write_iv": self.client.iv,
                    "server_write_key": self.server.key, "server_write_iv": self.server.iv}
        details = {"stage": self.stage, "hash": self.suite.hash_name,
                   "derived": {name: len(value) for name, value in secrets.items()}}
        return details, secrets


@frozen
class ApplicationKeys(StageKeys):
    """The application stage, with the exporter master secret beside the keys."""

    exporter: Tls13Exporter

    stage: ClassVar[str] = "application"
    stage_secret_name: ClassVar[str] = "master_secret"

    def _secrets(self) -> dict[str, bytes]:
        return {**StageKeys._secrets(self), "exporter_master_secret": self.exporter.value}


class Tls13Exporter:
    """RFC 8446 §7.5: keying material from the exporter master secret, which is
    derived the first time it is needed (``value``): most connections never export
    keys, and every established one keeps its exporter."""

    __slots__ = ("_context", "_master_secret", "_suite", "_value")

    def __init__(self, suite: Suite, master_secret: bytes, finished_hash: bytes) -> None:
        self._suite, self._master_secret, self._context = suite, master_secret, finished_hash
        self._value: bytes | None = None

    @property
    def value(self) -> bytes:
        """The exporter master secret: Derive-Secret(Master Secret, "exp master",
        ClientHello...server Finished)."""
        if self._value is None:
            suite = self._suite
            self._value = expand_label(suite.hash_name, self._master_secret, b"exp master",
                                       self._context, suite.hash_len, suite.hash_len)
        return self._value

    def __call__(self, label: bytes, context: bytes | None, length: int) -> bytes:
        return exporter(self._suite, self.value, label, context or b"", length)


def _traffic(row: _TrafficRow, secret: bytes, finished: bool) -> TrafficKeys:
    """RFC 8446 §7.3 and §4.4.4: a traffic secret's write key, IV and (at the
    handshake stage) finished_key, T(1) of HKDF-Expand-Label each: HMAC(secret,
    HkdfLabel || 0x01) with the whole input a constant of the suite (its ``_TRAFFIC``
    row), cut. The HMACs are written out (four traffic secrets a handshake, each
    two or three of them): the secret's two states (one hash long, shorter than a
    block) are copied for the key, and for the IV when a finished_key follows; the
    last HMAC has them to itself."""
    new, block, key_len, key_input, iv_input, finished_input = row
    padded = secret.ljust(block, b"\x00")
    ipad, opad = new(padded.translate(IPAD)), new(padded.translate(OPAD))
    inner = ipad.copy()
    inner.update(key_input)
    outer = opad.copy()
    outer.update(inner.digest())
    key = outer.digest()[:key_len]
    if not finished:
        ipad.update(iv_input)
        opad.update(ipad.digest())
        return TrafficKeys(secret, key, opad.digest()[:12])
    inner = ipad.copy()
    inner.update(iv_input)
    outer = opad.copy()
    outer.update(inner.digest())
    ipad.update(finished_input)
    opad.update(ipad.digest())
    return TrafficKeys(secret, key, outer.digest()[:12], opad.digest())


def _hmac(states: tuple[HASH, HASH], data: bytes) -> bytes:
    """HMAC(K, data) from K's two hash states (``KeySchedule._states``)."""
    inner = states[0].copy()
    inner.update(data)
    outer = states[1].copy()
    outer.update(inner.digest())
    return outer.digest()


def traffic_keys(suite: Suite, secret: bytes) -> tuple[bytes, bytes]:
    """RFC 8446 §7.3: [sender]_write_key and [sender]_write_iv from a traffic secret."""
    key_input, iv_input, _ = TRAFFIC_INPUTS[suite.id]
    new, ipad, opad = hmac_pads(suite.hash_name, secret)
    key, iv = hmac_pair_last(new(ipad), new(opad), key_input, iv_input)
    return key[:suite.key_len], iv[:12]


def next_traffic_secret(suite: Suite, secret: bytes) -> bytes:
    """RFC 8446 §7.2: application_traffic_secret_N+1."""
    return expand_label(suite.hash_name, secret, b"traffic upd", b"", suite.hash_len,
                        suite.hash_len)


def finished_verify_data(suite: Suite, base_key: bytes, transcript_hash: bytes) -> bytes:
    """RFC 8446 §4.4.4: HMAC(finished_key, Transcript-Hash(...))."""
    # finished_key = HKDF-Expand-Label(base_key, "finished", "", Hash.length): one
    # HMAC block, with the suite's HkdfLabel prefix from the table.
    hash_name = suite.hash_name
    finished_key = hmac_digest(hash_name, base_key, TRAFFIC_INPUTS[suite.id][2])
    return hmac_digest(hash_name, finished_key, transcript_hash)


def handshake_verify_data(suite: Suite, keys: TrafficKeys, transcript_hash: bytes) -> bytes:
    """``finished_verify_data`` for a handshake traffic secret, whose finished_key
    ``handshake_keys`` derived already (one hash long: ``hmac_once``)."""
    new, block = HASHES[suite.hash_name]
    return hmac_once(new, block, keys.finished_key, transcript_hash)


def exporter(suite: Suite, exporter_master_secret: bytes, label: bytes, context: bytes,
             length: int) -> bytes:
    """RFC 8446 §7.5: TLS-Exporter(label, context_value, key_length)."""
    hash_name, hash_len = suite.hash_name, suite.hash_len
    secret = expand_label(hash_name, exporter_master_secret, label, _EMPTY_HASHES[hash_name],
                          hash_len, hash_len)
    context_hash = hashlib.new(hash_name, context).digest()
    return expand_label(hash_name, secret, b"exporter", context_hash, length, hash_len)


def resumption_psk(suite: Suite, resumption_master_secret: bytes, ticket_nonce: bytes) -> bytes:
    """RFC 8446 §4.6.1: the PSK associated with a ticket, HKDF-Expand-Label(
    resumption_master_secret, "resumption", ticket_nonce, Hash.length): one HMAC block
    (T(1)), its key used once."""
    return hmac_digest(suite.hash_name, resumption_master_secret,
                       resumption_psk_input(suite.hash_len, ticket_nonce))


def resumption_psk_input(hash_len: int, ticket_nonce: bytes) -> bytes:
    """The whole HMAC input of ``resumption_psk``'s T(1): HkdfLabel || 0x01, a
    constant of the hash's length and the nonce (a server keeps its tickets' few)."""
    return label_prefix(b"resumption", hash_len, len(ticket_nonce)) + ticket_nonce + b"\x01"


