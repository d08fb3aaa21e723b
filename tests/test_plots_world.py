"""The world plots: each returns its Axes, draws on a given one, and saves a PNG."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.cli import main
from sim.plots.topology import plot_topology
from sim.plots.world import (
    PLOTS,
    plot_latency_cdf,
    plot_outcomes,
    plot_queue_depth,
    plot_retry_timeline,
    plot_tls_outcomes,
)
from sim.results import PLOT_FILES, save_plot, write_run
from sim.world.engine import RunResult, World
from tests.test_results import small_world

ALL = [
    plot_queue_depth,
    plot_latency_cdf,
    plot_outcomes,
    plot_retry_timeline,
    plot_tls_outcomes,
    plot_topology,
]


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
    assert list(PLOTS) == [
        *("queue", "latency", "latency-by-sender", "outcomes", "retry-timeline", "tls"),
        *("qshape", "attempts"),
        "topology",
    ]
    assert PLOT_FILES["tls"] == "tls-outcomes.png"


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


EVENT_COLUMNS = ["t", "kind", "host", "msg_id", "detail"]


def _tls_run(counts: dict[str, int], events: list[tuple[float, str, str, int, str]]) -> RunResult:
    table = pd.DataFrame(events, columns=EVENT_COLUMNS)
    return RunResult({"tls": counts}, table, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())


def _bars(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _ticks(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def test_tls_bars_run_from_safest_to_worst_with_counts_and_shares() -> None:
    counts = {
        "plaintext": 10,
        "defer": 5,
        "tls-unauthenticated": 50,
        "tls-pkix": 25,
        "tls-dane": 10,
    }
    ax = plot_tls_outcomes(_tls_run(counts, []))
    ticks = _ticks(ax)
    order = ["tls-dane", "tls-pkix", "tls-unauthenticated", "plaintext", "defer"]
    assert [t.rsplit("\n", 1)[-1] for t in ticks] == [f"({label})" for label in order]
    assert [bar.get_width() for bar in _bars(ax)] == [10, 25, 50, 10, 5]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first row (safest) at the top
    texts = [t.get_text() for t in ax.texts]
    assert "50 (50.0%)" in texts and "5 (5.0%)" in texts
    colors = [to_hex(bar.get_facecolor()) for bar in _bars(ax)]
    assert colors[2:] == ["#e69f00", "#cc3311", "#999999"]  # amber, red, grey
    assert all(int(c[3:5], 16) > int(c[1:3], 16) for c in colors[:2])  # greens
    title = ax.get_title()
    assert "100 delivery attempts" in title
    assert "authenticated 35.0%" in title and "encrypted only 50.0%" in title
    assert "plaintext 10.0%" in title and "deferred 5.0%" in title
    assert ax.get_xlabel().startswith("delivery attempts")


def test_tls_classes_without_decisions_keep_a_zero_bar() -> None:
    ax = plot_tls_outcomes(_tls_run({"tls-unauthenticated": 7}, []))
    ticks = _ticks(ax)
    assert ticks[0] == "encrypted and server authenticated"
    assert "(tls-unauthenticated)" in ticks[1]
    assert ticks[2:] == ["plaintext (exposed)", "deferred by TLS policy"]
    assert [bar.get_width() for bar in _bars(ax)] == [0, 7, 0, 0]
    assert "7 (100.0%)" in [t.get_text() for t in ax.texts]


def test_tls_unknown_labels_are_drawn_last() -> None:
    ax = plot_tls_outcomes(_tls_run({"tls-pkix": 3, "tls-quantum": 1}, []))
    assert _ticks(ax)[-1] == "tls-quantum\n(unknown label)"
    assert _bars(ax)[-1].get_width() == 1
    assert "other 25.0%" in ax.get_title()


def test_tls_defer_events_name_the_deferring_senders() -> None:
    events = [(float(i), "tls_defer", "strict.org", i, "mx2: no STARTTLS") for i in range(3)]
    events.append((9.0, "tls_defer", "enc.org", 9, "mx2: no STARTTLS"))
    events.append((9.5, "deferred", "other.org", 10, ""))
    ax = plot_tls_outcomes(_tls_run({"tls-pkix": 6, "defer": 4}, events))
    notes = [t.get_text() for t in ax.texts if t.get_text().startswith("deferred by")]
    assert notes == ["deferred by TLS policy at: strict.org 3, enc.org 1"]


@pytest.mark.parametrize("tls", [{}, None, {"plaintext": 0}])
def test_tls_plot_without_decisions_says_so(tls: dict[str, int] | None, tmp_path: Path) -> None:
    summary = {} if tls is None else {"tls": tls}
    run = RunResult(
        summary, pd.DataFrame(columns=EVENT_COLUMNS), pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    )
    ax = plot_tls_outcomes(run)
    assert [t.get_text() for t in ax.texts] == ["no TLS decisions in this run"]
    assert not _bars(ax)
    assert ax.get_title()
    assert save_plot(plot_tls_outcomes, run, tmp_path / "t.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def strict_result() -> RunResult:
    """The small world with a sender that requires verified TLS and a backup MX without it."""
    spec = small_world()
    out, mx1, mx2 = spec.mtas
    mtas = (
        dataclasses.replace(out, tls_level="verify"),
        mx1,
        dataclasses.replace(mx2, starttls=False),
    )
    return World(dataclasses.replace(spec, mtas=mtas), seed=4).run(until=2 * 3600)


def test_tls_plot_of_a_world_run_matches_its_summary(
    result: RunResult, strict_result: RunResult
) -> None:
    ax = plot_tls_outcomes(result)
    widths = [bar.get_width() for bar in _bars(ax)]
    assert sum(widths) == sum(result.summary["tls"].values()) > 0
    counts = strict_result.summary["tls"]
    assert set(counts) == {"tls-pkix", "defer"}  # verified at mx1, refused at mx2
    ax = plot_tls_outcomes(strict_result)
    ticks = _ticks(ax)
    widths = [bar.get_width() for bar in _bars(ax)]
    by_label = {label: widths[i] for i, t in enumerate(ticks) for label in counts if label in t}
    assert by_label == counts
    events = strict_result.events
    deferrals = int((events["kind"] == "tls_defer").sum())
    assert deferrals == counts["defer"]
    notes = [t.get_text() for t in ax.texts if t.get_text().startswith("deferred by")]
    assert notes == [f"deferred by TLS policy at: out.sender.org {deferrals:,}"]


def test_relaysim_plot_kind_tls(strict_result: RunResult, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_run(strict_result, run_dir, plots=False)
    assert main(["plot", str(run_dir), "--kind", "tls"]) == 0
    png = run_dir / "tls-outcomes.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000
