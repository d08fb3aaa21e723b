"""Replications: the same world run with many seeds, one summary row per seed.

One run proves nothing: a queue peak or a mean wait from one seed is one draw of a
random variable.  :func:`replicate` runs independent replications (each seed gives
every component fresh named streams) and :func:`mean_ci` gives the mean with a
Student-t confidence interval across them.  With ``processes > 1`` the replications
run in a :class:`concurrent.futures.ProcessPoolExecutor`; rows come back in seed
order either way, so the table does not depend on scheduling.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import NormalDist
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from sim.world.engine import World, WorldSpec

__all__ = ["SpecSource", "mean_ci", "replicate", "summary_row", "t_quantile"]


@runtime_checkable
class _HasWorldSpec(Protocol):
    def to_world_spec(self) -> WorldSpec: ...


SpecSource = WorldSpec | Callable[[int], WorldSpec] | _HasWorldSpec
"""A fixed spec, a function ``seed -> WorldSpec``, or a scenario (``.to_world_spec()``)."""


def _spec_for(source: SpecSource, seed: int) -> WorldSpec:
    if isinstance(source, WorldSpec):
        return source
    if isinstance(source, _HasWorldSpec):
        return source.to_world_spec()
    return source(seed)


def summary_row(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary flattened for a table: nested dicts become ``key.sub`` columns."""
    row: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                row[f"{key}.{sub}"] = inner
        else:
            row[key] = value
    return row


def _run_one(source: SpecSource, seed: int, until: float) -> dict[str, Any]:
    # A replication needs only its summary, which counts every message in any mode.
    result = World(_spec_for(source, seed), seed=seed, events="none").run(until=until)
    return summary_row(result.summary)


def replicate(
    source: SpecSource | str | Path,
    seeds: Iterable[int],
    *,
    until: float | None = None,
    processes: int = 1,
    set: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Run ``source`` once per seed for ``until`` simulated seconds; one row per seed.

    ``source`` may be a scenario file path; ``set`` then overrides its fields as
    ``relaysim run --set`` does (``{"mtas.sender.delivery_slots": 5}``).  ``until``
    defaults to the scenario's ``duration``.  With ``processes > 1`` the source must be
    picklable (a spec, a scenario, or a module-level function).  The ``seed`` column
    comes first; the rows are in the order of ``seeds``.
    """
    if isinstance(source, str | Path):
        from sim.scenario import load_scenario

        overrides = [f"{key}={value}" for key, value in (set or {}).items()]
        source = load_scenario(source, overrides=overrides)
    elif set:
        raise ValueError("replicate: set= needs a scenario file path as the source")
    seed_list = [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("replicate: seeds is empty")
    if len(dict.fromkeys(seed_list)) != len(seed_list):
        raise ValueError("replicate: seeds repeat; replications must be independent")
    if until is None:
        duration = getattr(source, "duration", None)
        if duration is None:
            raise ValueError("replicate: until is required unless the source has a duration")
        until = float(duration)
    if until <= 0:
        raise ValueError(f"replicate: until must be > 0, not {until}")
    if processes < 1:
        raise ValueError(f"replicate: processes must be >= 1, not {processes}")
    if processes == 1 or len(seed_list) == 1:
        rows = [_run_one(source, seed, until) for seed in seed_list]
    else:
        workers = min(processes, len(seed_list))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_one, source, seed, until) for seed in seed_list]
            rows = [f.result() for f in futures]
    frame = pd.DataFrame(rows)
    frame["seed"] = seed_list
    return frame[["seed", *[c for c in frame.columns if c != "seed"]]]


# -- confidence intervals -------------------------------------------------------------

# Two-sided Student-t quantiles t(1 - alpha/2, df) for df = 1..30 (standard tables).
_T_TABLE: dict[float, tuple[float, ...]] = {
    0.90: (
        6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
        1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
        1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697,
    ),
    0.95: (
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ),
    0.99: (
        63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169,
        3.106, 3.055, 3.012, 2.977, 2.947, 2.921, 2.898, 2.878, 2.861, 2.845,
        2.831, 2.819, 2.807, 2.797, 2.787, 2.779, 2.771, 2.763, 2.756, 2.750,
    ),
}  # fmt: skip


def t_quantile(confidence: float, df: int) -> float:
    """The two-sided Student-t critical value for ``confidence`` with ``df`` degrees.

    scipy is used when installed.  Otherwise: the table above for df <= 30 (confidence
    0.90, 0.95 or 0.99), and above 30 the normal quantile with the Cornish-Fisher
    correction for t (error under 1e-3 there), which works for any confidence.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    try:
        stats = importlib.import_module("scipy.stats")
    except ImportError:
        pass
    else:
        return float(stats.t.ppf(0.5 + confidence / 2, df))
    if df <= 30:
        for level, row in _T_TABLE.items():
            if math.isclose(confidence, level):
                return row[df - 1]
        levels = ", ".join(str(level) for level in _T_TABLE)
        raise ValueError(
            f"confidence {confidence} with {df} degrees of freedom needs scipy "
            f"(without it: one of {levels})"
        )
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci(
    series: Sequence[float] | pd.Series, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its Student-t confidence interval.

    Missing values are dropped.  With one value the interval is ``(nan, nan)``: one
    replication says nothing about the spread.
    """
    values = pd.Series(series, dtype=float).dropna()
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci: no values")
    mean = float(values.mean())
    if n == 1:
        return mean, math.nan, math.nan
    half = t_quantile(confidence, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half
