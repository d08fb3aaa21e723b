"""Retry schedules: when a deferred message is tried again, and when it is returned.

Each schedule is a frozen value with one pure decision function,
``schedule.next_attempt(history, now) -> RetryAt | WarnDelayed | GiveUp``, called when
an attempt made at ``now`` failed temporarily.  The caller keeps
``history = history.record(now, decision)`` and waits its own way (simpy
``env.timeout``, asyncio ``sleep``).  Nothing here reads a clock or draws a random
number on its own: Exim's H rule takes an ``rng``.

* ``postfix`` -- Postfix 3.7 ``qmgr`` (``src/qmgr/qmgr_active.c``, qmgr(8), postconf(5)):
  after a round that leaves recipients deferred, expiry is checked first
  (``now >= arrival + maximal_queue_lifetime``; ``bounce_queue_lifetime`` for ``<>``),
  then the delay warning (``now >= arrival + delay_warning_time - 1``, once), then the
  queue file is stamped ``now + clamp(age, minimal_backoff_time, maximal_backoff_time)``.
  A deferred scan every ``queue_run_delay`` takes files with ``stamp <= scan + 1``.
  Because the delay is the message's *age*, gaps double until the cap; expiry is only
  noticed at an attempt, and attempts happen on the scan grid.
* ``exim`` -- Exim spec chapter "Retry configuration", ``src/retry.c`` (``retry_update``,
  ``retry_check_address``) and ``deliver.c`` (delay warnings): the parameter set is the
  first whose cutoff is not passed by how long the destination has been failing (the
  message's age for message and recipient errors, if larger); F adds a fixed interval,
  G multiplies the last gap (``min(predicted, actual)``), H draws between; all capped by
  ``retry_interval_max``.  Queue runs skip a message whose retry time is not reached,
  unless it is older than the final cutoff; past the cutoff the address times out.
* ``qmail`` -- qmail 1.03 ``qmail-send.c`` ``nextretry``: ``birth + (isqrt(age) +
  chanskip)**2``, chanskip 20 for remote deliveries; a deferral when the message is
  older than ``queuelifetime`` (7 days) becomes a permanent failure.
* ``table`` -- explicit delays after the 1st, 2nd, ... failure, the last repeating; the
  default is the seed's table (5m, 10m, 30m, 1h, 2h, then 4h; give up at 5 days).
* ``rfc5321`` -- RFC 5321 §4.5.4.1: retries at least 30 minutes apart, two in the first
  hour then every 2-3 hours, giving up after at least 4-5 days.

Values are seconds on the caller's clock.  :func:`sim.policy.retry.build_schedule`
builds a schedule from text settings and :func:`sim.policy.retry.simulate` plays a
message whose every attempt fails, which is what ``relaysim retry show`` prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from itertools import pairwise
from typing import ClassVar, Protocol

from sim.policy.retry_rules import (
    EXIM_DEFAULT_RULE,
    EximAlgorithm,
    EximRule,
    enum_from_text,
    format_duration,
    parse_exim_rule,
)

__all__ = [
    "SEED_TABLE_DELAYS",
    "Decision",
    "ErrorScope",
    "EximSchedule",
    "GiveUp",
    "History",
    "PostfixSchedule",
    "QmailSchedule",
    "RandomSource",
    "RetryAt",
    "Rfc5321Schedule",
    "Schedule",
    "TableSchedule",
    "WarnDelayed",
]

DAY = 86400.0


class ErrorScope(Enum):
    """Exim's "Errors in outgoing SMTP": what a temporary error makes wait."""

    HOST = "host"  # every message to this IP address
    MESSAGE = "message"  # this message at this host
    RECIPIENT = "recipient"  # this address

    @classmethod
    def from_text(cls, text: str) -> ErrorScope:
        return enum_from_text(cls, text, "error scope")


