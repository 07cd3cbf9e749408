"""Checks shared by the explain tests: tiling, and connections recorded in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glasstls import ClientConfig, ClientConnection, ServerConfig
from glasstls.explain.dissect import Explained
from glasstls.explain.recorder import Recorder
from glasstls.session import ClientSession
from helpers.pump import Pair


def tiling_problems(explained: Explained) -> list[str]:
    """Where the leaves of all field trees fail to cover each record's bytes exactly
    once (wire bytes, and decrypted bytes when there are any)."""
    cover: dict[tuple[int, str], list[tuple[int, int, str]]] = {}
    for tree in explained.fields():
        for leaf in tree.leaves():
            for record, buffer, start, end in leaf.spans:
                cover.setdefault((record, buffer), []).append((start, end, leaf.name))
    problems = []
    for record in explained.records:
        for buffer, data in (("wire", record.wire), ("plaintext", record.plaintext)):
            spans = sorted(cover.pop((record.index, buffer), []))
            if data is None:
                if spans:
                    problems.append(f"#{record.index} {buffer}: fields but no bytes")
                continue
            position = 0
            for start, end, name in spans:
                if start != position:
                    kind = "gap" if start > position else "overlap"
                    problems.append(f"#{record.index} {buffer}: {kind} at {position} ({name})")
                position = max(position, end)
            if position != len(data):
                problems.append(f"#{record.index} {buffer}: covered to {position} of {len(data)}")
    problems += [f"spans in a record that does not exist: {key}" for key in cover]
    return problems


def failed_checks(explained: Explained) -> list[str]:
    """Checks that came out wrong: a Finished, binder or signature that does not verify,
    a computed secret that differs from the key log or the engine."""
    bad = [f"{f.name}: {f.check}" for tree in explained.fields() for f in tree.walk()
           if f.check and not f.check.startswith("verified")]
    bad += [f"{s.name}: {s.check}" for s in explained.steps.items
            if s.check and not s.check.startswith(("matches", "starts with client_version"))]
    return bad


@dataclass
class Recorded:
    pair: Pair
    client: Explained
    server: Explained


def exchange(client: ClientConfig | ClientConnection, server: ServerConfig,
             recorder: Recorder, **kwargs: Any) -> Pair:
    """Handshake, a request and a response, a key update (TLS 1.3), close."""
    pair = Pair(client, server, **kwargs).pump()
    assert pair.complete, (pair.client.error, pair.server.error)
    pair.client.connection.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    pair.pump()
    if pair.server.negotiated.version == "TLSv1.3":
        pair.server.connection.key_update()
    pair.server.connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    pair.pump()
    pair.client.connection.close()
    pair.pump()
    return pair


def session_of(pair: Pair) -> ClientSession:
    session = pair.client.connection.session
    assert session is not None
    return session
