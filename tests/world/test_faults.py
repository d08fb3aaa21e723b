"""Faults that change the world rather than break it: an MX moved, a certificate expired."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.errors import InputError
from sim.world.engine import FaultSpec, LinkSpec, SourceSpec, World, WorldSpec
from sim.world.faults import infer_kind
from sim.world.mta import MtaSpec
from sim.world.network import Latency

TTL = 3600
OLD = f"$ORIGIN example.com.\n$TTL {TTL}\n@ MX 10 mx1\nmx1 A 192.0.2.10\nmx2 A 192.0.2.20\n"
NEW = OLD.replace("@ MX 10 mx1", "@ MX 10 mx2")
CHANGE = 5000.0


def moved_mx_world(*, down_for: float | None = None) -> WorldSpec:
    """``sender`` mails example.com all along; ``late`` starts only after the change."""
    return WorldSpec(
        mtas=(
            MtaSpec("sender", "198.51.100.5"),
            MtaSpec("late", "198.51.100.6"),
            MtaSpec("mx1.example.com", "192.0.2.10", domains=("example.com",)),
            MtaSpec("mx2.example.com", "192.0.2.20", domains=("example.com",)),
        ),
        links=tuple(
            LinkSpec(a, b, Latency(0.01))
            for a in ("sender", "late")
            for b in ("mx1.example.com", "mx2.example.com")
        ),
        zones=(("example.com.zone", OLD),),
        sources=(
            SourceSpec("u", "sender", 0.02, "a@sender.org", ("b@example.com",)),
            SourceSpec("v", "late", 0.02, "c@late.org", ("d@example.com",), start=CHANGE + 60),
        ),
        faults=(FaultSpec(CHANGE, zone="example.com", zone_text=NEW, down_for=down_for),),
        sample_every=3600,
    )


def accepted_at(result_messages: pd.DataFrame, host: str) -> pd.Series:
    delivered = result_messages[result_messages.fate == "delivered"]
    return delivered[delivered.host == host].accepted_at


def first_lookup(events: pd.DataFrame, host: str) -> float:
    """When ``host`` first resolved example.com: its first message's acceptance."""
    accepted = events[(events.kind == "accepted") & (events.host == host)]
    return float(accepted.t.min())


def test_a_moved_mx_reaches_a_caching_sender_one_ttl_later() -> None:
    result = World(moved_mx_world(), seed=1).run(until=4 * 3600)
    assert result.summary["lost"] == 0
    events, messages = result.events, result.messages
    sender_ids = set(events[(events.kind == "accepted") & (events.host == "sender")].msg_id)
    mine = messages[messages.msg_id.isin(sender_ids)]
    old, new = accepted_at(mine, "mx1.example.com"), accepted_at(mine, "mx2.example.com")
    # The resolver cached the MX at the first message and refreshes every TTL after:
    # the refresh after the change is the first one at or after first + 2 * TTL.
    expiry = first_lookup(events, "sender") + 2 * TTL
    assert CHANGE < expiry < CHANGE + TTL
    assert (old > CHANGE).any()  # the old MX, still cached, kept getting mail
    assert old.max() < expiry <= new.min()  # then every message went to the new one
    assert len(new) > 10


def test_a_resolver_that_asks_after_the_change_sees_the_new_mx_at_once() -> None:
    result = World(moved_mx_world(), seed=1).run(until=4 * 3600)
    events, messages = result.events, result.messages
    late_ids = set(events[(events.kind == "accepted") & (events.host == "late")].msg_id)
    hosts = set(messages[messages.msg_id.isin(late_ids) & (messages.fate == "delivered")].host)
    assert hosts == {"mx2.example.com"}


def test_a_temporary_mx_change_is_undone_and_logged_like_an_outage() -> None:
    result = World(moved_mx_world(down_for=2 * TTL), seed=1).run(until=6 * 3600)
    events = result.events
    faults = events[events.kind.isin(["fault_down", "fault_up"])]
    assert list(faults.itertuples(index=False, name=None)) == [
        (CHANGE, "fault_down", "example.com", 0, "mx_change"),
        (CHANGE + 2 * TTL, "fault_up", "example.com", 0, "mx_change"),
    ]
    late_ids = set(events[(events.kind == "accepted") & (events.host == "late")].msg_id)
    late = result.messages[result.messages.msg_id.isin(late_ids)]
    back = accepted_at(late, "mx1.example.com")
    # ``late`` first asked after the change; it returns to mx1 within one TTL of the undo.
    assert back.min() > CHANGE + 2 * TTL
    assert (accepted_at(late, "mx2.example.com") < CHANGE + 3 * TTL).all()
    assert (back > CHANGE + 3 * TTL).any()


