"""Entry point of the ``glasstls`` command (also ``python -m glasstls``).

Each subcommand lives in its own module with ``add_parser(subparsers)`` and a
``run(args) -> int``; this file only wires them together. Exit codes are shared
by every subcommand (see ``exitcodes``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from .. import __compiled__, __version__
from ..crypto.about import library_versions
from .exitcodes import INTERRUPTED, OK, USAGE
from .render import JsonView

# Subcommand name -> module (relative to glasstls.cli), in the order --help lists them.
COMMANDS = {
    "demo": ".demo",
    "client": ".client",
    "server": ".server",
    "serve": ".serve",
    "certs": ".certs",
    "explain": ".explain",
}


def version_text() -> str:
    """What ``glasstls --version`` prints: glasstls, cryptography and the OpenSSL
    inside cryptography (which may differ from the system's ``openssl``)."""
    libraries = library_versions()
    build = " (compiled with mypyc)" if __compiled__ else ""
    return (f"glasstls {__version__}{build}\ncryptography {libraries['cryptography']}\n"
            f"{libraries['openssl']} (inside cryptography)")


class _JsonErrorParser(argparse.ArgumentParser):
    """argparse, except that a usage error is an ``{"event": "error"}`` line on stdout
    like every other failure under ``--json`` (exit 2); the usage stays on stderr."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        JsonView(sys.stdout).error(f"{self.prog}: {message}", USAGE)
        self.exit(USAGE)


def build_parser(json_errors: bool = False) -> argparse.ArgumentParser:
    """The ``glasstls`` parser; with ``json_errors`` its usage errors are JSON lines
    (its subcommands' parsers are of the same class)."""
    parser_class = _JsonErrorParser if json_errors else argparse.ArgumentParser
    parser = parser_class(
        prog="glasstls",
        description="TLS 1.3 and 1.2 you can see through: watch a handshake, talk to a "
        "server, serve one.",
        epilog="Run 'glasstls COMMAND --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps --version's lines
    )
    parser.add_argument("--version", action="version", version=version_text())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name, __package__).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(json_errors="--json" in argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return USAGE
    try:
        result: int = args.run(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (``glasstls demo | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    return result


if __name__ == "__main__":
    sys.exit(main())
