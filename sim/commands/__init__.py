"""Subcommands of ``relaysim``: every module here with ``register(subparsers)``.

Modules are discovered in name order, so adding a command is adding a file.  A
command's handler is ``handler(args, out) -> exit code``; it raises
:class:`sim.errors.RelaysimError` for user errors, which the CLI turns into exit 2.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["COMMANDS"]


def _discover() -> tuple[ModuleType, ...]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    modules = (importlib.import_module(f"{__name__}.{name}") for name in names)
    return tuple(m for m in modules if hasattr(m, "register"))


COMMANDS: tuple[ModuleType, ...] = _discover()
