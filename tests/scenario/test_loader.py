"""Loading: overrides, file references, and the WorldSpec a scenario becomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.policy.retry import EximSchedule, PostfixSchedule, TableSchedule
from sim.scenario import ScenarioError, apply_override, load_scenario, parse_scenario
from sim.world.network import Latency, LatencyKind

ROOT = Path(__file__).resolve().parents[2]
FAILOVER = ROOT / "scenarios" / "mx-failover.yaml"
MX1 = "mx1.example.com"
MX2 = "mx2.example.com"


def test_overrides_change_the_data_before_validation() -> None:
    scenario = load_scenario(
        FAILOVER,
        overrides=[
            "duration=2h",
            f"mtas.{MX2}.delivery_slots=4",
            f"mtas.{MX2}.retry.settings.maximal_backoff_time=600s",
            "sources.staff.rate=3.5/s",
            "links[0].latency=1ms",
            "faults.0.down_for=30m",
            "description=",
        ],
    )
    assert scenario.duration == 7200.0
    assert scenario.mtas[MX2].delivery_slots == 4
    assert scenario.sources["staff"].rate == 3.5
    assert scenario.links[0].latency.mean == 0.001
    assert scenario.faults[0].down_for == 1800.0
    assert scenario.description == ""
    schedule = scenario.to_world_spec().mtas[2].retry
    assert isinstance(schedule, PostfixSchedule) and schedule.maximal_backoff_time == 600.0


def test_overrides_create_sections_the_schema_knows() -> None:
    scenario = load_scenario(
        FAILOVER,
        overrides=[f"mtas.{MX1}.retry.schedule=exim", f"mtas.{MX1}.relayhost={MX2}"],
    )
    spec = {m.name: m for m in scenario.to_world_spec().mtas}
    assert isinstance(spec[MX1].retry, EximSchedule)
    assert spec[MX1].relayhost == MX2


def test_override_values_are_yaml() -> None:
    data: dict[str, object] = {"mtas": {"a.b": {"domains": []}}, "links": [{"loss": 0}]}
    assert apply_override(data, "mtas.a.b.domains=[x.org, y.org]") == ("mtas", "a.b", "domains")
    assert apply_override(data, "links[0].loss=0.5") == ("links", 0, "loss")
    assert apply_override(data, "seed=7") == ("seed",)
    assert data == {
        "mtas": {"a.b": {"domains": ["x.org", "y.org"]}},
        "links": [{"loss": 0.5}],
        "seed": 7,
    }


def test_the_world_spec_has_everything() -> None:
    scenario = load_scenario(FAILOVER)
    spec = scenario.to_world_spec()
    assert [m.name for m in spec.mtas] == ["out.sender.org", MX1, MX2]  # no router MTA
    assert spec.mtas[2].relay_domains == ("example.com",)
    assert spec.mtas[0].connect_timeout == 5.0
    assert spec.links[0].a == "out.sender.org" and spec.links[0].b == "core-router"
    assert spec.links[0].latency == Latency(0.02)
    assert spec.links[2].latency == Latency(0.01, LatencyKind.EXPONENTIAL)
    assert spec.zones[0][0] == "example.com.zone"
    assert "IN MX 20 mx2.example.com." in spec.zones[0][1]
    (source,) = spec.sources
    assert source.rate == pytest.approx(20 / 60)
    assert len(source.recipients) == 3
    (fault,) = spec.faults
    assert (fault.at, fault.host, fault.down_for) == (3600.0, MX1, 6 * 3600.0)
    assert spec.sample_every == 300.0


def test_files_are_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "main.cf").write_text(
        "mydestination = example.com\nmynetworks = 10.0.0.0/8\nlocal_recipient_maps =\n"
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
    )
    (tmp_path / "example.com.zone").write_text("$TTL 300\n@ MX 10 mx\nmx A 192.0.2.10\n")
    (tmp_path / "s.yaml").write_text(
        "name: files\nduration: 1h\n"
        "mtas:\n  mx.example.com:\n    address: 192.0.2.10\n    main_cf_file: conf/main.cf\n"
        "    retry: {schedule: table, rule: '5m,10m,1h'}\n"
        "zones:\n  example.com: {file: example.com.zone}\n"
    )
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.source_path == tmp_path / "s.yaml"
    spec = scenario.to_world_spec()
    assert spec.mtas[0].main_cf is not None and "10.0.0.0/8" in spec.mtas[0].main_cf
    assert spec.zones == (("example.com.zone", "$TTL 300\n@ MX 10 mx\nmx A 192.0.2.10\n"),)
    retry = spec.mtas[0].retry
    assert isinstance(retry, TableSchedule) and retry.delays == (300.0, 600.0, 3600.0)


def test_scenario_built_in_python_is_cross_checked_too() -> None:
    from pydantic import ValidationError

    from sim.scenario import Scenario

    with pytest.raises(ValidationError, match=r"sources.s.mta: unknown MTA 'nope'"):
        Scenario.model_validate(
            {
                "name": "x",
                "duration": "1h",
                "mtas": {"a": {"address": "192.0.2.1"}},
                "sources": {"s": {"mta": "nope", "rate": 1, "sender": "", "recipients": ["b@c"]}},
            }
        )


def test_errors_are_relaysim_errors() -> None:
    from sim.errors import RelaysimError

    with pytest.raises(RelaysimError):
        parse_scenario("name: [unclosed\n")
    with pytest.raises(ScenarioError) as info:
        parse_scenario("name: [unclosed\n", source="x.yaml")
    assert str(info.value).startswith("x.yaml:2: YAML syntax error:")


def test_a_main_cf_file_with_lookup_tables_is_refused_until_the_engine_can_read_them() -> None:
    text = "name: t\nduration: 1h\nmtas:\n  mail.example.com:\n    address: 127.0.0.1\n"
    text += "    main_cf_file: relay/main.cf\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, base_dir=ROOT / "scenarios")
    (problem,) = info.value.problems
    assert problem.path == "mtas.mail.example.com.main_cf_file"
    assert "table file not found" in problem.message
    assert "lookup tables beside a main_cf_file are not supported yet" in problem.message
