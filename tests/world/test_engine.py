"""Small seeded worlds: failover through a backup MX, conservation, determinism, Erlang C."""

from __future__ import annotations

import email.policy
import math
import statistics
from email import message_from_bytes

import pytest
from flufl.bounce import all_failures

from sim.policy.mx import AnswerKind
from sim.policy.retry_schedules import PostfixSchedule
from sim.world.engine import FaultSpec, LinkSpec, SourceSpec, World, WorldSpec
from sim.world.ledger import ConservationError, Ledger
from sim.world.mta import MtaSpec
from sim.world.network import Latency

ZONE = """$ORIGIN example.com.
$TTL 300
@ IN MX 10 mx1.example.com.
@ IN MX 20 mx2.example.com.
mx1 IN A 192.0.2.10
mx2 IN A 192.0.2.20
"""


def failover_world(*, outage: float = 2 * 3600, rate: float = 0.05) -> WorldSpec:
    return WorldSpec(
        mtas=(
            MtaSpec("out.sender.org", "198.51.100.5", connect_timeout=5.0),
            MtaSpec("mx1.example.com", "192.0.2.10", domains=("example.com",)),
            MtaSpec(
                "mx2.example.com", "192.0.2.20", relay_domains=("example.com",), connect_timeout=5.0
            ),
            MtaSpec("router", "203.0.113.1"),
        ),
        links=(
            LinkSpec("out.sender.org", "router", Latency(0.02)),
            LinkSpec("mx1.example.com", "router", Latency(0.01)),
            LinkSpec("mx2.example.com", "router", Latency(0.01)),
        ),
        zones=(("example.com.zone", ZONE),),
        sources=(
            SourceSpec("users", "out.sender.org", rate, "alice@sender.org", ("bob@example.com",)),
        ),
        faults=(FaultSpec(1800, "mx1.example.com", outage),),
        sample_every=300,
    )


def test_backup_mx_holds_mail_while_the_primary_is_down() -> None:
    result = World(failover_world(), seed=3).run(until=8 * 3600)
    s = result.summary
    assert s["lost"] == 0
    assert s["delivered"] == s["accepted"] > 100
    assert s["queued_at_end"] == 0
    ts = result.timeseries.pivot(index="t", columns="host", values="queued")
    during = ts.loc[(ts.index > 1800 + 600) & (ts.index < 1800 + 7200)]
    # Within one maximal_backoff_time (4000 s) of the primary's return, all is delivered.
    after = ts.loc[ts.index > 1800 + 7200 + 4000 + 300]
    assert during["mx2.example.com"].max() > 10  # the backup queues while mx1 is down
    assert after["mx2.example.com"].max() == 0  # and drains once it is back
    relayed = result.events[result.events.kind == "relayed"]
    assert (relayed.detail == "to mx2.example.com").sum() > 10


def test_same_seed_same_events_different_seed_different_traffic() -> None:
    a = World(failover_world(), seed=5).run(until=4 * 3600).events
    b = World(failover_world(), seed=5).run(until=4 * 3600).events
    c = World(failover_world(), seed=6).run(until=4 * 3600).events
    assert a.equals(b)
    assert not a.equals(c)


