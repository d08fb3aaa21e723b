"""The shorthands of scenario files: durations (``90s``, ``6h``), rates (``10/min``), bandwidths.

All are expanded to plain numbers (seconds, messages per second, bits per second)
before a scenario is validated.  A bare number is already in seconds, per second or
bits per second.  ``format_*`` give the
shortest text that parses back to exactly the same float, so a scenario written out
and read in again is the same scenario.

Units, as in Postfix ``main.cf`` time values plus milliseconds: ``ms``, ``s``, ``m``
(minutes), ``h``, ``d``, ``w``; compound forms such as ``1h30m`` are accepted.  Rates
are ``N/s``, ``N/min``, ``N/h``, ``N/d`` (also ``sec``, ``m``, ``hour``, ``day``).
Bandwidths are ``N bit/s``, ``kbit/s``, ``Mbit/s``, ``Gbit/s`` with SI (decimal)
prefixes, as link speeds are quoted; the unit is case-insensitive, so ``mbit/s`` is
megabits, never millibits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

__all__ = [
    "BANDWIDTH_PATTERN",
    "BANDWIDTH_UNITS",
    "DURATION_PATTERN",
    "DURATION_UNITS",
    "RATE_PATTERN",
    "RATE_UNITS",
    "format_bandwidth",
    "format_duration",
    "format_rate",
    "parse_bandwidth",
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
# Bits per second per unit (SI prefixes: link speeds are decimal).
BANDWIDTH_UNITS: dict[str, float] = {
    "bit/s": 1.0,
    "kbit/s": 1e3,
    "mbit/s": 1e6,
    "gbit/s": 1e9,
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_UNIT = "|".join(sorted(DURATION_UNITS, key=len, reverse=True))
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})", re.IGNORECASE)
_DURATION = re.compile(rf"^(?:{_NUMBER}|(?:{_NUMBER}\s*(?:{_UNIT})\s*)+)$", re.IGNORECASE)
_RATE_UNIT = "|".join(sorted(RATE_UNITS, key=len, reverse=True))
_RATE = re.compile(rf"^({_NUMBER})\s*(?:/\s*({_RATE_UNIT}))?$", re.IGNORECASE)

_BANDWIDTH_UNIT = "|".join(re.escape(u) for u in sorted(BANDWIDTH_UNITS, key=len, reverse=True))
_BANDWIDTH = re.compile(rf"^({_NUMBER})\s*({_BANDWIDTH_UNIT})?$", re.IGNORECASE)

DURATION_PATTERN = rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*(?:{_UNIT})\s*)+)$"
"""A regular expression for duration text (used in the JSON Schema)."""
RATE_PATTERN = rf"^\s*{_NUMBER}\s*(?:/\s*(?:{_RATE_UNIT}))?\s*$"
"""A regular expression for rate text (used in the JSON Schema)."""


def _any_case(text: str) -> str:
    """``kbit/s`` -> ``[kK][bB][iI][tT]/[sS]``: JSON Schema regexes have no ``(?i)`` flag."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)


BANDWIDTH_PATTERN = rf"^\s*{_NUMBER}\s*(?:{'|'.join(_any_case(u) for u in BANDWIDTH_UNITS)})?\s*$"
"""A regular expression for bandwidth text (used in the JSON Schema), any letter case."""

_DURATION_HELP = "a number of seconds or a number with a unit ms, s, m, h, d, w (90s, 20ms, 6h, 2d)"
_RATE_HELP = "a number per second or N/unit with unit s, min, h, d (10/min, 3.5/s, 100/h)"
_BANDWIDTH_HELP = (
    "bits per second: a number or a number with a unit bit/s, kbit/s, Mbit/s, Gbit/s "
    "(10Mbit/s, 512kbit/s, 1Gbit/s)"
)


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


def parse_bandwidth(value: object) -> float:
    """Bits per second in ``value``: a number, ``512kbit/s``, ``10Mbit/s``, ``1Gbit/s``.

    >>> parse_bandwidth("10Mbit/s"), parse_bandwidth("512 kbit/s"), parse_bandwidth(2400)
    (10000000.0, 512000.0, 2400.0)
    """
    number = _number(value, "a bandwidth", _BANDWIDTH_HELP)
    if number is None:
        match = _BANDWIDTH.match(str(value).strip())
        if not match:
            raise ValueError(f"bad bandwidth {value!r} (expected {_BANDWIDTH_HELP})")
        amount, unit = match.groups()
        number = float(amount) * BANDWIDTH_UNITS[(unit or "bit/s").lower()]
    if number <= 0 or not math.isfinite(number):
        raise ValueError(f"a bandwidth must be a finite number > 0, got {value!r}")
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


def format_bandwidth(bits_per_second: float) -> str:
    """``10Mbit/s`` for 1e7, ``1.5Gbit/s``: the largest unit that reads back exactly."""
    value = float(bits_per_second)
    if value <= 0 or not math.isfinite(value):
        raise ValueError(f"a bandwidth must be finite and > 0, got {bits_per_second!r}")
    for unit, name in (("gbit/s", "Gbit/s"), ("mbit/s", "Mbit/s"), ("kbit/s", "kbit/s")):
        amount = value / BANDWIDTH_UNITS[unit]
        if amount >= 1:
            text = f"{amount:g}{name}"
            if _reads_back(text, value, parse_bandwidth):
                return text
    text = f"{value:g}bit/s"
    return text if _reads_back(text, value, parse_bandwidth) else f"{value!r}bit/s"


def _reads_back(text: str, value: float, parse: Callable[[object], float] = parse_rate) -> bool:
    try:
        return parse(text) == value
    except ValueError:
        return False
