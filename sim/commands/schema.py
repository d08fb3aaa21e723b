"""``relaysim schema``: the JSON Schema of scenario files, for editors and tools."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from sim.scenario.doc import json_schema

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``schema`` to the top-level subcommands."""
    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario files",
        description=(
            "Print the JSON Schema of scenario files (draft 2020-12), so editors can "
            "complete and check them, e.g. with the YAML language server comment "
            "'# yaml-language-server: $schema=scenario.schema.json'."
        ),
    )
    schema.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")
    schema.set_defaults(handler=_schema)


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    print(json.dumps(json_schema(), indent=args.indent), file=out)
    return 0
