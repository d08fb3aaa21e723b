"""Plots of a :class:`sim.compare.Comparison`: the same outage under different designs.

- :func:`plot_compare_queues`: one queue-depth panel per scenario, on shared axes;
- :func:`plot_compare_latency`: the delivery-latency CDFs overlaid;
- :func:`plot_compare_waiting`: where the mail waited, message-hours per host, stacked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.plots.world import _axes, draw_latency_cdfs, plot_queue_depth

if TYPE_CHECKING:
    from sim.compare import Comparison

__all__ = [
    "plot_compare_attacks",
    "plot_compare_latency",
    "plot_compare_queues",
    "plot_compare_waiting",
]


def plot_compare_queues(comparison: Comparison, *, fig: Figure | None = None) -> Figure:
    """Queue depth per host over time, one panel per scenario, same scales."""
    n = len(comparison.results)
    fig = fig or Figure(figsize=(11.0, 3.2 * n), layout="constrained")
    axes = fig.subplots(n, 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, (label, result) in zip(axes, comparison.results.items(), strict=True):
        plot_queue_depth(result, ax=ax)
        ax.set_title(f"{label}: messages queued per host")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=7)
    for ax in axes[:-1]:
        ax.set_xlabel("")
    fig.suptitle("Queue depth per host, scenario by scenario")
    return fig


def plot_compare_latency(comparison: Comparison, *, ax: Axes | None = None) -> Axes:
    """Delivery latency CDFs of the scenarios (DSNs left out), p50 and p95 in the legend."""
    groups = {}
    for label, result in comparison.results.items():
        m = result.messages
        delivered = m[(m["fate"] == "delivered") & ~m["is_dsn"].astype(bool)]
        groups[label] = (delivered["final_at"] - delivered["injected_at"]).to_numpy(float)
    return draw_latency_cdfs(_axes(ax), groups, "Delivery latency, scenario by scenario")


def plot_compare_waiting(comparison: Comparison, *, ax: Axes | None = None) -> Axes:
    """Where the mail waited: message-hours in each host's queue, one bar per scenario."""
    from sim.compare import waiting_hours

    ax = _axes(ax, (10.0, 1.2 + 0.8 * len(comparison.results)))
    labels = list(comparison.results)
    hours = {label: waiting_hours(r) for label, r in comparison.results.items()}
    biggest = max((float(s.max()) for s in hours.values() if len(s)), default=0.0)
    hosts = sorted(
        {h for s in hours.values() for h in s.index if float(s[h]) >= 0.01 * biggest},
        key=lambda h: -max(float(s.get(h, 0.0)) for s in hours.values()),
    )
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    palette = colormaps["tab20"]
    for i, host in enumerate(hosts):
        widths = np.array([float(hours[label].get(host, 0.0)) for label in labels])
        color = palette(i % palette.N)
        ax.barh(y, widths, left=left, color=color, edgecolor="white", label=host)
        left += widths
    rest = np.array([float(hours[label].sum()) for label in labels]) - left
    if rest.max() > 0:  # hosts under 1 % of the biggest queue, together
        ax.barh(y, rest, left=left, color="#bbbbbb", edgecolor="white", label="other hosts")
        left += rest
    total = max(float(left.max()), 1e-9)
    for yy, value in zip(y, left, strict=True):
        ax.text(value + total * 0.01, yy, f"{value:,.0f} h", va="center", fontsize=9)
    ax.set_yticks(y, labels)
    ax.set_xlim(0, total * 1.15)
    ax.set_xlabel("message-hours spent in queues (sum over messages of time queued)")
    ax.set_title("Where the mail waited")
    if hosts:
        ax.legend(title="queue of", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no message ever waited in a queue", transform=ax.transAxes)
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    return ax


def plot_compare_attacks(comparison: Comparison, *, ax: Axes | None = None) -> Axes:
    """The attack counts of each scenario side by side: what succeeded without a
    defence and what the defence stopped (one group of bars per count)."""
    table = comparison.table()
    columns = [c for c in table.columns if c.startswith("attack_")]
    ax = _axes(ax, (10.0, 1.5 + 0.45 * max(len(columns), 1) * len(table)))
    if not columns:
        ax.text(0.5, 0.5, "no attacks in these runs", transform=ax.transAxes, ha="center")
        return ax
    labels = list(table.index)
    height = 0.8 / len(labels)
    y = np.arange(len(columns))[::-1]
    palette = colormaps["tab10"]
    for i, label in enumerate(labels):
        values = table.loc[label, columns].to_numpy(dtype=float)
        offset = (len(labels) - 1) / 2 - i
        bars = ax.barh(y + offset * height, values, height=height, color=palette(i), label=label)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    ax.set_yticks(y, [c.removeprefix("attack_").replace("_", " ") for c in columns])
    ax.set_xlabel("count over the run (messages, probes, bounces)")
    ax.set_title("What the attack achieved, scenario by scenario")
    ax.set_xlim(0, float(table[columns].to_numpy().max()) * 1.2 or 1)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    return ax
