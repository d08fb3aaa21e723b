"""A run on disk: write a :class:`~sim.world.engine.RunResult` to a directory and read it back.

A run directory holds (issue 5, "Running and results"):

``summary.json``
    the summary dict (counts, latency percentiles, per-host queue peaks), JSON-safe:
    numpy scalars become Python numbers, NaN becomes ``null``, keys keep their order.
``messages.csv``
    the ledger, one row per message.
``events.jsonl``
    the event log, one JSON object per line with the keys in column order
    (``t``, ``kind``, ``host``, ``msg_id``, ``detail``): the same run gives the same bytes.
``timeseries.csv``, ``queue_waits.csv``
    queue depth per host per sample; the wait of every delivery attempt for a slot.
``topology.json``
    ``{"hosts": [...], "links": [[a, b], ...]}``: the MTAs in spec order and the network
    edges (routers appear only in links).  Optional when reading: a run directory
    without it reads back with an empty topology.
``*.png``
    the plots of :mod:`sim.plots.world`.

:func:`read_run` turns a directory back into a ``RunResult`` so plots can be redrawn
without running again; :func:`print_summary` prints the table ``relaysim run`` shows.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.errors import InputError
from sim.policy.trace import format_duration
from sim.world.engine import RunResult

__all__ = [
    "DATA_FILES",
    "PLOT_FILES",
    "delivery_latencies",
    "fault_windows",
    "print_summary",
    "read_run",
    "save_figure",
    "save_plot",
    "summary_json",
    "topology_json",
    "write_run",
]

DATA_FILES = (
    "summary.json",
    "messages.csv",
    "events.jsonl",
    "timeseries.csv",
    "queue_waits.csv",
    "topology.json",
)
_OPTIONAL_FILES = frozenset({"topology.json"})  # runs written before it existed still read

# plot kind (as ``relaysim plot --kind`` names it) -> file name in a run directory
PLOT_FILES = {
    "queue": "queue-depth.png",
    "latency": "latency-cdf.png",
    "latency-by-sender": "latency-by-sender.png",
    "outcomes": "outcomes.png",
    "retry-timeline": "retry-timeline.png",
    "tls": "tls-outcomes.png",
    "qshape": "qshape.png",
    "attempts": "attempts.png",
    "topology": "topology.png",
}

_EVENT_COLUMNS = ["t", "kind", "host", "msg_id", "detail"]
_MESSAGE_TEXT_COLUMNS = ("fate", "host", "reply", "origin")


def _json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf as None, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as the text of ``summary.json`` (indented, trailing newline)."""
    return json.dumps(_json_safe(summary), indent=2, allow_nan=False) + "\n"


def _column_json(column: pd.Series) -> list[str]:
    """Each value of a column as JSON text, exactly as ``json.dumps`` would write it."""
    if pd.api.types.is_bool_dtype(column):
        return ["true" if v else "false" for v in column.tolist()]
    if pd.api.types.is_integer_dtype(column):
        return [str(v) for v in column.tolist()]
    if pd.api.types.is_float_dtype(column):
        return [repr(v) if math.isfinite(v) else "null" for v in column.tolist()]
    memo: dict[Any, str] = {}  # kinds and hosts repeat: encode each text once
    out = []
    for value in column.tolist():
        try:
            text = memo.get(value)
        except TypeError:  # unhashable
            text = None
        if text is None:
            text = json.dumps(_json_safe(value), ensure_ascii=False, allow_nan=False)
            with contextlib.suppress(TypeError):
                memo[value] = text
        out.append(text)
    return out


def _event_lines(events: pd.DataFrame) -> Iterator[str]:
    """One JSON object per event, keys in column order; the same table gives the same bytes."""
    keys = [json.dumps(str(c), ensure_ascii=False) + ": " for c in events.columns]
    columns = [_column_json(events[c]) for c in events.columns]
    for row in zip(*columns, strict=True):
        yield "{" + ", ".join(k + v for k, v in zip(keys, row, strict=True)) + "}\n"


