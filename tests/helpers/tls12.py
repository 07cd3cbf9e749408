"""TLS 1.2 engine test helpers: pinned configs, and a man in the middle who rewrites
the plaintext hellos in flight.

    pair = Pair(client12(PKI), server12(PKI))
    pair.hook = edit_server_hello(lambda hello: replace(hello, random=...))
    pair.pump()

``forge_client_hello`` is different from a hook: it changes the ClientHello before
it leaves *and* the client's own transcript, so the handshake can still complete —
as if the client itself had sent that hello (to test what a server tolerates).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from glasstls import ClientConfig, ClientConnection, ServerConfig
from glasstls.constants import TLS12, HandshakeType as H
from glasstls.crypto import prf
from glasstls.crypto.suites import Suite
from glasstls.handshake.transcript import Transcript
from glasstls.messages.extensions import Extension
from glasstls.messages.handshake import ClientHello, ServerHello, serialize
from glasstls.record import Tls12Protection

from .pump import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    Hook,
    Pair,
    engine_of,
    handshake_messages,
    record,
)

CCS = record(20, b"\x01")


def client12(pki: Any, **overrides: Any) -> ClientConfig:
    """A TLS 1.2-only client trusting ``pki``'s CA (``groups`` also sets the key share
    groups, which ClientConfig validates even when TLS 1.3 is off)."""
    if "groups" in overrides:
        overrides.setdefault("key_share_groups", overrides["groups"][:1])
    return ClientConfig(**{"trust": pki.trust, "versions": (TLS12,), **overrides})


def server12(pki: Any, **overrides: Any) -> ServerConfig:
    """A TLS 1.2-only server with ``pki``'s chain."""
    return ServerConfig(**{"certificates": (pki.certified,), "versions": (TLS12,), **overrides})


# -- records and messages -----------------------------------------------------------------


def plaintext_records(data: bytes) -> list[tuple[int, bytes]]:
    """(content type, payload) of every record in ``data`` (no decryption)."""
    out = []
    position = 0
    while position < len(data):
        length = int.from_bytes(data[position + 3:position + 5], "big")
        out.append((data[position], data[position + 5:position + 5 + length]))
        position += 5 + length
    return out


def frame(records: Iterable[tuple[int, bytes]], version: bytes = b"\x03\x03") -> bytes:
    return b"".join(bytes([t]) + version + len(p).to_bytes(2, "big") + p for t, p in records)


def first_flight_messages(data: bytes) -> list[bytes]:
    """The handshake messages of a plaintext flight (all its handshake records joined)."""
    return handshake_messages(b"".join(p for t, p in plaintext_records(data) if t == 22))


MessagesEdit = Callable[[list[bytes]], list[bytes]]


def rewrite_messages(data: bytes, edit: MessagesEdit) -> bytes:
    """Re-frame a plaintext handshake flight after ``edit`` changed its messages.
    Records after the first non-handshake record (a CCS, protected data) stay as sent."""
    records = plaintext_records(data)
    count = next((i for i, (t, _) in enumerate(records) if t != 22), len(records))
    messages = handshake_messages(b"".join(p for _, p in records[:count]))
    rest = frame(records[count:])
    version = data[1:3]
    return frame([(22, b"".join(edit(messages)))], version) + rest


def once(direction: str, change: Callable[[bytes], bytes]) -> Hook:
    """A hook that applies ``change`` to the first transfer in ``direction`` only."""
    done: list[bool] = []

    def hook(d: str, data: bytes) -> bytes:
        if d != direction or done:
            return data
        done.append(True)
        return change(data)

    return hook


def nth(direction: str, index: int, change: Callable[[bytes], bytes]) -> Hook:
    """A hook that applies ``change`` to the ``index``-th transfer in ``direction``."""
    seen = [0]

    def hook(d: str, data: bytes) -> bytes:
        if d != direction:
            return data
        seen[0] += 1
        return change(data) if seen[0] == index + 1 else data

    return hook


def replace_message(msg_type: int, change: Callable[[bytes], bytes]) -> MessagesEdit:
    def edit(messages: list[bytes]) -> list[bytes]:
        assert any(m[0] == msg_type for m in messages), f"no message of type {msg_type}"
        return [change(m) if m[0] == msg_type else m for m in messages]
    return edit


def edit_server_hello(change: Callable[[ServerHello], ServerHello]) -> Hook:
    """A man in the middle who rewrites the server's first ServerHello."""
    def rewrite(raw: bytes) -> bytes:
        return serialize(change(ServerHello.parse(raw)))
    return once(SERVER_TO_CLIENT,
                lambda data: rewrite_messages(data, replace_message(H.server_hello, rewrite)))


