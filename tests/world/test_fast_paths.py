"""The shortcuts that make big runs cheap change nothing a user can see.

Replaying a remembered SMTP session must give the same records as playing it; keeping
fewer events (``events="sample"`` / ``"none"``) must not change a single summary count.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.commands.run import AUTO_ALL_LIMIT, choose_events
from sim.world.engine import SAMPLE_EVERY, FaultSpec, LinkSpec, SourceSpec, World, WorldSpec
from sim.world.ledger import ConservationError, Ledger
from sim.world.mta import MtaSpec
from sim.world.network import Latency
from tests.world.test_properties import worlds

ZONES = (
    ("example.com.zone", "$ORIGIN example.com.\n$TTL 300\n@ MX 10 mx\nmx A 192.0.2.10\n"),
    ("plain.net.zone", "$ORIGIN plain.net.\n$TTL 300\n@ MX 10 mx\nmx A 192.0.2.20\n"),
    ("other.org.zone", "$ORIGIN other.org.\n$TTL 300\n@ MX 10 mx.example.com.\n"),
)


def mixed_world() -> WorldSpec:
    """Deliveries, relay denials (other.org's MX does not relay for it), oversized
    messages, a TLS policy that refuses a host without STARTTLS, DSNs and a fault."""
    return WorldSpec(
        mtas=(
            MtaSpec("out.sender.org", "198.51.100.5", domains=("sender.org",)),
            MtaSpec("strict.sender.org", "198.51.100.6", tls_level="encrypt"),
            MtaSpec("mx.example.com", "192.0.2.10", domains=("example.com",), service_time=0.5),
            MtaSpec("mx.plain.net", "192.0.2.20", domains=("plain.net",), starttls=False),
        ),
        links=tuple(
            LinkSpec(host, "core", Latency(0.01))
            for host in ("out.sender.org", "strict.sender.org", "mx.example.com", "mx.plain.net")
        ),
        zones=ZONES,
        sources=(
            SourceSpec(
                "users",
                "out.sender.org",
                0.5,
                "alice@sender.org",
                ("bob@example.com", "carol@example.com", "dan@plain.net", "eve@other.org"),
                size=30_000_000,
                size_distribution="exponential",
            ),
            SourceSpec(
                "strict",
                "strict.sender.org",
                0.2,
                "ops@sender.org",
                ("bob@example.com", "dan@plain.net"),
            ),
        ),
        faults=(FaultSpec(900, "mx.example.com", 600),),
        sample_every=120,
    )


def test_replayed_sessions_give_the_same_records_as_played_ones() -> None:
    played = World(mixed_world(), seed=5, memoize=False).run(until=3600)
    replayed = World(mixed_world(), seed=5).run(until=3600)
    s = played.summary
    assert s["delivered"] > 500 and s["bounced"] > 50 and s["tls"]["defer"] > 50
    assert "554 5.7.1 <eve@other.org>: Relay access denied" in set(played.messages.reply)
    pd.testing.assert_frame_equal(played.events, replayed.events)
    pd.testing.assert_frame_equal(played.messages, replayed.messages)
    assert played.summary == replayed.summary
    assert played.transcripts == replayed.transcripts
    assert played.samples == replayed.samples


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=worlds(), seed=st.integers(0, 1000))
def test_memo_and_event_modes_never_change_the_counts(spec: WorldSpec, seed: int) -> None:
    full = World(spec, seed=seed, memoize=False).run(until=3600)
    for mode in ("all", "sample", "none"):
        other = World(spec, seed=seed, events=mode).run(until=3600)
        assert {**other.summary, "events": "all"} == full.summary
    assert World(spec, seed=seed).run(until=3600).events.equals(full.events)


def test_sample_and_none_keep_what_they_say() -> None:
    spec = mixed_world()
    everything = World(spec, seed=2).run(until=3600)
    sample = World(spec, seed=2, events="sample").run(until=3600)
    nothing = World(spec, seed=2, events="none").run(until=3600)
    kept = everything.events[
        (everything.events.msg_id % SAMPLE_EVERY == 0) | (everything.events.msg_id == 0)
    ]
    pd.testing.assert_frame_equal(sample.events, kept.reset_index(drop=True))
    assert set(sample.messages.msg_id) == {
        m for m in everything.messages.msg_id if m % SAMPLE_EVERY == 0
    }
    assert set(nothing.events.msg_id) == {0}  # only the fault's records
    assert set(nothing.events.kind) == {"fault_down", "fault_up"}
    assert nothing.messages.empty
    assert sample.summary["events"] == "sample" and nothing.summary["events"] == "none"
    assert sample.summary["latency_p95_s"] == everything.summary["latency_p95_s"]


def test_a_dropped_finished_entry_still_cannot_finish_twice() -> None:
    ledger = Ledger(keep=lambda msg_id: False)
    ledger.inject(1, 0.0)
    ledger.accept(1, 0.0, "a")
    ledger.deliver(1, 1.0, "b")
    assert ledger.entries == {}
    with pytest.raises(ConservationError, match="already final"):
        ledger.bounce(1, 2.0, "b", "550 no")
    with pytest.raises(ConservationError, match="injected twice"):
        ledger.inject(1, 3.0)
    assert ledger.reconcile(present=set())["delivered"] == 1


def test_inbound_slots_that_can_fill_up_make_sessions_wait() -> None:
    """Five senders x 4 slots against a receiver taking 2 sessions at a time."""
    senders = tuple(
        MtaSpec(f"s{i}.sender.org", f"198.51.100.{i + 1}", delivery_slots=4) for i in range(5)
    )
    receiver = MtaSpec(
        "mx.example.com", "192.0.2.10", domains=("example.com",), smtpd_slots=2, service_time=1.0
    )
    spec = WorldSpec(
        mtas=(*senders, receiver),
        links=tuple(LinkSpec(m.name, "mx.example.com", Latency(0.0)) for m in senders),
        zones=ZONES[:1],
        sources=tuple(
            SourceSpec(m.name, m.name, 1.0, "a@sender.org", ("b@example.com",)) for m in senders
        ),
        sample_every=10,
    )
    world = World(spec, seed=1)
    assert world.mtas["mx.example.com"].inbound_limited
    assert not any(world.mtas[m.name].inbound_limited for m in senders)
    result = world.run(until=600)
    peak = result.timeseries[result.timeseries.host == "mx.example.com"].inbound_sessions.max()
    assert peak == 2  # never more than its smtpd_slots, and it was saturated
    assert result.summary["queued_at_end"] > 100  # 5 msg/s offered, 2 msg/s served


def test_auto_keeps_everything_for_ordinary_runs_and_samples_huge_ones() -> None:
    spec = mixed_world()  # 0.7 messages/s
    assert choose_events("auto", spec, 3600) == "all"
    assert choose_events("auto", spec, AUTO_ALL_LIMIT / 0.7 * 1.1) == "sample"
    assert choose_events("none", spec, 3600) == "none"