def save_plot(draw: Callable[..., Axes], result: RunResult, path: Path) -> Path:
    """Draw one plot of ``result`` on a fresh figure and save it as a PNG at ``path``."""
    fig = Figure(figsize=(10.0, 5.5), layout="constrained")
    draw(result, ax=fig.add_subplot())
    return save_figure(fig, path)


def save_figure(fig: Figure, path: Path) -> Path:
    """Save a figure as a PNG at ``path`` (the resolution every relaysim PNG uses)."""
    fig.savefig(path, dpi=110)
    return path


def topology_json(result: RunResult) -> str:
    """The text of ``topology.json``: the MTAs on one line, then one link per line."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    hosts = dump([str(h) for h in result.hosts])
    links = [dump([str(a), str(b)]) for a, b in result.links]
    body = "[]" if not links else "[\n    " + ",\n    ".join(links) + "\n  ]"
    return f'{{\n  "hosts": {hosts},\n  "links": {body}\n}}\n'


def _read_topology(path: Path) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Hosts and links from ``topology.json``; empty when the file is absent."""
    if not path.is_file():
        return (), ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        hosts = tuple(str(h) for h in data.get("hosts", []))
        links = tuple((str(a), str(b)) for a, b in data.get("links", []))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a topology file ({exc})") from exc
    return hosts, links


