"""Two views of a backlog over time: its age profile (qshape) and the attempts it causes.

``plot_qshape`` is the picture of Postfix's ``qshape`` tool drawn over simulated time:
how many messages one host holds, stacked by how long each has been in *that* queue,
in qshape's buckets (0-5, 5-10, 10-20, ... 640-1280, 1280+ minutes).  A backlog that
is only delayed shows as bands that climb to older buckets and then drain.

``plot_attempts`` counts the connection attempts arriving at one host per bin
(a minute in runs shorter than about 16 hours): the SMTP sessions that handed it a
message and the connections that failed because it (or the path to it) was down.
When a host that was down comes back, the queued backlogs of its clients all retry
at once: the thundering herd.

Both work from the event log of a :class:`~sim.world.engine.RunResult`:

- a message enters a host's queue at its ``accepted`` event there (or its
  ``taken_over`` event, keeping its arrival time: the queue is shared) and leaves it
  at its next ``accepted`` elsewhere, its ``taken_over`` by a partner, or its
  ``delivered``, ``bounced`` or ``expired`` event;
- an attempt at a host is a ``relayed`` event with detail ``to <host>``, or a
  ``connect_failed`` event whose detail (the :class:`~sim.world.network.Unreachable`
  text) names it: ``<host> is down``, ``no working path from <a> to <host>`` or
  ``<host>: no such server``.  Deferrals while the queue manager holds a destination
  for dead ("delivery temporarily suspended") make no connection and do not count.

Runs with ``events: sample`` keep the events of one message in 100, so the counts are
about a hundredth of the truth (the titles say so); ``events: none`` leaves nothing to
count.
"""

from __future__ import annotations

import itertools
import math
from types import ModuleType

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from sim.policy.trace import format_duration
from sim.world.engine import SAMPLE_EVERY, RunResult

__all__ = [
    "AGE_BUCKETS",
    "busiest_queue",
    "connection_attempts",
    "herd_target",
    "plot_attempts",
    "plot_qshape",
    "queue_ages",
    "queue_stays",
]

# Postfix qshape's age buckets, in minutes: (label, from, to)
_EDGES = (0, 5, 10, 20, 40, 80, 160, 320, 640, 1280)
AGE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    *((f"{lo}-{hi}", float(lo), float(hi)) for lo, hi in itertools.pairwise(_EDGES)),
    (f"{_EDGES[-1]}+", float(_EDGES[-1]), math.inf),
)
"""Postfix qshape's age buckets: (column label, lower bound, upper bound) in minutes."""

_HOLDING = ("accepted", "taken_over")
_LEAVING = ("delivered", "bounced", "expired")
_REFUSED = "#555555"
_SESSION_COLORS = ["#4477aa", "#ee7733", "#228833", "#aa3377", "#66ccee", "#ccbb44"]
_ATTEMPT_BINS = (1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200)
_DEFAULT_BINS = 100  # qshape samples when the run has no timeseries


def _helpers() -> ModuleType:
    # sim.plots.world registers these plots in PLOTS, so it imports this module:
    # its helpers are looked up when drawing, not at import time.
    from sim.plots import world

    return world


def _sampling_note(result: RunResult) -> str:
    mode = result.summary.get("events")
    return f" (events of 1 message in {SAMPLE_EVERY} recorded)" if mode == "sample" else ""


def _no_events(result: RunResult) -> bool:
    return not len(result.events) or result.summary.get("events") == "none"


# -- queue ages ------------------------------------------------------------------------


def queue_stays(result: RunResult) -> pd.DataFrame:
    """Every spell of a message in a host's queue, from the event log.

    Columns ``msg_id``, ``host``, ``arrived`` (when the message arrived in that queue;
    a ``taken_over`` keeps the arrival at the partner that shares the queue), ``enter``
    and ``leave`` (``inf`` while it is still there at the end).  A message delivered
    locally on acceptance has a spell of zero length.
    """
    columns = ["msg_id", "host", "arrived", "enter", "leave"]
    events = result.events
    if not len(events):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns}).astype(
            {"msg_id": int, "host": str}
        )
    mask = events["kind"].isin([*_HOLDING, *_LEAVING]) & (events["msg_id"] > 0)
    ev = events.loc[mask, ["t", "kind", "host", "msg_id"]]
    msg = ev["msg_id"].to_numpy(dtype=np.int64)
    t = ev["t"].to_numpy(dtype=float)
    order = np.lexsort((np.arange(len(ev)), t, msg))  # by message, then time, then log order
    msg, t = msg[order], t[order]
    kind = ev["kind"].to_numpy(dtype=object)[order]
    host = ev["host"].to_numpy(dtype=object)[order]
    accepted = kind == "accepted"
    arrived = pd.Series(np.where(accepted, t, np.nan)).groupby(msg).ffill().to_numpy(dtype=float)
    arrived = np.where(np.isnan(arrived), t, arrived)
    leave = np.full(len(t), np.inf)
    same = msg[1:] == msg[:-1]
    leave[:-1] = np.where(same, t[1:], np.inf)
    holds = accepted | (kind == "taken_over")
    return pd.DataFrame(
        {
            "msg_id": msg[holds],
            "host": host[holds].astype(str),
            "arrived": arrived[holds],
            "enter": t[holds],
            "leave": leave[holds],
        },
        columns=columns,
    )


