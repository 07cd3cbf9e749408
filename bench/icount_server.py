"""Instructions per call of the server's parts of a resumed TLS 1.3 handshake
(callgrind), for A/B checks of server changes against another source tree.

    python bench/icount_server.py --src /tmp/main/src --src src [--part parse] [--n 400]

Parts: ``parse`` (``ClientHello.parse`` of a resuming hello), ``choose_psk`` (ticket
open, state decode, binder check), ``tickets`` and ``tickets2`` (``issue_tickets``
with one and two tickets: the bench's and the servers' defaults), ``hello`` (a new
``ServerConnection`` answering that hello: everything up to its flight, X25519
included). The configs are ``icount_handshake.py``'s; each part is counted under
valgrind with 0 and N calls and the difference divided by N.
"""

from __future__ import annotations

import argparse

from icount_handshake import TESTS, callgrind, pki_files

PARTS = ("parse", "choose_psk", "tickets", "tickets2", "hello")

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[4])
from glasstls import (CertifiedKey, ClientConfig, ClientConnection, ServerConfig,
                      ServerConnection, TrustStore)
from glasstls.constants import TLS13, CipherSuite, NamedGroup
from glasstls.crypto.suites import SUITES
from glasstls.handshake.psk13 import choose_psk, issue_tickets
from glasstls.messages.handshake import ClientHello
part, n, files = sys.argv[2], int(sys.argv[3]), sys.argv[5] + "/ecdsa-p256/"
trust = TrustStore.from_pem_file(files + "ca.pem")
certified = CertifiedKey.from_files(files + "cert.pem", files + "key.pem")
options = dict(versions=(TLS13,), cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,),
               groups=(NamedGroup.x25519,))
client = ClientConfig(trust=trust, key_share_groups=(NamedGroup.x25519,),
                      session_cache=None, **options)
server = ServerConfig(certificates=(certified,), tickets=2 if part == "tickets2" else 1,
                      **options)
c = ClientConnection(client, server_name="localhost")
s = ServerConnection(server)
s.receive_data(c.data_to_send())
c.receive_data(s.data_to_send())
s.receive_data(c.data_to_send())
c.receive_data(s.data_to_send())
record = ClientConnection(client, server_name="localhost", session=c.session).data_to_send()
raw = record[5:]  # the resuming ClientHello, alone in its record
hello = ClientHello.parse(raw)
suite = SUITES[CipherSuite.TLS_AES_128_GCM_SHA256]


class Engine:  # what choose_psk and issue_tickets ask of the engine, doing nothing
    class transcript:
        def seed(*args):
            pass

    def trace(self, *args):
        pass

    def send_post_handshake(self, message):
        pass


engine = Engine()
assert choose_psk(engine, server, hello, suite, b"", True, "localhost") is not None
for _ in range(n):
    if part == "parse":
        ClientHello.parse(raw)
    elif part == "choose_psk":
        choose_psk(engine, server, hello, suite, b"", True, "localhost")
    elif part.startswith("tickets"):
        issue_tickets(engine, server, suite, bytes(32), None, "localhost", ())
    else:
        ServerConnection(server).receive_data(record)
"""
def instructions(src: str, part: str, n: int, files: str) -> int:
    with callgrind(CHILD, src, part, str(n), TESTS, files) as (total, _):
        return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--part", action="append", choices=PARTS,
                        help="a part (repeatable; default all)")
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    with pki_files(args.src[0]) as files:
        for part in args.part or PARTS:
            for src in args.src:
                base = instructions(src, part, 0, files)
                total = instructions(src, part, args.n, files)
                print(f"{part:11s} {src}: {(total - base) / args.n / 1e3:8.1f} K instructions "
                      f"per call", flush=True)


if __name__ == "__main__":
    main()
