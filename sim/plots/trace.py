"""Hop delays of a Received trace as horizontal bars, oldest hop at the top.

Each bar is one hop's delay (the time between its Received stamp and the one below it,
:mod:`sim.policy.trace`).  Negative delays (clock skew) are drawn in red to the left of
zero; hops below the trust boundary are hatched; the boundary is a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.policy.trace import Trace, TracedHop, Trust, format_duration

__all__ = ["plot_hop_delays"]

_OK = "#4477aa"
_SKEW = "#cc3311"
_UNKNOWN = "#bbbbbb"


def _unit(largest: float) -> tuple[float, str]:
    if largest >= 2 * 3600:
        return 3600.0, "h"
    if largest >= 2 * 60:
        return 60.0, "min"
    return 1.0, "s"


def _label(hop: TracedHop) -> str:
    return f"hop {hop.number}: {hop.hop.client} \u2192 {hop.hop.by or '?'}"


def plot_hop_delays(hops: Trace | Sequence[TracedHop], *, ax: Axes | None = None) -> Axes:
    """Draw the per-hop delays of a trace (newest-first hops, as in the message)."""
    rows = list(hops.hops if isinstance(hops, Trace) else hops)
    boundary = hops.boundary if isinstance(hops, Trace) else None
    if ax is None:
        fig = Figure(figsize=(9.0, 1.2 + 0.55 * max(len(rows), 1)), layout="constrained")
        ax = fig.add_subplot()
    chron = list(reversed(rows))  # oldest first, drawn at the top
    delays = [h.delay for h in chron]
    scale, unit = _unit(max((abs(d) for d in delays if d is not None), default=0.0))
    ys = list(range(len(chron)))
    for y, hop in zip(ys, chron, strict=True):
        value = 0.0 if hop.delay is None else hop.delay / scale
        color = _UNKNOWN if hop.delay is None else (_SKEW if hop.skew else _OK)
        hatch = "//" if hop.trust is Trust.UNVERIFIABLE else None
        ax.barh(y, value, color=color, hatch=hatch, edgecolor="black", linewidth=0.6)
        if hop.delay is None:
            text = "first stamp (no earlier hop)" if hop.number == 1 else "delay unknown"
        elif hop.skew:
            text = f"{format_duration(hop.delay)}: clock skew"
        else:
            text = format_duration(hop.delay)
        # Labels sit right of the bar (right of zero for negative bars, clear of the ticks).
        ax.annotate(
            text,
            (max(value, 0.0), y),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(ys, [_label(h) for h in chron], fontsize=8)
    for tick, hop in zip(ax.get_yticklabels(), chron, strict=True):
        if hop.trust is Trust.UNVERIFIABLE:
            tick.set_color("dimgray")
            tick.set_fontstyle("italic")
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"delay since the previous hop's stamp ({unit})")
    ax.set_title("Received trace: per-hop delay", pad=20)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.25 * (hi - lo))  # room for the labels
    handles = [Patch(facecolor=_OK, edgecolor="black", label="delay")]
    if any(h.skew for h in chron):
        handles.append(Patch(facecolor=_SKEW, edgecolor="black", label="clock skew"))
    if boundary is not None:
        # index in chron of the boundary hop; the line goes just before it (below in time)
        y_line = (len(rows) - 1 - boundary) - 0.5
        ax.axhline(y_line, color="black", linestyle="--", linewidth=0.8)
        ax.annotate(
            "trust boundary",
            (1.0, y_line),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
        )
    if any(h.trust is Trust.UNVERIFIABLE for h in chron):
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch="//",
                label="below trust boundary (italic: unverifiable)",
            )
        )
    # Above the bars, under the title, so it never hides a bar or its label.
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=len(handles),
        fontsize=8,
        frameon=False,
    )
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    return ax
