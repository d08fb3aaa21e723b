"""The qshape (queue ages) and connection-attempts plots."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from sim.cli import main
from sim.plots import plot_attempts as exported_attempts
from sim.plots import plot_qshape as exported_qshape
from sim.plots.qshape import (
    AGE_BUCKETS,
    busiest_queue,
    connection_attempts,
    herd_target,
    plot_attempts,
    plot_qshape,
    queue_ages,
    queue_stays,
)
from sim.plots.world import PLOTS
from sim.results import PLOT_FILES, save_plot, write_run
from sim.world.engine import RunResult, World
from tests.test_results import small_world

COLUMNS = ["t", "kind", "host", "msg_id", "detail"]
LABELS = [label for label, _, _ in AGE_BUCKETS]
Event = tuple[float, str, str, int, str]


def _run(
    events: list[Event],
    *,
    until: float = 4000.0,
    summary: dict[str, object] | None = None,
    timeseries: pd.DataFrame | None = None,
) -> RunResult:
    table = pd.DataFrame(events, columns=COLUMNS).sort_values("t", kind="stable")
    return RunResult(
        {"until": until, **(summary or {})},
        table.reset_index(drop=True),
        pd.DataFrame(),
        pd.DataFrame() if timeseries is None else timeseries,
        pd.DataFrame(),
    )


# msg 1: at A from 0 until relayed to B at 1000 (B delivers it at once)
# msg 2: at A from 100 to the end
# msg 3: at A from 200 until it expires at 2500
# msg 4: at X from 0, at A from 1500 (its age at A counts from 1500), to B at 3000
# msg 5: accepted and delivered at A at 3600: a spell of zero length, never counted
# msg 6: at A from 2100 until it bounces at 2500 (exactly 5 min old at 2400)
HAND_BUILT: list[Event] = [
    (0.0, "injected", "", 1, "a -> b"),
    (0.0, "accepted", "A", 1, ""),
    (0.0, "accepted", "X", 4, ""),
    (100.0, "accepted", "A", 2, ""),
    (200.0, "accepted", "A", 3, ""),
    (300.0, "deferred", "A", 3, "451 try later"),
    (1000.0, "relayed", "A", 1, "to B"),
    (1000.0, "accepted", "B", 1, ""),
    (1000.0, "delivered", "B", 1, ""),
    (1500.0, "relayed", "X", 4, "to A"),
    (1500.0, "accepted", "A", 4, ""),
    (2100.0, "accepted", "A", 6, ""),
    (2500.0, "expired", "A", 3, "gave up"),
    (2500.0, "bounced", "A", 6, "550 no"),
    (3000.0, "relayed", "A", 4, "to B"),
    (3000.0, "accepted", "B", 4, ""),
    (3000.0, "delivered", "B", 4, ""),
    (3600.0, "accepted", "A", 5, ""),
    (3600.0, "delivered", "A", 5, ""),
]


def _counts(table: pd.DataFrame, t: float) -> dict[str, int]:
    row = table.loc[t]
    return {label: int(row[label]) for label in LABELS if row[label]}


def test_the_buckets_are_postfix_qshapes() -> None:
    assert LABELS == [
        "0-5",
        "5-10",
        "10-20",
        "20-40",
        "40-80",
        "80-160",
        "160-320",
        "320-640",
        "640-1280",
        "1280+",
    ]
    assert AGE_BUCKETS[-1][2] == math.inf


def test_queue_ages_bucket_messages_by_time_in_this_queue() -> None:
    ages = queue_ages(_run(HAND_BUILT), "A", every=1200)
    assert list(ages.columns) == LABELS
    assert list(ages.index) == [0.0, 1200.0, 2400.0, 3600.0]
    assert ages.attrs["host"] == "A"
    assert _counts(ages, 0.0) == {"0-5": 1}  # msg 1, accepted at that very moment
    assert _counts(ages, 1200.0) == {"10-20": 2}  # msgs 2 (18.3 min) and 3 (16.7 min)
    # msgs 2 and 3 at 38.3 and 36.7 min; msg 4 15 min since it reached A; msg 6 5 min
    assert _counts(ages, 2400.0) == {"5-10": 1, "10-20": 1, "20-40": 2}
    assert _counts(ages, 3600.0) == {"40-80": 1}  # only msg 2 is left


def test_queue_ages_of_other_hosts_and_the_default_spacing() -> None:
    run = _run(HAND_BUILT)
    x = queue_ages(run, "X", every=1200)
    assert x.sum(axis=1).tolist() == [1, 1, 0, 0]  # msg 4 left X at 1500
    b = queue_ages(run, "B", every=600)
    assert int(b.to_numpy().sum()) == 0  # B delivers on acceptance
    assert len(queue_ages(run, "A")) == 101  # no timeseries: a hundredth of the run
    assert int(queue_ages(run, "nobody", every=1000).to_numpy().sum()) == 0
    with pytest.raises(ValueError, match="every"):
        queue_ages(run, "A", every=0)


def test_old_messages_reach_the_last_bucket() -> None:
    events: list[Event] = [(0.0, "accepted", "A", 1, "")]
    ages = queue_ages(_run(events, until=2 * 86400.0), "A", every=86400)
    assert [_counts(ages, t) for t in ages.index] == [{"0-5": 1}, {"1280+": 1}, {"1280+": 1}]


def test_a_taken_over_message_keeps_its_arrival_time() -> None:
    events: list[Event] = [
        (0.0, "accepted", "C", 1, ""),
        (600.0, "taken_over", "D", 1, "from C"),
        (900.0, "delivered", "E", 1, ""),
    ]
    stays = queue_stays(_run(events))
    assert stays[["host", "arrived", "enter", "leave"]].values.tolist() == [
        ["C", 0.0, 0.0, 600.0],
        ["D", 0.0, 600.0, 900.0],
    ]
    ages = queue_ages(_run(events), "D", every=700)
    assert _counts(ages, 700.0) == {"10-20": 1}  # 11.7 min since it reached the shared queue


def test_queue_ages_match_the_sampled_queue_depth_of_a_world_run(result: RunResult) -> None:
    ts = result.timeseries
    for host in result.hosts:
        depth = ts[ts["host"] == host].set_index("t")["queued"]
        ages = queue_ages(result, host)
        assert ages.sum(axis=1).reindex(depth.index).tolist() == depth.tolist(), host


def test_the_default_queue_is_the_largest_peak() -> None:
    run = _run(HAND_BUILT, summary={"queue_peak": {"X": 1, "A": 4, "B": 4}})
    assert busiest_queue(run) == "A"
    assert queue_ages(run, every=1200).attrs["host"] == "A"
    ts = pd.DataFrame({"t": [0.0, 60.0, 0.0, 60.0], "host": ["p", "p", "q", "q"]})
    ts["queued"] = [0, 2, 5, 1]
    assert busiest_queue(_run(HAND_BUILT, timeseries=ts)) == "q"
    assert busiest_queue(_run(HAND_BUILT)) == "A"  # the most spells in a queue
    assert busiest_queue(_run([])) is None


def test_the_sampling_interval_of_the_run_is_the_default_spacing() -> None:
    ts = pd.DataFrame({"t": [0.0, 300.0, 600.0], "host": ["A"] * 3, "queued": [1, 2, 3]})
    ages = queue_ages(_run(HAND_BUILT, timeseries=ts), "A")
    assert ages.index[1] == 300.0 and ages.index[-1] == 3900.0


ATTEMPTS: list[Event] = [
    (10.0, "connect_failed", "out", 1, "mx1 is down"),
    (20.0, "connect_failed", "out", 2, "mx1 is down"),
    (30.0, "connect_failed", "relay", 3, "no working path from relay to mx3"),
    (40.0, "connect_failed", "out", 4, "mx4: no such server"),
    (50.0, "connect_failed", "out", 5, "out is down"),  # the sender itself: no target
    (70.0, "relayed", "out", 1, "to mx2"),
    (75.0, "accepted", "mx2", 1, ""),
    (130.0, "relayed", "mx2", 1, "to mx1"),
    (135.0, "relayed", "out", 6, "to mx1"),
    (140.0, "relayed", "relay", 7, "to mx1"),
    (150.0, "deferred", "mx2", 2, "451 4.4.1 delivery temporarily suspended"),
]


def test_connection_attempts_name_their_target() -> None:
    table = connection_attempts(_run(ATTEMPTS, until=180.0))
    assert list(table.columns) == ["t", "sender", "target", "outcome"]
    rows = table.values.tolist()
    assert rows == [
        [10.0, "out", "mx1", "refused"],
        [20.0, "out", "mx1", "refused"],
        [30.0, "relay", "mx3", "refused"],
        [40.0, "out", "mx4", "refused"],
        [70.0, "out", "mx2", "session"],
        [130.0, "mx2", "mx1", "session"],
        [135.0, "out", "mx1", "session"],
        [140.0, "relay", "mx1", "session"],
    ]
    assert connection_attempts(_run([])).empty


def test_the_default_attempts_host_is_the_one_that_was_down() -> None:
    assert herd_target(_run(ATTEMPTS)) == "mx1"
    sessions = [e for e in ATTEMPTS if e[1] == "relayed"]
    assert herd_target(_run(sessions)) == "mx1"  # the busiest receiver
    assert herd_target(_run(sessions[:1])) == "mx2"
    assert herd_target(_run([(1.0, "accepted", "A", 1, "")])) is None


def _steps(ax: Axes) -> dict[str, list[float]]:
    """Each stacked layer's own counts per bin, by legend label."""
    out = {}
    for patch in ax.patches:
        if isinstance(patch, StepPatch):
            data = patch.get_data()
            out[str(patch.get_label())] = (data.values - data.baseline).tolist()
    return out


