"""``relaysim retry show`` and ``relaysim retry classify``: retry schedules and replies.

``show`` plays a message whose every attempt fails temporarily through one schedule and
prints the attempts as a table like the seed's (attempt, delay, cumulative time), or
``--json``: ``{"attempts": [seconds after arrival, first 0], "give_up": seconds}``.
``classify`` says whether an SMTP reply is success, temporary or permanent.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.policy.replies import Reply
from sim.policy.retry import (
    ConnectionFailure,
    Outcome,
    Schedule,
    ScheduleKind,
    Stage,
    Timeline,
    Verdict,
    build_schedule,
    classify_failure,
    classify_reply,
    format_duration,
    schedule_settings,
    simulate,
)

__all__ = ["register"]

_TITLES = {
    ScheduleKind.POSTFIX: "Postfix 3.7 qmgr",
    ScheduleKind.EXIM: "Exim retry rule",
    ScheduleKind.QMAIL: "qmail-send (remote channel)",
    ScheduleKind.TABLE: "the seed's retry table",
    ScheduleKind.RFC5321: "RFC 5321 §4.5.4.1 guidance",
}


def register(sub: Any) -> None:
    """Add ``retry show`` and ``retry classify`` to the top-level subcommands."""
    retry = sub.add_parser("retry", help="retry schedules, give-up times and reply classes")
    rsub = retry.add_subparsers(dest="retry_command", metavar="SUBCOMMAND")
    rsub.required = True
    kinds = [k.value for k in ScheduleKind]
    show = rsub.add_parser(
        "show",
        help="print when a message that keeps failing is retried and returned",
        description=(
            "Print the attempt times and the give-up time of a message whose every "
            "attempt fails temporarily, as an MTA's schedule would space them."
        ),
    )
    show.add_argument("--schedule", required=True, choices=kinds, help="whose schedule")
    show.add_argument(
        "--rule",
        metavar="TEXT",
        help="exim: a retry rule ('F,2h,15m; G,16h,1h,1.5; F,4d,6h'); table: delays '5m,10m,1h'",
    )
    show.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a parameter, e.g. maximal_backoff_time=1h (units s m h d w)",
    )
    show.add_argument("--json", action="store_true", help="print attempts and give-up as JSON")
    show.add_argument("--null-sender", action="store_true", help="the message is a bounce (<>)")
    show.add_argument("--full", action="store_true", help="one row per attempt, no ranges")
    show.add_argument("--seed", type=int, help="random seed for Exim H rules (default: midpoint)")
    show.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="also draw all schedules' timelines"
    )
    show.set_defaults(handler=_show)

    classify = rsub.add_parser(
        "classify",
        help="say whether a reply or failure is success, temporary or permanent",
        description="Classify an SMTP reply line (or a connection failure) as a client would.",
    )
    classify.add_argument("reply", help="a reply line such as '450 4.2.0 Greylisted', or a failure")
    classify.add_argument(
        "--stage", default="rcpt", help="the command answered: connect, ehlo, mail, rcpt, data, dot"
    )
    classify.add_argument(
        "--tls-failure",
        default="temporary",
        choices=["temporary", "permanent"],
        help="what the TLS policy makes of a failed handshake",
    )
    classify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    classify.set_defaults(handler=_classify)


# -- show -------------------------------------------------------------------------------


def _settings(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise InputError(f"--set {item!r}: expected NAME=VALUE")
        out[name.strip()] = value.strip()
    return out


def _number(seconds: float) -> float | int:
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)


def _show(args: argparse.Namespace, out: TextIO) -> int:
    kind = ScheduleKind.from_text(args.schedule)
    schedule = build_schedule(kind, _settings(args.settings), args.rule)
    rng = None if args.seed is None else random.Random(args.seed)
    timeline = simulate(schedule, null_sender=args.null_sender, rng=rng)
    if args.plot is not None:
        _plot(args.plot, kind, schedule, args.null_sender, args.seed)
    if args.json:
        data = {
            "attempts": [_number(t) for t in timeline.attempts],
            "give_up": _number(timeline.give_up),
        }
        print(json.dumps(data), file=out)
        return 0
    params = " ".join(f"{k}={v}" for k, v in schedule_settings(schedule).items())
    sender = " (null sender)" if args.null_sender else ""
    print(f"Schedule: {kind.value} ({_TITLES[kind]}){sender}", file=out)
    print(f"Parameters: {params}", file=out)
    print("", file=out)
    for line in _table(timeline, full=args.full, null=args.null_sender):
        print(line, file=out)
    print("", file=out)
    print(
        f"Give up: {format_duration(timeline.give_up)} after arrival "
        f"({_number(timeline.give_up)} s), at attempt {len(timeline.attempts)}: "
        f"{timeline.reason}",
        file=out,
    )
    if args.plot is not None:
        print(f"Plot: {args.plot}", file=out)
    return 0


def _table(timeline: Timeline, *, full: bool, null: bool) -> list[str]:
    """Markdown rows: one per attempt, runs of equal delays folded into ranges."""
    rows: list[tuple[int, float | None, float, str]] = []
    warned = set(timeline.warnings)
    count = len(timeline.attempts)
    previous: float | None = None
    for number, t in enumerate(timeline.attempts, 1):
        notes = []
        if number == 1:
            notes.append("first attempt, on arrival")
        if t in warned:
            notes.append("delay DSN sent")
        if number == count:
            notes.append(
                "fails: give up" + (" (null sender: no DSN)" if null else ", bounce (DSN)")
            )
        rows.append((number, None if previous is None else t - previous, t, "; ".join(notes)))
        previous = t
    lines = ["| Attempt | Delay | Cumulative time | Notes |", "|---|---|---|---|"]
    i = 0
    while i < len(rows):
        j = i
        while (
            not full
            and j + 1 < len(rows)
            and rows[j + 1][1] == rows[i][1]
            and not rows[j + 1][3]
            and not rows[i][3]
        ):
            j += 1
        number, delay, t, note = rows[i]
        shown = "—" if delay is None else format_duration(delay)
        if j - i >= 2:
            last = rows[j][2]
            lines.append(
                f"| {number}-{rows[j][0]} | {shown} | {format_duration(t)} … "
                f"{format_duration(last)} | every {shown} |"
            )
            i = j + 1
            continue
        lines.append(f"| {number} | {shown} | {format_duration(t)} | {note} |")
        i += 1
    return lines


def _plot(
    path: Path, chosen: ScheduleKind, schedule: Schedule, null: bool, seed: int | None
) -> None:
    """Attempt timelines of all schedules, first day and whole life side by side."""
    from matplotlib.figure import Figure  # imported here: only --plot needs matplotlib

    timelines: list[tuple[str, Timeline]] = []
    for kind in ScheduleKind:
        this = schedule if kind is chosen else build_schedule(kind)
        rng = None if seed is None else random.Random(seed)
        timelines.append((kind.value, simulate(this, null_sender=null, rng=rng)))
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    first, whole = fig.subplots(1, 2, width_ratios=[1, 1.4])
    for row, (_, tl) in enumerate(reversed(timelines)):
        for ax, scale in ((first, 3600.0), (whole, 86400.0)):
            xs = [t / scale for t in tl.attempts[:-1]]
            ax.scatter(xs, [row] * len(xs), marker="|", s=160, color="tab:blue")
            ax.scatter([tl.give_up / scale], [row], marker="X", s=70, color="tab:red", zorder=3)
            if tl.warnings:
                ws = [t / scale for t in tl.warnings]
                ax.scatter(ws, [row + 0.28] * len(ws), marker="v", s=35, color="tab:orange")
    names = [name for name, _ in reversed(timelines)]
    for ax in (first, whole):
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.grid(axis="x", alpha=0.3)
    first.set_xlim(-0.2, 24)
    first.set_xlabel("hours after arrival (first day)")
    first.set_title("attempts in the first 24 hours")
    whole.set_xlabel("days after arrival")
    whole.set_title("until give-up (X = bounce, ▼ = delay DSN)")
    fig.suptitle("Retry schedules for a message whose every attempt fails temporarily")
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise InputError(f"--plot {path}: cannot write: {exc.strerror}") from None


# -- classify ---------------------------------------------------------------------------


def _parse_reply(text: str) -> Reply:
    parts = text.strip().split(" ", 2)
    if not parts[0].isdigit() or len(parts[0]) != 3:
        failures = ", ".join(f.value for f in ConnectionFailure)
        raise InputError(
            f"reply {text!r}: expected a reply line such as '450 4.2.0 Greylisted' "
            f"or a failure: {failures}"
        )
    code = int(parts[0])
    enhanced = parts[1] if len(parts) > 1 and parts[1][:1] in "245" and "." in parts[1] else None
    rest = parts[2:] if enhanced is not None else parts[1:]
    try:
        return Reply(code, enhanced, " ".join(rest))
    except ValueError as exc:
        raise InputError(f"reply {text!r}: {exc}") from None


def _classify(args: argparse.Namespace, out: TextIO) -> int:
    try:
        stage = Stage.from_text(args.stage)
        tls = Outcome.from_text(args.tls_failure)
    except ValueError as exc:
        raise InputError(f"--stage: {exc}") from None
    verdict: Verdict
    try:
        failure = ConnectionFailure.from_text(args.reply)
    except ValueError:
        verdict = classify_reply(_parse_reply(args.reply), stage)
    else:
        verdict = classify_failure(failure, stage=stage, tls_failure=tls)
    if args.json:
        data = {
            "outcome": verdict.outcome.value,
            "status": verdict.status,
            "scope": verdict.scope.value,
            "reason": verdict.reason,
            "notes": list(verdict.notes),
        }
        print(json.dumps(data), file=out)
        return 0
    print(
        f"{verdict.outcome.value} (status {verdict.status}, {verdict.scope.value} error)", file=out
    )
    for note in verdict.notes:
        print(f"  note: {note}", file=out)
    return 0
