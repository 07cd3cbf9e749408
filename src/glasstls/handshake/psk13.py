"""TLS 1.3 resumption with pre-shared keys (RFC 8446 §4.2.11, §4.6.1, §8):
binders, tickets issued by the server, and the server's choice of a PSK."""

from __future__ import annotations

from collections.abc import Sequence
from hmac import compare_digest

from .. import trace as t
from ..codec import Writer
from ..config import ServerConfig
from ..constants import TLS13, ExtensionType as X, PskKeyExchangeMode
from ..crypto.hkdf import hmac_digest
from ..crypto.suites import SUITES, TLS13_SUITES, Suite
from ..errors import (
    DecodeError,
    DecryptError,
    MissingExtension,
)
from ..immutable import frozen
from ..keyschedule import EarlySecrets, KeySchedule, resumption_psk_input
from ..messages.extensions import (
    PreSharedKey,
    PskIdentity,
    U8List,
    find,
    find_typed,
)
from ..messages.handshake import ClientHello
from ..servernames import same_server_name
from ..session import ClientSession, SessionState
from . import flight13
from .engine import Engine
from .transcript import hash_of, hash_state

# RFC 8446 §4.2.11.1: how far apart the client's and our idea of a ticket's age may be.
TICKET_AGE_TOLERANCE_MS = 10_000
MAX_IDENTITIES_TRIED = 4
_PSK_DHE_KE, _PSK_KE = int(PskKeyExchangeMode.psk_dhe_ke), int(PskKeyExchangeMode.psk_ke)
# A ticket's suite by its id: its hash (a PSK is used with any suite of the same hash).
_SUITE_HASHES = {suite_id: suite.hash_name for suite_id, suite in SUITES.items()}
# The ticket_nonce of a connection's n-th ticket: n as 8 bytes (unique per connection,
# RFC 8446 §4.6.1), with the whole input of the HMAC that gives the ticket's PSK,
# HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length):
# one block, T(1) = HMAC(secret, HkdfLabel || 0x01) (``keyschedule.resumption_psk``),
# whose input is a constant of the hash's length and the nonce. Made once for the
# usual few tickets, per hash length.
_TICKET_NONCES = tuple(counter.to_bytes(8, "big") for counter in range(8))
_TICKET_INPUTS = {
    hash_len: tuple((nonce, resumption_psk_input(hash_len, nonce)) for nonce in _TICKET_NONCES)
    for hash_len in {suite.hash_len for suite in TLS13_SUITES}
}


def _ticket_inputs(hash_len: int, count: int) -> Sequence[tuple[bytes, bytes]]:
    """The nonces of a connection's ``count`` tickets, each with its PSK's HMAC input."""
    if count <= len(_TICKET_NONCES):
        return _TICKET_INPUTS[hash_len][:count]
    nonces = [counter.to_bytes(8, "big") for counter in range(count)]
    return [(nonce, resumption_psk_input(hash_len, nonce)) for nonce in nonces]


def binder(schedule: KeySchedule, transcript_hash: bytes) -> bytes:
    """RFC 8446 §4.2.11.2: HMAC with the binder key's finished key over the
    transcript through the truncated ClientHello (``schedule``: the PSK's, at its
    early secret)."""
    return schedule.resumption_binder(transcript_hash)


def offered_psk(session: ClientSession, now_ms: int) -> PreSharedKey:
    """The pre_shared_key extension for one ticket, with a placeholder binder."""
    suite = SUITES[session.cipher_suite]
    age = (now_ms - session.received_ms + session.age_add) % 2**32
    return PreSharedKey((PskIdentity(session.ticket, age),), (bytes(suite.hash_len),))


def early_schedule(session: ClientSession) -> KeySchedule:
    """The key schedule of a ticket's PSK, at its early secret: the binder is made
    with it, and the handshake goes on from it if the server accepts the PSK."""
    return KeySchedule(SUITES[session.cipher_suite], session.secret)


