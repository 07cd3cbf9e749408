"""The seam between connections and handshake states: a bug inside a state fails the
connection closed (internal_error, no further input), the connection classes show
only their public surface, the optional operations are refused where they do not
apply, and the handshake modules depend one way only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import glasstls
from glasstls import ClientConnection, ConnectionClosedError, ServerConnection, UsageError
from glasstls.constants import TLS12
from glasstls.errors import AlertDescription, InternalError
from glasstls.handshake import client13, post13, server
from glasstls.handshake.engine import State
from helpers.pump import Pair, client_config, server_config
from pki import pki

TEST_PKI = pki("ecdsa-p256")
HANDSHAKE = Path(glasstls.__file__).parent / "handshake"
FATAL_INTERNAL_ERROR = bytes([21, 3, 3, 0, 2, 2, AlertDescription.internal_error])


# These inject a bug by replacing a handshake state's method on its class: compiled
# callers (the optional mypyc build) call the method directly and never see the patch.
INJECTS_BY_PATCHING = pytest.mark.pure_python_reference(
    reason="injects a bug by patching a state's method, which compiled callers do not look up")


def _fail_with(exception: Exception):  # type: ignore[no-untyped-def]
    def handle(*args: object, **kwargs: object) -> State:
        raise exception
    return handle


def _assert_failed_closed(connection: ClientConnection | ServerConnection,
                          error: InternalError, cause: type[Exception]) -> None:
    assert error.alert == AlertDescription.internal_error
    assert str(error).startswith("internal error:") and "injected" in str(error)
    assert isinstance(error.__cause__, cause)
    assert connection.closed
    with pytest.raises(InternalError) as again:
        connection.receive_data(b"\x17\x03\x03\x00\x01\x00")
    assert again.value is error  # further input is refused with the same error
    with pytest.raises(ConnectionClosedError):
        connection.send(b"x")


@INJECTS_BY_PATCHING
def test_a_bug_in_a_client_state_fails_the_connection_with_internal_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client13.ExpectEncryptedExtensions, "handle",
                        _fail_with(RuntimeError("injected")))
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI))
    pair.pump()
    error = pair.client.error
    assert isinstance(error, InternalError)
    _assert_failed_closed(pair.client.connection, error, RuntimeError)
    # The alert went out under the client handshake keys (RFC 8446 §2: the client
    # writes with them from the ServerHello on), not in the clear, and the server,
    # reading with those keys, saw it.
    assert FATAL_INTERNAL_ERROR not in pair.sent("client->server")
    # An application_data record of 2 alert bytes, the content type and the AEAD tag.
    assert pair.sent("client->server")[-24:-19] == bytes([23, 3, 3, 0, 19])
    assert pair.server.alerts_received == [AlertDescription.internal_error]


@INJECTS_BY_PATCHING
def test_a_bug_in_a_server_state_fails_the_connection_with_internal_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.ExpectClientHello, "handle", _fail_with(KeyError("injected")))
    events = []
    config = server_config(TEST_PKI, trace=events.append)
    pair = Pair(client_config(TEST_PKI), config)
    pair.pump()
    error = pair.server.error
    assert isinstance(error, InternalError)
    _assert_failed_closed(pair.server.connection, error, KeyError)
    assert pair.sent("server->client") == FATAL_INTERNAL_ERROR
    assert pair.client.alerts_received == [AlertDescription.internal_error]
    alert = events[-1]
    assert (alert.step, alert.action, alert.details["description"]) == (
        "Alert", "sent", "internal_error")


@INJECTS_BY_PATCHING
def test_a_bug_in_an_operation_the_application_asked_for_fails_closed_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pair = Pair(client_config(TEST_PKI), server_config(TEST_PKI)).pump()
    assert pair.complete
    monkeypatch.setattr(post13.Connected13, "key_update", _fail_with(ValueError("injected")))
    client = pair.client.connection
    with pytest.raises(InternalError) as caught:
        client.key_update()
    _assert_failed_closed(client, caught.value, ValueError)


def test_optional_operations_are_usage_errors_where_they_do_not_apply() -> None:
    tls12 = {"versions": (TLS12,)}
    pair = Pair(client_config(TEST_PKI, **tls12), server_config(TEST_PKI, **tls12)).pump()
    assert pair.complete
    with pytest.raises(UsageError, match=r"established TLS 1\.3"):
        pair.client.connection.key_update()
    server_connection = pair.server.connection
    assert isinstance(server_connection, ServerConnection)
    with pytest.raises(UsageError, match=r"established TLS 1\.3"):
        server_connection.request_client_certificate()
    fresh = ClientConnection(client_config(TEST_PKI), server_name="localhost")
    with pytest.raises(UsageError, match=r"established TLS 1\.3"):
        fresh.key_update()
    # A misuse is not a failure: the connection goes on.
    assert not pair.client.connection.closed and not fresh.closed
    pair.client.connection.send(b"still fine")
    pair.pump()
    assert pair.server.data == b"still fine"


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


COMMON = {"buffers_to_send", "close", "closed", "collect_application_data", "config",
          "data_to_send", "decrypt_into", "decrypted_into", "export_keying_material",
          "handshake_complete", "key_update", "negotiated", "receive_data", "receive_eof",
          "recorder", "send", "take_unprocessed_data", "work_ahead"}


def test_the_connections_show_only_their_public_surface() -> None:
    assert _public(ClientConnection) == COMMON | {"send_early_data", "session"}
    assert _public(ServerConnection) == COMMON | {"client_hello", "offered_cipher_suites",
                                                  "request_client_certificate"}


def test_docs_engine_md_lists_that_surface() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text()
    section = text.split("## The connections' public surface", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)(?:\(|`)", section))
    assert _public(ClientConnection) | _public(ServerConnection) <= listed, (
        (_public(ClientConnection) | _public(ServerConnection)) - listed)


def _imports(module: Path) -> set[str]:
    """Modules imported by a handshake module, as names relative to glasstls."""
    names = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ("handshake." * (node.level == 1)) + (node.module or "")
            names.add(base)
            if not node.module:
                names |= {f"handshake.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_handshake_modules_never_import_the_connection() -> None:
    for module in HANDSHAKE.glob("*.py"):
        imported = _imports(module)
        assert not any("connection" in name for name in imported), (module.name, imported)


def test_version_modules_depend_only_on_shared_modules() -> None:
    versions = {"client13", "client12", "server13", "server12"}
    for name in versions:
        imported = _imports(HANDSHAKE / f"{name}.py")
        assert not {f"handshake.{other}" for other in versions} & imported, (name, imported)
    # The hello step of each role is what knows both versions.
    assert {"handshake.client13", "handshake.client12"} <= _imports(HANDSHAKE / "client.py")
    assert {"handshake.server13", "handshake.server12"} <= _imports(HANDSHAKE / "server.py")
