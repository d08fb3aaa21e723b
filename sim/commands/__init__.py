"""Subcommands of ``relaysim``: each module has ``register(subparsers)``.

A command's handler is ``handler(args, out) -> exit code``; it raises
:class:`sim.errors.RelaysimError` for user errors, which the CLI turns into exit 2.
"""

from __future__ import annotations

from types import ModuleType

from sim.commands import policy

COMMANDS: tuple[ModuleType, ...] = (policy,)