def with_binder(hello: ClientHello, session: ClientSession, prefix: bytes,
                schedule: KeySchedule | None = None) -> ClientHello:
    """Fill in the real binder: ``prefix`` is the transcript before this hello
    (empty, or message_hash + HelloRetryRequest after a retry); ``schedule`` is
    the session's ``early_schedule`` when the caller keeps it."""
    suite = SUITES[session.cipher_suite]
    truncated = hello.truncated_for_binders()
    transcript_hash = hash_of(suite.hash_name, prefix + truncated)
    psk_ext = hello.extensions[-1]
    assert isinstance(psk_ext, PreSharedKey)
    real = PreSharedKey(psk_ext.identities,
                        (binder(schedule or early_schedule(session), transcript_hash),))
    # The binder is as long as its placeholder: the bytes up to the binders list,
    # lengths included, stay as they are, and only the list is written again.
    binders = Writer()
    real.write_binders(binders)
    return ClientHello(hello.legacy_version, hello.random, hello.legacy_session_id,
                       hello.cipher_suites, hello.legacy_compression_methods,
                       (*hello.extensions[:-1], real), truncated + binders.buffer)


@frozen
class AcceptedPsk:
    index: int
    state: SessionState
    identity: PskIdentity
    age_ms: int  # the client's view of the ticket's age
    dhe: bool  # psk_dhe_ke rather than psk_ke
    # The key schedule the binder was checked with, at the PSK's early secret: the
    # handshake goes on from it rather than extracting the same secret again.
    schedule: KeySchedule


def choose_psk(engine: Engine, config: ServerConfig, hello: ClientHello, suite: Suite,
               prefix: bytes, can_dhe: bool, server_name: str | None = None
               ) -> AcceptedPsk | None:
    """A ticket from the ClientHello we can resume with, binder checked; None means
    a full handshake. A ticket we can open whose binder is wrong is fatal."""
    extensions = hello.extensions
    psk = find_typed(extensions, X.pre_shared_key, PreSharedKey)
    if psk is None:
        return None
    modes_ext = find_typed(extensions, X.psk_key_exchange_modes, U8List)
    if modes_ext is None:
        # RFC 8446 §4.2.9: pre_shared_key without psk_key_exchange_modes.
        raise MissingExtension("pre_shared_key without psk_key_exchange_modes")
    modes = modes_ext.values
    dhe = can_dhe and _PSK_DHE_KE in modes
    ticket_keys = config.ticket_keys
    if (not dhe and not (_PSK_KE in modes and config.allow_psk_ke)) or ticket_keys is None:
        return None
    now = config.clock()
    now_ms = int(now * 1000)
    hash_name = suite.hash_name
    for index, identity in enumerate(psk.identities[:MAX_IDENTITIES_TRIED]):
        opened = ticket_keys.open(identity.identity, now, config.rng)
        if opened is None:
            engine.trace(t.NEW_SESSION_TICKET, t.LOCAL, {
                "resumption": "ticket not accepted (unknown or retired key, or tampered)"})
            continue
        try:
            state = SessionState.decode(opened)
        except DecodeError:
            continue
        reason = _unusable(state, hash_name, now_ms, server_name, config.client_auth)
        if reason:
            engine.trace(t.NEW_SESSION_TICKET, t.LOCAL, {"resumption": reason})
            continue
        # RFC 8446 §4.2.11.2: the binder proves the client holds the PSK: an HMAC
        # under the binder key's finished key over the transcript up to the binders
        # (``KeySchedule.resumption_binder``). The PSK's EarlySecrets also hold the
        # Handshake Secret's salt: the handshake goes on from them.
        truncated = hello.truncated_for_binders()
        binder_hash = hash_state(hash_name, prefix + truncated)
        early = EarlySecrets(hash_name, state.secret)
        if not compare_digest(hmac_digest(hash_name, early.binder_finished_key,
                                          binder_hash.digest()), psk.binders[index]):
            raise DecryptError("PSK binder does not verify")
        if not prefix:
            # The transcript hashes the same bytes first: it goes on from here.
            engine.transcript.seed(hash_name, binder_hash, hello.raw, len(truncated))
        client_age = (identity.obfuscated_ticket_age - state.age_add) % 2**32
        return AcceptedPsk(index, state, identity, client_age, dhe,
                           KeySchedule(suite, early=early))
    return None


def _unusable(state: SessionState, hash_name: str, now_ms: int, server_name: str | None,
              client_auth: str) -> str:
    """Why a ticket that opened cannot be resumed with here ("" if it can)."""
    if state.version != TLS13:
        return "ticket is not for TLS 1.3"
    if _SUITE_HASHES.get(state.cipher_suite) != hash_name:
        return "ticket's cipher suite hash differs from the negotiated suite's"
    if now_ms - state.issued_ms > state.lifetime * 1000:
        return "ticket has expired"
    if now_ms < state.issued_ms - TICKET_AGE_TOLERANCE_MS:
        return "ticket was issued in the future (clocks too far apart?)"
    if not same_server_name(state.server_name, server_name):
        # RFC 6066 §3: a session is never resumed under another name.
        return "ticket was issued for another server name"
    if client_auth == "required" and not state.peer_certificates:
        # Resuming would skip the CertificateRequest this policy demands.
        return "the session has no client certificate, which this server requires"
    return ""


