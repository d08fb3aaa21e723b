"""``relaysim mx``: table and JSON output on scenarios/zones, and one-line input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

ZONES = Path(__file__).resolve().parent.parent / "scenarios" / "zones"
ZONE_ARGS = [
    arg
    for name in ("example.com", "example.net", "example.org", "example.edu")
    for arg in ("--zone", str(ZONES / f"{name}.zone"))
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["mx", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = run(capsys, *args, *ZONE_ARGS, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_table_output_is_the_ordered_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "example.com", *ZONE_ARGS, "--seed", "1")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "example.com: deliver",
        "   #   pref  host                addresses",
        "   1     10  mx2.example.com     192.0.2.11",
        "   2     10  mx1.example.com     2001:db8::10, 192.0.2.10",
        "   3     20  backup.example.net  198.51.100.20",
        "  equal preferences shuffled with --seed 1",
        "skipped:",
        "     30  old.example.com  no address records (NXDOMAIN)",
        "     40  192.0.2.99       exchange is an IP address, not a host name",
    ]


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "example.com", "--seed", "1")
    assert data["action"] == "deliver" and data["reply"] is None and data["seed"] == 1
    targets = data["targets"]
    assert isinstance(targets, list)
    assert [(t["preference"], t["host"]) for t in targets] == [
        (10, "mx2.example.com"),
        (10, "mx1.example.com"),
        (20, "backup.example.net"),
    ]
    assert targets[1]["addresses"] == ["2001:db8::10", "192.0.2.10"]
    assert data["skipped"] == [
        {"host": "old.example.com", "preference": 30, "reason": "no_address", "detail": "NXDOMAIN"},
        {
            "host": "192.0.2.99",
            "preference": 40,
            "reason": "ip_literal",
            "detail": "exchange is an IP address, not a host name",
        },
    ]


def test_same_seed_same_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, "example.com", "--seed", "5") == run_json(
        capsys, "example.com", "--seed", "5"
    )


def test_null_mx_decision(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "example.org")
    assert data["action"] == "bounce" and data["outcome"] == "null_mx"
    assert data["reply"] == {
        "code": 556,
        "enhanced": "5.1.10",
        "text": "Recipient address has null MX; domain example.org does not accept mail",
    }
    code, out, _ = run(capsys, "example.org", *ZONE_ARGS)
    assert code == 0
    assert out.splitlines() == [
        "example.org: bounce",
        "  null MX: 556 5.1.10 Recipient address has null MX; domain example.org does not "
        "accept mail",
    ]


def test_implicit_mx_from_a_zone_named_by_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "example.net")
    assert data["implicit_mx"] is True
    assert data["targets"] == [
        {
            "host": "example.net",
            "preference": 0,
            "addresses": ["198.51.100.7"],
            "canonical": None,
            "implicit": True,
        }
    ]


def test_cname_target_lenient_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    lenient = run_json(capsys, "example.edu")
    assert lenient["action"] == "deliver"
    assert "RFC 2181 §10.3" in str(lenient["warnings"])
    strict = run_json(capsys, "example.edu", "--strict")
    assert strict["action"] == "bounce" and strict["outcome"] == "no_usable_mx"


def test_local_name_and_faults(capsys: pytest.CaptureFixture[str]) -> None:
    backup = run_json(capsys, "example.com", "--local-name", "backup.example.net")
    assert backup["action"] == "deliver" and len(backup["targets"]) == 2  # type: ignore[arg-type]
    loop = run_json(capsys, "example.com", "--local-name", "192.0.2.11")
    assert loop["reply"] == {
        "code": 554,
        "enhanced": "5.4.6",
        "text": "mail for example.com loops back to myself",
    }
    for flag in ("--servfail", "--timeout"):
        data = run_json(capsys, "example.com", flag, "example.com")
        assert data["action"] == "defer"
        assert data["reply"]["enhanced"] == "4.4.3"  # type: ignore[index]


def test_name_outside_the_zones_is_nxdomain_with_a_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "gone.example", *ZONE_ARGS)
    assert code == 0
    assert out.splitlines()[1].startswith("  domain does not exist: 550 5.1.2 ")
    assert err == "relaysim: note: gone.example is in no loaded zone; answered NXDOMAIN\n"


def test_bad_zone_file_is_one_line_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.test.zone"
    bad.write_text("$TTL 300\n@ MX 10 mx\nmx A 192.0.2.300\n")
    code, out, err = run(capsys, "bad.test", "--zone", str(bad))
    assert (code, out) == (2, "")
    assert err == (
        f"relaysim: error: {bad}:3: expected a valid address or value for this record type\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["example.com", "--zone", "/nonexistent/x.zone"], "/nonexistent/x.zone: cannot read"),
        (["not a domain", *ZONE_ARGS], "domain 'not a domain' is not a host name"),
        (["example.com", *ZONE_ARGS, "--local-name", "a b"], "local name 'a b' is not"),
        (["example.com", *ZONE_ARGS, "--servfail", "a..b"], "--servfail 'a..b': expected"),
        (["example.com", *ZONE_ARGS, *ZONE_ARGS[:2]], "example.com. is loaded twice"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"relaysim: error: {message}") or err.startswith(
        f"relaysim: error: zone {message}"
    )
    assert err.count("\n") == 1 and "Traceback" not in err


def test_zone_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mx", "example.com"])
    assert info.value.code == 2
    assert "--zone" in capsys.readouterr().err
