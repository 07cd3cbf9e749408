"""Every Python example in README.md and docs/ runs, unchanged, against a local
server, and passes ruff and mypy --strict (see examples.py for the markers)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import glasstls
from glasstls.crypto.devpki import make_leaf
from pki import pki

from .examples import KINDS, ROOT, SITECUSTOMIZE, Example, examples

ALL = examples()
RUN_TIMEOUT = 60.0


def of_kind(kind: str) -> list[Any]:
    return [pytest.param(e, id=e.source) for e in ALL if kind in e.kinds]


def test_every_python_block_is_marked() -> None:
    assert len(ALL) >= 5
    for example in ALL:
        assert example.kinds, f"{example.source}: mark the block ```python example=KIND"
        assert set(example.kinds) <= KINDS, f"{example.source}: unknown kind {example.kinds}"


def test_examples_pass_ruff_and_mypy_strict(tmp_path: Path) -> None:
    paths = []
    for example in ALL:
        path = tmp_path / f"{example.module_name}.py"
        path.write_text(example.code)
        paths.append(str(path))
    bin_dir = Path(sys.executable).parent
    ruff = subprocess.run([str(bin_dir / "ruff"), "check", "--config",
                           str(ROOT / "pyproject.toml"), *paths],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11",
                           "--cache-dir", str(tmp_path / ".mypy_cache"), *paths],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


# -- running them --------------------------------------------------------------------


@dataclass
class Network:
    """Where the child's example.com:443 and 127.0.0.1:8443 really are."""

    directory: Path
    routes: dict[str, int] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("GLASSTLS_TRACE", "SSLKEYLOGFILE", "SSL_CERT_DIR")}
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(self.directory / "site"), env.get("PYTHONPATH")]))
        env["EXAMPLE_NETWORK"] = ";".join(f"{name}=127.0.0.1:{port}"
                                          for name, port in self.routes.items())
        env["SSL_CERT_FILE"] = str(self.directory / "ca.pem")
        return env


@pytest.fixture
def network(tmp_path: Path) -> Network:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    test_pki = pki()
    (tmp_path / "ca.pem").write_bytes(test_pki.ca.certificate_pem())
    (tmp_path / "cert.pem").write_bytes(test_pki.leaf.certificate_pem())
    (tmp_path / "key.pem").write_bytes(test_pki.leaf.key_pem())
    return Network(tmp_path)


def write_program(example: Example, network: Network) -> Path:
    path = network.directory / f"{example.module_name}.py"
    path.write_text(example.code)
    return path


@contextlib.contextmanager
def example_com(answer: bool = True) -> Iterator[tuple[int, list[bytes], list[float]]]:
    """A glasstls server for example.com; yields (port, requests seen, when it
    closed). With ``answer=False`` it closes after reading the ClientHello."""
    leaf = make_leaf(pki().ca, ("example.com",))
    requests: list[bytes] = []
    closed: list[float] = []
    listener = socket.create_server(("127.0.0.1", 0))
    if not answer:
        def cut() -> None:
            plain, _ = listener.accept()
            plain.recv(65536)  # the ClientHello
            closed.append(time.monotonic())
            plain.close()

        thread = threading.Thread(target=cut, daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1], requests, closed
        finally:
            thread.join(10)
            listener.close()
        return
    listener.close()

    def handle(sock: glasstls.TLSSocket, address: Any) -> None:
        request = b""
        while b"\r\n\r\n" not in request and (data := sock.recv(65536)):
            request += data
        requests.append(request)
        body = b"<html><body>example</body></html>\n"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    config = glasstls.ServerConfig(certificates=(glasstls.CertifiedKey(
        (leaf.certificate,), leaf.key),))
    with glasstls.serve(("127.0.0.1", 0), handle, config=config, timeout=30) as server:
        yield server.address[1], requests, closed


@pytest.mark.parametrize("example", of_kind("https-client"))
def test_client_example(example: Example, network: Network) -> None:
    program = write_program(example, network)
    with example_com() as (port, requests, _):
        network.routes["example.com:443"] = port
        run = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                             timeout=RUN_TIMEOUT, env=network.environment(),
                             cwd=network.directory)
    assert run.returncode == 0, run.stdout + run.stderr
    assert requests and requests[0].startswith(b"GET / HTTP/1.1\r\n")
    assert b"host: example.com" in requests[0].lower()


@pytest.mark.parametrize("example", of_kind("closes-mid-handshake"))
def test_client_example_ends_when_the_server_closes_mid_handshake(
        example: Example, network: Network) -> None:
    program = write_program(example, network)
    with example_com(answer=False) as (port, _, closed):
        network.routes["example.com:443"] = port
        run = subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                             timeout=RUN_TIMEOUT, env=network.environment(),
                             cwd=network.directory)
        ended = time.monotonic()
    assert closed, "the program never sent its ClientHello"
    assert ended - closed[0] < 1.0, f"it took {ended - closed[0]:.2f} s to notice"
    assert run.returncode != 0
    assert "closed the connection during the handshake" in run.stderr, run.stderr


@pytest.mark.parametrize("example", of_kind("server"))
def test_server_example(example: Example, network: Network) -> None:
    program = write_program(example, network)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    network.routes["127.0.0.1:8443"] = port
    process = subprocess.Popen([sys.executable, str(program)], env=network.environment(),
                               cwd=network.directory, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        context = ssl.create_default_context(cafile=str(network.directory / "ca.pem"))
        deadline = time.monotonic() + 30
        while True:
            try:
                plain = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.05)
        with context.wrap_socket(plain, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            response = b""
            with contextlib.suppress(ssl.SSLEOFError):
                while data := tls.recv(65536):
                    response += data
    finally:
        process.kill()
        output = process.communicate(timeout=10)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n"), (response, output)
    assert response.endswith(b"\r\n\r\nhello\n")
