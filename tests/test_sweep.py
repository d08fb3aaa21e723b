"""Replications: one summary row per seed, and Student-t confidence intervals."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.sweep import mean_ci, replicate, summary_row, t_quantile
from sim.world.engine import WorldSpec
from tests.test_results import small_world

UNTIL = 1800.0


def spec_for_seed(seed: int) -> WorldSpec:
    return small_world(rate=0.02 + 0.01 * (seed % 2))


def test_three_seeds_give_three_rows_with_a_seed_column() -> None:
    table = replicate(small_world(), [1, 2, 3], until=UNTIL)
    assert list(table["seed"]) == [1, 2, 3]
    assert table.columns[0] == "seed"
    assert len(table) == 3
    assert (table["lost"] == 0).all()
    assert "queue_peak.mx2.example.com" in table.columns
    assert table["injected"].nunique() > 1  # the seeds really differ


def test_processes_give_the_same_rows_as_one_process() -> None:
    one = replicate(small_world(), [5, 6], until=UNTIL)
    two = replicate(small_world(), [5, 6], until=UNTIL, processes=2)
    pd.testing.assert_frame_equal(one, two)


def test_a_spec_factory_gets_the_seed() -> None:
    table = replicate(spec_for_seed, [1, 2], until=UNTIL)
    assert list(table["seed"]) == [1, 2]


def test_replicate_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="seeds is empty"):
        replicate(small_world(), [], until=UNTIL)
    with pytest.raises(ValueError, match="seeds repeat"):
        replicate(small_world(), [1, 1], until=UNTIL)
    with pytest.raises(ValueError, match="until is required"):
        replicate(small_world(), [1])


def test_summary_row_flattens_nested_dicts() -> None:
    assert summary_row({"a": 1, "peak": {"x": 2}}) == {"a": 1, "peak.x": 2}


def test_mean_ci_brackets_the_mean() -> None:
    table = replicate(small_world(), [1, 2, 3], until=UNTIL)
    mean, low, high = mean_ci(table["delivered"])
    assert low < mean < high
    assert mean == pytest.approx(table["delivered"].mean())


def test_mean_ci_matches_the_t_table() -> None:
    mean, low, high = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert (mean, low, high) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    assert mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], 0.99)[2] == pytest.approx(
        3.0 + 4.604 * math.sqrt(2.5) / math.sqrt(5)
    )


def test_mean_ci_edge_cases() -> None:
    mean, low, high = mean_ci([4.0, math.nan])
    assert mean == 4.0 and math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="no values"):
        mean_ci([])


def test_t_quantiles() -> None:
    assert t_quantile(0.95, 5) == pytest.approx(2.571, abs=1e-3)
    assert t_quantile(0.95, 40) == pytest.approx(2.021, abs=1e-3)
    assert t_quantile(0.95, 1000) == pytest.approx(1.962, abs=1e-3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        t_quantile(1.5, 3)


def test_replicate_a_scenario_file_with_overrides() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scenarios" / "capacity-mmc.yaml"
    frame = replicate(path, [1, 2], until=200, set={"mtas.sender.delivery_slots": 8})
    assert list(frame.seed) == [1, 2]
    assert (frame["lost"] == 0).all()
    # With 8 slots for an offered load of 3.5 Erlang, nobody waits long.
    assert (frame["queue_wait_mean_s"] < 0.2).all()
