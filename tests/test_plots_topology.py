"""The topology plot: MTAs, routers, links, and the messages relayed drawn by volume."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from sim.plots.topology import flow_counts, plot_topology
from sim.plots.world import PLOTS
from sim.results import PLOT_FILES, save_plot
from sim.world.engine import RunResult, World
from tests.test_results import small_world

COLUMNS = ["t", "kind", "host", "msg_id", "detail"]


@pytest.fixture(scope="module")
def result() -> RunResult:
    return World(small_world(), seed=4).run(until=2 * 3600)


def relays(*flows: tuple[str, str, int], faults: tuple[str, ...] = ()) -> RunResult:
    """A run made of ``count`` relayed events per (from, to), and hosts that went down."""
    rows = [(1.0, "fault_down", host, 0, "") for host in faults]
    msg_id = 0
    for src, dst, count in flows:
        for _ in range(count):
            msg_id += 1
            rows.append((2.0, "relayed", src, msg_id, f"to {dst}"))
    events = pd.DataFrame(rows, columns=COLUMNS)
    return RunResult(
        {"until": 60.0},
        events,
        pd.DataFrame(),
        pd.DataFrame(),
        pd.DataFrame(),
        hosts=("a", "b", "c"),
        links=(("a", "r1"), ("b", "r1"), ("c", "r1")),
    )


def flow_widths(ax: Axes) -> dict[str, float]:
    return {
        str(p.get_gid()).removeprefix("flow:"): float(p.get_linewidth())
        for p in ax.patches
        if isinstance(p, FancyArrowPatch) and str(p.get_gid()).startswith("flow:")
    }


def test_it_is_the_topology_kind() -> None:
    assert PLOTS["topology"] is plot_topology
    assert PLOT_FILES["topology"] == "topology.png"


def test_returns_axes_draws_on_a_given_one_and_saves_a_png(
    result: RunResult, tmp_path: Path
) -> None:
    ax = plot_topology(result)
    assert isinstance(ax, Axes) and ax.get_title().startswith("Topology and message flows")
    given = Figure().add_subplot()
    assert plot_topology(result, ax=given) is given
    path = save_plot(plot_topology, result, tmp_path / "topology.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


def test_flows_are_counted_from_the_relayed_events(result: RunResult) -> None:
    flows = flow_counts(result)
    relayed = result.events[result.events["kind"] == "relayed"]
    assert sum(flows.values()) == len(relayed)
    assert flows[("out.sender.org", "mx1.example.com")] > 0
    assert flows[("out.sender.org", "mx2.example.com")] > 0  # while mx1 was down
    assert flows[("mx2.example.com", "mx1.example.com")] > 0  # the backup drained


def test_arrow_widths_grow_with_volume() -> None:
    ax = plot_topology(relays(("a", "b", 30), ("a", "c", 10), ("c", "b", 1)))
    widths = flow_widths(ax)
    assert set(widths) == {"a->b", "a->c", "c->b"}
    assert widths["a->b"] > widths["a->c"] > widths["c->b"] > 0
    texts = {t.get_text() for t in ax.texts}
    assert {"30", "10", "1"} <= texts  # each arrow labelled with its count


def test_widths_follow_the_small_world_volumes(result: RunResult) -> None:
    flows = flow_counts(result)
    widths = flow_widths(plot_topology(result))
    by_volume = sorted(flows, key=lambda f: flows[f])
    assert [widths[f"{a}->{b}"] for a, b in by_volume] == sorted(widths.values())


def test_mtas_are_labelled_routers_and_links_drawn() -> None:
    ax = plot_topology(relays(("a", "b", 3)))
    texts = [t.get_text() for t in ax.texts]
    assert {"a", "b", "c", "r1"} <= set(texts)
    links = [line for line in ax.get_lines() if str(line.get_gid()).startswith("link:")]
    assert len(links) == 3


def test_hosts_that_were_down_are_marked(result: RunResult) -> None:
    ax = plot_topology(result)
    notes = [t for t in ax.texts if t.get_text() == "down 10m00s to 40m00s"]
    assert len(notes) == 1 and notes[0].get_color() == "#cc3311"
    legend = ax.get_legend()
    assert legend is not None
    assert "was down during the run" in [t.get_text() for t in legend.get_texts()]


def test_the_layout_is_deterministic(result: RunResult) -> None:
    def positions() -> list[tuple[float, float]]:
        ax = plot_topology(result)
        return [(float(x), float(y)) for c in ax.collections for x, y in c.get_offsets()]

    assert positions() == positions()


def test_a_run_without_topology_still_draws_its_flows() -> None:
    bare = relays(("a", "b", 2), faults=("b",))
    bare.hosts, bare.links = (), ()
    ax = plot_topology(bare)
    assert set(flow_widths(ax)) == {"a->b"}
    assert not any(str(line.get_gid()).startswith("link:") for line in ax.get_lines())
    empty = RunResult({}, pd.DataFrame(columns=COLUMNS), *[pd.DataFrame()] * 3)
    assert isinstance(plot_topology(empty), Axes)
