"""The topology of a world run with the paths messages took, thickness by volume.

``plot_topology(result, *, ax=None) -> Axes`` draws the network of a
:class:`~sim.world.engine.RunResult` (``hosts`` and ``links``, or ``topology.json``
read back by :func:`sim.results.read_run`):

- MTAs as large labelled nodes, with how many messages each delivered locally and its
  sampled queue peak;
- routers (nodes that appear only in links) as small grey nodes;
- links as thin grey lines (a link that was down is dashed red);
- message flows between MTAs, one arrow per (from host, to host) of the ``relayed``
  events, curved so that the two directions and the links stay apart; the width grows
  linearly with the number of messages relayed and the count is written on the arrow;
- hosts that were down (``fault_down`` events) ringed in red with their down window.

The layout is a networkx spring layout with a fixed seed over links and flows, so the
same run always gives the same picture.  A run without topology (an old run directory)
still draws: the MTAs are taken from the events and only the flows are shown.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import networkx as nx
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from sim.policy.trace import format_duration
from sim.results import fault_windows
from sim.world.engine import RunResult

__all__ = ["flow_counts", "plot_topology"]

_MTA = "#4477aa"
_ROUTER = "#aaaaaa"
_LINK = "#c8c8c8"
_FLOW = "#f0a060"
_FAULT = "#cc3311"
_MTA_SIZE = 900.0  # scatter marker area, points^2
_ROUTER_SIZE = 90.0
_MIN_WIDTH, _MAX_WIDTH = 1.5, 10.0  # arrow line widths, points
_RAD = 0.22  # curvature of the flow arrows
_SEED = 7


def flow_counts(result: RunResult) -> dict[tuple[str, str], int]:
    """Messages relayed per (from host, to host), from the ``relayed`` events, sorted."""
    events = result.events
    if not len(events):
        return {}
    relayed = events[events["kind"] == "relayed"]
    counts: Counter[tuple[str, str]] = Counter()
    for host, detail in zip(relayed["host"], relayed["detail"], strict=True):
        text = str(detail)
        if text.startswith("to "):
            counts[(str(host), text[3:].strip())] += 1
    return dict(sorted(counts.items()))


def _flow_width(count: int, most: int) -> float:
    return _MIN_WIDTH + (_MAX_WIDTH - _MIN_WIDTH) * count / max(most, 1)


def _arrow_style(width: float) -> str:
    """A filled head that grows with the line, so thick arrows still show their direction."""
    return f"-|>,head_length={0.5 + 0.07 * width:.2f},head_width={0.3 + 0.09 * width:.2f}"


def _mtas(result: RunResult, flows: dict[tuple[str, str], int]) -> list[str]:
    """The MTAs in spec order; without a topology, every host the events or samples name."""
    names = list(result.hosts)
    named = {h for flow in flows for h in flow}
    if not names:
        events = result.events
        if len(events):
            named.update(str(h) for h in events["host"] if str(h))
        if len(result.timeseries) and "host" in result.timeseries:
            named.update(str(h) for h in result.timeseries["host"])
    return names + sorted(named - set(names))


def _layers(mtas: list[str], flows: dict[tuple[str, str], int]) -> dict[str, int]:
    """Column of each MTA: hops along the flows from where mail enters (no inbound flow).

    MTAs no flow reaches go one column past the last, so idle hosts stand apart.
    """
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(mtas)
    graph.add_edges_from(flows)
    active = [m for m in mtas if graph.degree(m)]
    starts = [m for m in active if not graph.in_degree(m)] or active[:1]
    depth: dict[str, int] = {}
    for start in starts:
        for node, hops in nx.single_source_shortest_path_length(graph, start).items():
            depth[node] = min(hops, depth.get(node, hops))
    last = max(depth.values(), default=-1)
    return {m: depth.get(m, last + 1) for m in mtas}


def _layout(
    mtas: list[str],
    routers: list[str],
    links: list[tuple[str, str]],
    flows: dict[tuple[str, str], int],
) -> dict[str, tuple[float, float]]:
    """MTAs in columns by role (senders left), in spec order top to bottom; routers placed
    between the MTAs they link by a spring layout with a fixed seed."""
    layers = _layers(mtas, flows)
    columns: dict[int, list[str]] = {}
    for m in mtas:
        columns.setdefault(layers[m], []).append(m)
    width = 3.0  # between columns; a column spans 2 units at most
    pos: dict[str, tuple[float, float]] = {}
    for i, layer in enumerate(sorted(columns)):
        members = columns[layer]
        for j, m in enumerate(members):
            y = 0.0 if len(members) == 1 else 1.0 - 2.0 * j / (len(members) - 1)
            pos[m] = (i * width, y)
    if routers:
        graph: nx.Graph[str] = nx.Graph()
        graph.add_nodes_from([*mtas, *routers])
        graph.add_edges_from(links)
        spread = pos if len(columns) > 1 or len(mtas) > 1 else {}
        xs = [p[0] for p in spread.values()] or [0.0]
        middle = (min(xs) + max(xs)) / 2
        step = 1.0 / len(routers)  # start apart: coincident nodes never separate
        start = {**pos, **{r: (middle, 0.5 - step * (i + 0.5)) for i, r in enumerate(routers)}}
        fixed = list(pos) if pos else None
        placed = nx.spring_layout(
            graph, k=width / 2, pos=start, fixed=fixed, seed=_SEED, iterations=100
        )
        for r in routers:
            pos[r] = (float(placed[r][0]), float(placed[r][1]))
    return pos


def _down_notes(result: RunResult) -> tuple[dict[str, str], set[frozenset[str]]]:
    """Host -> "down 1h00m to 7h00m" and the links that were down, from the fault events."""
    hosts: dict[str, list[str]] = {}
    links: set[frozenset[str]] = set()
    events = result.events
    if not len(events):
        return {}, links
    faults = events[events["kind"] == "fault_down"]
    link_names = {
        f"{h}-{d}": frozenset((str(h), str(d)))
        for h, d in zip(faults["host"], faults["detail"], strict=True)
        if str(d)
    }
    for what, start, stop in fault_windows(result):
        if what in link_names:
            links.add(link_names[what])
            continue
        end = format_duration(stop) if stop is not None else "the end"
        hosts.setdefault(what, []).append(f"{format_duration(start)} to {end}")
    return {h: "down " + ", ".join(spans) for h, spans in hosts.items()}, links


def _arc_middle(a: tuple[float, float], b: tuple[float, float], rad: float) -> tuple[float, float]:
    """The middle of matplotlib's ``arc3`` curve from a to b (exact with equal aspect)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    return mx + rad * dy / 2, my - rad * dx / 2


