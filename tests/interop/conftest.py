"""Fixtures for interop tests: PKI files on disk, peer processes, glasstls servers.

Everything started here is stopped in teardown, pass or fail; a peer's command
line and output are printed in teardown so that a failure report shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from glasstls import ServerConfig
from pki import pki

from .driver import GlassServer, GlassSocket
from .matrix import CERTS
from .processes import PeerProcess


@pytest.fixture(scope="session")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Path]]:
    """``pki_files("rsa")`` -> paths of ca.pem, cert.pem, key.pem... (written once)."""
    written: dict[str, dict[str, Path]] = {}

    def files(cert: str) -> dict[str, Path]:
        if cert not in written:
            written[cert] = pki(CERTS[cert]).write(tmp_path_factory.mktemp(f"pki-{cert}"))
        return written[cert]

    return files


@pytest.fixture
def start_peer() -> Iterator[Callable[[Sequence[str]], PeerProcess]]:
    """``start_peer(argv)`` -> a running ``PeerProcess``, killed at teardown."""
    started: list[PeerProcess] = []

    def start(argv: Sequence[str]) -> PeerProcess:
        peer = PeerProcess(argv)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.kill()
        print(peer.describe())


@pytest.fixture
def start_glass_server() -> Iterator[Callable[..., GlassServer]]:
    """``start_glass_server(config, handler, connections=1)`` -> a ``GlassServer``,
    stopped at teardown."""
    started: list[GlassServer] = []

    def start(config: ServerConfig, handler: Callable[[GlassSocket], Any],
              connections: int = 1) -> GlassServer:
        server = GlassServer(config, handler, connections=connections)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
