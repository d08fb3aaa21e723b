"""relaysim: a discrete-event simulator and teaching environment for Internet mail relay.

For notebooks::

    from sim import load_scenario, run
    res = run(load_scenario("scenarios/mx-failover.yaml"), seed=1)
    res.summary, res.messages, res.events, res.timeseries

Heavy modules (pandas, simpy, matplotlib) load on first use, so the command line and
the pure policy modules stay quick to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["load_scenario", "mean_ci", "replicate", "run"]

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.world.engine import RunResult


def run(
    scenario: Scenario,
    *,
    seed: int | None = None,
    until: float | None = None,
    events: str = "all",
) -> RunResult:
    """Play a scenario once: ``seed`` defaults to the scenario's, ``until`` to its duration.

    ``events`` (``all``, ``sample`` or ``none``) says which messages' events and ledger
    rows are kept; the summary counts every message whatever it is.
    """
    from sim.world.engine import World

    chosen = scenario.seed if seed is None else seed
    world = World(scenario.to_world_spec(), seed=chosen or 0, events=events)
    return world.run(until=until or scenario.duration)


def __getattr__(name: str) -> Any:
    if name == "load_scenario":
        from sim.scenario import load_scenario

        return load_scenario
    if name in ("replicate", "mean_ci"):
        from sim import sweep

        return getattr(sweep, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
