"""scenarios/attacks/starttls-stripping.yaml: who is read, who waits, who bounces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim import load_scenario, run
from sim.cli import main
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "attacks" / "starttls-stripping.yaml"
OPPORTUNISTIC = {"may.example", "sts-testing.example"}
STRICT = {"encrypt.example", "verify.example", "dane.example", "sts-enforce.example"}
HOUR = 3600.0


def play(attack: str) -> RunResult:
    scenario = load_scenario(SCENARIO, overrides=[f"strippers.mitm.attack={attack}"])
    return run(scenario, until=5 * HOUR)


@pytest.fixture(scope="module")
def strip() -> RunResult:
    return play("strip")


@pytest.fixture(scope="module")
def intercept() -> RunResult:
    return play("intercept")


def read_by_attacker(result: RunResult) -> pd.Series:
    events = result.events
    read = events[(events.kind == "attack") & (events.msg_id > 0)]
    origin = result.messages.set_index("msg_id").origin
    return origin.reindex(read.msg_id).value_counts()


def fates(result: RunResult) -> pd.DataFrame:
    m = result.messages[~result.messages.is_dsn.astype(bool)]
    return m.groupby(["origin", "fate"]).size().unstack(fill_value=0)


def test_stripping_exposes_only_the_opportunistic_senders(strip: RunResult) -> None:
    read = read_by_attacker(strip)
    assert set(read.index) == OPPORTUNISTIC
    assert (read > 100).all()  # about one message a minute each for 3 hours
    counts = strip.summary["attack"]
    assert counts["read_by_attacker"] == read.sum() == counts["tls_plaintext-exposed"]
    table = fates(strip)
    for sender in STRICT:  # they waited, and what waited over 2 hours bounced
        assert table.loc[sender, "expired"] > 10
    for sender in OPPORTUNISTIC:
        assert table.loc[sender].get("expired", 0) == 0


def test_interception_reads_may_and_encrypt_but_not_the_authenticating_senders(
    intercept: RunResult,
) -> None:
    read = read_by_attacker(intercept)
    assert set(read.index) == {"may.example", "encrypt.example", "sts-testing.example"}
    assert intercept.summary["attack"]["tls_encrypted-to-attacker"] == read.sum()
    table = fates(intercept)
    for sender in ("verify.example", "dane.example", "sts-enforce.example"):
        assert table.loc[sender, "expired"] > 10
    assert table.loc["encrypt.example"].get("expired", 0) == 0


def test_before_and_after_the_attack_every_setup_delivers(strip: RunResult) -> None:
    m = strip.messages[~strip.messages.is_dsn.astype(bool)]
    early = m[m.injected_at < HOUR]
    assert (early.fate == "delivered").all() and set(early.origin) == OPPORTUNISTIC | STRICT


def test_relaysim_tls_matrix_prints_the_table_and_draws_the_heatmap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "matrix.png"
    assert main(["tls", "matrix", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    may = next(line for line in text.splitlines() if line.startswith("| `may`"))
    assert may.count("plaintext-exposed") == 3 and may.count("encrypted-to-attacker") == 2
    dane = next(line for line in text.splitlines() if line.startswith("| `dane`"))
    assert "exposed" not in dane and "to-attacker" not in dane
    assert out.stat().st_size > 20_000
