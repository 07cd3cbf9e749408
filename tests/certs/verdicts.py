"""Run one certificate scenario through Python's ``ssl`` (OpenSSL) and through
``glasstls.SSLContext``, in memory, and report the verdict each gave: 0 when the
handshake completed, else the ``verify_code`` of ``SSLCertVerificationError``.

The peer whose certificate is checked is a glasstls engine that presents the
scenario's chain as it is (it does not judge it); the verifying side is an
``ssl.SSLObject`` made from an ``ssl.SSLContext`` or from a
``glasstls.SSLContext`` with the same settings.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import glasstls
from glasstls import CertifiedKey, ClientConfig, ClientConnection, ServerConfig, ServerConnection
from glasstls.errors import TLSError

from .scenarios import Scenario


@dataclass
class Verdict:
    code: int  # 0 accepted, else OpenSSL's verify code
    message: str = ""
    error: BaseException | None = None


class _Glass:
    """A sans-I/O glasstls engine presenting the scenario's certificate."""

    def __init__(self, connection: ClientConnection | ServerConnection) -> None:
        self.connection = connection
        self.failed = False

    def feed(self, data: bytes) -> None:
        if data and not self.failed:
            try:
                self.connection.receive_data(data)
            except TLSError:
                self.failed = True

    def take(self) -> bytes:
        return self.connection.data_to_send()


class _Object:
    """An ``ssl.SSLObject`` (from either context) driven over memory BIOs."""

    def __init__(self, context: ssl.SSLContext, server_side: bool, host: str | None) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                    server_hostname=host)
        self.done = False
        self.error: ssl.SSLError | None = None

    def feed(self, data: bytes) -> None:
        if data:
            self.incoming.write(data)

    def step(self) -> None:
        if self.done or self.error is not None:
            return
        try:
            self.tls.do_handshake()
            self.done = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as error:
            self.error = error

    def take(self) -> bytes:
        return self.outgoing.read()


def _configure(context: ssl.SSLContext, scenario: Scenario) -> ssl.SSLContext:
    context.load_verify_locations(cafile=str(scenario.cafile))
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= scenario.flags  # type: ignore[assignment]
    context.hostname_checks_common_name = scenario.common_name_fallback
    return context


def run(scenario: Scenario, verifier: type[ssl.SSLContext], own_cert: tuple[Path, Path]
        ) -> Verdict:
    """The verdict of ``verifier`` (``ssl.SSLContext`` or ``glasstls.SSLContext``)."""
    presented = CertifiedKey.from_files(scenario.chain, scenario.key)
    if scenario.role == "server":
        context = _configure(verifier(ssl.PROTOCOL_TLS_CLIENT), scenario)
        checker = _Object(context, False, scenario.host)
        peer = _Glass(ServerConnection(ServerConfig(certificates=(presented,))))
    else:
        context = verifier(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*own_cert)
        _configure(context, scenario)
        checker = _Object(context, True, None)
        peer = _Glass(ClientConnection(ClientConfig(verify_certificates=False,
                                                    certificate=presented), "localhost"))
    if scenario.role == "server":
        checker.step()
    for _ in range(20):
        moved = checker.take()
        peer.feed(moved)
        answer = peer.take()
        checker.feed(answer)
        checker.step()
        if not moved and not answer:
            break
    if checker.error is None:
        assert checker.done, f"{scenario.name}: the handshake neither completed nor failed"
        return Verdict(0)
    if isinstance(checker.error, ssl.SSLCertVerificationError):
        return Verdict(checker.error.verify_code, checker.error.verify_message, checker.error)
    return Verdict(-1, str(checker.error), checker.error)


VERIFIERS = {"ssl": ssl.SSLContext, "glasstls": glasstls.SSLContext}
