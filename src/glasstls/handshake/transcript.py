"""The transcript hash (RFC 8446 §4.4.1), updated in one place with the exact bytes
of each handshake message as sent or received."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ..constants import HandshakeType
from ..errors import InternalError

# The constructors themselves: hashlib.new(name) looks the name up every time.
_NEW: dict[str, Callable[..., Any]] = {"sha256": hashlib.sha256, "sha384": hashlib.sha384}

# The received messages after which the hash up to them may be asked for
# (``digest_before_last``): a CertificateVerify or Finished covers the transcript
# before itself; after a ServerHello it is the hash through the ClientHello. Only
# these keep a copy of the hash state; the other messages are hashed without one.
_SNAPSHOT_AFTER = frozenset({HandshakeType.server_hello, HandshakeType.certificate_verify,
                             HandshakeType.finished})


def hash_of(hash_name: str, messages: bytes) -> bytes:
    """The hash of ``messages`` alone (a PSK binder's truncated ClientHello)."""
    digest: bytes = _NEW[hash_name](messages).digest()
    return digest


def hash_state(hash_name: str, messages: bytes) -> Any:
    """A hash object over ``messages``: a PSK binder's transcript hash, which the
    transcript can go on from (``Transcript.seed``)."""
    return _NEW[hash_name](messages)


class Transcript:
    __slots__ = ("_hash", "_hash_name", "_messages", "_previous", "_seed")

    def __init__(self) -> None:
        self._hash_name: str | None = None
        # Worked out when first needed after ``set_hash`` (``_start``), so that a
        # binder's hash of the ClientHello given meanwhile (``seed``) is not redone.
        self._hash: Any = None
        self._previous: Any = None
        # Kept until the hash is known, and for TLS 1.2 CertificateVerify, which
        # signs the messages themselves with a hash of the signer's choosing.
        self._messages: list[bytes] = []
        self._seed: tuple[str, Any, bytes, int] | None = None

    @property
    def hash_name(self) -> str | None:
        return self._hash_name

    def set_hash(self, hash_name: str) -> None:
        if self._hash_name == hash_name:
            return
        self._hash_name = hash_name
        self._hash = None  # every message is hashed again when the hash is next needed
        self._previous = None

    def seed(self, hash_name: str, state: Any, message: bytes, covered: int) -> None:
        """``state``: a hash object of ``hash_name`` over ``message[:covered]``, the
        first message's bytes up to a PSK binder (RFC 8446 §4.2.11.2: both sides hash
        them for the binder). If the hash is not worked out yet, it starts from a copy
        of it when the first message is that very ``message`` (the same object) and
        the hash is ``hash_name``; otherwise the seed is not used."""
        if self._hash is None:
            self._seed = (hash_name, state, message, covered)

    def _start(self) -> Any:
        """The hash of the messages so far, from the seed if it fits them."""
        hash_name = self._hash_name
        assert hash_name is not None, "transcript hash used before the suite was chosen"
        messages = self._messages
        seed, self._seed = self._seed, None
        if (seed is not None and seed[0] == hash_name and messages
                and messages[0] is seed[2] and messages[0][0] not in _SNAPSHOT_AFTER):
            # (A first message after which a snapshot is kept would need one here.)
            self._hash = seed[1].copy()
            self._hash.update(messages[0][seed[3]:])
            self._previous = None
            later = messages[1:]
        else:
            self._hash = _NEW[hash_name]()
            later = messages
        for message in later:
            self._hash_message(message)
        return self._hash

    def add(self, raw: bytes) -> None:
        self._messages.append(raw)
        state = self._hash
        if state is not None:
            # _hash_message, written out: every handshake message comes this way.
            self._previous = state.copy() if raw[0] in _SNAPSHOT_AFTER else None
            state.update(raw)
        elif self._hash_name is not None:
            self._start()  # this message included

    def add_sent(self, raw: bytes) -> None:
        """``add`` for a message this side sent. A side never asks for the hash before
        a message of its own (a server takes the hash through the ClientHello for
        its early traffic secret before it adds its ServerHello): no copy of the
        state is kept (one hash copy fewer per handshake on a server)."""
        state = self._hash
        if state is None and self._hash_name is not None:
            state = self._start()  # the messages before this one
        self._messages.append(raw)
        if state is not None:
            self._previous = None
            state.update(raw)

    def _hash_message(self, raw: bytes) -> None:
        self._previous = self._hash.copy() if raw[0] in _SNAPSHOT_AFTER else None
        self._hash.update(raw)

    def digest(self) -> bytes:
        state = self._hash
        if state is None:
            state = self._start()
        # hashlib's digest() is bytes (typed by assignment, not a bytes() call) and
        # leaves the state alone.
        digest: bytes = state.digest()
        return digest

    def digest_before_last(self) -> bytes:
        """The hash up to, not including, the last message added: what a
        CertificateVerify or Finished that was just received covers (or, after a
        ServerHello, the hash through the ClientHello)."""
        if self._hash is None and self._hash_name is not None:
            self._start()
        if self._previous is None:
            raise InternalError("no transcript hash is kept before this message")
        digest: bytes = self._previous.digest()
        return digest

    def digest_with(self, extra: bytes) -> bytes:
        """The hash as it would be with ``extra`` appended (PSK binders)."""
        h = (self._hash if self._hash is not None else self._start()).copy()
        h.update(extra)
        digest: bytes = h.digest()
        return digest

    def restart_after_hello_retry(self) -> None:
        """RFC 8446 §4.4.1: replace ClientHello1 with a synthetic message_hash message.

        The client calls it with the HelloRetryRequest already added (it stays,
        after the synthetic message); the server before sending its retry.
        """
        assert self._hash_name is not None and self._messages
        first, *later = self._messages
        client_hello_hash = _NEW[self._hash_name](first).digest()
        synthetic = (bytes([HandshakeType.message_hash, 0, 0, len(client_hello_hash)])
                     + client_hello_hash)
        self._messages = []
        self._seed = None
        self._hash = _NEW[self._hash_name]()
        for message in (synthetic, *later):
            self.add(message)

    def fork(self) -> Transcript:
        """A copy of the hash state, for post-handshake authentication (RFC 8446
        §4.4: its transcript continues from the end of the handshake)."""
        copy = Transcript()
        copy._hash_name = self._hash_name
        if self._hash is None and self._hash_name is not None:
            self._start()
        copy._hash = self._hash.copy() if self._hash is not None else None
        return copy

    def messages(self) -> bytes:
        return b"".join(self._messages)



class _Finished(Transcript):
    """The transcript of every finished handshake: nothing is left to hash (post-
    handshake authentication works on its own fork), and nothing may be added."""

    __slots__ = ()

    def add(self, raw: bytes) -> None:
        raise InternalError("a handshake message was hashed after the handshake")

    def set_hash(self, hash_name: str) -> None:
        raise InternalError("the transcript of a finished handshake was restarted")


# What a connection keeps in place of its transcript once the handshake is over.
FINISHED = _Finished()
