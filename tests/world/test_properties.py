"""Random small worlds: nothing is ever lost or delivered twice, and runs are repeatable."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.policy.retry_schedules import PostfixSchedule
from sim.world.attackers import SpammerSpec, StripperSpec
from sim.world.engine import FaultSpec, LinkSpec, SourceSpec, World, WorldSpec
from sim.world.mta import MtaSpec
from sim.world.network import Latency, LatencyKind
from sim.world.services import ServiceSpec

DOMAINS = ("a.example", "b.example", "c.example")


def zone(domain: str, mx_hosts: list[tuple[int, str]]) -> tuple[str, str]:
    lines = [f"$ORIGIN {domain}.", "$TTL 300"]
    lines += [f"@ IN MX {pref} {host}." for pref, host in mx_hosts]
    if not mx_hosts:
        lines.append("@ IN A 192.0.2.99")  # implicit MX to a host nobody runs
    lines += [f"{host.split('.')[0]} IN A 192.0.2.{10 + i}" for i, (_, host) in enumerate(mx_hosts)]
    return f"{domain}.zone", "\n".join(lines) + "\n"


@st.composite
def worlds(draw: st.DrawFn) -> WorldSpec:
    mtas = [
        MtaSpec(
            "out.sender.org",
            "198.51.100.5",
            retry=PostfixSchedule(
                maximal_queue_lifetime=draw(st.sampled_from([1800.0, 7200.0])),
                bounce_queue_lifetime=1800.0,
            ),
            domains=("sender.org",),
            tls_level=draw(st.sampled_from(["may", "encrypt", "verify"])),
        )
    ]
    zones = []
    services: list[ServiceSpec] = []
    links = [LinkSpec("out.sender.org", "core", Latency(0.01, LatencyKind.EXPONENTIAL))]
    for d_index, domain in enumerate(DOMAINS):
        hosts = []
        for h in range(draw(st.integers(0, 2))):
            name = f"mx{h}.{domain}"
            backup = h > 0 and draw(st.booleans())
            mtas.append(
                MtaSpec(
                    name,
                    f"192.0.{d_index + 2}.{10 + h}",
                    domains=() if backup else (domain,),
                    relay_domains=(domain,) if backup else (),
                    delivery_slots=draw(st.integers(1, 3)),
                    service_time=draw(st.sampled_from([0.0, 0.5])),
                    retry=PostfixSchedule(maximal_queue_lifetime=3600.0),
                    dnsbl=("bl.example",) if draw(st.booleans()) else (),
                    mailboxes=draw(st.sampled_from([None, 1])),
                )
            )
            links.append(LinkSpec(name, "core", Latency(0.005), loss=0.0))
            hosts.append((10 * (h + 1), name))
        if len(hosts) == 2 and draw(st.booleans()):
            # Both servers behind one name: a cluster (maybe sharing its queue) or a pool.
            pool = f"pool.{domain}"
            services.append(
                ServiceSpec(
                    pool,
                    tuple(h for _, h in hosts),
                    draw(st.sampled_from(["failover", "balance"])),
                    draw(st.booleans()),
                )
            )
            zones.append(zone(domain, [(10, pool)]))
        elif hosts or draw(st.booleans()):
            zones.append(zone(domain, hosts))
    names = [m.name for m in mtas]
    faults = tuple(
        FaultSpec(draw(st.floats(0, 1800)), draw(st.sampled_from(names)), draw(st.floats(60, 3600)))
        for _ in range(draw(st.integers(0, 3)))
    )
    recipients = (*tuple(f"user@{d}" for d in DOMAINS), "someone@sender.org")
    sources = (
        SourceSpec(
            "main",
            "out.sender.org",
            draw(st.sampled_from([0.05, 0.2])),
            "alice@sender.org",
            recipients,
        ),
        SourceSpec("bounces", "out.sender.org", 0.01, "", recipients),
    )
    spammers, strippers = [], []
    if draw(st.booleans()):  # a spammer: relay tests on the sender, or spam to an MX
        target = draw(st.sampled_from(names))
        spammers.append(
            SpammerSpec(
                "spammer",
                "203.0.113.66",
                (target,),
                tuple(recipients),
                rate=draw(st.sampled_from([0.05, 0.2])),
                at=draw(st.floats(0, 1800)),
                probe=draw(st.booleans()),
                blocklist="bl.example",
                listed_after=600.0,
            )
        )
    if draw(st.booleans()):  # a man in the middle on one of the links
        link = draw(st.sampled_from(links))
        attack = draw(st.sampled_from(["strip", "starttls-4xx", "intercept"]))
        strippers.append(StripperSpec("mitm", link.a, link.b, attack, at=draw(st.floats(0, 1800))))
    return WorldSpec(
        tuple(mtas),
        tuple(links),
        tuple(zones),
        sources,
        faults,
        sample_every=600,
        services=tuple(services),
        spammers=tuple(spammers),
        strippers=tuple(strippers),
    )


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=worlds(), seed=st.integers(0, 1000))
def test_conservation_and_determinism(spec: WorldSpec, seed: int) -> None:
    first = World(spec, seed=seed).run(until=3600)
    s = first.summary
    assert s["lost"] == 0
    assert s["accepted"] == s["delivered"] + s["bounced"] + s["expired"] + s["queued_at_end"]
    finals = first.events[first.events.kind.isin(["delivered", "bounced", "expired"])]
    assert not finals.msg_id.duplicated().any()  # nothing reaches two final states
    again = World(spec, seed=seed).run(until=3600)
    assert first.events.equals(again.events)
