"""System calls per connection of the threaded ``glasstls.serve()`` echo server's loop
thread, counted with ``strace -ff`` (one file per thread; the loop's is the one with
the most ``epoll_wait`` calls): which calls a connection costs the loop, and which
of them let go of the GIL.

    bench/.venv/bin/python bench/threaded_syscalls.py SRC_DIR [N] [CLIENT_THREADS]

The server is ``icount_threaded.py``'s (``sockets_peers.py``'s config and handler),
the clients its ``run_clients`` (Python's ssl). strace slows the server: the loop
lags behind the clients more than in the rate bench (every hello is there when a
client is accepted, for one), so read the counts, not the times.
"""

from __future__ import annotations

import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from icount_threaded import CHILD, run_clients  # noqa: E402
from sockets_peers import load_pki, make_pki  # noqa: E402


def main() -> None:
    src = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    with tempfile.TemporaryDirectory(prefix="threaded-syscalls-") as work:
        pki_dir = os.path.join(work, "pki")
        os.mkdir(pki_dir)
        make_pki(pki_dir)
        script = os.path.join(work, "child.py")
        with open(script, "w") as handle:
            handle.write(CHILD)
        server = subprocess.Popen(
            ["strace", "-ff", "-qq", "-o", os.path.join(work, "t"), sys.executable, script,
             src, HERE, pki_dir, str(count), "default"], stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        run_clients(port, load_pki(pki_dir), count, threads)
        server.wait(300)
        loop: collections.Counter[str] = collections.Counter()
        for path in glob.glob(os.path.join(work, "t.*")):
            with open(path) as handle:
                calls = collections.Counter(re.findall(r"^(\w+)\(", handle.read(), re.M))
            if calls["epoll_wait"] > loop["epoll_wait"]:
                loop = calls
    print(f"# {src}: loop thread system calls per connection ({count} connections, "
          f"{threads} client threads, under strace)")
    for name, calls_made in loop.most_common():
        print(f"{calls_made / count:8.3f}  {name}")
    print(f"{sum(loop.values()) / count:8.3f}  all")


if __name__ == "__main__":
    main()
