"""What a resumed handshake costs next to a full one, in glasstls's engine, in memory.

    .venv/bin/python bench/resumption_cost.py [--rounds 50]

For TLS 1.3 (a ticket, psk_dhe_ke over x25519; and the same with 0-RTT) and TLS 1.2
(a session id; an RFC 5077 ticket), each with an ECDSA P-256 chain that the client
verifies: the median wall time of a complete handshake (both sides, every byte
delivered, nothing on the wire but memory), full against resumed, measured in the
same run and printed as a table with the ratio resumed / full. Timings are
printed, never asserted; they depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

try:
    import glasstls
except ImportError:  # run from a checkout without an installed glasstls
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    import glasstls

from glasstls import (
    CertifiedKey,
    ClientConfig,
    ClientConnection,
    NamedGroup,
    ServerConfig,
    ServerConnection,
    TrustStore,
)
from glasstls.constants import TLS12, TLS13
from glasstls.crypto.devpki import make_ca, make_leaf
from glasstls.session import ClientSession

_ = glasstls


@dataclass(frozen=True)
class Case:
    name: str
    version: int
    server: dict[str, object]
    client: dict[str, object]
    early_data: bytes = b""


CASES = (
    Case("TLS 1.3 ticket", TLS13, {}, {}),
    Case("TLS 1.3 ticket + 0-RTT", TLS13, {"max_early_data_size": 1024},
         {"enable_early_data": True}, early_data=b"GET / HTTP/1.1\r\n\r\n"),
    Case("TLS 1.2 session id", TLS12, {"ticket_keys": None}, {"enable_session_tickets": False}),
    Case("TLS 1.2 ticket", TLS12, {"session_cache": None}, {}),
)


@dataclass
class Result:
    case: str
    full_ms: float
    resumed_ms: float

    @property
    def ratio(self) -> float:
        return self.resumed_ms / self.full_ms


def _configs(case: Case) -> tuple[ClientConfig, ServerConfig]:
    ca = make_ca("resumption bench CA")
    leaf = make_leaf(ca, ("localhost",))
    # x25519 for the key exchange; P-256 listed too, since a TLS 1.2 client must name
    # the curve of an ECDSA certificate it accepts (RFC 8422 §5.3).
    groups = (NamedGroup.x25519, NamedGroup.secp256r1)
    client = ClientConfig(trust=TrustStore([ca.certificate]), versions=(case.version,),
                          groups=groups, key_share_groups=groups[:1], session_cache=None,
                          **case.client)  # type: ignore[arg-type]
    server = ServerConfig(certificates=(CertifiedKey((leaf.certificate,), leaf.key),),
                          versions=(case.version,), groups=groups, tickets=1,
                          **case.server)  # type: ignore[arg-type]
    return client, server


def handshake(client_config: ClientConfig, server_config: ServerConfig,
              session: ClientSession | None = None, early_data: bytes = b"") -> ClientConnection:
    """One complete handshake in memory; returns the client (its .session is the
    session to resume)."""
    client = ClientConnection(client_config, server_name="localhost", session=session)
    server = ServerConnection(server_config)
    if early_data:
        client.send_early_data(early_data)
    for _ in range(16):
        to_server = client.data_to_send()
        if to_server:
            server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            client.receive_data(to_client)
        if not to_server and not to_client:
            break
    if not (client.handshake_complete and server.handshake_complete):
        raise RuntimeError("the handshake did not complete")
    if session is not None and not (client.negotiated and client.negotiated.resumed
                                    and server.negotiated and server.negotiated.resumed):
        raise RuntimeError("the handshake did not resume")
    if early_data and server.negotiated is not None and not server.negotiated.early_data_accepted:
        raise RuntimeError("the early data was not accepted")
    return client


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    run()  # warm up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(rounds: int = 50) -> list[Result]:
    results = []
    for case in CASES:
        client_config, server_config = _configs(case)
        full = _median_ms(lambda c=client_config, s=server_config: handshake(c, s), rounds)
        # Each resumption uses the session the one before it left (a fresh ticket:
        # 0-RTT with a ticket already used would be refused as a replay).
        latest = [handshake(client_config, server_config).session]

        def resume(c: ClientConfig = client_config, s: ServerConfig = server_config,
                   early: bytes = case.early_data,
                   latest: list[ClientSession | None] = latest) -> None:
            latest[0] = handshake(c, s, latest[0], early).session

        results.append(Result(case.name, full, _median_ms(resume, rounds)))
    return results


def report(results: list[Result]) -> str:
    lines = [f"{'case':<26} {'full ms':>9} {'resumed ms':>11} {'resumed/full':>13}"]
    for r in results:
        lines.append(f"{r.case:<26} {r.full_ms:>9.2f} {r.resumed_ms:>11.2f} {r.ratio:>13.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="handshakes per measurement")
    args = parser.parse_args(argv)
    print(report(measure(args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
