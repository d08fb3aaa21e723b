"""scenarios/dead-domains-bounce-storm.yaml: immediate and delayed bounces of a list post."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim import load_scenario, run
from sim.plots.qshape import queue_ages
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "dead-domains-bounce-storm.yaml"
DAY = 86400.0
POSTS = (600.0, 6 * 3600.0, DAY)  # the three bursts


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_scenario(SCENARIO))


def by_domain(result: RunResult) -> dict[str, pd.DataFrame]:
    events = result.events
    injected = events[events.kind == "injected"]
    domain = injected.set_index("msg_id").detail.str.rpartition("@")[2]
    m = result.messages[~result.messages.is_dsn.astype(bool)].copy()
    m["domain"] = domain.reindex(m.msg_id).to_numpy()
    m["age"] = m.final_at - m.injected_at
    return {d: g for d, g in m.groupby("domain")}


def test_null_mx_and_nxdomain_bounce_at_once_dead_domains_at_the_lifetime(
    result: RunResult,
) -> None:
    assert result.summary["lost"] == 0 and result.summary["queued_at_end"] == 0
    groups = by_domain(result)
    assert (groups["ok.example"].fate == "delivered").all()
    for domain, reply in (
        ("gone.example", "550 5.1.2 Host or domain name not found."),
        ("nullmx.example", "556 5.1.10 Recipient address has null MX"),
    ):
        g = groups[domain]
        assert (g.fate == "bounced").all() and (g.age < 60).all()
        assert g.reply.str.startswith(reply).all()
    dead = groups["dead.example"]
    assert len(dead) > 300 and (dead.fate == "expired").all()
    assert (dead.age >= 2 * DAY).all() and (dead.age < 2 * DAY + 2 * 3600).all()


def test_dsns_come_in_two_waves(result: RunResult) -> None:
    events = result.events
    dsn = events[events.kind == "dsn"]
    assert (
        result.summary["dsn_sent"]
        == len(dsn)
        == (result.summary["bounced"] + result.summary["expired"])
    )
    immediate = sum(dsn.t.between(post, post + 900).sum() for post in POSTS)
    delayed = sum(dsn.t.between(post + 2 * DAY, post + 2 * DAY + 2 * 3600).sum() for post in POSTS)
    assert immediate == result.summary["bounced"] > 300
    assert delayed == result.summary["expired"]
    dsns = result.messages[result.messages.is_dsn.astype(bool)]
    assert (dsns.fate == "delivered").all()  # home to lists.example.org's mailbox


def test_dead_destination_is_suspended_and_the_queue_ages(result: RunResult) -> None:
    events = result.events
    tried = events[(events.kind == "connect_failed") & events.detail.str.contains("dead")]
    assert result.summary["suspended_deferrals"] > 3 * len(tried) > 0
    ages = queue_ages(result, host="lists.example.org")
    at = ages.loc[ages.index[ages.index >= DAY + 6 * 3600][0]]
    assert at["1280+"] > 100  # the first post's dead mail, more than 21 hours old
    assert ages.loc[ages.index[-1]].sum() == 0  # all expired by the end