def busiest_queue(result: RunResult) -> str | None:
    """The host with the largest sampled queue peak (``summary["queue_peak"]``).

    Without peaks in the summary: the largest ``queued`` of the timeseries, then the
    host that accepted the most messages to queue; None when nothing names a host.
    """
    peaks = {str(h): float(v or 0) for h, v in (result.summary.get("queue_peak") or {}).items()}
    if not peaks and len(result.timeseries) and "queued" in result.timeseries:
        table = result.timeseries.groupby("host")["queued"].max()
        peaks = {str(h): float(v) for h, v in table.items()}
    if peaks:
        return max(peaks, key=lambda h: peaks[h])  # the first of equal peaks
    stays = queue_stays(result)
    stays = stays[stays["leave"] > stays["enter"]]
    if len(stays):
        return str(stays["host"].value_counts().index[0])
    return None


def _interval(result: RunResult) -> float | None:
    ts = result.timeseries
    if not len(ts) or "t" not in ts:
        return None
    steps = np.diff(np.unique(ts["t"].to_numpy(dtype=float)))
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else None


def queue_ages(
    result: RunResult, host: str | None = None, every: float | None = None
) -> pd.DataFrame:
    """How many messages ``host`` holds every ``every`` seconds, by age in its queue.

    One row per sample time (index ``t`` in seconds, from 0 to the end of the run),
    one column per bucket of :data:`AGE_BUCKETS` (``"0-5"`` ... ``"1280+"``, minutes
    since the message arrived in this host's queue, lower bound included).  The
    default host is :func:`busiest_queue`; the default spacing is the run's sampling
    interval (its ``timeseries``), else a hundredth of the run.  A message counts at
    time ``s`` when it entered at or before ``s`` and had not left by ``s``.
    ``attrs["host"]`` names the host.
    """
    world = _helpers()
    if host is None:
        host = busiest_queue(result)
    end = float(world._end(result))
    if every is None:
        every = _interval(result) or (end / _DEFAULT_BINS if end > 0 else 60.0)
    if not every > 0:
        raise ValueError(f"every must be > 0 seconds, got {every}")
    times = np.arange(math.floor(end / every + 1e-9) + 1) * float(every)
    stays = queue_stays(result)
    mine = stays[stays["host"] == host]
    enter = mine["enter"].to_numpy(dtype=float)
    leave = mine["leave"].to_numpy(dtype=float)
    arrived = mine["arrived"].to_numpy(dtype=float)
    counts: dict[str, np.ndarray] = {}
    for label, lo, hi in AGE_BUCKETS:
        # in this bucket from arrival + lo to arrival + hi, while in the queue
        start = np.maximum(enter, arrived + lo * 60.0)
        stop = np.minimum(leave, arrived + hi * 60.0)
        keep = start < stop
        starts, stops = np.sort(start[keep]), np.sort(stop[keep])
        inside = np.searchsorted(starts, times, "right") - np.searchsorted(stops, times, "right")
        counts[label] = inside.astype(np.int64)
    table = pd.DataFrame(counts, index=pd.Index(times, name="t"))
    table.columns.name = "age (min)"
    table.attrs["host"] = host
    return table


def _age_colors() -> list[tuple[float, float, float, float]]:
    cmap = colormaps["YlGnBu"]
    return [cmap(x) for x in np.linspace(0.12, 1.0, len(AGE_BUCKETS))]


def _empty(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=12,
        color="#555555",
    )


def _mark_faults(ax: Axes, result: RunResult, scale: float) -> list[str]:
    """Shade the fault windows and edge them with lines that show over filled areas."""
    world = _helpers()
    failed: list[str] = world._shade_faults(ax, result, scale)
    end = world._end(result)
    for _, start, stop in world.fault_windows(result):
        for x in (start, end if stop is None else stop):
            ax.axvline(x / scale, color=world._FAULT, linestyle="--", linewidth=0.9, zorder=3)
    return failed


def _fault_handle(failed: list[str]) -> Patch:
    color = _helpers()._FAULT
    return Patch(facecolor=color, alpha=0.25, edgecolor=color, label=f"down: {', '.join(failed)}")


