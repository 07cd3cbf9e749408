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

from .. import __version__
from ..crypto.about import library_versions
from .exitcodes import INTERRUPTED, OK, USAGE

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
    return (f"glasstls {__version__}\ncryptography {libraries['cryptography']}\n"
            f"{libraries['openssl']} (inside cryptography)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    parser = build_parser()
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
