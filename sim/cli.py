"""The ``relaysim`` command line: a thin shell over :mod:`sim.policy`.

Each subcommand lives in :mod:`sim.commands` and registers itself here.  Every user
error (unreadable file, unknown restriction, bad IP, bad JSON line) is one line on
stderr naming the file/line or option and what was expected, with exit code 2.
Results are printed as they are computed, so an error on line 900 of a batch keeps
the 899 answers before it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from sim.commands import COMMANDS
from sim.errors import RelaysimError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as every relaysim error does."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="relaysim",
        description="Simulator and teaching environment for Internet mail relay.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for any user error)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args, sys.stdout))
    except RelaysimError as exc:
        print(f"relaysim: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