def test_plot_attempts_counts_per_minute_by_sender() -> None:
    ax = plot_attempts(_run(ATTEMPTS, until=180.0), every=60)
    assert "mx1" in ax.get_title()
    assert ax.get_ylabel() == "connection attempts per minute"
    assert ax.get_xlabel() == "simulated time (min)"
    layers = _steps(ax)
    assert layers == {
        "failed to connect:\nhost or path down": [2, 0, 0],
        "session from mx2:\nmessage handed over": [0, 0, 1],
        "session from out:\nmessage handed over": [0, 0, 1],
        "session from relay:\nmessage handed over": [0, 0, 1],
    }
    assert any(t.get_text() == "peak 3 in the minute from 2m00s" for t in ax.texts)
    assert plot_attempts(_run(ATTEMPTS, until=180.0)).get_ylabel().endswith("per 5 s")  # short
    wide = plot_attempts(_run(ATTEMPTS, until=180.0), host="mx2", every=90)
    assert wide.get_ylabel() == "connection attempts per 90 s"
    assert _steps(wide) == {"session from out:\nmessage handed over": [1, 0]}


@pytest.fixture(scope="module")
def result() -> RunResult:
    return World(small_world(), seed=4).run(until=2 * 3600)


def test_the_world_run_defaults_to_the_backup_queue_and_the_primary(result: RunResult) -> None:
    ax = plot_qshape(result)
    assert "mx2.example.com" in ax.get_title()
    assert ax.get_xlabel() == "simulated time (h)"
    assert ax.get_ylabel() == "messages in the queue"
    legend = ax.get_legend()
    assert legend is not None and legend.get_title().get_text() == "time in this queue"
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0].endswith(" min") and texts[-1] == "down: mx1.example.com"
    assert any("mx1.example.com down" in t.get_text() for t in ax.texts)

    ax = plot_attempts(result)
    assert "mx1.example.com" in ax.get_title()
    assert ax.get_ylabel() == "connection attempts per minute"
    layers = _steps(ax)
    failed = connection_attempts(result)
    failed = failed[(failed["target"] == "mx1.example.com") & (failed["outcome"] == "refused")]
    assert sum(layers["failed to connect:\nhost or path down"]) == len(failed) > 0
    assert "session from mx2.example.com:\nmessage handed over" in layers  # the backlog returns