def plot_qshape(result: RunResult, *, ax: Axes | None = None, host: str | None = None) -> Axes:
    """The messages a host holds over simulated time, stacked by age in its queue.

    Like Postfix's ``qshape``, ages are minutes since the message arrived in this
    queue, in qshape's buckets; young messages are light at the bottom of the stack,
    old ones dark at the top.  Fault windows are shaded and edged with dashed lines.
    The default host is the one with the largest queue peak.
    """
    world = _helpers()
    ax = world._axes(ax)
    scale, unit = world._time_unit(result)
    if host is None:
        host = busiest_queue(result)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("messages in the queue")
    ax.set_xlim(0, world._end(result) / scale)
    ax.grid(linestyle=":", linewidth=0.5)
    if host is None or _no_events(result):
        ax.set_title("Queue age profile (qshape)")
        _empty(ax, "no queue to show: the run recorded no events")
        ax.set_ylim(0, 1)
        return ax
    ages = queue_ages(result, host)
    x = ages.index.to_numpy(dtype=float) / scale
    colors = _age_colors()
    used = [bool(ages[label].any()) for label, _, _ in AGE_BUCKETS]
    labels = [
        f"{label} min" if on else f"_{label}"
        for (label, _, _), on in zip(AGE_BUCKETS, used, strict=True)
    ]
    failed = _mark_faults(ax, result, scale)
    total = ages.sum(axis=1)
    if total.any():
        ax.stackplot(x, ages.T.to_numpy(), labels=labels, colors=colors, linewidth=0, zorder=2)
        peak_at = float(ages.index[int(total.to_numpy().argmax())])
        oldest = max(i for i, on in enumerate(used) if on)
        note = (
            f"peak {int(total.max()):,} messages at {format_duration(peak_at)}, "
            f"oldest bucket {AGE_BUCKETS[oldest][0]} min"
        )
        ax.set_ylim(0, float(total.max()) * 1.08)
    else:
        _empty(ax, f"{host} never held a message at the sampled times")
        ax.set_ylim(0, 1)
        note = "empty at every sample"
    handles, _ = ax.get_legend_handles_labels()
    handles = handles[::-1]  # oldest first, as the stack reads from the top
    if failed:
        handles.append(_fault_handle(failed))
    if handles:
        ax.legend(
            handles=handles,
            title="time in this queue",
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            title_fontsize=8,
            frameon=False,
        )
    every = float(ages.index[1] - ages.index[0]) if len(ages) > 1 else 0.0
    sampled = f"sampled every {format_duration(every)}; " if every else ""
    ax.set_title(
        f"Queue age profile of {host} (Postfix qshape buckets){_sampling_note(result)}\n"
        f"{sampled}{note}",
        fontsize=11,
    )
    return ax


# -- connection attempts ---------------------------------------------------------------

_UNREACHABLE = (
    r"^(?:(?P<down>\S+) is down"
    r"|no working path from \S+ to (?P<path>\S+)"
    r"|(?P<none>\S+): no such server)$"
)


def connection_attempts(result: RunResult) -> pd.DataFrame:
    """Every connection attempt of the run: ``t``, ``sender``, ``target``, ``outcome``.

    ``outcome`` is ``"session"`` for a session that handed a message over (a ``relayed``
    event) and ``"refused"`` for a connection that failed because the target or the
    path was down (``connect_failed``).  Failures that do not name the target (the
    sender itself went down) are left out.
    """
    columns = ["t", "sender", "target", "outcome"]
    events = result.events
    if not len(events):
        return pd.DataFrame({c: pd.Series(dtype=float if c == "t" else str) for c in columns})
    relayed = events[events["kind"] == "relayed"]
    to = relayed["detail"].astype(str).str.extract(r"^to (\S+)$")[0]
    failed = events[events["kind"] == "connect_failed"]
    parts = failed["detail"].astype(str).str.extract(_UNREACHABLE)
    named = parts["down"].where(parts["down"] != failed["host"].astype(str))
    target = named.fillna(parts["path"]).fillna(parts["none"])
    frames = [
        pd.DataFrame(
            {"t": rows["t"], "sender": rows["host"], "target": aim, "outcome": outcome}
        ).dropna(subset=["target"])
        for rows, aim, outcome in ((relayed, to, "session"), (failed, target, "refused"))
    ]
    table = pd.concat(frames, ignore_index=True).sort_values("t", kind="stable")
    table = table.astype({"t": float, "sender": str, "target": str, "outcome": str})
    return table.reset_index(drop=True)[columns]