def _side(node: str, pos: dict[str, tuple[float, float]], mtas: list[str]) -> str:
    """Where an MTA's text goes, away from the arrows: outside the first and last columns."""
    xs = {pos[m][0] for m in mtas}
    if len(xs) == 1:
        return "right"
    if pos[node][0] == min(xs):
        return "left"
    if pos[node][0] == max(xs):
        return "right"
    # Middle columns alternate below and above, so neighbours' texts do not collide.
    return "below" if sorted(xs).index(pos[node][0]) % 2 else "above"


def _label(
    ax: Axes,
    at: tuple[float, float],
    side: str,
    name: str,
    notes: list[str],
    down: str | None,
    radius: float,
) -> None:
    """The name in bold, notes in grey and the down window in red, beside or below a node."""
    line = 10.5  # points per 8-point line
    if side == "below":  # name and notes under the node
        ha, x, name_y, name_va = "center", 0.0, -radius - 3, "top"
        notes_y = name_y - line - 2
    elif side == "above":  # notes, then the name, over the node
        ha, x, name_va = "center", 0.0, "bottom"
        notes_y = radius + 3 + line * (len(notes) + (1 if down else 0))
        name_y = notes_y + 2
    else:
        ha = "left" if side == "right" else "right"
        x = (radius + 5) * (1 if side == "right" else -1)
        name_y, notes_y, name_va = 1.0, -1.0, "bottom"
    common: dict[str, Any] = {"textcoords": "offset points", "ha": ha, "zorder": 7}
    ax.annotate(name, at, xytext=(x, name_y), va=name_va, fontsize=10, fontweight="bold", **common)
    ax.annotate(
        "\n".join(notes), at, xytext=(x, notes_y), va="top", fontsize=8, color="#444444", **common
    )
    if down:
        ax.annotate(
            down,
            at,
            xytext=(x, notes_y - line * len(notes)),
            va="top",
            fontsize=8,
            color=_FAULT,
            **common,
        )


