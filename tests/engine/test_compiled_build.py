"""What must not differ between the pure-Python package and the optional compiled build
(hatch_build.py, ``GLASSTLS_COMPILE=1``). These run against both in CI (``make test``
and ``make test-fast``): each holds for the sources and fails if compiling changes it."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

import glasstls
from glasstls import ClientConnection
from glasstls.constants import TLS12, TLS13, NamedGroup, ProtocolVersion
from glasstls.crypto import groups
from glasstls.session import ClientSession
from helpers.pump import Pair, client_config, server_config
from pki import pki

TEST_PKI = pki("ecdsa-p256")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("version", [TLS12, TLS13])
def test_a_session_keeps_its_version_as_the_enum(version: ProtocolVersion) -> None:
    # A compiled class stores a field typed ``int`` as a plain int: typed as what it
    # holds, the version stays ProtocolVersion in both builds (and in its session file).
    options = {"versions": (version,)}
    pair = Pair(client_config(TEST_PKI, **options), server_config(TEST_PKI, **options)).pump()
    client = pair.client.connection
    assert pair.complete and isinstance(client, ClientConnection)
    session = client.session
    assert session is not None
    assert type(session.version) is ProtocolVersion and session.version is version
    again = ClientSession.from_bytes(session.to_bytes())
    assert type(again.version) is ProtocolVersion and again == session


def test_the_key_exchange_reads_the_mlkem_seam_at_each_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The recorded transcripts replay ML-KEM encapsulation through this variable: a
    # server's hybrid key exchange must use whatever it holds when it runs.
    ciphertext, secret = bytes(range(256)) * 4 + bytes(64), b"\x42" * 32
    calls: list[bytes] = []

    def encapsulate(key: bytes) -> tuple[bytes, bytes]:
        calls.append(key)
        return secret, ciphertext[:1088]

    group = groups.GROUPS[NamedGroup.X25519MLKEM768]
    share = group.generate(os.urandom)
    monkeypatch.setattr(groups, "mlkem_encapsulate", encapsulate)
    server_share, shared = group.respond(share.public, os.urandom)
    assert calls == [share.public[:1184]]  # X25519MLKEM768: the ML-KEM key comes first
    assert server_share[:1088] == ciphertext[:1088] and shared[:32] == secret


def test_the_compiled_modules_are_modules_of_the_package() -> None:
    # hatch_build.COMPILED names source paths: a module moved or renamed must not
    # silently drop out of the compiled build (read without importing hatchling).
    tree = ast.parse((ROOT / "hatch_build.py").read_text())
    (listed,) = [ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "COMPILED"]
    assert listed
    for path in listed:
        assert (ROOT / "src" / path).exists(), path
    # Left as Python on purpose (hatch_build.py says why).
    for kept in ("glasstls/messages/", "glasstls/keyschedule.py", "glasstls/events.py",
                 "glasstls/immutable.py", "glasstls/crypto/signatures.py"):
        assert kept not in listed


def test_the_package_says_which_build_is_loaded() -> None:
    extension = not glasstls.connection.__file__.endswith(".py")
    assert glasstls.__compiled__ is extension
    if os.environ.get("GLASSTLS_EXPECT_COMPILED") == "1":
        assert glasstls.__compiled__