PLOTS_HERE = [plot_qshape, plot_attempts]


@pytest.mark.parametrize("plot", PLOTS_HERE, ids=lambda f: f.__name__)
def test_each_plot_returns_axes_draws_on_a_given_one_and_saves(
    plot: Callable[..., Axes], result: RunResult, tmp_path: Path
) -> None:
    ax = plot(result)
    assert isinstance(ax, Axes) and ax.get_title()
    given = Figure().add_subplot()
    assert plot(result, ax=given) is given
    path = save_plot(plot, result, tmp_path / "p.png")
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


@pytest.mark.parametrize("plot", PLOTS_HERE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["empty", "no-events", "no-attempts"])
def test_plots_cope_with_an_empty_run(plot: Callable[..., Axes], mode: str, tmp_path: Path) -> None:
    events: list[Event] = [(0.0, "fault_down", "mx", 0, ""), (5.0, "fault_up", "mx", 0, "")]
    if mode == "no-events":
        events = []
    if mode == "no-attempts":
        events += [(1.0, "accepted", "mx", 1, ""), (1.0, "delivered", "mx", 1, "")]
    ts = pd.DataFrame({"t": [0.0, 60.0], "host": ["mx", "mx"], "queued": [0, 0]})
    summary = {"queue_peak": {"mx": 0}, "events": "none" if mode == "no-events" else "all"}
    run = _run(events, until=60.0, summary=summary, timeseries=ts)
    ax = plot(run)
    assert isinstance(ax, Axes) and ax.get_title()
    assert len(ax.texts) >= 1  # says why it is empty
    assert save_plot(plot, run, tmp_path / "e.png").stat().st_size > 1000


def test_sampled_events_are_said_in_the_title() -> None:
    run = _run(HAND_BUILT, summary={"events": "sample"})
    assert "1 message in 100" in plot_qshape(run).get_title()


def test_both_plots_are_registered_before_the_topology() -> None:
    assert PLOTS["qshape"] is plot_qshape is exported_qshape
    assert PLOTS["attempts"] is plot_attempts is exported_attempts
    assert PLOT_FILES["qshape"] == "qshape.png"
    assert PLOT_FILES["attempts"] == "attempts.png"
    assert list(PLOTS) == list(PLOT_FILES)
    assert list(PLOT_FILES)[-1] == "topology"


@pytest.mark.parametrize("kind", ["qshape", "attempts"])
def test_relaysim_plot_kind(
    kind: str, result: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    write_run(result, run_dir, plots=False)
    assert main(["plot", str(run_dir), "--kind", kind]) == 0
    png = run_dir / PLOT_FILES[kind]
    assert capsys.readouterr().out.strip() == str(png)
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5000
