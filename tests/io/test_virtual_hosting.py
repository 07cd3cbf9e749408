"""Virtual hosting: a server answers each name the client asks for (SNI) with that
name's certificate, checked with ``openssl s_client -servername`` and Python's
``ssl``; ``SSLContext.sni_callback`` with ``ssl``'s semantics."""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from io_helpers import BioPair

import glasstls
from glasstls import CertifiedKey, ServerConfig
from glasstls.crypto.devpki import Issued, make_leaf
from peers import require_binary
from pki import pki

pytestmark = pytest.mark.interop

NAMES = ("alpha.test", "beta.test", "*.gamma.test")


@pytest.fixture(scope="module")
def leaves() -> dict[str, Issued]:
    """A certificate per served name, and a default one (subject CN = its name)."""
    ca = pki().ca
    made = {name: make_leaf(ca, (name,)) for name in NAMES}
    made["default"] = make_leaf(ca, ("default.test", "127.0.0.1"))
    return made


@pytest.fixture(scope="module")
def pem(leaves: dict[str, Issued], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("vhost-pki")
    files = {"ca": directory / "ca.pem"}
    files["ca"].write_bytes(pki().ca.certificate_pem())
    for name, leaf in leaves.items():
        stem = name.replace("*", "wildcard")
        files[f"{name}-cert"] = directory / f"{stem}-cert.pem"
        files[f"{name}-key"] = directory / f"{stem}-key.pem"
        files[f"{name}-cert"].write_bytes(leaf.certificate_pem())
        files[f"{name}-key"].write_bytes(leaf.key_pem())
    return files


def certified(leaf: Issued) -> CertifiedKey:
    return CertifiedKey((leaf.certificate,), leaf.key)


def drain(sock: glasstls.TLSSocket, address: Any) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(4096):
            pass


def s_client(port: int, ca: Path, name: str | None, verify_name: str | None = None,
             ) -> tuple[int, str]:
    """``openssl s_client -servername NAME``: (exit status, its -brief report)."""
    openssl = require_binary("openssl")
    argv = [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-brief", "-CAfile",
            str(ca), "-verify_return_error"]
    argv += ["-servername", name] if name else ["-noservername"]
    if verify_name:
        argv += ["-verify_hostname", verify_name]
    done = subprocess.run(argv, input=b"", capture_output=True, timeout=30)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def peer_common_name(report: str) -> str:
    match = re.search(r"Peer certificate: .*CN\s*=\s*([^,\n]+)", report)
    assert match, report
    return match.group(1).strip()


def test_three_names_and_a_default_with_openssl_s_client(
        leaves: dict[str, Issued], pem: dict[str, Path]) -> None:
    config = ServerConfig(
        certificates=(certified(leaves["default"]),),
        server_names={name: (certified(leaves[name]),) for name in NAMES})
    asked = {"alpha.test": "alpha.test", "beta.test": "beta.test",
             "www.gamma.test": "*.gamma.test", "other.test": "default.test",
             "a.b.gamma.test": "default.test", "gamma.test": "default.test",
             None: "default.test"}
    with glasstls.serve(("127.0.0.1", 0), drain, config=config) as server:
        for name, expected in asked.items():
            verify = name if expected != "default.test" else None
            status, report = s_client(server.address[1], pem["ca"], name, verify)
            assert status == 0, report
            assert "Verification: OK" in report, report
            assert peer_common_name(report) == expected, (name, report)


def test_strict_virtual_hosting_refuses_unknown_names(
        leaves: dict[str, Issued], pem: dict[str, Path]) -> None:
    config = ServerConfig(server_names={"alpha.test": (certified(leaves["alpha.test"]),)})
    with glasstls.serve(("127.0.0.1", 0), drain, config=config) as server:
        status, report = s_client(server.address[1], pem["ca"], "alpha.test", "alpha.test")
        assert status == 0 and peer_common_name(report) == "alpha.test", report
        status, report = s_client(server.address[1], pem["ca"], "nobody.test")
        assert status != 0
        assert "unrecognized name" in report, report


def test_the_name_s_chains_still_follow_the_client_s_signature_algorithms(
        pem: dict[str, Path]) -> None:
    ca = pki().ca
    ecdsa, rsa = (make_leaf(ca, ("both.test",)),
                  make_leaf(ca, ("both.test",), key_type="rsa-2048"))
    config = ServerConfig(certificates=(certified(make_leaf(ca, ("default.test",))),),
                          server_names={"both.test": (certified(ecdsa), certified(rsa))})
    openssl = require_binary("openssl")
    with glasstls.serve(("127.0.0.1", 0), drain, config=config) as server:
        for sigalgs, key in (("ECDSA+SHA256", "ECDSA"), ("RSA-PSS+SHA256", "RSA")):
            done = subprocess.run(
                [openssl, "s_client", "-connect", f"127.0.0.1:{server.address[1]}",
                 "-servername", "both.test", "-CAfile", str(pem["ca"]),
                 "-verify_return_error", "-sigalgs", sigalgs],
                input=b"", capture_output=True, timeout=30)
            report = done.stdout.decode(errors="replace")
            assert done.returncode == 0, report + done.stderr.decode()
            assert re.search(rf"Peer signature type: {key}", report, re.IGNORECASE) or (
                key == "RSA" and "RSA-PSS" in report), report


# -- the drop-in: sni_callback ----------------------------------------------------------


def server_context(pem: dict[str, Path], name: str) -> glasstls.SSLContext:
    context = glasstls.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem[f"{name}-cert"], pem[f"{name}-key"])
    return context


