"""Instructions per in-memory TLS 1.3 handshake pair (callgrind), for A/B checks of
engine changes against another source tree, in one run on one machine.

    python bench/icount_handshake.py --src src --src /tmp/main/src [--record]

Each tree is run under valgrind twice (0 and N handshakes, client and server in
memory, ECDSA P-256, X25519, TLS_AES_128_GCM_SHA256) and the difference divided by
N; imports and set-up cancel out. ``--record`` also times the same handshake with
``ClientConfig.recorder``/``ServerConfig.recorder`` set (glasstls explain).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[4])
from pki import pki
from glasstls import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from glasstls.constants import TLS13, CipherSuite, NamedGroup
key = pki("ecdsa-p256")
options = dict(versions=(TLS13,), cipher_suites=(CipherSuite.TLS_AES_128_GCM_SHA256,),
               groups=(NamedGroup.x25519,))
extra = {}
if sys.argv[3] == "record":
    from glasstls.explain.recorder import Recorder
    extra = {"recorder": Recorder(limit=1)}
client = ClientConfig(trust=key.trust, key_share_groups=(NamedGroup.x25519,),
                      session_cache=None, **options, **extra)
server = ServerConfig(certificates=(key.certified,), tickets=1, **options, **extra)
for _ in range(int(sys.argv[2])):
    c = ClientConnection(client, server_name="localhost")
    s = ServerConnection(server)
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    s.receive_data(c.data_to_send())
    c.receive_data(s.data_to_send())
    assert c.handshake_complete and s.handshake_complete
"""
_TOTAL = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)


def instructions(src: str, n: int, mode: str, tests: str) -> int:
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "cg.out")
        script = os.path.join(work, "child.py")
        with open(script, "w") as handle:
            handle.write(CHILD)
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, script, src, str(n), mode, tests],
                       check=True, capture_output=True, env=dict(os.environ,
                                                                 PYTHONHASHSEED="0"))
        with open(out) as handle:
            match = _TOTAL.search(handle.read())
        assert match, "no summary line in the callgrind output"
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True, help="a tree's src/ dir")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
    runs = [(src, "plain") for src in args.src]
    if args.record:
        runs.append((args.src[0], "record"))
    for src, mode in runs:
        base = instructions(src, 0, mode, tests)
        total = instructions(src, args.n, mode, tests)
        print(f"{src} ({mode}): {(total - base) / args.n / 1e6:.3f} M instructions "
              "per handshake pair", flush=True)


if __name__ == "__main__":
    main()
