"""Plots of a world run: queue depth, delivery latency, outcomes, retry timeline, TLS mix.

:data:`PLOTS` also registers the topology plot of :mod:`sim.plots.topology`.

Every function is ``plot_x(result, *, ax=None) -> Axes`` over a
:class:`~sim.world.engine.RunResult` (or one read back by :func:`sim.results.read_run`),
object-oriented matplotlib only: without ``ax`` a plot makes its own
:class:`~matplotlib.figure.Figure`, and nothing here calls ``plt.show()``.

Simulated time is shown in hours when the run lasts two hours or more, in minutes
otherwise; fault windows (``fault_down`` to ``fault_up`` events) are shaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from sim.plots.qshape import plot_attempts, plot_qshape
from sim.plots.topology import plot_topology
from sim.policy.trace import format_duration
from sim.results import delivery_latencies, fault_windows
from sim.world.engine import RunResult

__all__ = [
    "PLOTS",
    "plot_latency_cdf",
    "plot_outcomes",
    "plot_queue_depth",
    "plot_retry_timeline",
    "plot_tls_outcomes",
]

_FAULT = "#cc3311"
_COLORS = ["#4477aa", "#ee7733", "#228833", "#aa3377", "#66ccee", "#ccbb44", "#bbbbbb"]


def _axes(ax: Axes | None, size: tuple[float, float] = (10.0, 5.5)) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=size, layout="constrained").add_subplot()


def _end(result: RunResult) -> float:
    until = result.summary.get("until")
    if until is not None:
        return float(until)
    times = [float(result.events["t"].max()) if len(result.events) else 0.0]
    if len(result.timeseries):
        times.append(float(result.timeseries["t"].max()))
    return max(times)


def _time_unit(result: RunResult) -> tuple[float, str]:
    return (3600.0, "h") if _end(result) >= 2 * 3600 else (60.0, "min")


def _shade_faults(ax: Axes, result: RunResult, scale: float, *, label: bool = True) -> list[str]:
    """Shade every fault window (labelled at the top if ``label``); returns what failed."""
    windows = fault_windows(result)
    end = _end(result)
    for row, (what, start, stop) in enumerate(windows):
        stop = end if stop is None else stop
        ax.axvspan(start / scale, stop / scale, color=_FAULT, alpha=0.12, linewidth=0)
        if not label:
            continue
        ax.annotate(  # one line per fault, so labels of nearby windows do not overlap
            f"{what} down",
            (start / scale, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3 - 11 * row),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color=_FAULT,
        )
    return sorted({what for what, _, _ in windows})


def plot_queue_depth(result: RunResult, *, ax: Axes | None = None) -> Axes:
    """Messages held by each host over simulated time, with fault windows shaded.

    Hosts whose queue stayed empty all run are left out of the lines and named in
    the legend, so the hosts that did queue stand out.
    """
    ax = _axes(ax)
    scale, unit = _time_unit(result)
    ts = result.timeseries
    table = ts.pivot_table(index="t", columns="host", values="queued", aggfunc="max")
    busy = [h for h in table.columns if table[h].max() > 0]
    idle = [h for h in table.columns if h not in busy]
    for i, host in enumerate(busy):
        ax.plot(
            table.index / scale,
            table[host],
            drawstyle="steps-post",
            color=_COLORS[i % len(_COLORS)],
            linewidth=1.6,
            label=str(host),
        )
    handles, _ = ax.get_legend_handles_labels()
    if _shade_faults(ax, result, scale):
        handles.append(Patch(color=_FAULT, alpha=0.12, label="fault (host or link down)"))
    if idle:
        names = ", ".join(str(h) for h in idle)
        handles.append(Line2D([], [], color="none", label=f"always empty: {names}"))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    ax.set_xlim(0, _end(result) / scale)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("messages queued")
    ax.set_title("Queue depth per host")
    ax.grid(linestyle=":", linewidth=0.5)
    return ax


_LATENCY_TICKS = (
    (0.001, "1ms"),
    (0.01, "10ms"),
    (0.1, "0.1s"),
    (1.0, "1s"),
    (10.0, "10s"),
    (60.0, "1m"),
    (600.0, "10m"),
    (3600.0, "1h"),
    (6 * 3600.0, "6h"),
    (86400.0, "1d"),
    (5 * 86400.0, "5d"),
)


def plot_latency_cdf(result: RunResult, *, ax: Axes | None = None, by: str | None = None) -> Axes:
    """Share of delivered messages delivered within x (log time axis), p50/p95 marked.

    ``by="origin"`` draws one curve per MTA the messages were submitted to (DSNs left
    out), to compare senders, e.g. retry schedules against a greylisting receiver.
    """
    ax = _axes(ax)
    groups: dict[str, np.ndarray] = {}
    if by is None:
        groups[""] = delivery_latencies(result).to_numpy(dtype=float)
        title = "Delivery latency (injection to delivery, DSNs left out)"
    elif by == "origin":
        m = result.messages
        if len(m) and "origin" in m:
            delivered = m[(m["fate"] == "delivered") & ~m["is_dsn"].astype(bool)]
            groups = {
                str(origin): (g["final_at"] - g["injected_at"]).to_numpy(dtype=float)
                for origin, g in delivered.groupby("origin", sort=True)
            }
        title = "Delivery latency by submitting MTA"
    else:
        raise ValueError(f"by must be None or 'origin', got {by!r}")
    return draw_latency_cdfs(ax, groups, title)


def plot_latency_by_sender(result: RunResult, *, ax: Axes | None = None) -> Axes:
    """:func:`plot_latency_cdf` with one curve per submitting MTA (``by="origin"``)."""
    return plot_latency_cdf(result, ax=ax, by="origin")


def draw_latency_cdfs(ax: Axes, groups: Mapping[str, np.ndarray], title: str) -> Axes:
    """Step CDFs of latencies (seconds) on a log axis; one curve per labelled group.

    With one unlabelled group its p50 and p95 are marked; with several, each label
    in the legend carries its p50 and p95.
    """
    ax.set_title(title)
    ax.set_ylabel("share of delivered messages")
    ax.set_xlabel("latency (log scale)")
    ax.set_ylim(0, 1.02)
    groups = {label: np.sort(values) for label, values in groups.items() if len(values)}
    if not groups:
        ax.text(0.5, 0.5, "nothing delivered", transform=ax.transAxes, ha="center")
        return ax
    floor = 0.001  # zero latency (local delivery) drawn at 1 ms
    lo = min(max(float(v[0]), floor) for v in groups.values())
    hi = max(max(float(v[-1]), floor) for v in groups.values())
    for i, (label, latencies) in enumerate(groups.items()):
        shown = np.maximum(latencies, floor)
        share = np.arange(1, len(shown) + 1) / len(shown)
        p50, p95 = (float(np.quantile(latencies, q)) for q in (0.5, 0.95))
        legend = f"{label}: p50 {format_duration(p50)}, p95 {format_duration(p95)}"
        ax.step(
            shown,
            share,
            where="post",
            color=_COLORS[i % len(_COLORS)],
            linewidth=1.6,
            label=legend if label else None,
        )
    ax.set_xscale("log")
    ax.set_xlim(max(floor, lo / 2), max(hi * 2, lo * 10))
    left, right = ax.get_xlim()
    ticks = [t for t, _ in _LATENCY_TICKS if left <= t <= right]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    labels = dict(_LATENCY_TICKS)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: labels.get(x, "")))
    if len(groups) == 1 and "" in groups:
        latencies = groups[""]
        for q, style in ((0.5, "--"), (0.95, ":")):
            value = float(np.quantile(latencies, q))
            ax.axvline(max(value, floor), color="black", linestyle=style, linewidth=0.9)
            ax.annotate(
                f"p{round(q * 100)} = {format_duration(value)}",
                (max(value, floor), q),
                xytext=(5, -12),
                textcoords="offset points",
                fontsize=9,
            )
    else:
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(linestyle=":", linewidth=0.5)
    return ax


_OUTCOMES = (
    ("delivered", "delivered", "#228833"),
    ("bounced", "bounced", "#cc3311"),
    ("expired", "expired", "#ee7733"),
    ("queued_at_end", "queued at end", "#4477aa"),
    ("rejected_in_session", "rejected in session", "#aa3377"),
)


def plot_outcomes(result: RunResult, *, ax: Axes | None = None) -> Axes:
    """How every message ended: one bar per outcome, counts written on the bars."""
    ax = _axes(ax, (8.0, 4.5))
    s = result.summary
    labels = [label for _, label, _ in _OUTCOMES]
    counts = [int(s.get(key) or 0) for key, _, _ in _OUTCOMES]
    bars = ax.bar(labels, counts, color=[c for _, _, c in _OUTCOMES], edgecolor="black")
    ax.bar_label(bars, labels=[f"{c:,}" for c in counts], padding=2, fontsize=9)
    ax.set_ylim(0, max(max(counts), 1) * 1.12)
    ax.set_ylabel("messages")
    injected = int(s.get("injected") or 0)
    dsn = int(s.get("dsn_sent") or 0)
    note = f"{injected:,} injected" + (f", of which {dsn:,} DSNs" if dsn else "")
    ax.set_title(f"Message outcomes ({note}; lost: {s.get('lost', '?')})")
    ax.grid(axis="y", linestyle=":", linewidth=0.5)
    return ax


_MARKERS = {
    "accepted": ("o", "#4477aa", "accepted by a host"),
    "deferred": ("x", "#cc3311", "deferred (will retry)"),
    "relayed": (">", "#ee7733", "handed to the next hop"),
    "delivered": ("s", "#228833", "delivered"),
    "bounced": ("v", "black", "bounced"),
    "expired": ("v", "#aa3377", "expired"),
}


def _sample(ids: list[int], n: int) -> list[int]:
    if len(ids) <= n:
        return ids
    picks = np.linspace(0, len(ids) - 1, n).round().astype(int)
    return [ids[i] for i in sorted(set(picks.tolist()))]


def _origins(result: RunResult) -> dict[int, str]:
    """Message id -> the MTA it was submitted to (empty when the table lacks it)."""
    m = result.messages
    if "origin" not in m or not len(m):
        return {}
    return {int(i): str(o) for i, o in zip(m["msg_id"], m["origin"], strict=True)}


def plot_retry_timeline(result: RunResult, *, ax: Axes | None = None, messages: int = 30) -> Axes:
    """The attempts of a sample of messages over time, one row per message.

    Messages that were deferred at least once fill the sample first (spread evenly by
    id), then others; each row runs from injection to its last event.  When the
    deferred messages were submitted to several MTAs, each gets the same number of
    rows, grouped and labelled, to compare their retry schedules.
    """
    events = result.events
    kinds = list(_MARKERS)
    ev = events[(events["msg_id"] > 0) & events["kind"].isin([*kinds, "injected"])]
    deferred_ids = sorted(set(ev.loc[ev["kind"] == "deferred", "msg_id"].astype(int).tolist()))
    others = sorted(set(ev["msg_id"].astype(int).tolist()) - set(deferred_ids))
    origin = _origins(result)
    senders = sorted({origin.get(m, "") for m in deferred_ids} - {""})
    if len(senders) > 1:
        # Several submitting MTAs (several retry schedules): the same share of each,
        # grouped, so their schedules can be compared row against row.
        each = max(1, messages // len(senders))
        chosen = [
            m
            for sender in senders
            for m in _sample([m for m in deferred_ids if origin.get(m) == sender], each)
        ]
    else:
        chosen = list(_sample(deferred_ids, messages))
        chosen += _sample(others, messages - len(chosen))
        chosen.sort()
    ax = _axes(ax, (10.0, 2.0 + 0.22 * max(len(chosen), 5)))
    scale, unit = _time_unit(result)
    failed = _shade_faults(ax, result, scale, label=False)
    row = {msg_id: y for y, msg_id in enumerate(chosen)}
    sample = ev[ev["msg_id"].isin(chosen)]
    spans = sample.groupby("msg_id")["t"].agg(["min", "max"])
    for msg_id, start, stop in zip(spans.index, spans["min"], spans["max"], strict=True):
        y = row[int(msg_id)]
        ax.plot([start / scale, stop / scale], [y, y], color="#999999", linewidth=0.8, zorder=1)
    for kind, (marker, color, label) in _MARKERS.items():
        points = sample[sample["kind"] == kind]
        if not len(points):
            continue
        ys = points["msg_id"].map(row)
        ax.scatter(
            points["t"] / scale,
            ys,
            marker=marker,
            color=color,
            s=28,
            linewidths=1.2,
            zorder=2,
            label=label,
        )
    names = [f"{origin[m]} · msg {m}" if len(senders) > 1 else f"msg {m}" for m in chosen]
    ax.set_yticks(range(len(chosen)), names, fontsize=7)
    ax.set_ylim(max(len(chosen), 1) - 0.5, -0.5)
    if not chosen:
        ax.text(0.5, 0.5, "no messages", transform=ax.transAxes, ha="center")
    ax.set_xlim(0, _end(result) / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    total = len(deferred_ids) + len(others)
    ax.set_title(
        f"Retry timeline: {len(chosen)} of {total} messages "
        f"({len(deferred_ids)} deferred at least once)"
    )
    handles, _ = ax.get_legend_handles_labels()
    if failed:
        handles.append(Patch(color=_FAULT, alpha=0.12, label=f"down: {', '.join(failed)}"))
    if handles:
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
        )
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    return ax


# summary["tls"] label -> (what it means to a student, class), safest first
_TLS_LABELS = (
    ("tls-dane", "verified by DANE (TLSA in DNSSEC)", "auth"),
    ("tls-mta-sts", "verified under an MTA-STS policy", "auth"),
    ("tls-verified", "certificate verified (CA and name)", "auth"),
    ("tls-pkix", "certificate verified (CA and name)", "auth"),
    ("tls-fingerprint", "certificate pinned by fingerprint", "auth"),
    ("tls-unauthenticated", "encrypted, server not authenticated", "enc"),
    ("tls-anonymous", "encrypted, server not authenticated", "enc"),
    ("plaintext", "plaintext: readable on the wire", "plain"),
    ("defer", "deferred by TLS policy: not sent", "defer"),
)
# class -> (row text when it has no decision, colour, name in the title)
_TLS_CLASSES = {
    "auth": ("encrypted and server authenticated", "#1b7837", "authenticated"),
    "enc": ("encrypted, server not authenticated", "#e69f00", "encrypted only"),
    "plain": ("plaintext (exposed)", "#cc3311", "plaintext"),
    "defer": ("deferred by TLS policy", "#999999", "deferred"),
    "other": ("other", "#4477aa", "other"),
}
# one green per authenticated label of _TLS_LABELS, darkest for the first
_TLS_GREENS = ("#00441b", "#1b7837", "#3a8f4a", "#3a8f4a", "#7fbf7b")


def _tls_rows(counts: dict[str, int]) -> list[tuple[str, str, str, str, int]]:
    """(label, tick text, class, colour, count), safest first; empty classes get a 0 row."""
    known = {label: (text, cls) for label, text, cls in _TLS_LABELS}
    greens = dict(zip([lab for lab, _, c in _TLS_LABELS if c == "auth"], _TLS_GREENS, strict=True))
    rows = []
    for label, text, cls in _TLS_LABELS:
        if counts.get(label):
            rows.append((label, f"{text}\n({label})", cls, greens.get(label, ""), counts[label]))
    for cls in ("auth", "enc", "plain", "defer"):
        if not any(row[2] == cls for row in rows):
            names = ", ".join(lab for lab, _, c in _TLS_LABELS if c == cls and lab in counts)
            text = _TLS_CLASSES[cls][0] + (f"\n({names})" if names else "")
            rows.append(("", text, cls, "", 0))
    order = list(_TLS_CLASSES)
    rows.sort(key=lambda row: order.index(row[2]))  # stable: keeps the label order inside
    for label in sorted(set(counts) - set(known)):
        if counts[label]:
            rows.append((label, f"{label}\n(unknown label)", "other", "", counts[label]))
    return [(lab, tick, c, color or _TLS_CLASSES[c][1], n) for lab, tick, c, color, n in rows]


def _tls_defers_by_sender(result: RunResult) -> list[tuple[str, int]]:
    events = result.events
    if not len(events):
        return []
    defers = events.loc[events["kind"] == "tls_defer", "host"].astype(str)
    return [(str(h), int(n)) for h, n in defers.value_counts().items()]


def plot_tls_outcomes(result: RunResult, *, ax: Axes | None = None) -> Axes:
    """How the sending MTAs protected their connections: one bar per TLS decision.

    Bars run from the safest (authenticated TLS, greens) through encrypted but
    unauthenticated (amber) and plaintext (red) to attempts the TLS policy refused to
    make (grey), each with its count and share.  A class with no decision keeps a
    zero bar, so "no plaintext at all" is visible; ``tls_defer`` events name the
    senders that deferred.
    """
    ax = _axes(ax)
    raw = result.summary.get("tls") or {}
    counts = {str(k): int(v or 0) for k, v in raw.items()}
    total = sum(counts.values())
    ax.set_xlabel("delivery attempts (one TLS decision per connection; retries count again)")
    if not total:
        ax.set_title("TLS outcome mix of delivery attempts")
        ax.text(
            0.5,
            0.5,
            "no TLS decisions in this run",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="#555555",
        )
        ax.set_yticks([])
        ax.set_xticks([])
        return ax
    rows = _tls_rows(counts)
    ys = np.arange(len(rows))
    values = [n for *_, n in rows]
    bars = ax.barh(
        ys,
        values,
        color=[color for *_, color, _ in rows],
        edgecolor="black",
        linewidth=0.6,
        height=0.7,
    )
    ax.bar_label(
        bars,
        labels=[f"{n:,} ({100 * n / total:.1f}%)" if n else "0" for n in values],
        padding=3,
        fontsize=9,
    )
    ax.set_yticks(ys, [tick for _, tick, *_ in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # safest at the top
    ax.set_xlim(0, max(values) * 1.25)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}"))
    ax.set_ylabel("TLS outcome (safest at the top)")
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    shares = [
        f"{short} {100 * sum(n for _, _, c, _, n in rows if c == cls) / total:.1f}%"
        for cls, (_, _, short) in _TLS_CLASSES.items()
        if cls != "other" or any(c == cls for _, _, c, _, _ in rows)
    ]
    defers = _tls_defers_by_sender(result)
    if defers:
        shown = [f"{host} {n:,}" for host, n in defers[:4]]
        if len(defers) > 4:
            shown.append(f"{len(defers) - 4} more {sum(n for _, n in defers[4:]):,}")
        ax.annotate(
            "deferred by TLS policy at: " + ", ".join(shown),
            (0.0, 0.0),
            xycoords="axes fraction",
            xytext=(0, -42),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color="#555555",
        )
    ax.set_title(
        f"TLS outcome mix of {total:,} delivery attempts by the sending MTAs\n"
        + " \u00b7 ".join(shares),
        fontsize=11,
    )
    return ax


PLOTS: dict[str, Callable[..., Axes]] = {
    "queue": plot_queue_depth,
    "latency": plot_latency_cdf,
    "latency-by-sender": plot_latency_by_sender,
    "outcomes": plot_outcomes,
    "retry-timeline": plot_retry_timeline,
    "tls": plot_tls_outcomes,
    "qshape": plot_qshape,
    "attempts": plot_attempts,
    "topology": plot_topology,
}
"""Plot functions by the ``--kind`` name of ``relaysim plot``."""
