"""``relaysim trace``: the hops of a message from its Received headers, with delays."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.policy.trace import Trace, TracedHop, Trust, format_duration, trace_message

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``trace`` to the top-level subcommands."""
    trace = sub.add_parser(
        "trace",
        help="reconstruct a message's path from its Received headers",
        description=(
            "Read the Received headers of an .eml file into hops (newest first, as in the "
            "message) with the delay of each hop, flag clock skew and, given the names of "
            "your own MXes, the hops below the trust boundary that could be forged."
        ),
    )
    trace.add_argument("file", type=Path, metavar="FILE.eml", help="the message to read")
    trace.add_argument(
        "--trusted",
        action="append",
        default=[],
        metavar="HOST",
        help="host name of one of your own MXes (repeat, or separate with commas)",
    )
    trace.add_argument("--json", action="store_true", help="print the trace as JSON")
    trace.add_argument("--plot", type=Path, metavar="OUT.png", help="draw the hop delays")
    trace.set_defaults(handler=_trace)


def _utc(when: datetime | None) -> str:
    return "-" if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _tls(hop: TracedHop) -> str:
    h = hop.hop
    if h.tls is not None:
        return h.tls.version
    return {True: "yes", False: "no", None: "?"}[h.encrypted]


def _flags(hop: TracedHop) -> str:
    flags = []
    if hop.skew:
        flags.append("CLOCK SKEW")
    if hop.trust is Trust.UNVERIFIABLE:
        flags.append("unverifiable")
    if hop.hop.notes:
        flags.append("malformed" if hop.hop.time is None or not hop.hop.by else "note")
    return ", ".join(flags)


def _table(trace: Trace, out: TextIO) -> None:
    header = ["hop", "from", "by", "protocol", "TLS", "time (UTC)", "delay", "flags"]
    rows = [
        [
            str(h.number),
            h.hop.client,
            h.hop.by or "?",
            h.hop.protocol_text or "?",
            _tls(h),
            _utc(h.hop.time),
            format_duration(h.delay),
            _flags(h),
        ]
        for h in trace.hops
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 6}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    print(line(header), file=out)
    for index, row in enumerate(rows):
        print(line(row), file=out)
        if trace.boundary == index and index + 1 < len(rows):
            by = trace.hops[index].hop.by
            print(
                f"{'-' * widths[0]}  trust boundary: hop {trace.hops[index].number} was "
                f"written by {by}; the hops below could be forged",
                file=out,
            )


def _summary(trace: Trace, out: TextIO) -> None:
    hops = trace.hops
    count = f"{len(hops)} hop" + ("" if len(hops) == 1 else "s")
    if trace.total is not None:
        print(
            f"\n{count}, {format_duration(trace.total)} from the oldest to the newest stamp",
            file=out,
        )
    elif len(hops) > 1:
        print(f"\n{count}; too few readable dates for a transit time", file=out)
    else:
        print(f"\n{count}", file=out)
    oldest = hops[-1].hop.time
    if trace.message_date is not None and oldest is not None:
        lag = (oldest - trace.message_date).total_seconds()
        print(
            f"Date: header {_utc(trace.message_date)} UTC, {format_duration(lag)} before hop 1",
            file=out,
        )
    for hop in trace.skewed:
        below = hops[hop.index + 1]
        print(
            f"clock skew: hop {hop.number} ({hop.hop.by}) is stamped "
            f"{format_duration(-(hop.delay or 0.0))} before hop {below.number} ({below.hop.by}); "
            "one of their clocks is wrong",
            file=out,
        )
    if trace.trusted:
        if trace.boundary is None:
            pass  # said in the trace notes
        elif trace.unverifiable:
            numbers = ", ".join(str(h.number) for h in trace.unverifiable)
            print(f"unverifiable (below the trust boundary): hop {numbers}", file=out)
        else:
            print("every hop is at or above the trust boundary", file=out)
    for hop in hops:
        for note in hop.hop.notes:
            print(f"hop {hop.number}: {note}", file=out)
    for note in trace.notes:
        print(f"note: {note}", file=out)


def _plot(trace: Trace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from sim.plots.trace import plot_hop_delays

    ax = plot_hop_delays(trace)
    figure = ax.get_figure(root=True)
    assert figure is not None
    try:
        figure.savefig(path, dpi=120)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the plot: {exc.strerror or exc}") from None


def _trace(args: argparse.Namespace, out: TextIO) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    trusted = [name for item in args.trusted for name in item.split(",") if name.strip()]
    trace = trace_message(data, trusted=trusted)
    if not trace.hops:
        raise InputError(f"{path}: no Received headers (is this an .eml message?)")
    if args.json:
        print(json.dumps({"file": str(path), **trace.as_json()}, indent=2), file=out)
    else:
        _table(trace, out)
        _summary(trace, out)
    if args.plot is not None:
        _plot(trace, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}", file=out)
    return 0