@contextlib.contextmanager
def listening(context: glasstls.SSLContext, count: int) -> Iterator[tuple[int, list[Any]]]:
    """``count`` connections accepted through ``context`` on a thread; yields the
    port and what each ended with (the TLSSocket's negotiated name, or an error)."""
    listener = context.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True)
    outcomes: list[Any] = []

    def serve() -> None:
        for _ in range(count):
            try:
                tls, _ = listener.accept()
            except (OSError, ssl.SSLError) as error:
                outcomes.append(error)
                continue
            with tls:
                outcomes.append(tls)
                drain(tls, None)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], outcomes
    finally:
        thread.join(30)
        listener.close()


def test_sni_callback_switches_the_context_as_with_ssl(pem: dict[str, Path]) -> None:
    main = server_context(pem, "default")
    others = {name: server_context(pem, name) for name in ("alpha.test", "beta.test")}
    seen: list[tuple[Any, str | None, Any]] = []

    def choose(tls: Any, server_name: str | None, context: Any) -> None:
        seen.append((tls, server_name, context))
        if server_name in others:
            tls.context = others[server_name]

    main.sni_callback = choose
    cases = [("alpha.test", "alpha.test"), ("beta.test", "beta.test"),
             ("other.test", "default.test"), (None, "default.test")]
    with listening(main, len(cases)) as (port, outcomes):
        for name, expected in cases:
            status, report = s_client(port, pem["ca"], name)
            assert status == 0, report
            assert peer_common_name(report) == expected, (name, report)
    assert [s[1] for s in seen] == [name for name, _ in cases]
    assert all(isinstance(s[0], ssl.SSLSocket) and s[2] is main for s in seen)
    assert outcomes[0].context is others["alpha.test"]
    assert outcomes[2].context is main


def test_sni_callback_alert_and_exception_fail_the_handshake(pem: dict[str, Path]) -> None:
    main = server_context(pem, "default")

    def refuse(tls: Any, server_name: str | None, context: Any) -> int | None:
        if server_name == "boom.test":
            raise RuntimeError("the callback broke")
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if server_name != "ok.test" else None

    main.set_servername_callback(refuse)
    python_client = ssl.create_default_context(cafile=str(pem["ca"]))
    python_client.check_hostname = False
    with listening(main, 3) as (port, outcomes):
        for name in ("nobody.test", "boom.test", "ok.test"):
            try:
                with python_client.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                               server_hostname=name) as tls:
                    tls.sendall(b"x")
                    outcome: Any = tls.version()
            except ssl.SSLError as error:
                outcome = error.reason
            assert outcome == {"nobody.test": "TLSV1_UNRECOGNIZED_NAME",
                               "boom.test": "SSLV3_ALERT_HANDSHAKE_FAILURE",
                               "ok.test": "TLSv1.3"}[name]
    errors = [o for o in outcomes if isinstance(o, ssl.SSLError)]
    assert len(errors) == 2
    assert isinstance(errors[1].__cause__.__cause__, RuntimeError)  # type: ignore[union-attr]


def test_sni_callback_rules_as_in_ssl(pem: dict[str, Path]) -> None:
    client = glasstls.SSLContext()
    with pytest.raises(ValueError, match="TLS_CLIENT"):
        client.sni_callback = lambda *args: None
    server = server_context(pem, "default")
    with pytest.raises(TypeError):
        server.sni_callback = "not callable"  # type: ignore[assignment]
    server.set_servername_callback(None)
    assert server.sni_callback is None


def test_sni_callback_through_wrap_bio(pem: dict[str, Path]) -> None:
    """asyncio's SSL protocol drives wrap_bio: the callback gets the SSLObject."""
    main = server_context(pem, "default")
    alpha = server_context(pem, "alpha.test")
    seen: list[Any] = []

    def choose(tls: Any, server_name: str | None, context: Any) -> None:
        seen.append(tls)
        tls.context = alpha

    main.sni_callback = choose
    client = glasstls.SSLContext()
    client.load_verify_locations(pem["ca"])
    pair = BioPair(client, main, server_hostname="alpha.test")
    pair.handshake()
    assert pair.client.version() == "TLSv1.3"
    assert seen == [pair.server] and isinstance(seen[0], ssl.SSLObject)
    assert pair.server.context is alpha
    assert pair.client.getpeercert()["subjectAltName"] == (("DNS", "alpha.test"),)
