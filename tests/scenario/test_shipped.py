"""The shipped scenarios load, convert and run; the schema and the docs stay current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from sim.cli import main
from sim.scenario import load_scenario, parse_scenario
from sim.scenario.doc import BEGIN, END, field_table, json_schema
from sim.world.engine import World

ROOT = Path(__file__).resolve().parents[2]
FAILOVER = ROOT / "scenarios" / "mx-failover.yaml"
CAPACITY = ROOT / "scenarios" / "capacity-mmc.yaml"
DOC = ROOT / "docs" / "scenarios.md"
SHIPPED = [FAILOVER, CAPACITY]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_open_with_a_header_comment(path: Path) -> None:
    head = path.read_text().splitlines()[:12]
    assert head[0].startswith("# ")
    assert any("What it teaches" in line for line in head)
    text = path.read_text()
    assert "What to look at" in text


def test_mx_failover_backup_queues_while_the_primary_is_down() -> None:
    scenario = load_scenario(FAILOVER, overrides=["sources.staff.rate=4/min"])  # keep it quick
    assert scenario.duration == 12 * 3600 and scenario.routers == ["core-router"]
    result = World(scenario.to_world_spec(), seed=1).run(until=3 * 3600)
    s = result.summary
    assert s["lost"] == 0
    assert s["queue_peak"]["mx2.example.com"] > 100  # mx1 down since 1h: mx2 holds the mail
    assert s["queue_peak"]["out.sender.org"] <= 5  # the sender is not left holding it
    relayed = result.events[result.events.kind == "relayed"]
    assert (relayed.detail == "to mx2.example.com").sum() > 100


def test_mx_failover_backup_drains_when_the_primary_returns() -> None:
    overrides = ["sources.staff.rate=4/min", "faults.0.down_for=1h"]
    scenario = load_scenario(FAILOVER, overrides=overrides)
    result = World(scenario.to_world_spec(), seed=1).run(until=4 * 3600)
    s = result.summary
    assert s["lost"] == 0
    ts = result.timeseries.pivot(index="t", columns="host", values="queued")
    # mx1 is back at 2h; within one maximal_backoff_time (4000 s) mx2 has forwarded it all.
    assert ts.loc[ts.index >= 2 * 3600 + 4000 + 300, "mx2.example.com"].max() <= 1


def test_capacity_mmc_runs_as_an_m_m_4_queue() -> None:
    scenario = load_scenario(CAPACITY)
    spec = scenario.to_world_spec()
    (sender, receiver) = spec.mtas
    assert sender.delivery_slots == 4 and receiver.service_time == 1.0
    assert spec.sources[0].rate == 3.5 and spec.links[0].latency.mean == 0.0
    assert not spec.faults and scenario.duration >= 2000
    result = World(spec, seed=1).run(until=600)  # briefly; tests/world checks Erlang C
    s = result.summary
    assert s["lost"] == 0
    assert s["delivered"] > 1500
    assert 0.2 < s["queue_wait_mean_s"] < 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_satisfy_the_json_schema(path: Path) -> None:
    jsonschema.Draft202012Validator(json_schema()).validate(yaml.safe_load(path.read_text()))


def test_the_json_schema_rejects_unknown_keys_and_bad_shorthands() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    data = yaml.safe_load(CAPACITY.read_text())
    data["mtas"]["sender"]["delivery_slot"] = 4
    data["duration"] = "2 weeks"
    assert len(list(validator.iter_errors(data))) == 2


def test_the_field_table_in_the_docs_is_current() -> None:
    text = DOC.read_text()
    table = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert table == "\n" + field_table(), "run: python -m sim.scenario.doc docs/scenarios.md"


def test_the_docs_example_is_a_valid_scenario() -> None:
    example = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert example is not None
    scenario = parse_scenario(example.group(1))
    result = World(scenario.to_world_spec(), seed=1).run(until=600)
    assert result.summary["lost"] == 0 and result.summary["delivered"] > 50


def test_the_docs_error_example_is_what_validate_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = Path(__file__).parent / "bad" / "many-problems.yaml"
    assert main(["validate", str(bad)]) == 2
    _, err = capsys.readouterr()
    doc = DOC.read_text()
    for line in err.splitlines():
        assert line.replace(str(bad), "broken.yaml") in doc


def test_validate_prints_ok_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FAILOVER), "--set", "duration=2h"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"{FAILOVER}: ok (3 MTAs, 1 router, 3 links, 2 zones, 1 source, 1 fault, 2h)\n"


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, _ = capsys.readouterr()
    schema = json.loads(out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["additionalProperties"] is False
    assert "mtas" in schema["required"]
    assert set(schema["$defs"]["ScheduleKind"]["enum"]) == {
        "postfix",
        "exim",
        "qmail",
        "table",
        "rfc5321",
    }
