"""Closed vocabularies: one way to read an Enum member from text, with one error shape."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

__all__ = ["enum_from_text"]

_E = TypeVar("_E", bound=Enum)


def enum_from_text(cls: type[_E], text: str, what: str) -> _E:
    """The member of ``cls`` whose value is ``text`` (any case, spaces ignored).

    >>> from sim.policy.tls import Level
    >>> enum_from_text(Level, " Dane-Only ", "TLS security level")
    <Level.DANE_ONLY: 'dane-only'>
    """
    wanted = text.strip().lower()
    for member in cls:
        if str(member.value).lower() == wanted:
            return member
    expected = ", ".join(str(m.value) for m in cls)
    raise ValueError(f"unknown {what} {text!r} (expected one of: {expected})")
