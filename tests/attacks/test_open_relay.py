"""scenarios/attacks/open-relay-abuse.yaml: found, abused, blocklisted; closed: nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "attacks" / "open-relay-abuse.yaml"
HOUR = 3600.0


@pytest.fixture(scope="module")
def open_run() -> RunResult:
    return run(load_scenario(SCENARIO), until=4 * HOUR)


@pytest.fixture(scope="module")
def closed_run() -> RunResult:
    closed = load_scenario(SCENARIO, overrides=["mtas.mail.example.com.main_cf_file=closed.cf"])
    return run(closed, until=4 * HOUR)


def attack_events(result: RunResult) -> list[str]:
    events = result.events
    return [str(d) for d in events.loc[events.kind == "attack", "detail"]]


def test_the_open_relay_is_found_and_abused(open_run: RunResult) -> None:
    counts = open_run.summary["attack"]
    assert counts["open_relays_found"] == 1 and counts["relay_probes"] >= 16
    report = [d for d in attack_events(open_run) if "relayed" in d and "/" in d]
    assert any(d.startswith("spamhunter: ") and "/16 relayed" in d for d in report)
    assert counts["relayed_spam"] > 0.9 * 2 * 3 * HOUR  # 2/s from 1h to 4h, nearly all
    assert open_run.summary["queue_peak"]["mail.example.com"] > 1000
    assert open_run.summary["lost"] == 0


def test_after_the_listing_the_relays_legitimate_mail_is_refused(open_run: RunResult) -> None:
    events = open_run.events
    listed = events[events.kind == "listed"]
    assert len(listed) == 1 and listed.t.iloc[0] == pytest.approx(3 * HOUR, abs=60)
    counts = open_run.summary["attack"]
    assert counts["legit_rejected_due_to_blocklist"] > 10
    m = open_run.messages
    bounced = m[(m.fate == "bounced") & ~m.is_dsn & (m.origin == "mail.example.com")]
    blocked = bounced[bounced.reply.str.contains("blocked using bl.example", na=False)]
    assert len(blocked) and blocked.reply.iloc[0].startswith(
        "554 5.7.1 Service unavailable; Client host [198.51.100.25] blocked using bl.example"
    )


def test_closed_with_the_seeds_advice_nothing_happens(
    closed_run: RunResult, open_run: RunResult
) -> None:
    counts = closed_run.summary["attack"]
    assert counts.get("open_relays_found", 0) == 0 and counts.get("relayed_spam", 0) == 0
    assert any(d == "spamhunter: 0/16 relayed" for d in attack_events(closed_run))
    events = closed_run.events
    assert not (events.kind == "listed").any()
    assert closed_run.summary["queue_peak"]["mail.example.com"] < 20
    # The staff's mail is fast when closed, slowed down behind the spam when open.
    assert closed_run.summary["latency_p95_s"] < 60
    assert open_run.summary["latency_p95_s"] > 60
