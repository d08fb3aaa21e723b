"""Names that stand for several MTAs: failover clusters (shared queue or not), pools."""

from __future__ import annotations

import pytest

from sim.world.engine import FaultSpec, SourceSpec, World, WorldSpec
from sim.world.mta import MtaSpec
from sim.world.network import Latency, LinkSpec
from sim.world.services import ServiceSpec

ZONE = """$ORIGIN example.com.
$TTL 300
@ IN MX 10 mx.example.com.
mx IN A 192.0.2.10
"""


def cluster_world(*, shared_queue: bool) -> WorldSpec:
    """Sender -> mx.example.com (nodes a and b) -> store.example.com.

    The store is down for the first hour, so the active node (a) queues what arrives;
    node a dies at 30 min for 5 hours.
    """
    nodes = tuple(
        MtaSpec(
            f"node-{x}.example.com",
            f"192.0.2.1{i}",
            relay_domains=("example.com",),
            relayhost="store.example.com",
            connect_timeout=1.0,
        )
        for i, x in enumerate("ab")
    )
    mtas = (
        MtaSpec("out.sender.org", "198.51.100.5"),
        *nodes,
        MtaSpec("store.example.com", "192.0.2.30", domains=("example.com",)),
    )
    return WorldSpec(
        mtas=mtas,
        links=tuple(LinkSpec(m.name, "core", Latency(0.005)) for m in mtas),
        zones=(("example.com.zone", ZONE),),
        sources=(SourceSpec("users", "out.sender.org", 0.05, "a@sender.org", ("b@example.com",)),),
        faults=(
            FaultSpec(0.0, "store.example.com", 3600.0),
            FaultSpec(1800.0, "node-a.example.com", 5 * 3600.0),
        ),
        services=(
            ServiceSpec(
                "mx.example.com",
                ("node-a.example.com", "node-b.example.com"),
                "failover",
                shared_queue,
            ),
        ),
        sample_every=300,
    )


def first_half_hour(shared_queue: bool) -> tuple[float, int]:
    """Latest delivery time of the mail node a took before it died, and takeovers."""
    result = World(cluster_world(shared_queue=shared_queue), seed=2).run(until=8 * 3600)
    assert result.summary["lost"] == 0
    events = result.events
    accepted = events[(events.kind == "accepted") & (events.host != "out.sender.org")]
    on_a = accepted[(accepted.host == "node-a.example.com") & (accepted.t < 1800.0)]
    assert len(on_a) > 50
    while_dead = accepted[(accepted.t > 1800.0) & (accepted.t < 1800.0 + 5 * 3600.0)]
    assert set(while_dead.host) == {"node-b.example.com", "store.example.com"}
    back = accepted[(accepted.t > 1800.0 + 5 * 3600.0) & (accepted.host != "store.example.com")]
    assert set(back.host) == {"node-a.example.com"}  # the address fails back to a
    delivered = events[(events.kind == "delivered") & events.msg_id.isin(set(on_a.msg_id))]
    assert len(delivered) == len(on_a)
    return float(delivered.t.max()), int((events.kind == "taken_over").sum())


def test_a_shared_queue_lets_the_surviving_node_deliver_what_the_dead_one_held() -> None:
    latest, taken = first_half_hour(shared_queue=True)
    assert taken > 50
    assert 3600.0 < latest < 2 * 3600.0  # soon after the store came back


def test_without_a_shared_queue_the_dead_nodes_mail_waits_for_it() -> None:
    latest, taken = first_half_hour(shared_queue=False)
    assert taken == 0
    assert latest > 1800.0 + 5 * 3600.0  # only after node a came back


def test_a_pool_spreads_connections_and_skips_a_dead_member() -> None:
    members = tuple(
        MtaSpec(f"m{i}.example.com", f"192.0.2.{20 + i}", domains=("example.com",))
        for i in range(3)
    )
    mtas = (MtaSpec("out.sender.org", "198.51.100.5"), *members)
    spec = WorldSpec(
        mtas=mtas,
        links=tuple(LinkSpec(m.name, "core", Latency(0.005)) for m in mtas),
        zones=(("example.com.zone", ZONE),),
        sources=(SourceSpec("u", "out.sender.org", 0.5, "a@sender.org", ("b@example.com",)),),
        faults=(FaultSpec(3600.0, "m1.example.com", 3600.0),),
        services=(ServiceSpec("mx.example.com", tuple(m.name for m in members), "balance"),),
    )
    events = World(spec, seed=3).run(until=3 * 3600).events
    delivered = events[events.kind == "delivered"]
    before = delivered[delivered.t < 3600].host.value_counts()
    assert before.max() - before.min() <= 1 and len(before) == 3  # round-robin
    during = delivered[(delivered.t > 3600) & (delivered.t < 7200)].host.value_counts()
    assert set(during.index) == {"m0.example.com", "m2.example.com"}


def test_a_service_must_name_real_members_and_a_name_of_its_own() -> None:
    spec = cluster_world(shared_queue=True)
    bad = WorldSpec(spec.mtas, services=(ServiceSpec("mx.example.com", ("nobody",)),))
    with pytest.raises(ValueError, match="unknown member 'nobody'"):
        World(bad)
    clash = WorldSpec(
        spec.mtas, services=(ServiceSpec("store.example.com", ("node-a.example.com",)),)
    )
    with pytest.raises(ValueError, match="already an MTA"):
        World(clash)
