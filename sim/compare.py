"""Several scenarios played side by side: the same story told by different designs.

``compare({"store-and-forward": "scenarios/backup-mx/store-and-forward.yaml", ...})``
runs each scenario with one seed and returns a :class:`Comparison`: the runs, a table
of their key numbers, and where their messages waited (message-hours per host, from
the exact queue stays in the event log).  ``relaysim compare`` prints the table and
draws the plots of :mod:`sim.plots.compare`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.world.engine import RunResult

__all__ = ["Comparison", "compare", "waiting_hours"]


def waiting_hours(result: RunResult) -> pd.Series:
    """Message-hours each host held mail in its queue (exact, from the event log).

    Hosts that held nothing are left out; a stay still open at the end counts up to
    the end of the run.
    """
    from sim.plots.qshape import queue_stays

    stays = queue_stays(result)
    if stays.empty:
        return pd.Series(dtype=float, name="hours")
    end = float(result.summary.get("until") or stays["enter"].max())
    leave = np.minimum(stays["leave"].to_numpy(dtype=float), end)
    stays = stays.assign(hours=(leave - stays["enter"].to_numpy(dtype=float)) / 3600.0)
    hours = stays.groupby("host")["hours"].sum()
    return hours[hours > 0].sort_values(ascending=False).rename("hours")


@dataclass
class Comparison:
    """The runs of a comparison, by label, in the order given."""

    results: dict[str, RunResult]

    def table(self) -> pd.DataFrame:
        """One row per scenario: delivered, latency percentiles, the deepest queue, and
        the message-hours spent waiting in queues."""
        rows = []
        for label, result in self.results.items():
            s = result.summary
            m = result.messages
            delivered = m[(m["fate"] == "delivered") & ~m["is_dsn"].astype(bool)]
            latency = (delivered["final_at"] - delivered["injected_at"]).astype(float)
            peaks = s.get("queue_peak") or {}
            deepest = max(peaks, key=lambda h: peaks[h]) if peaks else ""
            rows.append(
                {
                    "scenario": label,
                    "accepted": s["accepted"],
                    "delivered": s["delivered"],
                    "queued_at_end": s["queued_at_end"],
                    "lost": s["lost"],
                    "latency_p50_s": s["latency_p50_s"],
                    "latency_p95_s": s["latency_p95_s"],
                    "latency_max_s": float(latency.max()) if len(latency) else None,
                    "deepest_queue": deepest,
                    "queue_peak": peaks.get(deepest, 0),
                    "message_hours_waiting": float(waiting_hours(result).sum()),
                    **{f"attack_{k}": v for k, v in sorted((s.get("attack") or {}).items())},
                }
            )
        table = pd.DataFrame(rows).set_index("scenario")
        attack = [c for c in table.columns if c.startswith("attack_")]
        table[attack] = table[attack].fillna(0).astype(int)
        return table


def _label(source: Scenario | str | Path) -> str:
    if isinstance(source, str | Path):
        return Path(source).stem
    return source.name


def compare(
    sources: Mapping[str, Scenario | str | Path] | Sequence[Scenario | str | Path],
    *,
    seed: int | None = None,
    until: float | None = None,
    overrides: Sequence[str] = (),
) -> Comparison:
    """Run every scenario once (``seed``: each scenario's own by default).

    ``sources`` maps labels to scenarios or scenario files, or lists them (labelled by
    file stem or scenario name).  ``overrides`` (``key=value``) apply to every file.
    """
    from sim import run
    from sim.scenario import load_scenario

    labelled = dict(sources) if isinstance(sources, Mapping) else {_label(s): s for s in sources}
    if not labelled:
        raise ValueError("compare: no scenarios given")
    results = {}
    for label, source in labelled.items():
        scenario = (
            load_scenario(source, overrides=tuple(overrides))
            if isinstance(source, str | Path)
            else source
        )
        results[label] = run(scenario, seed=seed, until=until)
    return Comparison(results)