def test_bounce_to_a_dead_domain_returns_one_dsn_and_never_bounces_a_bounce() -> None:
    spec = WorldSpec(
        mtas=(
            MtaSpec(
                "out.sender.org",
                "198.51.100.5",
                domains=("sender.org",),
                retry=PostfixSchedule(maximal_queue_lifetime=3600, bounce_queue_lifetime=3600),
            ),
        ),
        zones=(("example.com.zone", ZONE),),
        sources=(
            SourceSpec(
                "one", "out.sender.org", 1.0, "alice@sender.org", ("x@example.com",), count=1
            ),
            SourceSpec("bounce", "out.sender.org", 1.0, "", ("y@example.com",), count=1),
        ),
    )
    result = World(spec, seed=1).run(until=4 * 3600)
    s = result.summary
    assert s["expired"] == 2
    assert s["dsn_sent"] == 1 and s["dsn_suppressed"] == 1
    assert s["delivered"] == 1  # the DSN reached alice's local mailbox
    assert s["lost"] == 0
    (name,) = [n for n in result.samples if n.startswith("dsn-")]
    dsn = message_from_bytes(result.samples[name], policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert "x@example.com" in result.samples[name].decode()
    assert all_failures(message_from_bytes(result.samples[name])) == (set(), {b"x@example.com"})


def test_the_ledger_refuses_to_lose_or_double_count() -> None:
    ledger = Ledger()
    ledger.inject(1, 0.0)
    ledger.accept(1, 0.0, "a")
    with pytest.raises(ConservationError):
        ledger.reconcile(present=set())  # queued in the ledger, held by nobody: lost
    ledger.deliver(1, 1.0, "b")
    with pytest.raises(ConservationError):
        ledger.deliver(1, 2.0, "b")
    assert ledger.reconcile(present=set())["delivered"] == 1


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def test_queue_wait_matches_erlang_c() -> None:
    """scenarios/capacity-mmc.yaml is M/M/4 with lambda = 3.5/s, mean service 1 s:
    Erlang C gives Wq = 1.476 s (queueing.md); replications must agree."""
    from pathlib import Path

    from sim.scenario import load_scenario

    assert erlang_c_wait(3.5, 1.0, 4) == pytest.approx(1.476, abs=0.001)
    path = Path(__file__).resolve().parents[2] / "scenarios" / "capacity-mmc.yaml"
    spec = load_scenario(path, overrides=["sample_every=3600s"]).to_world_spec()
    means = []
    for seed in range(6):
        result = World(spec, seed=seed).run(until=1500)
        waits = result.queue_waits
        waits = waits[(waits.host == "sender") & (waits.t > 300)]  # warm-up removed
        means.append(float(waits.wait.mean()))
    mean = sum(means) / len(means)
    half_width = 2.571 * statistics.stdev(means) / math.sqrt(len(means))  # t(0.975, 5)
    assert abs(mean - 1.476) < max(half_width, 0.05), (mean, half_width, means)


def tls_world(level: str, *, starttls: bool = True, certificate: str = "valid") -> WorldSpec:
    return WorldSpec(
        mtas=(
            MtaSpec("out.sender.org", "198.51.100.5", tls_level=level),
            MtaSpec(
                "mx1.example.com",
                "192.0.2.10",
                domains=("example.com",),
                starttls=starttls,
                certificate=certificate,
            ),
            MtaSpec("mx2.example.com", "192.0.2.20", relay_domains=("example.com",)),
        ),
        links=(
            LinkSpec("out.sender.org", "mx1.example.com", Latency(0.01)),
            LinkSpec("out.sender.org", "mx2.example.com", Latency(0.01)),
        ),
        zones=(("example.com.zone", ZONE.replace("@ IN MX 20 mx2.example.com.\n", "")),),
        sources=(SourceSpec("u", "out.sender.org", 0.05, "a@sender.org", ("b@example.com",)),),
    )


@pytest.mark.parametrize(
    ("level", "starttls", "certificate", "expected"),
    [
        ("may", True, "valid", "tls-unauthenticated"),
        ("may", False, "valid", "plaintext"),
        ("encrypt", False, "valid", "defer"),
        ("verify", True, "valid", "tls-pkix"),
        ("verify", True, "self-signed", "defer"),
        ("secure", True, "wrong-name", "defer"),
    ],
)
def test_the_tls_policy_decides_each_connection(
    level: str, starttls: bool, certificate: str, expected: str
) -> None:
    result = World(tls_world(level, starttls=starttls, certificate=certificate), seed=1).run(
        until=1800
    )
    assert set(result.summary["tls"]) == {expected}
    if expected == "defer":
        assert result.summary["delivered"] == 0 and result.summary["queued_at_end"] > 0
    else:
        assert result.summary["delivered"] > 0
    header = next(iter(v for k, v in result.samples.items() if k.startswith("msg-")), b"")
    if expected.startswith("tls"):
        assert b"with ESMTPS" in header and b"TLSv1.3" in header


def test_a_delay_warning_is_a_real_delayed_dsn() -> None:
    spec = WorldSpec(
        mtas=(
            MtaSpec(
                "out.sender.org",
                "198.51.100.5",
                domains=("sender.org",),
                retry=PostfixSchedule(delay_warning_time=1800, maximal_queue_lifetime=86400),
            ),
        ),
        zones=(("example.com.zone", ZONE),),
        sources=(
            SourceSpec(
                "one", "out.sender.org", 1.0, "alice@sender.org", ("x@example.com",), count=1
            ),
        ),
    )
    result = World(spec, seed=1).run(until=3 * 3600)
    (name,) = [n for n in result.samples if n.startswith("delay-")]
    notice = message_from_bytes(result.samples[name], policy=email.policy.default)
    assert notice.get_content_type() == "multipart/report"
    assert b"Action: delayed" in result.samples[name]
    assert result.summary["queued_at_end"] == 1  # the message itself is still trying
    assert result.summary["lost"] == 0


def test_an_announced_size_over_the_receivers_limit_bounces() -> None:
    spec = failover_world()
    big = SourceSpec(
        "big", "out.sender.org", 0.01, "alice@sender.org", ("bob@example.com",), size=50_000_000
    )
    spec = WorldSpec(spec.mtas, spec.links, spec.zones, (big,), (), 300)
    result = World(spec, seed=2).run(until=3600)
    assert result.summary["bounced"] > 0
    assert "552 5.3.4 Message size exceeds fixed limit" in set(result.messages.reply)


def test_a_resolver_fault_defers_and_never_bounces() -> None:
    spec = failover_world(outage=1.0)
    dns_fault = FaultSpec(600, "out.sender.org", 1800, dns="servfail")
    spec = WorldSpec(spec.mtas, spec.links, spec.zones, spec.sources, (dns_fault,), 300)
    result = World(spec, seed=3).run(until=4 * 3600)
    s = result.summary
    assert s["bounced"] == 0 and s["expired"] == 0 and s["lost"] == 0
    deferred = result.events[result.events.kind == "deferred"]
    # Cached answers keep mail flowing for one TTL (300 s), then lookups fail: 4.4.3.
    assert (deferred.t > 600 + 300).any() and (deferred.t < 600 + 1800 + 300).all()
    assert deferred.detail.str.contains("4.4.3").all()
    assert s["delivered"] + s["queued_at_end"] == s["accepted"]


def test_resolvers_cache_answers_for_their_ttl() -> None:
    import dns.name
    import dns.rdatatype

    from sim.policy.mx import Query
    from sim.policy.zones import ZoneSet
    from sim.world.dns import Resolver

    resolver = Resolver(ZoneSet.from_texts([("example.com.zone", ZONE)]))
    q = Query(dns.name.from_text("example.com."), dns.rdatatype.MX)
    first = resolver.lookup(q, 0.0)
    resolver.failing = AnswerKind.SERVFAIL
    assert resolver.lookup(q, 299.0) is first  # still cached
    assert resolver.lookup(q, 301.0).kind is AnswerKind.SERVFAIL  # expired, and failing
    nx = Query(dns.name.from_text("nope.example.com."), dns.rdatatype.MX)
    resolver.failing = None
    assert resolver.lookup(nx, 400.0).kind is AnswerKind.NXDOMAIN
    assert resolver.hits == 1


def test_two_messages_through_a_short_outage_record_by_record() -> None:
    """The exact event log of a tiny failover: primary down, backup queues, Postfix
    back-off puts both retries on the same queue-scan grid point (750 s)."""
    base = failover_world()
    source = SourceSpec(
        "u", "out.sender.org", 0.01, "alice@sender.org", ("bob@example.com",), count=2
    )
    spec = WorldSpec(
        base.mtas,
        base.links,
        base.zones,
        (source,),
        (FaultSpec(0.0, "mx1.example.com", 400.0),),
        300,
    )
    events = World(spec, seed=7).run(until=3600).events
    got = [
        (round(t, 3), kind, host, msg) for t, kind, host, msg, _ in events.itertuples(index=False)
    ]
    assert got == [
        (0.0, "fault_down", "mx1.example.com", 0),
        (244.382, "injected", "", 1),
        (244.382, "accepted", "out.sender.org", 1),
        (244.382, "connect_failed", "out.sender.org", 1),
        (249.922, "relayed", "out.sender.org", 1),
        (249.922, "accepted", "mx2.example.com", 1),
        (249.922, "connect_failed", "mx2.example.com", 1),
        (254.922, "deferred", "mx2.example.com", 1),
        (262.591, "injected", "", 2),
        (262.591, "accepted", "out.sender.org", 2),
        (262.591, "connect_failed", "out.sender.org", 2),
        (268.131, "relayed", "out.sender.org", 2),
        (268.131, "accepted", "mx2.example.com", 2),
        (268.131, "connect_failed", "mx2.example.com", 2),
        (273.131, "deferred", "mx2.example.com", 2),
        (400.0, "fault_up", "mx1.example.com", 0),
        (750.36, "relayed", "mx2.example.com", 1),
        (750.36, "accepted", "mx1.example.com", 1),
        (750.36, "delivered", "mx1.example.com", 1),
        (750.36, "relayed", "mx2.example.com", 2),
        (750.36, "accepted", "mx1.example.com", 2),
        (750.36, "delivered", "mx1.example.com", 2),
    ]


def test_destination_concurrency_limits_sessions_per_domain() -> None:
    def world(limit: int) -> WorldSpec:
        return WorldSpec(
            mtas=(
                MtaSpec("sender", "198.51.100.5", delivery_slots=20, destination_concurrency=limit),
                MtaSpec("mx.example.com", "192.0.2.10", domains=("example.com",), service_time=1.0),
            ),
            links=(LinkSpec("sender", "mx.example.com", Latency(0.0)),),
            zones=(
                (
                    "example.com.zone",
                    "$ORIGIN example.com.\n$TTL 300\n@ MX 10 mx\nmx A 192.0.2.10\n",
                ),
            ),
            sources=(SourceSpec("p", "sender", 1.5, "a@sender.org", ("b@example.com",)),),
            sample_every=3600,
        )

    narrow = World(world(2), seed=1).run(until=600).summary["queue_wait_mean_s"]
    wide = World(world(20), seed=1).run(until=600).summary["queue_wait_mean_s"]
    assert wide < 0.01 < 0.3 < narrow  # M/M/2 at rho 0.75 waits, M/M/20 hardly ever


def test_diurnal_traffic_and_exponential_sizes() -> None:
    spec = WorldSpec(
        mtas=(MtaSpec("mx.example.com", "192.0.2.10", domains=("example.com",)),),
        sources=(
            SourceSpec(
                "day",
                "mx.example.com",
                0.05,
                "a@x.org",
                ("b@example.com",),
                size=10_000,
                profile="diurnal",
                size_distribution="exponential",
            ),
        ),
        sample_every=3600,
    )
    result = World(spec, seed=1).run(until=24 * 3600)
    injected = result.events[result.events.kind == "injected"].t
    afternoon = ((injected >= 4.5 * 3600) & (injected < 5.5 * 3600)).sum()  # 13:30-14:30
    night = ((injected >= 16.5 * 3600) & (injected < 17.5 * 3600)).sum()  # 01:30-02:30
    assert afternoon > 4 * night  # 1.8x vs 0.2x the mean rate
    assert abs(len(injected) - 0.05 * 24 * 3600) < 0.1 * 0.05 * 24 * 3600  # mean rate kept
    sizes = [int(line.split(b"(")[1].split(b" ")[0]) for line in result.samples.values()]
    assert sizes and len(set(sizes)) == len(sizes)  # drawn, not fixed


def test_message_size_limit_is_a_field_of_the_receiver() -> None:
    spec = failover_world()
    small = tuple(
        MtaSpec(m.name, m.address, domains=m.domains, message_size_limit=1_000_000)
        if m.name == "mx1.example.com"
        else m
        for m in spec.mtas
    )
    sizes = SourceSpec(
        "mixed",
        "out.sender.org",
        0.05,
        "alice@sender.org",
        ("bob@example.com",),
        size=900_000,
        size_distribution="exponential",
    )
    result = World(WorldSpec(small, spec.links, spec.zones, (sizes,), (), 300), seed=5).run(
        until=2 * 3600
    )
    messages = result.messages[~result.messages.is_dsn]
    bounced = messages[messages.fate == "bounced"]
    assert 0 < len(bounced) < len(messages) / 2  # only those over 1 MB
    assert set(bounced.reply) == {"552 5.3.4 Message size exceeds fixed limit"}