def herd_target(result: RunResult) -> str | None:
    """The host most often failed to connect to that also took sessions (one that was
    down and came back: where a herd arrives), else the most failed one, else the one
    that received the most sessions; None when no connection was made or tried."""
    attempts = connection_attempts(result)
    refused = attempts.loc[attempts["outcome"] == "refused", "target"].value_counts()
    served = attempts.loc[attempts["outcome"] == "session", "target"].value_counts()
    revived = refused[refused.index.isin(served.index)]
    for counts in (revived, refused, served):
        if len(counts):
            return str(counts.index[0])
    return None


def _attempt_bin(end: float) -> float:
    """The smallest round bin with at most 1000 bins and, unless the run is short,
    at least a minute."""
    least = min(60.0, end / 60.0)
    for size in _ATTEMPT_BINS:
        if size >= least and end / size <= 1000:
            return float(size)
    return 86400.0 * math.ceil(end / 86400.0 / 1000)


def _per(size: float) -> str:
    names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
    if size in names:
        return names[size]
    if size % 3600 == 0:
        return f"{size / 3600:g} h"
    if size % 60 == 0:
        return f"{size / 60:g} min"
    return f"{size:g} s"


def plot_attempts(
    result: RunResult,
    *,
    ax: Axes | None = None,
    host: str | None = None,
    every: float | None = None,
) -> Axes:
    """Connection attempts arriving at a host per bin over simulated time.

    Stacked steps: the connections that failed because the host (or the way to it)
    was down, in grey at the bottom, then the sessions that handed it a message, one
    colour per sending host.  The default host is the one most often failed to
    connect to, so a host that returns from an outage shows the herd of retries from
    its clients' backlogs.  Bins are a minute unless the run is long (``every``
    seconds when given); the busiest bin is marked.
    """
    world = _helpers()
    ax = world._axes(ax)
    scale, unit = world._time_unit(result)
    end = float(world._end(result))
    if host is None:
        host = herd_target(result)
    size = float(every) if every is not None else _attempt_bin(end if end > 0 else 60.0)
    if not size > 0:
        raise ValueError(f"every must be > 0 seconds, got {every}")
    per = _per(size)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel(f"connection attempts per {per}")
    ax.set_xlim(0, end / scale if end > 0 else 1)
    ax.grid(linestyle=":", linewidth=0.5)
    if host is None or _no_events(result):
        ax.set_title("Connection attempts arriving at a host")
        _empty(ax, "no connection attempts in this run")
        ax.set_ylim(0, 1)
        return ax
    attempts = connection_attempts(result)
    mine = attempts[attempts["target"] == host]
    edges = np.arange(math.ceil(end / size - 1e-9) + 1) * size
    if len(edges) < 2:
        edges = np.array([0.0, size])
    failed = _mark_faults(ax, result, scale)
    layers: list[tuple[str, str, np.ndarray]] = []
    refused = mine.loc[mine["outcome"] == "refused", "t"].to_numpy(dtype=float)
    if len(refused):
        counts, _ = np.histogram(refused, edges)
        layers.append(("failed to connect:\nhost or path down", _REFUSED, counts))
    sessions = mine[mine["outcome"] == "session"]
    for i, sender in enumerate(sessions["sender"].value_counts().index):
        times = sessions.loc[sessions["sender"] == sender, "t"].to_numpy(dtype=float)
        counts, _ = np.histogram(times, edges)
        color = _SESSION_COLORS[i % len(_SESSION_COLORS)]
        layers.append((f"session from {sender}:\nmessage handed over", color, counts))
    bottom = np.zeros(len(edges) - 1)
    for label, color, counts in layers:
        top = bottom + counts
        ax.stairs(
            top, edges / scale, baseline=bottom, fill=True, color=color, label=label, zorder=2
        )
        bottom = top
    handles, _ = ax.get_legend_handles_labels()
    if bottom.any():
        peak = int(bottom.argmax())
        most = int(bottom[peak])
        ax.set_ylim(0, most * 1.15)
        ax.annotate(
            f"peak {most:,} in the {per} from {format_duration(float(edges[peak]))}",
            (float(edges[peak] + size / 2) / scale, most),
            xytext=(8, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "black", "linewidth": 0.6},
        )
        n_sessions, n_refused = len(sessions), len(refused)
        note = f"{n_sessions:,} sessions, {n_refused:,} failed connections"
    else:
        _empty(ax, f"no connection attempts reached {host}")
        ax.set_ylim(0, 1)
        note = "no attempts"
    if failed:
        handles.append(_fault_handle(failed))
    if handles:
        ax.legend(
            handles=handles,
            title="attempts, stacked",
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            title_fontsize=8,
            frameon=False,
        )
    ax.set_title(
        f"Connection attempts arriving at {host}{_sampling_note(result)}\n"
        f"{note}, counted per {per}",
        fontsize=11,
    )
    return ax