def early_data_acceptable(engine: Engine, config: ServerConfig, hello: ClientHello,
                          accepted: AcceptedPsk, suite: Suite, alpn: bytes | None,
                          retried: bool) -> bool:
    """RFC 8446 §4.2.10: the conditions for accepting 0-RTT data, all of them."""
    if find(hello.extensions, X.early_data) is None:
        return False
    state = accepted.state
    now = config.clock()
    server_age = int(now * 1000) - state.issued_ms
    checks = {
        "0-RTT is disabled on this server": config.max_early_data_size > 0,
        "the ticket does not allow early data": state.max_early_data_size > 0,
        "only the first PSK may carry early data": accepted.index == 0,
        "a HelloRetryRequest was sent": not retried,
        "the cipher suite differs from the ticket's": state.cipher_suite == suite.id,
        "the ALPN protocol differs from the ticket's": (alpn or b"") == state.alpn,
        "the ticket age is off (possible replay)":
            abs(server_age - accepted.age_ms) <= TICKET_AGE_TOLERANCE_MS,
    }
    for reason, ok in checks.items():
        if not ok:
            engine.trace(t.ENCRYPTED_EXTENSIONS, t.LOCAL, {"early_data": "rejected",
                                                           "reason": reason})
            return False
    expires = state.issued_ms / 1000 + state.lifetime
    if not config.anti_replay.first_use(accepted.identity.identity, expires, now):
        engine.trace(t.ENCRYPTED_EXTENSIONS, t.LOCAL, {
            "early_data": "rejected", "reason": "ticket already used for early data (replay)"})
        return False
    return True


def ticket_messages(config: ServerConfig, suite: Suite, resumption_master_secret: bytes,
                    alpn: bytes | None, server_name: str | None,
                    peer_certificates: tuple[bytes, ...], resumed: bool, now: float
                    ) -> list[bytes]:
    """RFC 8446 §4.6.1: the NewSessionTickets' bytes, sent after the client's Finished
    (server13's ExpectFinished): ``config.tickets`` after a full handshake, at most
    one after a resumption (the client used one ticket and gets one back), as
    OpenSSL's server does whatever its num_tickets; issued at ``now``."""
    count = min(config.tickets, 1) if resumed else config.tickets
    ticket_keys = config.ticket_keys
    if ticket_keys is None or count <= 0:
        return []
    issued_ms = int(now * 1000)
    lifetime, max_early, rng = config.ticket_lifetime, config.max_early_data_size, config.rng
    alpn = alpn or b""
    name = server_name.encode() if server_name else b""
    # The tickets' states differ only in their PSK and age_add: the rest of their
    # bytes (SessionState(...).encode()) is packed once, and the sealing key is looked
    # up once (TicketKeys.seal, less the lookup: a fresh sealing nonce per ticket).
    hash_name, hash_len = suite.hash_name, suite.hash_len
    head, middle, tail = SessionState.encode_around(TLS13, suite.id, hash_len, issued_ms,
                                                    lifetime, alpn, name, False, max_early,
                                                    peer_certificates)
    inputs = _ticket_inputs(hash_len, count)
    # age_add as the state holds it (4 bytes, big-endian): the first ticket's drawn
    # before a new sealing key's bytes, as TicketKeys.seal draws them.
    age_add = rng(4)
    key_name, seal, nonces = ticket_keys.sealing(now, rng)
    messages = []
    for nonce, psk_input in inputs:
        if not age_add:
            age_add = rng(4)
        psk = hmac_digest(hash_name, resumption_master_secret, psk_input)  # resumption_psk
        sealing_nonce = nonces(12)
        ticket = key_name + sealing_nonce + seal(
            sealing_nonce, b"".join((head, age_add, middle, psk, tail)), key_name)
        messages.append(flight13.new_session_ticket(lifetime, int.from_bytes(age_add, "big"),
                                                    nonce, ticket, max_early))
        age_add = b""  # the next ticket's is drawn afresh
    return messages
