"""One exception root for everything relaysim reports to a user.

The command line turns any ``RelaysimError`` into one line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = ["InputError", "PolicyConfigError", "RelaysimError"]


class RelaysimError(Exception):
    """Base of all errors caused by the user's input, never by a bug."""


class PolicyConfigError(RelaysimError):
    """A Postfix ``main.cf``, access table or policy setting that cannot be used."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")


class InputError(RelaysimError):
    """Bad command-line or case-file input (an IP address, a JSON line, ...)."""
