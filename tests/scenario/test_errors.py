"""One bad file per validation message: each fixture says what it expects.

``bad/*.yaml`` start with ``# expect: FILE:LINE: PATH: MESSAGE`` lines: exactly the
problems the loader must report, in order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario, parse_scenario

BAD = Path(__file__).parent / "bad"
FIXTURES = sorted(BAD.glob("*.yaml"))


def expected(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]


def problems(path: Path, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=overrides)
    return [p.render().replace(str(BAD) + "/", "") for p in info.value.problems]


def test_there_is_a_fixture_per_message() -> None:
    names = {p.stem for p in FIXTURES}
    assert {
        "unknown-key",
        "bad-duration",
        "bad-rate",
        "unknown-schedule",
        "unknown-source-mta",
        "unknown-link-host",
        "unknown-fault-host",
        "yaml-syntax",
        "missing-field",
        "many-problems",
        "bad-bandwidth",
        "recipients-both",
        "recipients-neither",
        "fault-needs-down-for",
        "fault-key-not-for-kind",
        "fault-missing-key",
        "fault-zone-text-and-file",
        "fault-no-new-zone",
        "fault-unknown-zone",
        "fault-zone-origin",
        "fault-zone-file-missing",
        "certificate-fault-router",
        "dns-fault-router",
    } <= names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_bad_file_reports_exactly_its_problems(path: Path) -> None:
    assert problems(path) == expected(path)


def test_the_cli_prints_every_problem_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / "many-problems.yaml"
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert [line.replace(str(BAD) + "/", "") for line in lines[:-1]] == expected(path)
    assert lines[-1] == f"{path}: invalid ({len(expected(path))} problems)"


def good_text() -> str:
    text = (BAD / "bad-rate.yaml").read_text()
    return text.replace("rate: 10/minute", "rate: 10/min")


def reported(text: str, *overrides: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.yaml", overrides=overrides)
    return [p.render() for p in info.value.problems]


def test_a_bad_set_path_names_the_override_and_what_is_there() -> None:
    assert reported(good_text(), "mtas.nosuch.delivery_slots=4") == [
        "--set mtas.nosuch.delivery_slots=4: no 'nosuch' in mtas "
        "(has: out.sender.org, mx.example.com)"
    ]
    assert reported(good_text(), "links.7.loss=0.1") == [
        "--set links.7.loss=0.1: links is a list of 2: expected an index 0..1, got '7'"
    ]
    assert reported(good_text(), "duration") == [
        "--set duration: expected PATH=VALUE, e.g. --set mtas.backup.delivery_slots=4"
    ]
    assert reported(good_text(), "name.x=1") == ["--set name.x=1: name is a value, not a section"]


def test_a_bad_override_value_is_reported_against_the_override() -> None:
    assert reported(good_text(), "mtas.mx.example.com.retry.schedule=postfx") == [
        "--set mtas.mx.example.com.retry.schedule=postfx: mtas.mx.example.com.retry.schedule: "
        "unknown schedule 'postfx' (expected one of: postfix, exim, qmail, table, rfc5321)"
    ]
    assert reported(good_text(), "sources.users.colour=blue") == [
        "--set sources.users.colour=blue: sources.users.colour: unknown key 'colour' "
        "(expected one of: bursts, count, mta, profile, rate, recipient_domains, recipients, "
        "sender, size, size_distribution, start, stop)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "address: 192.0.2.10",
            "address: 192.0.2.300",
            "mtas.mx.example.com.address: expected an IPv4 or IPv6 address, got '192.0.2.300'",
        ),
        (
            "    domains: [example.com]",
            "    domains: [example.com]\n    relayhost: smarthost",
            "mtas.mx.example.com.relayhost: unknown MTA 'smarthost' "
            "(expected one of: mx.example.com, out.sender.org)",
        ),
        (
            "down_for: 5m}",
            "down_for: 5m, peer: out.sender.org}",
            "faults[0].peer: no link between 'mx.example.com' and 'out.sender.org' in links",
        ),
        (
            "routers: [router]",
            "routers: [router, mx.example.com]",
            "routers[1]: 'mx.example.com' is already an MTA",
        ),
        (
            "    domains: [example.com]",
            "    domains: [example.com]\n    retry: {settings: {maximal_backof_time: 1h}}",
            "mtas.mx.example.com.retry.settings.maximal_backof_time: unknown postfix parameter "
            "'maximal_backof_time' (expected one of: bounce_queue_lifetime, delay_warning_time, "
            "maximal_backoff_time, maximal_queue_lifetime, minimal_backoff_time, queue_run_delay, "
            "scan_phase)",
        ),
        (
            "    mx IN A  192.0.2.10",
            "    mx IN A  192.0.2.300",
            "zones.example.com: zone text line 4: "
            "expected a valid address or value for this record type",
        ),
        (
            "    $ORIGIN example.com.",
            "    $ORIGIN example.net.",
            "zones.example.com: the zone's origin is example.net., not example.com.",
        ),
        (
            "    recipients: [b@example.com]",
            "    recipients: [b@example.com]\n    stop: 0s",
            "sources.users.stop: stop (0s) must be after start (0s)",
        ),
        (
            "latency: 20ms}",
            "latency: {mean: 20ms, kind: gaussian}}",
            "links[0].latency.kind: unknown latency kind 'gaussian' "
            "(expected constant, exponential, uniform)",
        ),
        ("name: fixture", "name: fixture\nname: again", "name: duplicate key"),
    ],
)
def test_cross_checks(old: str, new: str, message: str) -> None:
    text = good_text()
    assert old in text
    lines = reported(text.replace(old, new, 1))
    assert [line.split(": ", 1)[1] for line in lines] == [message]


def test_main_cf_and_main_cf_file_are_exclusive_and_files_must_exist(tmp_path: Path) -> None:
    text = good_text().replace(
        "    domains: [example.com]",
        "    domains: [example.com]\n    main_cf: 'mydestination = example.com'\n"
        "    main_cf_file: nowhere.cf",
    )
    assert [line.split(": ", 1)[1] for line in reported(text)] == [
        "mtas.mx.example.com.main_cf_file: give main_cf or main_cf_file, not both"
    ]
    text = good_text().replace("    domains: [example.com]", "    main_cf_file: nowhere.cf")
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "s.yaml")
    assert [p.message for p in info.value.problems] == [
        "cannot read nowhere.cf: No such file or directory"
    ]


def test_empty_and_non_mapping_files() -> None:
    assert reported("") == [
        "s.yaml:1: expected a mapping of sections (name, duration, mtas, ...), got an empty file"
    ]
    assert reported("- a\n- b\n") == [
        "s.yaml:1: expected a mapping of sections (name, duration, mtas, ...), got a list"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.yaml: cannot read: No such file"):
        load_scenario(tmp_path / "nope.yaml")
