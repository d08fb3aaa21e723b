"""``relaysim compare``: several scenarios, one table and three plots."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

FOLDER = Path(__file__).resolve().parent.parent / "scenarios" / "backup-mx"


def test_compare_prints_a_row_per_scenario_and_writes_the_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(FOLDER / "store-and-forward.yaml"), str(FOLDER / "failover-cluster.yaml")]
    assert main(["compare", *files, "--until", "90m", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "store-and-forward" in out and "failover-cluster" in out
    assert out.rstrip().endswith(f"wrote 4 files to {tmp_path}")
    table = pd.read_csv(tmp_path / "compare.csv", index_col="scenario")
    assert list(table.index) == ["store-and-forward", "failover-cluster"]
    assert (table.lost == 0).all()
    assert table.loc["store-and-forward", "deepest_queue"] == "mx2.example.com"
    for name in ("queues", "latency", "waiting"):
        assert (tmp_path / f"compare-{name}.png").stat().st_size > 10_000


def test_compare_reports_a_bad_scenario_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration: 1h\nmtas: {}\n")
    assert main(["compare", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("relaysim: error: ") and "mtas" in err


def test_compare_a_scenario_with_its_defence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(FOLDER.parent / "attacks" / "backscatter.yaml")
    args = ["compare", scenario, "--until", "30m", "--out", str(tmp_path)]
    assert main([*args, "--defence", "mtas.mx.example.com.mailboxes=500"]) == 0
    table = pd.read_csv(tmp_path / "compare.csv", index_col="scenario")
    assert list(table.index) == ["backscatter", "backscatter + defence"]
    bounces = table["attack_backscatter_bounces"]
    assert bounces["backscatter"] > 500 and bounces["backscatter + defence"] == 0
    assert (tmp_path / "compare-attacks.png").is_file()
    assert "wrote 5 files" in capsys.readouterr().out
    two = ["compare", scenario, str(FOLDER / "store-and-forward.yaml"), "--defence", "x=1"]
    assert main([*two, "--out", str(tmp_path)]) == 2
    assert "give one file" in capsys.readouterr().err
