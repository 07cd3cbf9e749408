"""A copy of ``src/`` with the engine's hot modules compiled by mypyc, for A/B
measurements against the pure-Python package (not a build that is offered: see
bench/README.md, "mypyc, second look").

    .venv/bin/python bench/mypyc_build.py /tmp/compiled   # mypyc comes with mypy; ~3-7 min
    PYTHONPATH=/tmp/compiled bench/.venv/bin/python ../shared/bench/tlsbench.py \\
        --plugin bench/glasstls_adapter.py --quick --only ssl,glasstls
    .venv/bin/python bench/icount_handshake.py --src src --src /tmp/compiled

The sources are compiled unchanged. Left as Python: ``messages/`` and
``keyschedule.py`` (mypyc hands a dataclass-like class's ``ClassVar`` constants
to ``dataclasses`` as fields, so ``@frozen`` classes with ``msg_type``/``type``/
``name`` constants fail at import), ``events.py`` (a dataclass field annotated
``object``), ``immutable.py`` (a ``dataclass_transform`` decorator must stay a
Python function) and ``certs.py`` (attributes set with ``object.__setattr__``).

What differs when compiled, besides speed: an ``int`` attribute of a compiled class
holds a plain ``int``, so ``ClientSession.version`` is ``772`` where the pure
package keeps ``ProtocolVersion.TLS13``; and a test's ``monkeypatch`` of a compiled
function or method is not seen by compiled callers (tests/engine's injected bugs,
the recorded transcripts' ML-KEM replay).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

COMPILED = [
    "glasstls/codec.py",
    "glasstls/record.py",
    "glasstls/core.py",
    "glasstls/connection.py",
    "glasstls/session.py",
    "glasstls/crypto/groups.py",
    "glasstls/crypto/hkdf.py",
    "glasstls/crypto/prf.py",
    "glasstls/crypto/signatures.py",
    "glasstls/crypto/suites.py",
    "glasstls/handshake/",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="a new directory for the compiled copy")
    parser.add_argument("--src", type=Path, default=Path(__file__).parent.parent / "src")
    args = parser.parse_args()
    if args.target.exists():
        parser.error(f"{args.target} exists; give a new directory")
    shutil.copytree(args.src, args.target, ignore=shutil.ignore_patterns("__pycache__"))
    mypyc = Path(sys.executable).parent / "mypyc"
    # mypyc names the modules after their paths, relative to where it runs.
    subprocess.run([str(mypyc), *COMPILED], cwd=args.target, check=True)
    shutil.rmtree(args.target / "build")
    built = [p for p in args.target.rglob("*.so") if "__mypyc" not in p.name]
    print(f"{len(built)} extension modules in {args.target}; "
          f"use it with PYTHONPATH={args.target}")


if __name__ == "__main__":
    main()
