"""``relaysim retry show`` / ``retry classify``: table, exact JSON shape, --set, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["retry", *args])
    out, err = capsys.readouterr()
    return code, out, err


def show_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = run(capsys, "show", *args, "--json")
    assert (code, err) == (0, ""), err
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_json_shape_is_exactly_attempts_and_give_up(capsys: pytest.CaptureFixture[str]) -> None:
    data = show_json(capsys, "--schedule", "postfix")
    assert set(data) == {"attempts", "give_up"}
    attempts = data["attempts"]
    assert isinstance(attempts, list)
    assert attempts[:7] == [0, 450, 1050, 2250, 4650, 8850, 13050]
    assert all(isinstance(t, int) for t in attempts)
    assert len(attempts) == 107
    assert data["give_up"] == attempts[-1] == 433_050


@pytest.mark.parametrize(
    ("schedule", "count", "give_up"),
    [
        ("postfix", 107, 433_050),
        ("exim", 29, 363_712),
        ("qmail", 40, 608_400),
        ("table", 36, 445_500),
        ("rfc5321", 63, 435_600),
    ],
)
def test_every_schedule(
    capsys: pytest.CaptureFixture[str], schedule: str, count: int, give_up: int
) -> None:
    data = show_json(capsys, "--schedule", schedule)
    attempts = data["attempts"]
    assert isinstance(attempts, list) and attempts[0] == 0
    assert (len(attempts), data["give_up"]) == (count, give_up)


def test_set_changes_a_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    ideal = show_json(capsys, "--schedule", "postfix", "--set", "queue_run_delay=0")
    assert ideal["give_up"] == 432_800  # retry.md §2.3 without the scan grid
    capped = show_json(
        capsys, "--schedule", "postfix", "--set", "queue_run_delay=0",
        "--set", "maximal_backoff_time=1h", "--set", "maximal_queue_lifetime=1",
    )  # fmt: skip
    attempts = capped["attempts"]
    assert isinstance(attempts, list)
    assert attempts[:8] == [0, 300, 600, 1200, 2400, 4800, 8400, 12000]
    assert capped["give_up"] == 86_400 + 1200  # a bare number is in days for the lifetime


def test_rule_for_exim_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    exim = show_json(capsys, "--schedule", "exim", "--rule", "F,1h,20m")
    assert exim == {"attempts": [0, 1200, 2400, 3600, 4800], "give_up": 4800}
    table = show_json(capsys, "--schedule", "table", "--rule", "1h", "--set", "queue_lifetime=3h")
    assert table == {"attempts": [0, 3600, 7200, 10800], "give_up": 10800}


def test_table_output_reads_like_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "--schedule", "table")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Schedule: table (the seed's retry table)"
    assert "| Attempt | Delay | Cumulative time | Notes |" in lines
    assert "| 2 | 5m | 5m |  |" in lines
    assert "| 5 | 1h | 1h 45m |  |" in lines
    assert "| 7-35 | 4h | 7h 45m … 4d 23h 45m | every 4h |" in lines
    assert "| 36 | 4h | 5d 3h 45m | fails: give up, bounce (DSN) |" in lines
    assert lines[-1].startswith("Give up: 5d 3h 45m after arrival (445500 s), at attempt 36")


def test_full_table_and_delay_notes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "show", "--schedule", "postfix", "--set", "delay_warning_time=4h", "--full"
    )
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| ") and "Attempt" not in line]
    assert len(rows) == 107
    assert "| 8 | 1h 10m | 4h 47m 30s | delay DSN sent |" in rows


def test_unknown_parameter_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "--schedule", "postfix", "--set", "max_backoff=1h")
    assert (code, out) == (2, "")
    assert err == (
        "relaysim: error: unknown postfix parameter 'max_backoff' (expected one of: "
        "bounce_queue_lifetime, delay_warning_time, maximal_backoff_time, "
        "maximal_queue_lifetime, minimal_backoff_time, queue_run_delay, scan_phase)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "exim", "--rule", "F,2h,15m; G,16h,1h"], "column 19: expected ',' and a"),
        (["--schedule", "exim", "--rule", "F,2h,15q"], "column 6: expected an interval such as"),
        (["--schedule", "postfix", "--rule", "F,2h,15m"], "--rule applies to the exim and table"),
        (["--schedule", "postfix", "--set", "minimal_backoff_time"], "expected NAME=VALUE"),
        (["--schedule", "postfix", "--set", "queue_run_delay=5y"], "bad time '5y'"),
        (["--schedule", "rfc5321", "--set", "give_up=1d"], "give_up should be >= 4d"),
        (["--schedule", "exim", "--rule", "F,4w,1s"], "more than 10000 attempts"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "show", *args)
    assert (code, out) == (2, "")
    assert err.startswith("relaysim: error: ") and message in err
    assert err.count("\n") == 1


def test_unknown_schedule_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["retry", "show", "--schedule", "postfx"])
    assert exc.value.code == 2
    assert "invalid choice: 'postfx'" in capsys.readouterr().err


def test_plot_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "retry.png"
    code, out, err = run(capsys, "show", "--schedule", "exim", "--plot", str(path))
    assert (code, err) == (0, "")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.splitlines()[-1] == f"Plot: {path}"


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["550 5.1.1 <x@y>: User unknown"], "permanent (status 5.1.1, recipient error)"),
        (["450 4.2.0 Greylisted"], "temporary (status 4.2.0, recipient error)"),
        (["552 5.3.4 Too big", "--stage", "dot"], "permanent (status 5.3.4, message error)"),
        (
            ["421 Service not available", "--stage", "connect"],
            "temporary (status 4.0.0, host error)",
        ),
        (["refused"], "temporary (status 4.4.1, host error)"),
        (["tls-failure", "--tls-failure", "permanent"], "permanent (status 5.7.5, host error)"),
    ],
)
def test_classify(capsys: pytest.CaptureFixture[str], args: list[str], first_line: str) -> None:
    code, out, err = run(capsys, "classify", *args)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == first_line


def test_classify_json_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "classify", "451 5.7.1 odd", "--json")
    data = json.loads(out)
    assert (code, data["outcome"], data["status"]) == (0, "temporary", "4.7.1")
    assert any("disagrees" in note for note in data["notes"])
    code, out, err = run(capsys, "classify", "hello")
    assert (code, out) == (2, "")
    assert "expected a reply line such as '450 4.2.0 Greylisted'" in err
    code, _, err = run(capsys, "classify", "250 Ok", "--stage", "quit")
    assert code == 2 and "unknown SMTP stage 'quit'" in err
