"""Entry point of the ``glasstls`` command (also ``python -m glasstls``).

Each subcommand lives in its own module with ``add_parser(subparsers)`` and a
``run(args) -> int``; this file only wires them together. Exit codes are shared
by every subcommand (see ``exitcodes``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .exitcodes import USAGE

# Subcommand name -> module (relative to glasstls.cli), in the order --help lists them.
COMMANDS = {
    "demo": ".demo",
    "client": ".client",
    "server": ".server",
    "serve": ".serve",
    "certs": ".certs",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glasstls",
        description="TLS 1.3 and 1.2 you can see through: watch a handshake, talk to a "
        "server, serve one.",
        epilog="Run 'glasstls COMMAND --help' for a command's options and examples.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name, __package__)
        except ModuleNotFoundError as error:
            if error.name and error.name.endswith(module_name.lstrip(".")):
                continue  # a command not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return USAGE
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
