"""The shorthands of scenario files: durations (``90s``, ``20ms``, ``6h``) and rates (``10/min``).

Both are expanded to plain numbers (seconds, messages per second) before a scenario is
validated.  A bare number is already in seconds or per second.  ``format_*`` give the
shortest text that parses back to exactly the same float, so a scenario written out
and read in again is the same scenario.

Units, as in Postfix ``main.cf`` time values plus milliseconds: ``ms``, ``s``, ``m``
(minutes), ``h``, ``d``, ``w``; compound forms such as ``1h30m`` are accepted.  Rates
are ``N/s``, ``N/min``, ``N/h``, ``N/d`` (also ``sec``, ``m``, ``hour``, ``day``).
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DURATION_PATTERN",
    "DURATION_UNITS",
    "RATE_PATTERN",
    "RATE_UNITS",
    "format_duration",
    "format_rate",
    "parse_duration",
    "parse_rate",
]

# Seconds per unit; "ms" divides by 1000 instead of multiplying by 0.001 (exact for 20ms).
DURATION_UNITS: dict[str, float] = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
RATE_UNITS: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_UNIT = "|".join(sorted(DURATION_UNITS, key=len, reverse=True))
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})", re.IGNORECASE)
_DURATION = re.compile(rf"^(?:{_NUMBER}|(?:{_NUMBER}\s*(?:{_UNIT})\s*)+)$", re.IGNORECASE)
_RATE_UNIT = "|".join(sorted(RATE_UNITS, key=len, reverse=True))
_RATE = re.compile(rf"^({_NUMBER})\s*(?:/\s*({_RATE_UNIT}))?$", re.IGNORECASE)

DURATION_PATTERN = rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*(?:{_UNIT})\s*)+)$"
"""A regular expression for duration text (used in the JSON Schema)."""
RATE_PATTERN = rf"^\s*{_NUMBER}\s*(?:/\s*(?:{_RATE_UNIT}))?\s*$"
"""A regular expression for rate text (used in the JSON Schema)."""

_DURATION_HELP = "a number of seconds or a number with a unit ms, s, m, h, d, w (90s, 20ms, 6h, 2d)"
_RATE_HELP = "a number per second or N/unit with unit s, min, h, d (10/min, 3.5/s, 100/h)"


def _number(value: object, what: str, help_text: str) -> float | None:
    """A YAML number as a float; None for text; ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected {help_text}, got {value!r}")
    if isinstance(value, str):
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a number, ``90s``, ``20ms``, ``6h``, ``2d``, ``1w``, ``1h30m``.

    >>> parse_duration("1h30m"), parse_duration("20ms"), parse_duration(5)
    (5400.0, 0.02, 5.0)
    """
    number = _number(value, "a duration", _DURATION_HELP)
    if number is None:
        text = str(value).strip().lower()
        if not _DURATION.match(text):
            raise ValueError(f"bad duration {value!r} (expected {_DURATION_HELP})")
        parts = _PART.findall(text)
        if not parts:
            number = float(text)
        else:
            number = 0.0
            for amount, unit in parts:
                number += (
                    float(amount) / 1000 if unit == "ms" else float(amount) * DURATION_UNITS[unit]
                )
    if number < 0:
        raise ValueError(f"a duration must be >= 0, got {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"a duration must be finite, got {value!r}")
    return number


def parse_rate(value: object) -> float:
    """Messages per second in ``value``: a number, ``3.5/s``, ``10/min``, ``100/h``, ``2/d``.

    >>> parse_rate("10/min"), parse_rate("3.5/s"), parse_rate(2)
    (0.16666666666666666, 3.5, 2.0)
    """
    number = _number(value, "a rate", _RATE_HELP)
    if number is None:
        match = _RATE.match(str(value).strip().lower())
        if not match:
            raise ValueError(f"bad rate {value!r} (expected {_RATE_HELP})")
        amount, unit = match.groups()
        number = float(amount) / RATE_UNITS[unit or "s"]
    if number <= 0 or not math.isfinite(number):
        raise ValueError(f"a rate must be a finite number > 0, got {value!r}")
    return number


def format_duration(seconds: float) -> str:
    """The shortest of ``2d``, ``90m``, ``20ms``, ``1.5s`` that reads back as ``seconds``."""
    seconds = float(seconds)
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite and >= 0, got {seconds!r}")
    for unit in ("w", "d", "h", "m"):
        size = DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            text = f"{int(seconds // size)}{unit}"
            if parse_duration(text) == seconds:
                return text
    if 0 < seconds < 1:
        millis = round(seconds * 1000)
        text = f"{millis}ms"
        if millis and parse_duration(text) == seconds:
            return text
    if seconds.is_integer():
        return f"{int(seconds)}s"
    return f"{seconds!r}s"


def format_rate(per_second: float) -> str:
    """``10/min`` for 1/6 per second, ``3.5/s``: a form that reads back exactly."""
    per_second = float(per_second)
    if per_second <= 0 or not math.isfinite(per_second):
        raise ValueError(f"a rate must be finite and > 0, got {per_second!r}")
    for unit in ("s", "min", "h", "d"):
        amount = per_second * RATE_UNITS[unit]
        for candidate in (round(amount), round(amount, 6)):
            text = f"{candidate:g}/{unit}"
            if candidate > 0 and _reads_back(text, per_second):
                return text
    return f"{per_second!r}/s"


def _reads_back(text: str, value: float) -> bool:
    try:
        return parse_rate(text) == value
    except ValueError:
        return False
