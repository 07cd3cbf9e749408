"""The dissection agrees with Wireshark's: a connection between a glasstls client
and server on loopback is captured with dumpcap, decrypted by ``tshark`` from the
client's NSS key log, and compared with ``glasstls explain --pcap`` of the same
file and key log: records (sender, content type, length), handshake messages (type,
length), versions, cipher suites, groups, extension types, alerts and the
decrypted application data."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from glasstls import ClientConfig, ServerConfig, connect, serve
from glasstls.constants import TLS12, TLS13, CipherSuite
from glasstls.explain.capture import tls_connections
from glasstls.explain.dissect import Explained, dissect
from glasstls.explain.keys import KeyMaterial
from glasstls.io import KeyLogFile
from peers import require_binary
from pki import pki

from .checks import tiling_problems
from .loopback import capture, free_port, http_responder

pytestmark = pytest.mark.interop

REQUEST = b"GET /explain HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhello\r\n"
FIELDS = ("tcp.srcport", "tls.record.content_type", "tls.record.length",
          "tls.record.version", "tls.handshake.type", "tls.handshake.length",
          "tls.handshake.version", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
          "tls.handshake.extensions.supported_version", "tls.handshake.extensions_key_share_group",
          "tls.handshake.extensions_supported_group", "tls.alert_message.desc", "data.data")


def _connect_and_capture(tmp_path: Path, client: dict[str, Any], server: dict[str, Any],
                         key: Any) -> tuple[Path, Path, int]:
    port = free_port()
    keylog = tmp_path / "keys.log"

    server_config = ServerConfig(certificates=(key.certified,), **server)
    client_config = ClientConfig(trust=key.trust, keylog=KeyLogFile(str(keylog)),
                                 session_cache=None, **client)
    with capture(tmp_path / "capture.pcapng", port) as path:
        listener = serve(("127.0.0.1", port), http_responder(RESPONSE), config=server_config,
                         timeout=10)
        try:
            with connect(("127.0.0.1", port), config=client_config,
                         server_hostname="localhost", timeout=10) as sock:
                sock.sendall(REQUEST)
                received = b""
                while len(received) < len(RESPONSE):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    received += chunk
                assert received == RESPONSE
        finally:
            listener.close()
    return path, keylog, port


def _tshark(path: Path, keylog: Path, port: int) -> list[dict[str, list[str]]]:
    tshark = require_binary("tshark")
    command = [tshark, "-r", str(path), "-o", f"tls.keylog_file:{keylog}",
               "-d", f"tcp.port=={port},tls", "--disable-protocol", "http",
               "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E",
               "separator=\t"]
    for name in FIELDS:
        command += ["-e", name]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    frames = []
    for line in output.stdout.splitlines():
        values = line.split("\t")
        frames.append({name: [v for v in value.split(",") if v]
                       for name, value in zip(FIELDS, values, strict=True)})
    return [f for f in frames if f["tls.record.content_type"]]


def _ints(frames: list[dict[str, list[str]]], name: str) -> list[int]:
    return [int(v, 0) for frame in frames for v in frame[name]]


def _leaf_values(explained: Explained, *names: str) -> list[int]:
    return [f.value for m in explained.messages for f in m.tree.walk()
            if f.name in names and not f.children]


def _compare(explained: Explained, frames: list[dict[str, list[str]]], port: int) -> None:
    # Records: who sent each, its (inner) content type and its length, in order.
    ours = [(r.sender, r.content_type, len(r.wire) - 5) for r in explained.records]
    theirs = []
    for frame in frames:
        sender = "server" if int(frame["tcp.srcport"][0]) == port else "client"
        for kind, length in zip(frame["tls.record.content_type"],
                                frame["tls.record.length"], strict=True):
            theirs.append((sender, int(kind), int(length)))
    assert ours == theirs and len(ours) >= 8
    assert [int.from_bytes(r.wire[1:3], "big") for r in explained.records] == _ints(
        frames, "tls.record.version")
    # Handshake messages: type and length, in order.
    handshakes = [m for m in explained.messages if m.kind == "handshake"]
    assert [m.msg_type for m in handshakes] == _ints(frames, "tls.handshake.type")
    assert [len(m.raw) - 4 for m in handshakes] == _ints(frames, "tls.handshake.length")
    assert _leaf_values(explained, "legacy_version") == _ints(frames, "tls.handshake.version")
    assert _leaf_values(explained, "cipher_suite") == _ints(frames, "tls.handshake.ciphersuite")
    extension_types = _ints(frames, "tls.handshake.extension.type")
    assert _leaf_values(explained, "extension_type") == extension_types
    assert len(extension_types) >= 10
    assert _leaf_values(explained, "version", "selected_version") == _ints(
        frames, "tls.handshake.extensions.supported_version")
    assert _leaf_values(explained, "cipher_suite")
    groups = [f.value for m in handshakes for f in m.tree.walk()
              if f.name == "group" and not f.children]
    assert groups == _ints(frames, "tls.handshake.extensions_key_share_group")
    assert _leaf_values(explained, "named_group") == _ints(
        frames, "tls.handshake.extensions_supported_group")
    assert _leaf_values(explained, "description") == _ints(frames, "tls.alert_message.desc")
    # The decrypted application data, both ways.
    data = b"".join(m.raw for m in explained.messages if m.kind == "application_data")
    assert data == b"".join(bytes.fromhex(v) for frame in frames for v in frame["data.data"])
    assert data == REQUEST + RESPONSE


@pytest.mark.parametrize(("client", "server", "key"), [
    ({}, {}, "ecdsa-p256"),
    ({"versions": (TLS12,)}, {"versions": (TLS12,)}, "ecdsa-p256"),
    ({"versions": (TLS12,), "enable_rsa_key_exchange": True},
     {"versions": (TLS12,), "enable_rsa_key_exchange": True,
      "cipher_suites": (CipherSuite.TLS_RSA_WITH_AES_128_GCM_SHA256,)}, "rsa-2048"),
], ids=["tls13-mlkem", "tls12-ecdhe", "tls12-rsa"])
def test_glasstls_and_tshark_read_the_same_connection_alike(
        tmp_path: Path, client: dict[str, Any], server: dict[str, Any], key: str) -> None:
    path, keylog, port = _connect_and_capture(tmp_path, client, server, pki(key))
    (connection,) = tls_connections(path, port)
    explained = dissect(connection.records, KeyMaterial.from_keylog_file(keylog))
    assert tiling_problems(explained) == []
    assert explained.facts.version == (TLS12 if "versions" in client else TLS13)
    frames = _tshark(path, keylog, port)
    _compare(explained, frames, port)
