"""scenarios/greylisting.yaml: each sender's first retry decides its greylisting delay."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim import load_scenario, run
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "greylisting.yaml"


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_scenario(SCENARIO), until=5 * 3600)


def slowest(result: RunResult) -> pd.Series:
    m = result.messages
    delivered = m[(m.fate == "delivered") & ~m.is_dsn]
    return (delivered.final_at - delivered.injected_at).groupby(delivered.origin).max()


def test_every_sender_gets_through_after_its_first_retry(result: RunResult) -> None:
    s = result.summary
    assert s["lost"] == 0 and s["delivered"] == s["accepted"] - s["queued_at_end"]
    worst = slowest(result)
    # The greylist delay is 5 min; each schedule's first retry comes at:
    assert 300 <= worst["table.io"] < 310  # the seed's table: 5 min
    assert 400 <= worst["qmail.com"] < 410  # qmail: 400 s
    assert 300 <= worst["postfix.net"] <= 600 + 10  # Postfix: next 5-min scan after 5 min
    assert 900 <= worst["exim.org"] < 910  # Exim F,2h,15m
    assert 1800 <= worst["rfc.example"] < 1810  # RFC 5321: 30 min
    assert worst.idxmax() == "rfc.example" and worst.idxmin() == "table.io"


def test_known_triplets_and_whitelisted_clients_are_not_delayed(result: RunResult) -> None:
    events = result.events
    greylisted = events[events.kind == "greylisted"]
    assert set(greylisted.host) == {"mx.example.com"}
    assert set(greylisted.detail) <= {"new", "early-retry"}
    per_hour = greylisted.groupby(greylisted.t // 3600).size()
    assert per_hour[0] > 5 * per_hour[4]  # auto-whitelisting and passed triplets
    m = result.messages
    assert (m.final_at - m.injected_at < 1).mean() > 0.6  # most mail is not delayed at all