# -- decisions and history -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Try again at time ``t`` (same clock as ``now``).

    ``due`` is the retry time proper when ``t`` was rounded up to a queue run (Postfix's
    cool-down stamp, Exim's ``next_try``); schedules read it back from the history.
    """

    t: float
    due: float | None = None


@dataclass(frozen=True, slots=True)
class WarnDelayed:
    """Send a "delayed" DSN now (the ``number``-th), then try again at ``t``."""

    t: float
    number: int = 1
    due: float | None = None


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop retrying now and return the message (a failed DSN unless the sender is null)."""

    reason: str


Decision = RetryAt | WarnDelayed | GiveUp


@dataclass(frozen=True, slots=True)
class History:
    """What a schedule may know of a message's past attempts: a summary, O(1) to update.

    ``failures`` counts the earlier temporary failures (not the one being decided),
    ``first_failure``/``last_failure`` are their times; ``retry_at`` is the retry time
    the schedule last answered (its ``due`` if it had one).  ``host_failing_since`` is
    when the destination began failing if that was before this message (an Exim host
    retry record shared by all messages to the host).
    """

    arrival: float
    failures: int = 0
    first_failure: float | None = None
    last_failure: float | None = None
    retry_at: float | None = None
    warnings_sent: int = 0
    null_sender: bool = False
    host_failing_since: float | None = None
    scope: ErrorScope = ErrorScope.HOST

    def __post_init__(self) -> None:
        if (self.failures == 0) != (self.first_failure is None) or (self.first_failure is None) != (
            self.last_failure is None
        ):
            raise ValueError("failures, first_failure and last_failure go together")
        if self.first_failure is not None and self.last_failure is not None:
            if self.first_failure < self.arrival:
                raise ValueError("a failure cannot come before the message arrived")
            if self.last_failure < self.first_failure:
                raise ValueError("last_failure must not come before first_failure")

    @classmethod
    def of(
        cls, arrival: float, failures: tuple[float, ...] = (), *, retry_at: float | None = None
    ) -> History:
        """A history from the times of earlier failures (a convenience for tests and REPLs)."""
        if not failures:
            return cls(arrival, retry_at=retry_at)
        return cls(arrival, len(failures), failures[0], failures[-1], retry_at=retry_at)

    def record(self, now: float, decision: Decision) -> History:
        """The history after the attempt at ``now`` failed and ``decision`` was taken."""
        retry_at = None
        if not isinstance(decision, GiveUp):
            retry_at = decision.t if decision.due is None else decision.due
        warned = decision.number if isinstance(decision, WarnDelayed) else self.warnings_sent
        first = now if self.first_failure is None else self.first_failure
        return replace(
            self,
            failures=self.failures + 1,
            first_failure=first,
            last_failure=now,
            retry_at=retry_at,
            warnings_sent=warned,
        )


class RandomSource(Protocol):
    """What Exim's H rule needs from a ``random.Random``."""

    def random(self) -> float: ...


class Schedule(Protocol):
    """A retry schedule: a frozen value with one decision function."""

    name: ClassVar[str]
    PARAMETERS: ClassVar[dict[str, str]]

    def next_attempt(
        self, history: History, now: float, rng: RandomSource | None = None
    ) -> Decision: ...

    def lifetime(self, null_sender: bool = False) -> float: ...


def _grid_after(not_before: float, after: float, origin: float, step: float) -> float:
    """The first ``origin + k*step`` that is >= ``not_before`` and > ``after``."""
    k = math.ceil((not_before - origin) / step)
    t = origin + k * step
    while t <= after:
        t += step
    return t


def _warn_once(
    history: History,
    now: float,
    warn_after: float,
    t: float,
    *,
    slack: float = 0.0,
    due: float | None = None,
) -> Decision:
    if (
        warn_after > 0
        and not history.null_sender
        and history.warnings_sent == 0
        and now >= history.arrival + warn_after - slack
    ):
        return WarnDelayed(t, due=due)
    return RetryAt(t, due=due)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


# -- schedules ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostfixSchedule:
    """Postfix 3.7 qmgr with its defaults, on a deferred-queue scan grid.

    Scans run at ``scan_phase + k * queue_run_delay`` on the caller's clock (Postfix
    anchors them at qmgr start); the default phase is half a scan interval, which gives
    retry.md's worked example for a message arriving at 0.  ``queue_run_delay = 0`` is a
    relaysim idealisation with no grid: each retry exactly at the cool-down stamp.
    """

    name: ClassVar[str] = "postfix"
    # parameter -> default unit of a bare number (postconf(5))
    PARAMETERS: ClassVar[dict[str, str]] = {
        "minimal_backoff_time": "s",
        "maximal_backoff_time": "s",
        "queue_run_delay": "s",
        "maximal_queue_lifetime": "d",
        "bounce_queue_lifetime": "d",
        "delay_warning_time": "h",
        "scan_phase": "s",
    }

    minimal_backoff_time: float = 300.0
    maximal_backoff_time: float = 4000.0
    queue_run_delay: float = 300.0
    maximal_queue_lifetime: float = 5 * DAY
    bounce_queue_lifetime: float = 5 * DAY
    delay_warning_time: float = 0.0
    scan_phase: float | None = None

    def __post_init__(self) -> None:
        _check(self.minimal_backoff_time > 0, "minimal_backoff_time must be > 0")
        _check(self.maximal_backoff_time > 0, "maximal_backoff_time must be > 0")
        _check(self.queue_run_delay >= 0, "queue_run_delay must be >= 0 (0: no scan grid)")
        _check(self.maximal_queue_lifetime >= 0, "maximal_queue_lifetime must be >= 0")
        _check(self.bounce_queue_lifetime >= 0, "bounce_queue_lifetime must be >= 0")
        _check(self.delay_warning_time >= 0, "delay_warning_time must be >= 0")

    def lifetime(self, null_sender: bool = False) -> float:
        if null_sender:  # silently clamped, as postconf(5) says
            return min(self.bounce_queue_lifetime, self.maximal_queue_lifetime)
        return self.maximal_queue_lifetime

    def next_attempt(
        self, history: History, now: float, rng: RandomSource | None = None
    ) -> Decision:
        age = now - history.arrival
        lifetime = self.lifetime(history.null_sender)
        if age >= lifetime:
            which = "bounce_queue_lifetime" if history.null_sender else "maximal_queue_lifetime"
            return GiveUp(
                f"status=expired, returned to sender (age {format_duration(age)} >= "
                f"{which} {format_duration(lifetime)})"
            )
        delay = max(min(age, self.maximal_backoff_time), self.minimal_backoff_time)
        stamp = now + delay
        t = stamp
        if self.queue_run_delay > 0:
            phase = self.queue_run_delay / 2 if self.scan_phase is None else self.scan_phase
            t = _grid_after(stamp - 1, now, phase, self.queue_run_delay)
        return _warn_once(history, now, self.delay_warning_time, t, slack=1.0, due=stamp)


@dataclass(frozen=True, slots=True)
class EximSchedule:
    """An Exim retry rule with Exim's host/message retry semantics.

    ``queue_run_interval`` 0 means an attempt exactly at each retry time; with ``-q30m``
    (1800) attempts happen only at queue runs that find the retry time reached, or at
    the first run after the message outlived the final cutoff.
    """

    name: ClassVar[str] = "exim"
    PARAMETERS: ClassVar[dict[str, str]] = {
        "retry_interval_max": "s",
        "delay_warning": "s",
        "queue_run_interval": "s",
    }

    rule: EximRule = field(default_factory=lambda: parse_exim_rule(EXIM_DEFAULT_RULE))
    retry_interval_max: float = DAY
    delay_warning: tuple[float, ...] = (DAY,)
    queue_run_interval: float = 0.0

    def __post_init__(self) -> None:
        _check(0 < self.retry_interval_max <= DAY, "retry_interval_max must be in (0, 24h]")
        _check(self.queue_run_interval >= 0, "queue_run_interval must be >= 0")
        _check(
            all(b > a for a, b in pairwise(self.delay_warning)),
            "delay_warning times must increase",
        )

    def lifetime(self, null_sender: bool = False) -> float:
        return float(self.rule.final_cutoff)

    def retry_time_reached(self, history: History, now: float) -> bool:
        """Exim's ``retry_check_address``: may a queue run at ``now`` try this message?"""
        if history.retry_at is None or now >= history.retry_at:
            return True
        return now - history.arrival > self.rule.final_cutoff  # ultimate address timeout

    def next_attempt(
        self, history: History, now: float, rng: RandomSource | None = None
    ) -> Decision:
        params = self.rule.params
        if not params:
            return GiveUp("retry timeout exceeded (the retry rule has no parameter sets)")
        age = now - history.arrival
        first_failed = now if history.first_failure is None else history.first_failure
        if history.host_failing_since is not None and history.scope is ErrorScope.HOST:
            first_failed = min(first_failed, history.host_failing_since)
        failing = now - first_failed
        if history.scope is not ErrorScope.HOST and age > failing:
            failing = age
        current = next((p for p in params if failing <= p.cutoff), None)
        if current is None:
            return GiveUp(
                f"retry timeout exceeded (failing for {format_duration(failing)}, "
                f"final cutoff {format_duration(self.rule.final_cutoff)})"
            )
        if history.arrival <= first_failed and age > self.rule.final_cutoff:
            return GiveUp("retry timeout exceeded (on queue longer than maximum retry)")
        if current.algorithm is EximAlgorithm.FIXED:
            next_try = now + current.interval
        else:
            last_try = now if history.last_failure is None else history.last_failure
            predicted = (history.retry_at if history.retry_at is not None else now) - last_try
            lastgap = min(predicted, now - last_try)
            next_gap = math.floor(lastgap * (current.multiplier_milli or 1000) / 1000)
            if current.algorithm is EximAlgorithm.GEOMETRIC:
                next_try = now + (current.interval if lastgap < current.interval else next_gap)
            else:
                next_try = now + current.interval
                if next_gap > current.interval:
                    spread = next_gap - current.interval
                    drawn = spread / 2 if rng is None else math.floor(rng.random() * spread)
                    next_try += drawn // 2 + spread // 2
        next_try = min(next_try, now + self.retry_interval_max)
        t, due = next_try, None
        if self.queue_run_interval > 0:
            due = next_try
            q = self.queue_run_interval
            t = _grid_after(next_try, now, 0.0, q)
            timeout_run = _grid_after(history.arrival + self.rule.final_cutoff, now, 0.0, q)
            if timeout_run == history.arrival + self.rule.final_cutoff:
                timeout_run += q  # Exim compares with '>'
            t = min(t, timeout_run)
        owed = self._warnings_due(age)
        if not history.null_sender and owed > history.warnings_sent:
            return WarnDelayed(t, owed, due=due)
        return RetryAt(t, due=due)

    def _warnings_due(self, age: float) -> int:
        """How many delay warnings should have gone by ``age`` (``deliver.c``)."""
        times = self.delay_warning
        if not times or times[0] <= 0:
            return 0
        count = sum(1 for _ in _takewhile_le(times, age))
        if count >= len(times):
            last_gap = times[-1] - (times[-2] if count > 1 else 0.0)
            count += int((age - times[-1]) // last_gap)
        return count


def _takewhile_le(times: tuple[float, ...], age: float) -> list[float]:
    out = []
    for t in times:
        if age < t:
            break
        out.append(t)
    return out


@dataclass(frozen=True, slots=True)
class QmailSchedule:
    """qmail-send's quadratic schedule: retries at ``birth + (20k)**2`` for remote mail."""

    name: ClassVar[str] = "qmail"
    PARAMETERS: ClassVar[dict[str, str]] = {"queuelifetime": "s", "chanskip": "s"}

    queuelifetime: float = 604800.0
    chanskip: float = 20.0  # 10 for local deliveries

    def __post_init__(self) -> None:
        _check(self.queuelifetime >= 0, "queuelifetime must be >= 0")
        _check(self.chanskip >= 1 and self.chanskip == int(self.chanskip), "chanskip: >= 1, whole")

    def lifetime(self, null_sender: bool = False) -> float:
        return self.queuelifetime

    def next_attempt(
        self, history: History, now: float, rng: RandomSource | None = None
    ) -> Decision:
        age = now - history.arrival
        if age > self.queuelifetime:
            return GiveUp(
                "I'm not going to try again; this message has been in the queue too long."
            )
        n = math.isqrt(max(0, math.floor(age))) + int(self.chanskip)
        return RetryAt(max(history.arrival + n * n, now))


SEED_TABLE_DELAYS: tuple[float, ...] = (300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0)


@dataclass(frozen=True, slots=True)
class TableSchedule:
    """Explicit delays after the 1st, 2nd, ... failure, the last repeating."""

    name: ClassVar[str] = "table"
    PARAMETERS: ClassVar[dict[str, str]] = {
        "delays": "s",
        "queue_lifetime": "d",
        "delay_warning": "h",
    }

    delays: tuple[float, ...] = SEED_TABLE_DELAYS
    queue_lifetime: float = 5 * DAY
    delay_warning: float = 0.0

    def __post_init__(self) -> None:
        _check(bool(self.delays) and all(d > 0 for d in self.delays), "delays must be > 0")
        _check(self.queue_lifetime >= 0, "lifetime must be >= 0")
        _check(self.delay_warning >= 0, "delay_warning must be >= 0")

    def lifetime(self, null_sender: bool = False) -> float:
        return self.queue_lifetime

    def next_attempt(
        self, history: History, now: float, rng: RandomSource | None = None
    ) -> Decision:
        age = now - history.arrival
        if age >= self.queue_lifetime:
            return GiveUp(f"queue lifetime {format_duration(self.queue_lifetime)} reached")
        delay = self.delays[min(history.failures, len(self.delays) - 1)]
        return _warn_once(history, now, self.delay_warning, now + delay)


@dataclass(frozen=True, slots=True)
class Rfc5321Schedule:
    """RFC 5321 §4.5.4.1: retries >= 30 min apart, two in the first hour, then every
    2-3 hours, giving up after at least 4-5 days."""

    name: ClassVar[str] = "rfc5321"
    PARAMETERS: ClassVar[dict[str, str]] = {
        "retry_interval": "m",
        "early_period": "m",
        "later_interval": "h",
        "give_up": "d",
        "delay_warning": "h",
    }

    retry_interval: float = 1800.0
    early_period: float = 3600.0
    later_interval: float = 7200.0
    give_up: float = 5 * DAY
    delay_warning: float = 0.0

    def __post_init__(self) -> None:
        _check(self.retry_interval >= 1800, "retry_interval SHOULD be >= 30m (RFC 5321 §4.5.4.1)")
        _check(self.later_interval >= self.retry_interval, "later_interval >= retry_interval")
        _check(self.early_period >= 0, "early_period must be >= 0")
        _check(self.give_up >= 4 * DAY, "give_up should be >= 4d (RFC 5321 §4.5.4.1)")
        _check(self.delay_warning >= 0, "delay_warning must be >= 0")

    def lifetime(self, null_sender: bool = False) -> float:
        return self.give_up

    def next_attempt(
        self, history: History, now: float, rng: RandomSource | None = None
    ) -> Decision:
        age = now - history.arrival
        if age >= self.give_up:
            return GiveUp(f"give-up time {format_duration(self.give_up)} reached")
        gap = self.retry_interval if age < self.early_period else self.later_interval
        return _warn_once(history, now, self.delay_warning, now + gap)
