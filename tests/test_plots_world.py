"""The world plots: each returns its Axes, draws on a given one, and saves a PNG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.plots.topology import plot_topology
from sim.plots.world import (
    PLOTS,
    plot_latency_cdf,
    plot_outcomes,
    plot_queue_depth,
    plot_retry_timeline,
)
from sim.results import PLOT_FILES, save_plot
from sim.world.engine import RunResult, World
from tests.test_results import small_world

ALL = [plot_queue_depth, plot_latency_cdf, plot_outcomes, plot_retry_timeline, plot_topology]


@pytest.fixture(scope="module")
def result() -> RunResult:
    return World(small_world(), seed=4).run(until=2 * 3600)


@pytest.mark.parametrize("plot", ALL, ids=lambda f: f.__name__)
def test_each_plot_returns_axes_and_saves_a_png(
    plot: Callable[..., Axes], result: RunResult, tmp_path: Path
) -> None:
    ax = plot(result)
    assert isinstance(ax, Axes)
    assert ax.get_title()
    path = save_plot(plot, result, tmp_path / "p.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


@pytest.mark.parametrize("plot", ALL, ids=lambda f: f.__name__)
def test_each_plot_draws_on_the_axes_it_is_given(
    plot: Callable[..., Axes], result: RunResult
) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert plot(result, ax=ax) is ax


def test_every_plot_kind_has_a_file_name() -> None:
    assert set(PLOTS) == set(PLOT_FILES)
    assert list(PLOTS) == ["queue", "latency", "outcomes", "retry-timeline", "topology"]


def test_queue_depth_draws_the_busy_hosts_and_shades_the_fault(result: RunResult) -> None:
    ax = plot_queue_depth(result)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "mx2.example.com" in labels
    assert "mx1.example.com" not in labels  # it never queued: named in the legend instead
    legend = ax.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert any(t.startswith("always empty: mx1.example.com") for t in texts)
    assert any("mx1.example.com down" in t.get_text() for t in ax.texts)
    assert ax.get_xlabel() == "simulated time (h)"


def test_retry_timeline_samples_deferred_messages_first(result: RunResult) -> None:
    ax = plot_retry_timeline(result, messages=10)
    assert len(ax.get_yticks()) == 10
    assert "10 of" in ax.get_title()


def test_retry_timeline_counts_deferred_messages_right() -> None:
    events = pd.DataFrame(
        [(float(i), kind, "mx", i, "") for i in (1, 2) for kind in ("accepted", "delivered")],
        columns=["t", "kind", "host", "msg_id", "detail"],
    )
    run = RunResult({"until": 60.0}, events, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert plot_retry_timeline(run).get_title().endswith("(0 deferred at least once)")


def test_plots_cope_with_a_run_that_delivered_nothing() -> None:
    events = pd.DataFrame(
        [(0.0, "fault_down", "mx", 0, ""), (5.0, "fault_up", "mx", 0, "")],
        columns=["t", "kind", "host", "msg_id", "detail"],
    )
    messages = pd.DataFrame(columns=["msg_id", "injected_at", "fate", "final_at"])
    timeseries = pd.DataFrame({"t": [0.0, 60.0], "host": ["mx", "mx"], "queued": [0, 0]})
    summary = {"injected": 0, "delivered": 0, "lost": 0, "until": 60.0}
    empty = RunResult(summary, events, messages, timeseries, pd.DataFrame())
    for plot in ALL:
        assert isinstance(plot(empty), Axes)
