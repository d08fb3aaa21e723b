"""Scenario files: a YAML format validated by pydantic, with clear, complete errors.

::

    from sim.scenario import load_scenario
    scenario = load_scenario("scenarios/mx-failover.yaml", overrides=["duration=2h"])
    spec = scenario.to_world_spec()   # a sim.world.engine.WorldSpec

See docs/scenarios.md for the format.
"""

from sim.scenario.errors import Problem, ScenarioError
from sim.scenario.loader import apply_override, load_scenario, parse_scenario
from sim.scenario.model import Scenario
from sim.scenario.units import format_duration, format_rate, parse_duration, parse_rate

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "apply_override",
    "format_duration",
    "format_rate",
    "load_scenario",
    "parse_duration",
    "parse_rate",
    "parse_scenario",
]
