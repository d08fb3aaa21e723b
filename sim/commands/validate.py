"""``relaysim validate FILE [--set k=v ...]``: check a scenario without running it."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from sim.scenario import ScenarioError, load_scenario

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``validate`` to the top-level subcommands."""
    validate = sub.add_parser(
        "validate",
        help="check a scenario file without running it",
        description=(
            "Read a scenario file, apply --set overrides and validate it completely: "
            "every problem is listed as FILE:LINE: PATH: MESSAGE (exit 2)."
        ),
    )
    validate.add_argument("file", metavar="FILE", help="the scenario YAML file")
    validate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a field, e.g. --set mtas.backup.delivery_slots=4 (repeatable)",
    )
    validate.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        scenario = load_scenario(args.file, overrides=args.overrides)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem.render(), file=sys.stderr)
        count = len(exc.problems)
        print(f"{args.file}: invalid ({count} problem{'' if count == 1 else 's'})", file=sys.stderr)
        return 2
    print(f"{args.file}: ok ({scenario.summary()})", file=out)
    return 0
