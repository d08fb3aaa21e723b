"""Text forms used by :mod:`sim.policy.retry`: durations and Exim retry rules.

Durations follow Postfix ``conv_time`` (postconf(5) "time units": ``s m h d w``; a bare
number takes the parameter's default unit) and Exim ``readconf_readtime`` (``3h50m``:
number-unit pairs, no blanks).  Exim retry rules follow the Exim specification,
chapter "Retry configuration", and ``readconf.c`` (``readconf_retries``/``retry_arg``)::

    rule        = [pattern SP error-name [SP "senders=" address-list] SP] param-sets
    param-sets  = param-set *( ";" param-set ) [";"]
    param-set   = letter "," cutoff-time "," interval ["," multiplier]   ; F: no multiplier

Letters are case-insensitive (Exim upper-cases them); cutoffs and intervals must be
positive, G/H multipliers at least 1 (Exim keeps them as fixed point x 1000).  A rule
line without parameter sets means "never retry".  Every error names the column and
what was expected there, e.g. ``column 19: expected ',' and a multiplier (G,16h,1h,1.5)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from sim.errors import InputError
from sim.policy.vocab import enum_from_text

__all__ = [
    "EXIM_DEFAULT_RULE",
    "UNIT_SECONDS",
    "EximAlgorithm",
    "EximParamSet",
    "EximRule",
    "enum_from_text",
    "format_duration",
    "parse_duration",
    "parse_exim_rule",
    "parse_time_list",
]

_E = TypeVar("_E", bound=Enum)


UNIT_SECONDS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# Exim's configure.default retry rule.
EXIM_DEFAULT_RULE = "*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h"

_NUMBER = r"\d+(?:\.\d+)?"
_BARE = re.compile(rf"^{_NUMBER}$")
_COMPOUND = re.compile(rf"^(?:{_NUMBER}[smhdw])+$")
_PART = re.compile(rf"({_NUMBER})([smhdw])")


def parse_duration(text: str, *, default_unit: str = "s", name: str = "time") -> float:
    """Seconds in ``text``: ``300``, ``300s``, ``5m``, ``1h30m``, ``5d``, ``1w``.

    A bare number is in ``default_unit`` (Postfix: ``maximal_queue_lifetime = 5`` is 5
    days).  Raises :class:`InputError` naming ``name`` and the accepted forms.
    """
    value = text.strip().lower()
    if _BARE.match(value):
        return float(value) * UNIT_SECONDS[default_unit]
    if _COMPOUND.match(value):
        return float(sum(float(n) * UNIT_SECONDS[u] for n, u in _PART.findall(value)))
    raise InputError(
        f"{name}: bad time {text!r} (expected a number with an optional unit s, m, h, d "
        f"or w, such as 300s, 5m, 4h, 5d; a bare number is in {default_unit!r})"
    )


def parse_time_list(
    text: str, *, default_unit: str = "s", name: str = "time list"
) -> tuple[float, ...]:
    """A colon- or comma-separated list of durations (Exim ``delay_warning = 4h:8h:24h``)."""
    parts = [p for p in re.split(r"[:,]", text) if p.strip()]
    if not parts:
        raise InputError(f"{name}: expected at least one time, got {text!r}")
    return tuple(parse_duration(p, default_unit=default_unit, name=name) for p in parts)


def format_duration(seconds: float) -> str:
    """``432800`` -> ``5d 0h 13m 20s``; ``300`` -> ``5m``; ``0`` -> ``0s``.

    Leading zero units are dropped, inner ones kept (as Postfix's and Exim's logs do), so
    columns of durations line up when read.  Fractions of a second are kept to 0.1 s.
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    whole = int(seconds)
    frac = round(seconds - whole, 1)
    if frac >= 1.0:
        whole, frac = whole + 1, 0.0
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, whole = divmod(whole, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    secs = f"{whole + frac:g}s" if frac else f"{whole}s"
    if whole or frac or not parts:
        parts.append(secs)
    # "5m 0s" reads worse than "5m": drop trailing zero units after the first.
    while len(parts) > 1 and parts[-1][0] == "0" and not parts[-1].startswith("0."):
        parts.pop()
    return " ".join(parts)


class EximAlgorithm(Enum):
    """The letter of an Exim retry parameter set."""

    FIXED = "F"
    GEOMETRIC = "G"
    HEURISTIC = "H"

    @classmethod
    def from_text(cls, text: str) -> EximAlgorithm:
        for member in cls:
            if member.value == text.strip().upper():
                return member
        raise ValueError(f"unknown retry algorithm {text!r} (expected one of: F, G, H)")


@dataclass(frozen=True, slots=True)
class EximParamSet:
    """One ``letter,cutoff,interval[,multiplier]`` group (times in whole seconds).

    ``multiplier_milli`` is the multiplier x 1000, as Exim stores it (1.5 -> 1500).
    """

    algorithm: EximAlgorithm
    cutoff: int
    interval: int
    multiplier_milli: int | None = None

    def __post_init__(self) -> None:
        if self.cutoff <= 0 or self.interval <= 0:
            raise ValueError("retry rule cutoff and interval must be positive")
        if self.algorithm is EximAlgorithm.FIXED:
            if self.multiplier_milli is not None:
                raise ValueError("an F parameter set takes no multiplier")
        elif self.multiplier_milli is None or self.multiplier_milli < 1000:
            raise ValueError("a G or H parameter set needs a multiplier of at least 1")

    @property
    def multiplier(self) -> float | None:
        return None if self.multiplier_milli is None else self.multiplier_milli / 1000

    def text(self) -> str:
        base = f"{self.algorithm.value},{_exim_time(self.cutoff)},{_exim_time(self.interval)}"
        if self.multiplier_milli is None:
            return base
        return f"{base},{self.multiplier_milli / 1000:g}"


@dataclass(frozen=True, slots=True)
class EximRule:
    """A parsed retry rule line: which destinations/errors it covers and its parameter sets."""

    pattern: str = "*"
    error: str = "*"
    senders: str | None = None
    params: tuple[EximParamSet, ...] = ()

    @property
    def final_cutoff(self) -> int:
        """The last parameter set's cutoff: the destination times out after it (0: no retry)."""
        return self.params[-1].cutoff if self.params else 0

    def text(self) -> str:
        head = f"{self.pattern} {self.error}"
        if self.senders is not None:
            head += f" senders={self.senders}"
        return f"{head} {'; '.join(p.text() for p in self.params)}".rstrip()


def _exim_time(seconds: int) -> str:
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


_ERROR_NAME = re.compile(
    r"^(?:\*|auth_failed|lost_connection|lookup|refused(?:_MX|_A)?|tls_required"
    r"|timeout(?:_connect(?:_MX|_A)?|_MX|_A)?|quota(?:_(?:\d+[smhdw])+)?"
    r"|(?:mail|rcpt|data)_4(?:\d\d|\dx|xx))$"
)
_EXIM_TIME = re.compile(r"^(?:\d+[smhdw]?)+$")
_EXIM_FIXED = re.compile(r"^\d+(?:\.\d{1,3})?$")
_PARAM_START = re.compile(r"^[A-Za-z]\s*,")


class _Scanner:
    """A cursor over the rule text that reports errors by 1-based column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, expected: str, at: int | None = None, token: str | None = None) -> InputError:
        pos = self.pos if at is None else at
        found = repr(self.text[pos]) if pos < len(self.text) else "end of text"
        if token:
            found = repr(token)
        return InputError(
            f"retry rule {self.text!r}: column {pos + 1}: expected {expected}, found {found}"
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def word(self) -> tuple[str, int]:
        """A run of non-blank characters and where it starts."""
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace():
            self.pos += 1
        return self.text[start : self.pos], start

    def token(self, allow_dot: bool) -> tuple[str, int]:
        """Exim's ``retry_arg`` token: letters and digits (and '.' for a multiplier)."""
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or (allow_dot and self.text[self.pos] == ".")
        ):
            self.pos += 1
        return self.text[start : self.pos], start

    def comma(self, expected: str) -> None:
        self.skip_ws()
        if self.peek() != ",":
            raise self.fail(expected)
        self.pos += 1


