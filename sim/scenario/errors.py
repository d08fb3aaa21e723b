"""The one error a scenario file can raise: every problem found, each with its path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sim.errors import RelaysimError

__all__ = ["Problem", "ScenarioError"]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a scenario.

    ``path`` is dotted (``mtas.backup.retry.schedule``, ``links[2].b``; empty for the
    file as a whole), ``line`` the YAML line it comes from when known, ``where`` the
    file name or the ``--set`` override that brought the value in.
    """

    where: str
    line: int | None
    path: str
    message: str

    def render(self) -> str:
        place = f"{self.where}:{self.line}" if self.line is not None else self.where
        if not self.path:
            return f"{place}: {self.message}"
        return f"{place}: {self.path}: {self.message}"


class ScenarioError(RelaysimError):
    """A scenario that cannot be used; ``str()`` lists every problem, one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    @property
    def messages(self) -> tuple[str, ...]:
        """``path: message`` for each problem, without the file and line."""
        return tuple(f"{p.path}: {p.message}" if p.path else p.message for p in self.problems)
