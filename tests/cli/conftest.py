"""Fixtures for the command line tests: a clean environment for the child
processes, PEM files, an in-process glasstls server, and peers that are always
stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from glasstls import CertifiedKey, ServerConfig, TLSSocket, serve
from interop.processes import PeerProcess
from pki import pki


@pytest.fixture(autouse=True)
def cli_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """What every glasstls child process inherits: plain text (no colour), its own
    state directory, no key log from the developer's environment."""
    state = tmp_path / "state"
    monkeypatch.setenv("GLASSTLS_STATE_DIR", str(state))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    return state


@pytest.fixture(scope="session")
def pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM files of the ECDSA test PKI: ca, cert, key, client_cert, client_key."""
    return pki("ecdsa-p256").write(tmp_path_factory.mktemp("cli-pki"))


@pytest.fixture(scope="session")
def other_pem(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A second, unrelated PKI (its CA does not trust the first one's certificates)."""
    return pki("rsa-2048").write(tmp_path_factory.mktemp("cli-pki-other"))


def _echo(sock: TLSSocket, address: Any) -> None:
    while data := sock.recv(65536):
        sock.sendall(data)


@pytest.fixture
def glass_server() -> Iterator[Callable[..., tuple[str, int]]]:
    """``glass_server(**config)`` -> the address of an in-process glasstls echo
    server using the test PKI (ServerConfig options override the defaults)."""
    servers = []

    def start(**overrides: Any) -> tuple[str, int]:
        test_pki = pki("ecdsa-p256")
        config = ServerConfig(**{"certificates": (CertifiedKey(
            (test_pki.leaf.certificate,), test_pki.leaf.key),), **overrides})
        server = serve(("127.0.0.1", 0), _echo, config=config, timeout=30)
        servers.append(server)
        host, port = server.address[:2]
        return host, port

    yield start
    for server in servers:
        server.close(abort_connections=True)


@pytest.fixture
def processes() -> Iterator[Callable[[Sequence[str]], PeerProcess]]:
    """``processes(argv)`` -> a running PeerProcess, killed (and shown) at teardown."""
    started: list[PeerProcess] = []

    def start(argv: Sequence[str]) -> PeerProcess:
        process = PeerProcess(argv)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        print(process.describe())
