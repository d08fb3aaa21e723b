"""``relaysim run`` and ``relaysim plot`` on the shipped scenarios, kept short with --until."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.commands.run import _ProgressBar, parse_until, run_world
from sim.errors import InputError
from sim.results import DATA_FILES, PLOT_FILES
from sim.world.engine import World
from tests.test_results import small_world

ROOT = Path(__file__).resolve().parent.parent
FAILOVER = ROOT / "scenarios" / "mx-failover.yaml"
CAPACITY = ROOT / "scenarios" / "capacity-mmc.yaml"
# mx1 down from 10 to 40 minutes, 5 messages a minute, 80 minutes: the story in miniature
SHORT = [
    "--until",
    "80m",
    "--set",
    "sources.staff.rate=5/min",
    "--set",
    "faults.0.at=10m",
    "--set",
    "faults.0.down_for=30m",
]


@pytest.fixture(scope="module")
def failover_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "failover"
    assert main(["run", str(FAILOVER), *SHORT, "--seed", "7", "--out", str(out)]) == 0
    return out


def test_run_writes_the_directory(failover_dir: Path) -> None:
    for name in [*DATA_FILES, *PLOT_FILES.values()]:
        assert (failover_dir / name).is_file(), name
    summary = json.loads((failover_dir / "summary.json").read_text())
    assert summary["scenario"] == "mx-failover" and summary["seed"] == 7
    assert summary["lost"] == 0 and summary["until"] == 4800
    assert summary["queue_peak"]["mx2.example.com"] > 10  # the backup held the mail


def test_run_prints_the_summary_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(FAILOVER), *SHORT, "--no-plots"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("scenario mx-failover (seed 1, 1h20m simulated)")
    assert "mx1.example.com down 10m00s to 40m00s" in out
    assert re.search(r"wrote \d+ files to runs/mx-failover-seed1$", out.rstrip())
    assert list((tmp_path / "runs" / "mx-failover-seed1" / "samples").glob("msg-*.eml"))
    assert err == ""  # no progress bar when stdout is not a terminal
    assert (tmp_path / "runs" / "mx-failover-seed1" / "events.jsonl").is_file()
    assert not list((tmp_path / "runs" / "mx-failover-seed1").glob("*.png"))


def test_run_json_prints_summary_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", str(CAPACITY), "--until", "200s", "--no-plots", "--json"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["lost"] == 0 and summary["delivered"] > 500
    assert out == (tmp_path / "summary.json").read_text()


def test_same_seed_same_events_jsonl(failover_dir: Path, tmp_path: Path) -> None:
    args = ["run", str(FAILOVER), *SHORT, "--seed", "7", "--no-plots", "--out", str(tmp_path)]
    assert main(args) == 0
    events = (tmp_path / "events.jsonl").read_bytes()
    assert events == (failover_dir / "events.jsonl").read_bytes()


def test_a_bad_scenario_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    text = FAILOVER.read_text().replace("duration: 12h", "duration: 12 fortnights")
    bad.write_text(text.replace("seed: 1", "seed: 1\ncolour: blue"))
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert all(line.startswith("relaysim: error: ") for line in err)
    assert any("duration" in line for line in err) and any("colour" in line for line in err)
    assert not (tmp_path / "out").exists()


def test_a_bad_until_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(FAILOVER), "--until", "soon"]) == 2
    assert capsys.readouterr().err.startswith("relaysim: error: --until: bad duration 'soon'")


def test_until_accepts_seconds_hours_and_days() -> None:
    assert parse_until("30000s") == 30000.0
    assert parse_until("6h") == 6 * 3600.0
    assert parse_until("2d") == 2 * 86400.0
    assert parse_until("90") == 90.0
    with pytest.raises(InputError, match="more than 0"):
        parse_until("0s")


def test_the_progress_bar_does_not_change_the_run() -> None:
    stream = io.StringIO()
    bar = _ProgressBar(stream, 1800.0, "small")
    stepped = run_world(World(small_world(), seed=2), 1800.0, progress=bar)
    plain = World(small_world(), seed=2).run(until=1800.0)
    pd.testing.assert_frame_equal(stepped.events, plain.events)
    assert stepped.summary == plain.summary
    drawn = stream.getvalue()
    assert drawn.count("\r") == 100  # 99 steps and the final clear
    assert "99%  29m42s / 30m00s simulated" in drawn


def test_plot_redraws_from_a_run_directory(
    failover_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind in PLOT_FILES:
        target = tmp_path / f"{kind}.png"
        assert main(["plot", str(failover_dir), "--kind", kind, "--out", str(target)]) == 0
        assert target.read_bytes().startswith(b"\x89PNG")
    assert capsys.readouterr().out.splitlines()[-1] == str(tmp_path / "topology.png")


def test_plot_topology_reads_the_topology_of_the_run(failover_dir: Path) -> None:
    topology = json.loads((failover_dir / "topology.json").read_text())
    assert topology["hosts"] == ["out.sender.org", "mx1.example.com", "mx2.example.com"]
    assert ["out.sender.org", "core-router"] in topology["links"]  # the router is in links
    (failover_dir / "topology.png").unlink()
    assert main(["plot", str(failover_dir), "--kind", "topology"]) == 0
    assert (failover_dir / "topology.png").read_bytes().startswith(b"\x89PNG")


def test_plot_defaults_to_the_run_directory(failover_dir: Path, tmp_path: Path) -> None:
    (failover_dir / "outcomes.png").unlink()
    assert main(["plot", str(failover_dir), "--kind", "outcomes"]) == 0
    assert (failover_dir / "outcomes.png").is_file()


def test_plot_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path / "nope"), "--kind", "queue"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["plot", str(tmp_path), "--kind", "queue"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(tmp_path), "--kind", "pie"])
    assert exc.value.code == 2


def test_events_sample_keeps_every_hundredth_message_and_the_same_counts(
    failover_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", str(FAILOVER), *SHORT, "--seed", "7", "--no-plots", "--out", str(tmp_path)]
    assert main([*args, "--events", "sample"]) == 0
    sampled = json.loads((tmp_path / "summary.json").read_text())
    full = json.loads((failover_dir / "summary.json").read_text())
    assert sampled.pop("events") == "sample" and full.pop("events") == "all"
    assert sampled == full
    messages = pd.read_csv(tmp_path / "messages.csv")
    assert len(messages) and set(messages.msg_id % 100) == {0}
    assert capsys.readouterr().err == ""  # asked for explicitly: no note


def test_events_auto_samples_a_huge_run_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the limit lowered to 100 messages, 700 expected ones are sampled, with a note."""
    monkeypatch.setattr("sim.commands.run.AUTO_ALL_LIMIT", 100)
    args = ["run", str(CAPACITY), "--until", "200s", "--no-plots", "--json"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["events"] == "sample"
    assert captured.err.startswith("relaysim: about 700 messages expected: keeping the events")
    assert main([*args, "--out", str(tmp_path), "--events", "all"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == "all"