def _time_arg(sc: _Scanner, what: str) -> int:
    sc.comma(f"',' and {what}")
    value, start = sc.token(allow_dot=False)
    if not value or not _EXIM_TIME.match(value.lower()):
        raise sc.fail(f"{what} such as 15m, 2h or 4d", at=start, token=value)
    seconds = int(parse_duration(value, name="retry rule"))
    if seconds <= 0:
        raise sc.fail(f"{what} greater than zero", at=start, token=value)
    return seconds


def _param_set(sc: _Scanner) -> EximParamSet:
    letter_at = sc.pos
    letter = sc.peek()
    try:
        algorithm = EximAlgorithm.from_text(letter)
    except ValueError:
        raise sc.fail("a retry algorithm letter F, G or H", at=letter_at) from None
    sc.pos += 1
    cutoff = _time_arg(sc, "a cutoff time")
    interval = _time_arg(sc, "an interval")
    milli: int | None = None
    if algorithm is not EximAlgorithm.FIXED:
        sc.comma(f"',' and a multiplier ({algorithm.value},16h,1h,1.5)")
        value, start = sc.token(allow_dot=True)
        if not _EXIM_FIXED.match(value):
            raise sc.fail("a multiplier such as 1.5 (at most 3 decimals)", at=start, token=value)
        whole, _, frac = value.partition(".")
        milli = int(whole) * 1000 + int((frac + "000")[:3])
        if milli < 1000:
            raise sc.fail("a multiplier of at least 1", at=start, token=value)
    sc.skip_ws()
    if sc.peek() == ",":
        what = "F takes a cutoff and an interval only" if milli is None else "four fields at most"
        raise sc.fail(f"';' or end of rule ({what})")
    return EximParamSet(algorithm, cutoff, interval, milli)