def edit_client_hello(change: Callable[[ClientHello], ClientHello]) -> Hook:
    """A man in the middle who rewrites the client's first ClientHello (the client's
    transcript keeps the original, so a completed handshake would fail its Finished)."""
    def rewrite(raw: bytes) -> bytes:
        return serialize(change(ClientHello.parse(raw)))
    return once(CLIENT_TO_SERVER,
                lambda data: rewrite_messages(data, replace_message(H.client_hello, rewrite)))


def forge_client_hello(pair: Pair, change: Callable[[ClientHello], ClientHello]) -> ClientHello:
    """Make the pair's client send ``change(its ClientHello)`` as if it had built it: the
    bytes queued for the server and the client's transcript both carry the new hello.
    Returns the hello sent."""
    client = pair.client.connection
    assert isinstance(client, ClientConnection)
    data = client.data_to_send()
    (original,) = first_flight_messages(data)
    hello = change(ClientHello.parse(original))
    raw = serialize(hello)
    engine = engine_of(client)
    engine.transcript = Transcript()
    engine.transcript.add(raw)
    forged = frame([(22, raw)], data[1:3])
    pair.wire.append((CLIENT_TO_SERVER, forged))
    pair.deliver(pair.server, forged)
    return ClientHello.parse(raw)


# -- hello surgery ------------------------------------------------------------------------


def without_extension(ext_type: int) -> Callable[[Any], Any]:
    def change(hello: Any) -> Any:
        return dataclasses.replace(
            hello, extensions=tuple(e for e in hello.extensions if e.type != ext_type))
    return change


def with_extensions(*extra: Extension) -> Callable[[Any], Any]:
    """Append extensions (before a trailing padding extension is irrelevant in 1.2)."""
    def change(hello: Any) -> Any:
        return dataclasses.replace(hello, extensions=(*hello.extensions, *extra))
    return change


def replacing_extension(new: Extension) -> Callable[[Any], Any]:
    def change(hello: Any) -> Any:
        assert any(e.type == new.type for e in hello.extensions), f"no extension {new.type}"
        return dataclasses.replace(hello, extensions=tuple(
            new if e.type == new.type else e for e in hello.extensions))
    return change


def with_suites(*suites: int) -> Callable[[ClientHello], ClientHello]:
    def change(hello: ClientHello) -> ClientHello:
        return dataclasses.replace(hello, cipher_suites=suites)
    return change


def extension_types(hello: Any) -> list[int]:
    return [e.type for e in hello.extensions]


def first_transfer(pair: Pair, direction: str) -> bytes:
    """What one side sent in its first flight (as delivered, after the hook)."""
    for d, data in pair.wire:
        if d == direction:
            return data
    raise AssertionError(f"nothing was sent {direction}")


def server_hello_of(pair: Pair) -> ServerHello:
    """The ServerHello as it reached the client."""
    for message in first_flight_messages(first_transfer(pair, SERVER_TO_CLIENT)):
        if message[0] == H.server_hello:
            return ServerHello.parse(message)
    raise AssertionError("no ServerHello in the server's first flight")


def client_hello_of(pair: Pair) -> ClientHello:
    """The ClientHello as it reached the server."""
    return ClientHello.parse(first_flight_messages(first_transfer(pair, CLIENT_TO_SERVER))[0])



# -- TLS 1.2 record protection, for a man in the middle who knows the keys ---------------


def protection12(suite: Suite, master: bytes, client_random: bytes, server_random: bytes,
                 writer: str) -> Tls12Protection:
    """A fresh (sequence 0) TLS 1.2 protection of the client's or server's write
    direction, from the master secret (RFC 5246 §6.3 key block, AEAD: no MAC keys)."""
    key_len, iv_len = suite.key_len, suite.iv_len
    block = prf.key_block(suite.hash_name, master, client_random, server_random,
                          2 * (key_len + iv_len))
    if writer == "client":
        key, iv = block[:key_len], block[2 * key_len:2 * key_len + iv_len]
    else:
        key, iv = block[key_len:2 * key_len], block[2 * key_len + iv_len:]
    return Tls12Protection(suite, key, iv)


def reseal12(raw_record: bytes, opener: Tls12Protection, sealer: Tls12Protection,
             edit: Callable[[bytes], bytes]) -> bytes:
    """Open one protected record, let ``edit`` change its plaintext, seal it again."""
    content_type, plaintext = opener.open(raw_record[:5], raw_record[5:])
    return sealer.seal(content_type, edit(plaintext), raw_record[1:3], 0)
