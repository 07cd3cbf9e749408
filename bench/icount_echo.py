"""Instructions per in-memory connection pair with a small exchange after the
handshake (callgrind), for A/B checks of the record plumbing a connection's small
records go through: ``icount_handshake.py``'s hs13-ecdsa pair (glasstls client and
server, X25519, TLS_AES_128_GCM_SHA256, one ticket), then 16 bytes from the client
in the same read as its last flight (as the sockets bench's client sends them), the
server's echo, and close_notify both ways, each read alone.

    python bench/icount_echo.py --src /tmp/main/src --src src [--n 40]

Each tree is run under valgrind with 0 and N pairs and the difference divided by N
(``icount_handshake.callgrind``); the ECDSA signatures are randomised, so a few K
instructions per pair are noise.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from icount_handshake import callgrind, pki_files
from icount_server import TLS13_CONFIGS

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
from glasstls import (CertifiedKey, ClientConfig, ClientConnection, ServerConfig,
                      ServerConnection, TrustStore)
from glasstls.constants import TLS13, CipherSuite, NamedGroup
files = sys.argv[3] + "/ecdsa-p256/"
tickets = 1
""" + TLS13_CONFIGS + r"""

def pair():
    c = ClientConnection(client, server_name="localhost")
    s = ServerConnection(server)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    c.send(b"PING" * 4)
    events = s.receive_data(c.data_to_send())  # Finished and the data
    assert events[-1].data == b"PING" * 4
    s.send(events[-1].data)
    assert c.receive_data(s.data_to_send())[-1].data == b"PING" * 4  # tickets, echo
    c.close()
    s.receive_data(c.data_to_send())
    s.close()
    c.receive_data(s.data_to_send())
    assert c.closed and s.closed


for _ in range(int(sys.argv[2])):
    pair()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()
    with pki_files(args.src[0]) as files:
        for src in args.src:
            with callgrind(CHILD, src, "0", files) as (base, _):
                pass
            with callgrind(CHILD, src, str(args.n), files) as (total, _):
                pass
            print(f"echo pair {src}: {(total - base) / args.n / 1e3:.1f} K instructions "
                  "per connection pair", flush=True)


if __name__ == "__main__":
    main()
