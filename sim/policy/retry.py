"""Retry decisions: is a reply temporary, and when is the next attempt?

The face of the retry policy: this module classifies replies and failures, and
re-exports the schedules of :mod:`sim.policy.retry_schedules` (Postfix, Exim, qmail, the
seed's table, RFC 5321) and the rule/duration parsers of :mod:`sim.policy.retry_rules`.

Classification (retry.md §6.3):

* RFC 5321 §4.2.1: 2yz success, 4yz temporary (retry), 5yz permanent (bounce).  3yz is
  a positive intermediate reply and counts as success.
* RFC 3463 §2: the enhanced code's class should agree; when it does not, the basic code
  wins and the reported status takes the basic code's class (as Postfix does).  Codes
  RFC 3463 §3 reserves for permanent (X.1.1, X.5.2, ...) or transient (X.4.1, X.2.2, ...)
  use are accepted but flagged in :attr:`Verdict.notes`.
* RFC 5321 §4.5.3.1.10 lets a client treat 552 to RCPT as "too many recipients" (452);
  Postfix disabled that (smtp_proto.c) because most 552s mean "mailbox full" or "too
  big", and so do we: a 552 is permanent, with a note.
* Failures without a reply (refused, time-out, lost connection, DNS failure) are
  temporary (4.4.1, 4.4.2, 4.4.3); a TLS failure is temporary (4.7.5) unless the TLS
  policy passed in says permanent.
* Exim's "Errors in outgoing SMTP" gives the :class:`ErrorScope`: errors at connect,
  EHLO, STARTTLS or AUTH are host errors, at MAIL, DATA or after the final dot message
  errors, at RCPT recipient errors.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from sim.errors import InputError
from sim.policy.replies import Reply
from sim.policy.retry_rules import (
    EXIM_DEFAULT_RULE,
    UNIT_SECONDS,
    EximAlgorithm,
    EximParamSet,
    EximRule,
    enum_from_text,
    format_duration,
    parse_duration,
    parse_exim_rule,
    parse_time_list,
)
from sim.policy.retry_schedules import (
    SEED_TABLE_DELAYS,
    Decision,
    ErrorScope,
    EximSchedule,
    GiveUp,
    History,
    PostfixSchedule,
    QmailSchedule,
    RandomSource,
    RetryAt,
    Rfc5321Schedule,
    Schedule,
    TableSchedule,
    WarnDelayed,
)

__all__ = [
    "EXIM_DEFAULT_RULE",
    "SEED_TABLE_DELAYS",
    "ConnectionFailure",
    "Decision",
    "ErrorScope",
    "EximAlgorithm",
    "EximParamSet",
    "EximRule",
    "EximSchedule",
    "GiveUp",
    "History",
    "Outcome",
    "PostfixSchedule",
    "QmailSchedule",
    "RandomSource",
    "RetryAt",
    "Rfc5321Schedule",
    "Schedule",
    "ScheduleKind",
    "Stage",
    "TableSchedule",
    "Timeline",
    "Verdict",
    "WarnDelayed",
    "build_schedule",
    "classify_failure",
    "classify_reply",
    "format_duration",
    "parse_duration",
    "parse_exim_rule",
    "schedule_settings",
    "scope_of_stage",
    "simulate",
]


# -- classification --------------------------------------------------------------------


class Outcome(Enum):
    """What a reply means for the message: done, try again later, or never."""

    SUCCESS = "success"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"

    @classmethod
    def from_text(cls, text: str) -> Outcome:
        return enum_from_text(cls, text, "outcome")

    @property
    def digit(self) -> str:
        return {"success": "2", "temporary": "4", "permanent": "5"}[self.value]


class Stage(Enum):
    """The SMTP step a reply or failure answered (decides Exim's error scope)."""

    CONNECT = "connect"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    DOT = "dot"

    @classmethod
    def from_text(cls, text: str) -> Stage:
        return enum_from_text(cls, "ehlo" if text.strip().lower() == "helo" else text, "SMTP stage")


class ConnectionFailure(Enum):
    """Failures with no SMTP reply, with the status Postfix reports for them."""

    REFUSED = "refused"
    TIMEOUT = "timeout"
    LOST = "lost"
    DNS_TEMPFAIL = "dns-tempfail"
    TLS_FAILURE = "tls-failure"

    @classmethod
    def from_text(cls, text: str) -> ConnectionFailure:
        return enum_from_text(cls, text, "connection failure")


_FAILURE_STATUS = {
    ConnectionFailure.REFUSED: ("4.4.1", "connection refused"),
    ConnectionFailure.TIMEOUT: ("4.4.1", "connection timed out"),
    ConnectionFailure.LOST: ("4.4.2", "lost connection"),
    ConnectionFailure.DNS_TEMPFAIL: ("4.4.3", "temporary DNS failure"),
    ConnectionFailure.TLS_FAILURE: ("4.7.5", "TLS handshake or verification failed"),
}

# RFC 3463 §3: (subject, detail) the RFC calls useful only for permanent / transient errors.
_PERM_ONLY = {(1, 1), (1, 2), (1, 3), (1, 6), (3, 4), (5, 1), (5, 2), (5, 4), (7, 1), (7, 4)}
_TEMP_ONLY = {(3, 1), (4, 1), (4, 2), (4, 3), (4, 5), (2, 2), (4, 6)}


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a client treats one reply or failure.

    ``status`` is the enhanced code to report in a DSN, its class forced to the outcome
    (as Postfix does); ``notes`` flag replies that contradict RFC 3463 or RFC 5321.
    """

    outcome: Outcome
    status: str
    scope: ErrorScope
    reason: str
    notes: tuple[str, ...] = ()

    @property
    def retry(self) -> bool:
        return self.outcome is Outcome.TEMPORARY


def classify_reply(reply: Reply, stage: Stage = Stage.RCPT) -> Verdict:
    """Classify an SMTP reply; the basic code wins over a disagreeing enhanced code.

    >>> classify_reply(Reply(450, "4.2.0", "Greylisted")).outcome
    <Outcome.TEMPORARY: 'temporary'>
    """
    notes: list[str] = []
    first = reply.code // 100
    if first in (2, 3):
        outcome = Outcome.SUCCESS
        if first == 3:
            notes.append(f"{reply.code} is a positive intermediate reply (RFC 5321 §4.2.1)")
    elif first == 4:
        outcome = Outcome.TEMPORARY
    else:
        outcome = Outcome.PERMANENT
    if reply.code == 552 and stage is Stage.RCPT:
        notes.append(
            "552 to RCPT stays permanent, as in Postfix; RFC 5321 §4.5.3.1.10 would allow "
            "reading it as 452 'too many recipients'"
        )
    detail = (0, 0)
    if reply.enhanced is None:
        status = f"{outcome.digit}.0.0"
    else:
        klass, subject, det = reply.enhanced.split(".")
        detail = (int(subject), int(det))
        status = f"{outcome.digit}.{subject}.{det}"
        if klass != str(first):
            notes.append(
                f"enhanced code {reply.enhanced} disagrees with {reply.code}; the basic code "
                "wins (RFC 5321 §4.2.1, RFC 3463 §2)"
            )
    if outcome is Outcome.TEMPORARY and detail in _PERM_ONLY:
        notes.append(f"RFC 3463 lists X.{detail[0]}.{detail[1]} for permanent failures only")
    if outcome is Outcome.PERMANENT and detail in _TEMP_ONLY:
        notes.append(f"RFC 3463 lists X.{detail[0]}.{detail[1]} for transient failures")
    scope = scope_of_stage(stage)
    return Verdict(outcome, status, scope, reply.line(), tuple(notes))


def classify_failure(
    failure: ConnectionFailure,
    *,
    stage: Stage = Stage.CONNECT,
    tls_failure: Outcome = Outcome.TEMPORARY,
) -> Verdict:
    """Classify a failure that has no reply: temporary, unless a TLS policy says otherwise.

    ``tls_failure`` is what the TLS policy makes of a failed handshake or verification
    (Postfix ``encrypt``/``verify``/``dane``: defer, i.e. temporary).
    """
    status, reason = _FAILURE_STATUS[failure]
    outcome = Outcome.TEMPORARY
    if failure is ConnectionFailure.TLS_FAILURE:
        if tls_failure is Outcome.SUCCESS:
            raise ValueError("tls_failure must be temporary or permanent")
        outcome = tls_failure
        status = f"{outcome.digit}{status[1:]}"
    scope = ErrorScope.MESSAGE if stage is Stage.DOT else ErrorScope.HOST
    return Verdict(outcome, status, scope, reason)


def scope_of_stage(stage: Stage) -> ErrorScope:
    """Exim's error kind for a reply at ``stage``: host, message or recipient."""
    if stage is Stage.RCPT:
        return ErrorScope.RECIPIENT
    if stage in (Stage.MAIL, Stage.DATA, Stage.DOT):
        return ErrorScope.MESSAGE
    return ErrorScope.HOST


# -- building and playing schedules ----------------------------------------------------


class ScheduleKind(Enum):
    """The schedules ``build_schedule`` and ``relaysim retry show`` know."""

    POSTFIX = "postfix"
    EXIM = "exim"
    QMAIL = "qmail"
    TABLE = "table"
    RFC5321 = "rfc5321"

    @classmethod
    def from_text(cls, text: str) -> ScheduleKind:
        return enum_from_text(cls, text, "schedule")


_CLASSES: dict[ScheduleKind, Any] = {
    ScheduleKind.POSTFIX: PostfixSchedule,
    ScheduleKind.EXIM: EximSchedule,
    ScheduleKind.QMAIL: QmailSchedule,
    ScheduleKind.TABLE: TableSchedule,
    ScheduleKind.RFC5321: Rfc5321Schedule,
}


def build_schedule(
    kind: ScheduleKind, settings: dict[str, str] | None = None, rule: str | None = None
) -> Schedule:
    """A schedule with its defaults changed by ``settings`` (text values, as in main.cf).

    ``rule`` is Exim retry rule text, or for ``table`` a comma-separated list of delays.
    Raises :class:`InputError` for an unknown parameter (listing the valid ones), a bad
    value, or bad rule text.
    """
    cls = _CLASSES[kind]
    params: dict[str, str] = cls.PARAMETERS
    values: dict[str, Any] = {}
    if rule is not None:
        if kind is ScheduleKind.EXIM:
            values["rule"] = parse_exim_rule(rule)
        elif kind is ScheduleKind.TABLE:
            values["delays"] = parse_time_list(rule, name="table delays")
        else:
            raise InputError(f"--rule applies to the exim and table schedules, not {kind.value}")
    for name, text in (settings or {}).items():
        if name not in params:
            raise InputError(
                f"unknown {kind.value} parameter {name!r} "
                f"(expected one of: {', '.join(sorted(params))})"
            )
        unit, where = params[name], f"{kind.value} {name}"
        if name in ("delays", "delay_warning") and kind in (ScheduleKind.TABLE, ScheduleKind.EXIM):
            parsed: Any = parse_time_list(text, default_unit=unit, name=where)
            if kind is ScheduleKind.TABLE and name == "delay_warning":
                parsed = parsed[0]
        elif name == "chanskip":
            if not text.strip().isdigit():
                raise InputError(f"{where}: expected a whole number, got {text!r}")
            parsed = float(text)
        else:
            parsed = parse_duration(text, default_unit=unit, name=where)
        values[name] = parsed
    try:
        schedule: Schedule = cls(**values)
    except ValueError as exc:
        raise InputError(f"{kind.value} schedule: {exc}") from None
    return schedule


def schedule_settings(schedule: Schedule) -> dict[str, str]:
    """The schedule's parameters as text in their default units (``4000s``, ``5d``, ``0h``)."""
    out: dict[str, str] = {}
    units: dict[str, str] = schedule.PARAMETERS
    for f in fields(schedule):  # type: ignore[arg-type]
        value = getattr(schedule, f.name)
        if value is None and isinstance(schedule, PostfixSchedule):
            value = schedule.queue_run_delay / 2  # the default scan phase
        unit = units.get(f.name, "s")
        if isinstance(value, EximRule):
            out[f.name] = value.text()
        elif isinstance(value, tuple):
            out[f.name] = ",".join(_in_unit(v, unit) for v in value)
        elif f.name == "chanskip":
            out[f.name] = str(int(value))
        else:
            out[f.name] = _in_unit(value, unit)
    if isinstance(schedule, PostfixSchedule):  # postconf shows these in seconds
        for name in ("minimal_backoff_time", "maximal_backoff_time", "queue_run_delay"):
            out[name] = f"{_number(getattr(schedule, name))}s"
    return out


def _number(seconds: float) -> float | int:
    return int(seconds) if float(seconds).is_integer() else seconds


def _in_unit(seconds: float, unit: str) -> str:
    size = UNIT_SECONDS[unit]
    if unit == "s" and seconds >= 60:  # Exim-style compound time: 1d, 2h30m
        return format_duration(seconds).replace(" ", "")
    if (seconds / size).is_integer():
        return f"{int(seconds // size)}{unit}"
    return format_duration(seconds).replace(" ", "")


# -- a whole timeline --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeline:
    """Every attempt of a message that always fails temporarily, until the give-up."""

    attempts: tuple[float, ...]
    warnings: tuple[float, ...]
    give_up: float
    reason: str


def simulate(
    schedule: Schedule,
    *,
    arrival: float = 0.0,
    null_sender: bool = False,
    rng: RandomSource | None = None,
    max_attempts: int = 10_000,
) -> Timeline:
    """Attempt at arrival, then whenever the schedule says, every attempt failing at once."""
    history = History(arrival, null_sender=null_sender)
    now = arrival
    attempts: list[float] = [now]
    warnings: list[float] = []
    while True:
        decision = schedule.next_attempt(history, now, rng)
        if isinstance(decision, GiveUp):
            return Timeline(tuple(attempts), tuple(warnings), now, decision.reason)
        if isinstance(decision, WarnDelayed):
            warnings.append(now)
        if decision.t <= now:
            raise ValueError(f"{schedule.name} schedule did not advance at t={now}")
        history = history.record(now, decision)
        now = decision.t
        attempts.append(now)
        if len(attempts) > max_attempts:
            raise InputError(
                f"{schedule.name} schedule makes more than {max_attempts} attempts before "
                "giving up; lengthen its intervals or shorten its lifetime"
            )