def write_run(result: RunResult, out_dir: Path, *, plots: bool = True) -> list[Path]:
    """Write the run directory (created if needed); returns the files written, in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    path = out_dir / "summary.json"
    path.write_text(summary_json(result.summary), encoding="utf-8")
    written.append(path)

    path = out_dir / "messages.csv"
    result.messages.to_csv(path, index=False, lineterminator="\n")
    written.append(path)

    path = out_dir / "events.jsonl"
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        stream.writelines(_event_lines(result.events))
    written.append(path)

    for name, frame in (("timeseries", result.timeseries), ("queue_waits", result.queue_waits)):
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        written.append(path)

    path = out_dir / "topology.json"
    path.write_text(topology_json(result), encoding="utf-8")
    written.append(path)

    for name, text in sorted(result.transcripts.items()):  # SMTP sessions, simulated times
        path = out_dir / "transcripts" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for name, data in sorted(result.samples.items()):  # delivered messages and DSNs
        path = out_dir / "samples" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    if plots:
        from sim.plots.world import PLOTS  # matplotlib work only when plots are wanted

        for kind, file_name in PLOT_FILES.items():
            written.append(save_plot(PLOTS[kind], result, out_dir / file_name))
    return written


def read_run(run_dir: Path) -> RunResult:
    """Read a run directory written by :func:`write_run` back into a ``RunResult``."""
    run_dir = Path(run_dir)
    missing = [
        name
        for name in DATA_FILES
        if name not in _OPTIONAL_FILES and not (run_dir / name).is_file()
    ]
    if missing:
        raise InputError(f"{run_dir}: not a run directory (missing {', '.join(missing)})")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    messages = pd.read_csv(
        run_dir / "messages.csv", dtype=dict.fromkeys(_MESSAGE_TEXT_COLUMNS, str)
    )
    for column in _MESSAGE_TEXT_COLUMNS:
        if column in messages:
            messages[column] = messages[column].fillna("")
    with (run_dir / "events.jsonl").open(encoding="utf-8") as stream:
        records = [json.loads(line) for line in stream if line.strip()]
    columns = list(records[0]) if records else _EVENT_COLUMNS
    events = pd.DataFrame.from_records(records, columns=columns)
    if not records:
        events = events.astype({"t": float, "msg_id": int})
    timeseries = pd.read_csv(run_dir / "timeseries.csv")
    queue_waits = pd.read_csv(run_dir / "queue_waits.csv")
    hosts, links = _read_topology(run_dir / "topology.json")
    return RunResult(summary, events, messages, timeseries, queue_waits, hosts=hosts, links=links)


# -- the summary table ---------------------------------------------------------------


def delivery_latencies(result: RunResult) -> pd.Series:
    """Seconds from injection to delivery of every delivered message (DSNs left out)."""
    m = result.messages
    if not len(m):
        return pd.Series(dtype=float)
    dsn = m["is_dsn"].astype(bool) if "is_dsn" in m else False
    delivered = m[(m["fate"] == "delivered") & ~dsn]
    return (delivered["final_at"] - delivered["injected_at"]).astype(float)


_COUNTS = (
    ("injected", "injected"),
    ("accepted", "accepted"),
    ("rejected_in_session", "rejected in session"),
    ("delivered", "delivered"),
    ("bounced", "bounced"),
    ("expired", "expired"),
    ("queued_at_end", "queued at end"),
    ("in_flight_at_end", "in flight at end"),
    ("dsn_sent", "DSNs sent"),
    ("dsn_suppressed", "DSNs suppressed"),
    ("lost", "lost"),
)


def fault_windows(result: RunResult) -> list[tuple[str, float, float | None]]:
    """(what, down at, up at or None) from the fault_down/fault_up events, in time order."""
    events = result.events
    faults = events[events["kind"].isin(["fault_down", "fault_up"])]
    open_: dict[str, float] = {}
    windows: list[tuple[str, float, float | None]] = []
    for t, kind, host, detail in zip(
        faults["t"], faults["kind"], faults["host"], faults["detail"], strict=True
    ):
        what = f"{host}-{detail}" if detail else str(host)
        if kind == "fault_down":
            open_.setdefault(what, float(t))
        elif what in open_:
            windows.append((what, open_.pop(what), float(t)))
    windows.extend((what, start, None) for what, start in open_.items())
    return sorted(windows, key=lambda w: (w[1], w[0]))


def print_summary(result: RunResult, out: TextIO, *, title: str | None = None) -> None:
    """Print counts, delivery-latency percentiles, per-host queue peaks and faults."""
    s = result.summary
    until = s.get("until")
    head = title or "run"
    extra = [f"seed {s['seed']}"] if s.get("seed") is not None else []
    if until is not None:
        extra.append(f"{format_duration(float(until))} simulated")
    print(f"{head} ({', '.join(extra)})" if extra else head, file=out)

    print("\nmessages", file=out)
    width = max(len(label) for _, label in _COUNTS)
    for key, label in _COUNTS:
        if key in s:
            flag = "  <-- conservation broken" if key == "lost" and s[key] else ""
            if key == "delivered" and s.get("dsn_delivered"):
                flag = f"  ({s['dsn_delivered']} of them DSNs)"
            print(f"  {label:<{width}}  {s[key]:>8}{flag}", file=out)
    if s.get("suspended_deferrals"):
        print(
            f"  deferred without a connection (destination suspended as dead): "
            f"{s['suspended_deferrals']}",
            file=out,
        )

    latencies = delivery_latencies(result)
    print("\ndelivery latency (injection to delivery, DSNs left out)", file=out)
    if len(latencies):
        for label, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
            print(f"  {label:<4}  {format_duration(float(latencies.quantile(q))):>8}", file=out)
        print(f"  {'max':<4}  {format_duration(float(latencies.max())):>8}", file=out)
    else:
        print("  (nothing delivered)", file=out)
    wait = s.get("queue_wait_mean_s")
    if wait is not None:
        print(f"  mean wait for a delivery slot: {format_duration(float(wait))}", file=out)

    ts = result.timeseries
    print("\nqueue peaks (messages held, sampled)", file=out)
    if len(ts):
        hosts = sorted(ts["host"].unique(), key=str)
        hw = max(len(str(h)) for h in hosts)
        for host in hosts:
            rows = ts[ts["host"] == host]
            peak = int(rows["queued"].max())
            at = float(rows["t"][rows["queued"].idxmax()])
            when = f"  at {format_duration(at)}" if peak else ""
            print(f"  {host!s:<{hw}}  {peak:>8}{when}", file=out)
    else:
        print("  (no samples)", file=out)

    attack = s.get("attack") or {}
    if attack:
        print("\nattacks (what the attackers tried and got)", file=out)
        aw = max(len(str(k)) for k in attack)
        for key, value in sorted(attack.items()):
            print(f"  {key!s:<{aw}}  {value:>8}", file=out)

    windows = fault_windows(result)
    if windows:
        print("\nfaults", file=out)
        for what, start, end in windows:
            span = f"{format_duration(start)} to {format_duration(end) if end else 'end'}"
            print(f"  {what} down {span}", file=out)