def parse_exim_rule(text: str) -> EximRule:
    """Parse an Exim retry rule line, or just its parameter sets.

    ``parse_exim_rule("F,2h,15m; G,16h,1h,1.5; F,4d,6h")`` and
    ``parse_exim_rule("*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h")`` give the same sets.
    Raises :class:`InputError` with the column and what was expected there.
    """
    sc = _Scanner(text)
    sc.skip_ws()
    pattern, error, senders = "*", "*", None
    params_only = bool(_PARAM_START.match(text[sc.pos :]))
    if not params_only:
        if sc.at_end():
            raise sc.fail("retry parameter sets such as F,2h,15m; G,16h,1h,1.5; F,4d,6h")
        pattern, _ = sc.word()
        if pattern.upper() in ("F", "G", "H"):
            raise sc.fail(f"',' after the retry algorithm letter {pattern.upper()}")
        sc.skip_ws()
        error, start = sc.word()
        if not error:
            raise sc.fail("an error name (* or e.g. timeout, refused_MX, rcpt_4xx)")
        if not _ERROR_NAME.match(error):
            raise sc.fail(
                "an error name: *, auth_failed, data_4xx, mail_4xx, rcpt_4xx (or rcpt_452, "
                "mail_45x), lost_connection, lookup, refused, refused_MX, refused_A, timeout, "
                "timeout_connect, timeout_connect_MX, timeout_connect_A, timeout_MX, "
                "timeout_A, tls_required, quota or quota_<time>",
                at=start,
            )
        sc.skip_ws()
        if sc.text.startswith("senders=", sc.pos):
            word, start = sc.word()
            senders = word[len("senders=") :]
            if not senders:
                raise sc.fail("an address list after senders=", at=start + len("senders="))
            sc.skip_ws()
    sets: list[EximParamSet] = []
    while not sc.at_end():
        sets.append(_param_set(sc))
        sc.skip_ws()
        if sc.peek() == ";":
            sc.pos += 1
            sc.skip_ws()
        elif not sc.at_end():
            raise sc.fail("';' between parameter sets")
    return EximRule(pattern, error, senders, tuple(sets))