def test_an_mx_change_is_checked_when_the_world_is_built() -> None:
    spec = moved_mx_world()
    bad_origin = FaultSpec(1.0, zone="example.org", zone_text=NEW)
    with pytest.raises(ValueError, match=r"origin is example\.com\."):
        World(WorldSpec(spec.mtas, spec.links, spec.zones, faults=(bad_origin,)))
    other = FaultSpec(1.0, zone="example.org", zone_text="$TTL 60\n@ MX 0 .\n")
    with pytest.raises(ValueError, match=r"example\.org: no such zone is loaded"):
        World(WorldSpec(spec.mtas, spec.links, spec.zones, faults=(other,)))
    broken = FaultSpec(1.0, zone="example.com", zone_text="$TTL 60\n@ MX ten mx1\n")
    with pytest.raises(InputError, match=r"example.com.zone:2:"):
        World(WorldSpec(spec.mtas, spec.links, spec.zones, faults=(broken,)))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"host": "mx1"}, "a host fault needs down_for"),
        ({"host": "mx1", "peer": "r"}, "a link fault needs down_for"),
        ({"zone": "example.com"}, "needs zone .an origin. and zone_text"),
        ({"zone": "example.com", "zone_text": NEW, "host": "mx1"}, "concerns a zone"),
        ({"host": "mx1", "certificate": "stolen"}, "certificate must be one of valid"),
        ({"certificate": "expired"}, "a certificate fault needs a host"),
        ({"host": "mx1", "down_for": 0.0}, "down_for must be > 0"),
    ],
)
def test_fault_specs_validate(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSpec(10.0, **fields)  # type: ignore[arg-type]


def test_the_kind_follows_from_the_fields() -> None:
    assert FaultSpec(1, "a", 5).kind == "host"
    assert FaultSpec(1, "a", 5, peer="b").kind == "link"
    assert FaultSpec(1, "a", 5, dns="timeout").kind == "dns"
    assert FaultSpec(1, "a", certificate="expired").kind == "certificate"
    assert FaultSpec(1, zone="x.org", zone_text="$TTL 1\n@ MX 0 .\n").kind == "mx_change"
    assert infer_kind(zone=True, certificate=True, dns=True, peer=True) == "mx_change"


# -- certificates ---------------------------------------------------------------------------

EXPIRES, RENEWED = 1800.0, 3600.0


def certificate_world(level: str, *, down_for: float | None = RENEWED - EXPIRES) -> WorldSpec:
    return WorldSpec(
        mtas=(
            MtaSpec("out.sender.org", "198.51.100.5", tls_level=level),
            MtaSpec("mx1.example.com", "192.0.2.10", domains=("example.com",)),
        ),
        links=(LinkSpec("out.sender.org", "mx1.example.com", Latency(0.01)),),
        zones=(("example.com.zone", OLD.replace("$TTL 3600", "$TTL 300")),),
        sources=(SourceSpec("u", "out.sender.org", 0.02, "a@sender.org", ("b@example.com",)),),
        faults=(FaultSpec(EXPIRES, "mx1.example.com", down_for, certificate="expired"),),
        sample_every=3600,
    )


def kinds_between(events: pd.DataFrame, kind: str, lo: float, hi: float) -> int:
    chosen = events[(events.kind == kind) & (events.t >= lo) & (events.t < hi)]
    return len(chosen)


@pytest.mark.parametrize("level", ["verify", "secure"])
def test_a_verifying_sender_defers_while_the_certificate_is_expired(level: str) -> None:
    result = World(certificate_world(level), seed=2).run(until=3 * 3600)
    events, s = result.events, result.summary
    assert kinds_between(events, "relayed", 0, EXPIRES) > 10
    assert kinds_between(events, "relayed", EXPIRES, RENEWED) == 0
    deferrals = events[events.kind == "tls_defer"]
    assert len(deferrals) > 10
    assert deferrals.t.between(EXPIRES, RENEWED, inclusive="left").all()
    # After renewal the queue drains (Postfix backs off at most 4000 s).
    assert s["queued_at_end"] == 0 and s["lost"] == 0 and s["bounced"] == 0
    waited = result.messages[(result.messages.injected_at > EXPIRES + 60)]
    waited = waited[waited.injected_at < RENEWED]
    assert (waited.final_at > RENEWED).all() and (waited.fate == "delivered").all()
    faults = events[events.kind.str.startswith("fault")]
    assert list(faults.itertuples(index=False, name=None)) == [
        (EXPIRES, "fault_down", "mx1.example.com", 0, "certificate expired"),
        (RENEWED, "fault_up", "mx1.example.com", 0, "certificate expired"),
    ]


def test_an_opportunistic_sender_keeps_delivering_through_an_expired_certificate() -> None:
    result = World(certificate_world("may"), seed=2).run(until=3 * 3600)
    events = result.events
    assert kinds_between(events, "relayed", EXPIRES, RENEWED) > 10
    assert kinds_between(events, "tls_defer", 0, 3 * 3600) == 0
    assert result.summary["queued_at_end"] == 0


def test_a_certificate_that_is_never_renewed_defers_to_the_end() -> None:
    result = World(certificate_world("verify", down_for=None), seed=2).run(until=3 * 3600)
    assert kinds_between(result.events, "relayed", EXPIRES, 3 * 3600) == 0
    assert result.summary["queued_at_end"] > 10
    assert (result.events.kind != "fault_up").all()


def test_the_chain_is_rebound_never_mutated() -> None:
    world = World(certificate_world("verify"), seed=2)
    mx = world.mtas["mx1.example.com"]
    original = mx.chain
    world.env.run(until=EXPIRES + 1)
    assert mx.chain is not original and mx.trusted  # expired, but from the run's CA
    assert len(original) == 2  # the old tuple is untouched
    world.env.run(until=RENEWED + 1)
    assert mx.chain is original


def test_a_certificate_fault_needs_an_mta() -> None:
    spec = certificate_world("verify")
    fault = FaultSpec(1.0, "router", certificate="expired")
    with pytest.raises(ValueError, match="certificate fault on 'router': not an MTA"):
        World(WorldSpec(spec.mtas, spec.links, spec.zones, faults=(fault,)))
