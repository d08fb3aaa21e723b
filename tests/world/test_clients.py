"""Traffic: bursts on top of the Poisson stream, recipients drawn from user counts."""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter

import pandas as pd
import pytest

from sim.world.clients import Burst, Recipients, SourceSpec
from sim.world.engine import World, WorldSpec
from sim.world.mta import MtaSpec

MTA = MtaSpec("mx.example.com", "192.0.2.10", domains=("example.com", "other.org"))


def injected(*sources: SourceSpec, until: float = 4 * 3600, seed: int = 1) -> pd.DataFrame:
    spec = WorldSpec(mtas=(MTA,), sources=sources, sample_every=3600)
    events = World(spec, seed=seed).run(until=until).events
    return events[events.kind == "injected"].reset_index(drop=True)


def source(**kw: object) -> SourceSpec:
    fields: dict[str, object] = {
        "name": "list",
        "mta": "mx.example.com",
        "rate": 0.01,
        "sender": "news@x.org",
        "recipients": ("b@example.com",),
    }
    fields.update(kw)
    return SourceSpec(**fields)  # type: ignore[arg-type]


def test_a_burst_adds_its_count_uniformly_within_its_window() -> None:
    blast = source(rate=1e-9, bursts=(Burst(at=7200, count=500, over=60),))
    times = injected(blast).t
    assert len(times) == 500
    assert times.min() >= 7200 and times.max() < 7260
    assert statistics.mean(times) == pytest.approx(7230, abs=4)  # sd of the mean: 0.8 s
    per_10s = Counter(int((t - 7200) // 10) for t in times)
    assert sorted(per_10s) == list(range(6)) and min(per_10s.values()) > 50  # ~83 each


def test_a_burst_with_no_window_arrives_at_once() -> None:
    times = injected(source(rate=1e-9, bursts=(Burst(at=600, count=3),))).t
    assert list(times) == [600.0, 600.0, 600.0]


def test_bursts_come_on_top_and_leave_the_poisson_stream_alone() -> None:
    plain = injected(source(count=5))
    bursty = injected(source(count=5, bursts=(Burst(60, 20, 30), Burst(9000, 10, 5))))
    assert len(plain) == 5 and len(bursty) == 5 + 20 + 10  # count limits the Poisson part
    extra = Counter(bursty.t) - Counter(plain.t)
    assert not Counter(plain.t) - Counter(bursty.t)  # every Poisson arrival is unchanged
    assert sum(60 <= t < 90 for t in extra.elements()) == 20
    assert sum(9000 <= t < 9005 for t in extra.elements()) == 10


def test_bursts_are_seeded() -> None:
    blast = source(rate=1e-9, bursts=(Burst(100, 50, 600),))
    assert injected(blast, seed=3).equals(injected(blast, seed=3))
    assert not injected(blast, seed=3).t.equals(injected(blast, seed=4).t)


def test_recipients_drawn_from_user_counts_weigh_domains_by_users() -> None:
    recipients = Recipients(
        source(recipients=(), recipient_domains=(("example.com", 1000), ("other.org", 50)))
    )
    rng = random.Random(7)
    drawn = [recipients.draw(rng) for _ in range(21_000)]
    parsed = [re.fullmatch(r"user(\d+)@(.+)", r) for r in drawn]
    assert all(parsed)
    by_domain = Counter(m.group(2) for m in parsed if m)
    assert by_domain["other.org"] == pytest.approx(1000, rel=0.15)  # 21000 * 50/1050
    users = {(m.group(2), int(m.group(1))) for m in parsed if m}
    assert {u for d, u in users if d == "other.org"} == set(range(1, 51))  # all, no more
    assert min(u for _, u in users) == 1 and max(u for _, u in users) == 1000


def test_the_injected_messages_go_to_drawn_users() -> None:
    domains = (("example.com", 3), ("other.org", 1))
    events = injected(source(rate=0.05, recipients=(), recipient_domains=domains), until=7200)
    rcpts = Counter(detail.split(" -> ")[1] for detail in events.detail)
    assert set(rcpts) == {"user1@example.com", "user2@example.com", "user3@example.com"} | {
        "user1@other.org"
    }
    assert len(events) > 300


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"recipients": ()}, "exactly one .got neither."),
        ({"recipient_domains": (("example.com", 5),)}, "exactly one .got both."),
        ({"recipients": (), "recipient_domains": (("example.com", 0),)}, "needs >= 1 user"),
    ],
)
def test_a_source_names_its_recipients_one_way(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        source(**fields)


@pytest.mark.parametrize(
    ("burst", "message"),
    [
        ((-1.0, 5, 0.0), "at must be a time >= 0"),
        ((0.0, 0, 0.0), "count must be >= 1"),
        ((0.0, 5, -1.0), "over must be a duration >= 0"),
    ],
)
def test_bursts_validate(burst: tuple[float, int, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Burst(*burst)


def test_source_specs_stay_hashable() -> None:
    spec = source(recipients=(), recipient_domains=(("a.org", 2),), bursts=(Burst(1, 2, 3),))
    assert hash(spec) == hash(
        source(recipients=(), recipient_domains=(("a.org", 2),), bursts=(Burst(1, 2, 3),))
    )
