"""Instructions per record read (callgrind), old tree against new: a RecordLayer under
TLS 1.3 AES-128-GCM keys, per call one record sealed and then read ("data": receive_records
of one 16-byte application data record; "alert": a close_notify; "handshake": feed +
next_record of a 36-byte handshake record and the next_record that finds none). The seal
is in every tree's figure. Compare trees at equal path lengths.

    python bench/icount_records.py /tmp/old/src,/tmp/new/src data alert handshake
"""
import os
import re
import subprocess
import sys
import tempfile

CHILD = r'''
import sys
sys.path.insert(0, sys.argv[1])
from glasstls.record import RecordLayer, Tls13Protection
from glasstls.crypto.suites import TLS13_SUITES
suite = [s for s in TLS13_SUITES if "AES_128" in s.name][0]
key, iv = bytes(range(16)), bytes(range(12))
n = int(sys.argv[2]); case = sys.argv[3]
sender = Tls13Protection(suite, key, iv)
if case == "data":
    wires = [sender.seal(23, b"PING" * 4, b"\x03\x03", 0) for _ in range(n)]
elif case == "alert":
    wires = [sender.seal(21, b"\x01\x00", b"\x03\x03", 0) for _ in range(n)]
else:
    wires = [sender.seal(22, b"\x14\x00\x00\x20" + bytes(32), b"\x03\x03", 0) for _ in range(n)]
layer = RecordLayer()
layer.read_protection = Tls13Protection(suite, key, iv)
out = []
if case in ("data", "alert"):
    for w in wires:
        layer.receive_records(w, out)
else:
    for w in wires:
        layer.feed(w)
        layer.next_record()
        layer.next_record()
'''
TOTAL = re.compile(r"^summary:\s+(\d+)", re.M)
def run(src: str, n: int, case: str) -> int:
    with tempfile.TemporaryDirectory() as work:
        script, out = os.path.join(work, "c.py"), os.path.join(work, "cg")
        with open(script, "w") as handle:
            handle.write(CHILD)
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, script, src, str(n), case],
                       check=True, capture_output=True,
                       env=dict(os.environ, PYTHONHASHSEED="0"))
        with open(out) as handle:
            found = TOTAL.search(handle.read())
        assert found
        return int(found.group(1))


n = 2000
for case in sys.argv[2:]:
    for src in sys.argv[1].split(","):
        a, b = run(src, 0, case), run(src, n, case)
        print(f"{case:10s} {src}: {(b - a) / n:.0f} instructions per call", flush=True)
