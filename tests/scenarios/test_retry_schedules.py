"""scenarios/retry-schedules.yaml: five schedules against one 12-hour outage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim import load_scenario, run
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "retry-schedules.yaml"
HOUR, DAY = 3600.0, 86400.0


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_scenario(SCENARIO))


def originals(result: RunResult) -> pd.DataFrame:
    m = result.messages
    return m[~m.is_dsn.astype(bool)]


def test_every_message_is_delivered_after_recovery_or_expires(result: RunResult) -> None:
    s = result.summary
    assert s["lost"] == 0 and s["queued_at_end"] == 0
    m = originals(result)
    assert set(m.fate) == {"delivered", "expired"}
    dead = m[m.reply.str.contains("mx.dead.example", na=False)]
    assert (dead.fate == "expired").all() and len(dead) == s["expired"] > 20
    assert s["dsn_sent"] >= s["expired"]  # each expiry returned to its sender


def test_exim_retries_more_often_than_postfix_early_on(result: RunResult) -> None:
    events, m = result.events, originals(result)
    injected = m.set_index("msg_id").injected_at
    deferred = events[events.kind == "deferred"].copy()
    deferred["age"] = deferred.t.to_numpy() - injected.reindex(deferred.msg_id).to_numpy()
    early = deferred[deferred.age <= 2 * HOUR].groupby("msg_id").size()
    origin = m.set_index("msg_id").origin
    per_sender = early.groupby(origin.reindex(early.index)).median()
    assert per_sender["exim.org"] >= 8  # every 15 minutes
    assert per_sender["postfix.net"] <= 6  # 5, 10, 20, 40, 80 minutes
    assert per_sender["exim.org"] > per_sender["postfix.net"]
    assert per_sender["rfc.example"] <= 4  # every 30 minutes at best


def test_after_recovery_each_schedule_delivers_at_its_own_pace(result: RunResult) -> None:
    m = originals(result)
    delivered = m[m.fate == "delivered"]
    last = delivered.groupby("origin").final_at.max()
    first = delivered.groupby("origin").final_at.min()
    assert (first >= 12 * HOUR).all()  # nothing before the server is back
    assert last["postfix.net"] <= 12 * HOUR + 4000 + 300 + 60  # backoff cap + one scan
    assert last["exim.org"] > last["postfix.net"] + HOUR  # G rule: hours apart by then
    assert last["table.io"] > last["postfix.net"] + HOUR  # 4-hour steps by then


def test_bounces_come_at_each_schedules_queue_lifetime(result: RunResult) -> None:
    m = originals(result)
    expired = m[m.fate == "expired"]
    age = (expired.final_at - expired.injected_at).groupby(expired.origin)
    lo, hi = age.min() / DAY, age.max() / DAY
    assert lo["exim.org"] >= 4.0 and hi["exim.org"] < 4.3  # F,4d,6h: next try after 4 d
    for sender in ("postfix.net", "rfc.example", "table.io"):
        assert lo[sender] >= 5.0 and hi[sender] < 5.3
    assert lo["qmail.com"] >= 7.0 and hi["qmail.com"] < 7.2  # queuelifetime 7 d
