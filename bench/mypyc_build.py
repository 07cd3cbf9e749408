"""The optional compiled build (hatch_build.py, ``GLASSTLS_COMPILE=1``) unpacked into
a directory, for A/B measurements against the pure-Python sources of the same tree.

    .venv/bin/python bench/mypyc_build.py /tmp/compiled   # 1-7 min, as the box is loaded
    PYTHONPATH=/tmp/compiled .venv/bin/python bench/sockets.py --quick --only aio
    .venv/bin/python bench/icount_handshake.py --src src --src /tmp/compiled

It builds the same wheel as ``make fast`` (pip, with the build hook's own build
environment), so what is measured is what a user of the compiled build runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="a new directory for the compiled copy")
    args = parser.parse_args()
    if args.target.exists():
        parser.error(f"{args.target} exists; give a new directory")
    with tempfile.TemporaryDirectory(prefix="glasstls-wheel-") as wheels:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--wheel-dir", wheels, str(ROOT)],
                       env={**os.environ, "GLASSTLS_COMPILE": "1"}, check=True)
        (wheel,) = Path(wheels).glob("glasstls-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(args.target)
    built = [p for p in args.target.rglob("*.so") if "__mypyc" not in p.name]
    print(f"{wheel.name}: {len(built)} compiled modules; "
          f"use it with PYTHONPATH={args.target}")


if __name__ == "__main__":
    main()
