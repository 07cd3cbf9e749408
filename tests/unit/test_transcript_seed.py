"""The transcript starts from a PSK binder's hash of the ClientHello (``seed``) only
when that hash covers its first message; every digest is the one hashing the
messages from scratch gives."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, strategies as st

from glasstls.constants import HandshakeType as H
from glasstls.handshake.transcript import Transcript, hash_state


def _message(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


HELLO = _message(H.client_hello, bytes(range(256)) * 2)
SERVER_HELLO = _message(H.server_hello, b"\x03\x03" + bytes(70))


def _expected(*messages: bytes) -> bytes:
    return hashlib.sha256(b"".join(messages)).digest()


@given(covered=st.integers(min_value=0, max_value=len(HELLO)))
def test_a_seeded_transcript_hashes_what_an_unseeded_one_does(covered: int) -> None:
    seeded = Transcript()
    seeded.add(HELLO)
    seeded.set_hash("sha256")
    seeded.seed("sha256", hash_state("sha256", HELLO[:covered]), HELLO, covered)
    seeded.add(SERVER_HELLO)
    assert seeded.digest_before_last() == _expected(HELLO)
    assert seeded.digest() == _expected(HELLO, SERVER_HELLO)


def test_the_seed_is_used_where_it_fits_and_its_state_is_left_alone() -> None:
    # A wrong state shows whether the seed was used: the digest goes wrong with it.
    wrong = hash_state("sha256", b"not the hello")
    transcript = Transcript()
    transcript.set_hash("sha256")
    transcript.seed("sha256", wrong, HELLO, 10)
    transcript.add(HELLO)
    assert transcript.digest() != _expected(HELLO)
    assert wrong.digest() == hashlib.sha256(b"not the hello").digest()  # copied, not updated


@pytest.mark.parametrize("case", ["another hash", "another message object", "hashed already",
                                  "after a retry"])
def test_a_seed_that_does_not_fit_is_not_used(case: str) -> None:
    wrong = hash_state("sha256", b"not the hello")
    hello = bytes(bytearray(HELLO)) if case == "another message object" else HELLO
    assert (hello is HELLO) == (case != "another message object")
    transcript = Transcript()
    transcript.add(hello)
    transcript.set_hash("sha256")
    if case == "hashed already":
        transcript.digest()
    if case == "after a retry":
        transcript.add(_message(H.server_hello, bytes(38)))
        transcript.restart_after_hello_retry()
        expected = Transcript()
        expected.add(hello)
        expected.set_hash("sha256")
        expected.add(_message(H.server_hello, bytes(38)))
        expected.restart_after_hello_retry()
    transcript.seed("sha384" if case == "another hash" else "sha256", wrong, HELLO, 10)
    if case == "after a retry":
        assert transcript.digest() == expected.digest()
    else:
        assert transcript.digest() == _expected(HELLO)


def test_the_hash_follows_a_change_of_hash_before_it_is_used() -> None:
    transcript = Transcript()
    transcript.add(HELLO)
    transcript.set_hash("sha384")
    transcript.set_hash("sha256")
    transcript.add(SERVER_HELLO)
    assert transcript.digest() == _expected(HELLO, SERVER_HELLO)
    fork = transcript.fork()
    assert fork.digest() == transcript.digest()