def plot_topology(result: RunResult, *, ax: Axes | None = None) -> Axes:
    """The network with the messages relayed between MTAs drawn as arrows, width by volume."""
    if ax is None:
        ax = Figure(figsize=(10.0, 5.5), layout="constrained").add_subplot()
    flows = flow_counts(result)
    mtas = _mtas(result, flows)
    mta_set = set(mtas)
    links = [(str(a), str(b)) for a, b in result.links]
    routers = sorted({n for link in links for n in link} - mta_set)
    nodes = [*mtas, *routers]
    down, down_links = _down_notes(result)
    total = sum(flows.values())
    ax.set_title(
        f"Topology and message flows ({total:,} hand-offs between MTAs; "
        "arrow width by messages relayed)"
    )
    ax.set_axis_off()
    if not nodes:
        ax.text(0.5, 0.5, "no topology", transform=ax.transAxes, ha="center")
        return ax
    pos = _layout(mtas, routers, links, flows)

    for a, b in links:
        broken = frozenset((a, b)) in down_links
        ax.plot(
            [pos[a][0], pos[b][0]],
            [pos[a][1], pos[b][1]],
            color=_FAULT if broken else _LINK,
            linestyle="--" if broken else "-",
            linewidth=1.2,
            zorder=1,
            gid=f"link:{a}-{b}",
        )

    if routers:
        ax.scatter(
            [pos[r][0] for r in routers],
            [pos[r][1] for r in routers],
            s=_ROUTER_SIZE,
            color=_ROUTER,
            edgecolors="white",
            zorder=2,
        )
        for r in routers:
            ax.annotate(
                r,
                pos[r],
                xytext=(0, -10),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
                color="#777777",
                zorder=5,
            )

    most = max(flows.values(), default=1)
    radius = math.sqrt(_MTA_SIZE) / 2
    for (src, dst), count in flows.items():
        width = _flow_width(count, most)
        arrow = FancyArrowPatch(
            pos[src],
            pos[dst],
            connectionstyle=f"arc3,rad={_RAD}",
            arrowstyle=_arrow_style(width),
            mutation_scale=10,
            linewidth=width,
            color=_FLOW,
            shrinkA=radius + 2,
            shrinkB=radius + 4,
            zorder=3,
            gid=f"flow:{src}->{dst}",
        )
        ax.add_patch(arrow)
        ax.annotate(
            f"{count:,}",
            _arc_middle(pos[src], pos[dst], _RAD),
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color="#7a3300",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": _FLOW, "lw": 0.8},
            zorder=6,
        )

    delivered = Counter[str]()
    events = result.events
    if len(events):
        delivered.update(str(h) for h in events.loc[events["kind"] == "delivered", "host"])
    peaks = result.summary.get("queue_peak") or {}
    ax.scatter(
        [pos[m][0] for m in mtas],
        [pos[m][1] for m in mtas],
        s=_MTA_SIZE,
        color=_MTA,
        edgecolors=[_FAULT if m in down else "white" for m in mtas],
        linewidths=[3.5 if m in down else 1.5 for m in mtas],
        zorder=4,
    )
    accepted = Counter[str]()
    if len(events):
        accepted.update(str(h) for h in events.loc[events["kind"] == "accepted", "host"])
    for m in mtas:
        notes = [f"accepted {accepted[m]:,}, delivered here {delivered[m]:,}"]
        if m in peaks:
            notes.append(f"queue peak {int(peaks[m]):,}")
        _label(ax, pos[m], _side(m, pos, mtas), m, notes, down.get(m), radius)

    xs = np.array([p[0] for p in pos.values()])
    ys = np.array([p[1] for p in pos.values()])
    pad_x = 0.45 * max(float(xs.max() - xs.min()), 2.0)
    pad_y = 0.25 * max(float(ys.max() - ys.min()), 2.0)
    ax.update_datalim(
        [
            (float(xs.min()) - pad_x, float(ys.min()) - 1.4 * pad_y),
            (float(xs.max()) + pad_x, float(ys.max()) + pad_y),
        ]
    )
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()

    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=11, color=_MTA, label="MTA"),
        Line2D([], [], color=_FLOW, linewidth=4, label="messages relayed (count on the arrow)"),
    ]
    if routers:
        handles.insert(
            1,
            Line2D([], [], marker="o", linestyle="", markersize=6, color=_ROUTER, label="router"),
        )
    if links:
        handles.append(Line2D([], [], color=_LINK, linewidth=1.2, label="link"))
    if down or down_links:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markersize=11,
                color=_MTA,
                markeredgecolor=_FAULT,
                markeredgewidth=2.5,
                label="was down during the run",
            )
        )
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    return ax
