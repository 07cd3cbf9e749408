"""The optional compiled build: the engine's hot modules compiled by mypyc into the
wheel, beside their sources, when ``GLASSTLS_COMPILE=1`` is set at build time.

    GLASSTLS_COMPILE=1 pip install .        # or: make fast (a wheel in dist/)
    python -c "import glasstls; print(glasstls.__compiled__)"

Without it (the default) nothing happens here: the pure-Python package is the
reference, and the compiled one is the same sources, unchanged, held to the same
tests (tests/unit, tests/engine, the recorded transcripts in CI). It needs a C
compiler and the Python headers; mypy (mypyc comes with it) and setuptools are
fetched into the build environment only when compiling.

Left as Python, because mypyc cannot compile them as written and rewriting them for
it would make them harder to read: ``messages/`` and ``keyschedule.py`` (mypyc hands
a dataclass-like class's ``ClassVar`` constants to ``dataclasses`` as fields),
``events.py`` (a dataclass field annotated ``object``), ``immutable.py`` (a
``dataclass_transform`` decorator must stay a Python function), ``certs.py``
(attributes set with ``object.__setattr__``), ``crypto/signatures.py`` (its ``sign``
is where the recorded transcripts replay ECDSA and RSA-PSS signatures, whose
randomness OpenSSL draws itself: compiled, its callers would call it directly, past
the replay); and everything off the hot path.
"""

from __future__ import annotations

import importlib.machinery
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Paths under src/, as mypyc takes them (a directory: every module in it).
COMPILED = (
    "glasstls/codec.py",
    "glasstls/record.py",
    "glasstls/core.py",
    "glasstls/connection.py",
    "glasstls/session.py",
    "glasstls/recorder.py",
    "glasstls/crypto/groups.py",
    "glasstls/crypto/hkdf.py",
    "glasstls/crypto/prf.py",
    "glasstls/crypto/suites.py",
    "glasstls/handshake/",
)

# What compiling needs in the build environment: mypyc is part of mypy, and builds
# its C extensions with setuptools; and the package's own dependencies, whose types
# mypyc reads (cryptography's stubs).
REQUIREMENTS = ["mypy>=2.4", "setuptools>=70"]


def compiling() -> bool:
    return os.environ.get("GLASSTLS_COMPILE", "") not in ("", "0")


def compile_copy(src: Path, target: Path) -> list[Path]:
    """Copy ``src`` (the directory holding ``glasstls/``) to ``target`` and compile
    the COMPILED modules there; the extension modules made, relative to ``target``."""
    shutil.copytree(src / "glasstls", target / "glasstls",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # mypyc names the modules after their paths, relative to where it runs. The
    # optional extras (rich, h2, dpkt...) are not in the build environment: no compiled
    # module uses them, and the modules that do stay Python.
    subprocess.run([sys.executable, "-m", "mypyc", "--ignore-missing-imports", *COMPILED],
                   cwd=target, check=True)
    shutil.rmtree(target / "build")
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.name.endswith(suffixes))


class CompiledBuildHook(BuildHookInterface):
    def dependencies(self) -> list[str]:
        return [*REQUIREMENTS, *self.metadata.core.dependencies] if compiling() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install runs the sources themselves.
        if not compiling() or version == "editable":
            return
        self._scratch = Path(tempfile.mkdtemp(prefix="glasstls-mypyc-"))
        built = compile_copy(Path(self.root) / "src", self._scratch)
        for module in built:
            # Beside the sources in the wheel (the import system takes an extension
            # module before a .py of the same name); mypyc's shared runtime at the top.
            build_data["force_include"][str(self._scratch / module)] = str(module)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        self.app.display_info(f"glasstls: {len(built)} modules compiled by mypyc")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
