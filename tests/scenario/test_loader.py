"""Loading: overrides, file references, and the WorldSpec a scenario becomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.policy.retry import EximSchedule, PostfixSchedule, TableSchedule
from sim.scenario import ScenarioError, apply_override, load_scenario, parse_scenario
from sim.world.engine import World
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


NEW_FEATURES = """\
name: features
duration: 6h
mtas:
  out.sender.org: {address: 198.51.100.5}
  mx1.example.com: {address: 192.0.2.10, domains: [example.com]}
  mx2.example.com: {address: 192.0.2.20, domains: [example.com]}
links:
  - {a: out.sender.org, b: mx1.example.com, bandwidth: 10Mbit/s}
  - {a: out.sender.org, b: mx2.example.com}
zones:
  example.com: {file: zones/example.com.zone, signed: true}
  other.org: |
    $TTL 300
    @ MX 0 .
sources:
  list:
    mta: out.sender.org
    rate: 1/h
    sender: news@sender.org
    recipient_domains: {example.com: 1000, other.org: 50}
    count: 3
    bursts:
      - {at: 2h, count: 500, over: 60s}
      - {at: 4h, count: 5}
faults:
  - {at: 1h, zone: example.com, zone_file: zones/moved.zone}
  - {at: 2h, zone: example.com, zone_text: "$TTL 60\\n@ MX 10 mx1\\nmx1 A 192.0.2.10\\n", \
down_for: 30m}
  - {at: 3h, host: mx1.example.com, kind: certificate, down_for: 1d}
  - {at: 4h, host: mx2.example.com, certificate: wrong-name}
  - {at: 5h, host: mx1.example.com, down_for: 10m}
"""


def test_bandwidth_bursts_user_counts_signed_zones_and_new_faults(tmp_path: Path) -> None:
    from sim.world.clients import Burst

    (tmp_path / "zones").mkdir()
    zone = "$TTL 300\n@ MX 10 mx1\nmx1 A 192.0.2.10\nmx2 A 192.0.2.20\n"
    (tmp_path / "zones" / "example.com.zone").write_text(zone)
    (tmp_path / "zones" / "moved.zone").write_text(zone.replace("MX 10 mx1", "MX 10 mx2"))
    (tmp_path / "s.yaml").write_text(NEW_FEATURES)
    scenario = load_scenario(tmp_path / "s.yaml")
    spec = scenario.to_world_spec()
    assert [link.bandwidth for link in spec.links] == [10e6, None]
    (source,) = spec.sources
    assert source.recipients == ()
    assert source.recipient_domains == (("example.com", 1000), ("other.org", 50))
    assert source.bursts == (Burst(7200.0, 500, 60.0), Burst(14400.0, 5, 0.0))
    assert source.count == 3
    assert scenario.signed_zones() == ("example.com",)
    moved, back, expired, wrong, outage = spec.faults
    assert (moved.kind, moved.zone, moved.down_for) == ("mx_change", "example.com", None)
    assert moved.zone_text is not None and "MX 10 mx2" in moved.zone_text
    assert (back.kind, back.down_for) == ("mx_change", 1800.0)
    assert (expired.kind, expired.host, expired.certificate) == (
        "certificate",
        "mx1.example.com",
        "expired",  # the default
    )
    assert (wrong.certificate, wrong.down_for) == ("wrong-name", None)
    assert (outage.kind, outage.down_for) == ("host", 600.0)
    result = World(spec, seed=1).run(until=3 * 3600)  # the engine takes it all
    assert result.summary["lost"] == 0 and result.summary["accepted"] >= 500


def test_a_bad_new_zone_file_is_reported_with_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "moved.zone").write_text("$TTL 300\n@ MX 10 mx2\nmx2 A 192.0.2.300\n")
    text = "name: t\nduration: 1h\nmtas:\n  mx2.example.com: {address: 192.0.2.20}\n"
    text += "zones:\n  example.com: '$TTL 300\n\n    @ MX 10 mx2\n\n    mx2 A 192.0.2.20'\n"
    text += "faults:\n  - {at: 1h, zone: example.com, zone_file: moved.zone}\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, base_dir=tmp_path)
    assert info.value.messages == (
        "faults[0].zone_file: moved.zone:3: expected a valid address or value for this record type",
    )


def test_a_source_needs_recipients_one_way_even_from_python() -> None:
    from pydantic import ValidationError

    from sim.scenario.model import SourceModel

    with pytest.raises(ValidationError, match=r"exactly one \(got neither\)"):
        SourceModel.model_validate({"mta": "a", "rate": 1, "sender": ""})
    model = SourceModel.model_validate(
        {"mta": "a", "rate": "2/s", "sender": "", "recipient_domains": {"x.org": 2}}
    )
    assert model.build("s").recipient_domains == (("x.org", 2),)
