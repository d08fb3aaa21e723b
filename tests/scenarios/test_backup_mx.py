"""scenarios/backup-mx/*.yaml: the seed's four backup-MX architectures, one outage.

Each file: three ISPs send 30 messages a minute to example.com; the mailbox server is
in maintenance from 45m to 1h15m and the gateway that normally takes the mail is down
from 1h to 5h.  Runs stop at 7h to keep the suite short.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.compare import Comparison, compare, waiting_hours

FOLDER = Path(__file__).resolve().parents[2] / "scenarios" / "backup-mx"
NAMES = ("store-and-forward", "failover-cluster", "cloud-backup", "load-balanced-pool")


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    return compare({name: FOLDER / f"{name}.yaml" for name in NAMES}, until=7 * 3600)


def latencies(comparison: Comparison, name: str) -> pd.Series:
    m = comparison.results[name].messages
    m = m[(m.fate == "delivered") & ~m.is_dsn]
    return (m.final_at - m.injected_at).astype(float)


def test_nothing_is_lost_anywhere(comparison: Comparison) -> None:
    table = comparison.table()
    assert list(table.index) == list(NAMES)
    assert (table.lost == 0).all() and (table.delivered > 12_000).all()


def test_store_and_forward_queues_on_the_backup_and_drains_after_recovery(
    comparison: Comparison,
) -> None:
    result = comparison.results["store-and-forward"]
    assert result.summary["queue_peak"]["mx2.example.com"] > 6000
    waited = waiting_hours(result)
    assert waited.index[0] == "mx2.example.com"
    assert latencies(comparison, "store-and-forward").quantile(0.95) > 3 * 3600
    # What mx1 held when it died waits for mx1 itself: delivered after 5h.
    events = result.events
    held = events[(events.kind == "accepted") & (events.host == "mx1.example.com")]
    held = held[(held.t > 45 * 60) & (held.t < 3600)]
    done = events[(events.kind == "delivered") & events.msg_id.isin(set(held.msg_id))]
    assert len(held) > 100 and done.t.min() > 5 * 3600


def test_a_failover_cluster_with_a_shared_queue_barely_notices(
    comparison: Comparison,
) -> None:
    result = comparison.results["failover-cluster"]
    events = result.events
    assert (events.kind == "taken_over").sum() > 100  # node-a's queue, delivered by node-b
    late = latencies(comparison, "failover-cluster")
    assert late.max() < 3600 and late.quantile(0.9) < 60  # > 90 %: the maintenance
    sf = waiting_hours(comparison.results["store-and-forward"]).sum()
    assert waiting_hours(result).sum() < 0.05 * sf


def test_the_cloud_backup_holds_the_backlog_and_drains_on_its_own_schedule(
    comparison: Comparison,
) -> None:
    result = comparison.results["cloud-backup"]
    assert waiting_hours(result).index[0] == "backup.mxcloud.net"
    assert result.summary["queue_peak"]["backup.mxcloud.net"] > 6000

    # Exim's rule retries the youngest mail every 15 min (F,2h,15m) but the oldest an
    # hour and more apart (G,16h,1h,1.5): most leaves soon after 5h, the tail lasts
    # longer than under Postfix's back-off capped at 4000 s.
    def empty_after_recovery(name: str, host: str) -> float:
        ts = comparison.results[name].timeseries
        queued = ts[(ts.host == host) & (ts.t > 5 * 3600)].set_index("t").queued
        return float(queued[queued == 0].index.min())

    cloud = empty_after_recovery("cloud-backup", "backup.mxcloud.net")
    own = empty_after_recovery("store-and-forward", "mx2.example.com")
    assert cloud > own + 900


def test_a_load_balanced_pool_strands_only_what_the_dead_gateway_held(
    comparison: Comparison,
) -> None:
    result = comparison.results["load-balanced-pool"]
    late = latencies(comparison, "load-balanced-pool")
    assert late.quantile(0.9) < 60  # new mail goes to gw2 at once
    assert late.max() > 3.5 * 3600  # gw1's queue waited for gw1
    stranded = (late > 3.5 * 3600).sum()
    assert 50 < stranded < 600  # about half of the 15 minutes of mail held in maintenance
    during = result.events[
        (result.events.kind == "accepted") & result.events.t.between(3600, 5 * 3600)
    ]
    assert "gw1.example.com" not in set(during.host)
