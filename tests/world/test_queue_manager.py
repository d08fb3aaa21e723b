"""The queue manager behaves like Postfix's: slow start, dead sites, backup servers.

References: Postfix 3.7 ``qmgr_queue.c`` (feedback 1, failed cohort limit 1, initial
destination concurrency 5), ``smtp_trouble.c`` (a soft error from a server that is not
the final one keeps the recipient for the next server), postfix-queue-observed.md.
"""

from __future__ import annotations

import simpy

from sim.policy.replies import Reply
from sim.policy.retry_schedules import PostfixSchedule
from sim.world.destinations import Destination, suspended_reply
from sim.world.engine import FaultSpec, SourceSpec, World, WorldSpec
from sim.world.mta import MtaSpec
from sim.world.network import Latency, LinkSpec
from tests.world.test_engine import ZONE  # primary mx1, backup mx2

ONE_MX = "$ORIGIN example.com.\n$TTL 300\n@ MX 10 mx1\nmx1 A 192.0.2.10\n"
REFUSED = Reply(451, "4.4.1", "connect to mx.example.com: mx.example.com is down")


def test_three_site_failures_in_a_row_kill_a_fresh_destination() -> None:
    env = simpy.Environment()
    site = Destination(env, limit=20, suspend_for=60.0)
    assert site.window == 5
    assert not site.failed(REFUSED)  # 1/5
    assert site.window == 3  # the negative feedback cycle starts by two
    assert not site.failed(REFUSED)  # + 1/3
    assert site.window == 2
    assert site.failed(REFUSED)  # + 1/2 >= 1: dead
    assert site.suspended() == REFUSED
    env.run(until=59.0)
    assert site.suspended() == REFUSED
    env.run(until=60.0)
    assert site.suspended() is None  # back after minimal_backoff_time, with a new window
    assert site.window == 5 and site.fail_cohorts == 0.0


def test_a_success_clears_the_failure_count_and_widens_the_window() -> None:
    site = Destination(simpy.Environment(), limit=7)
    site.failed(REFUSED)
    site.failed(REFUSED)
    site.succeeded()
    assert site.fail_cohorts == 0.0 and site.window == 3
    for _ in range(10):
        site.succeeded()
    assert site.window == 5  # at most the sessions in use (none) + the initial 5
    site.busy = 4
    for _ in range(10):
        site.succeeded()
    assert site.window == 7  # never beyond the destination limit


def test_waiting_messages_are_deferred_when_the_site_dies() -> None:
    env = simpy.Environment()
    site = Destination(env, limit=20, initial=1)
    assert site.acquire() is None  # the one session allowed
    waiting = site.acquire()
    assert waiting is not None
    site.failed(REFUSED)  # 1/1: dead at once
    env.run()
    assert waiting.value == REFUSED
    text = suspended_reply(REFUSED).line()
    assert text == "451 4.4.1 delivery temporarily suspended: connect to mx.example.com: " + (
        "mx.example.com is down"
    )


def one_mx_world(rate: float = 0.5) -> WorldSpec:
    retry = PostfixSchedule(minimal_backoff_time=60, maximal_backoff_time=240, queue_run_delay=60)
    return WorldSpec(
        mtas=(
            MtaSpec("out.sender.org", "198.51.100.5", retry=retry, connect_timeout=2.0),
            MtaSpec("mx1.example.com", "192.0.2.10", domains=("example.com",)),
        ),
        links=(LinkSpec("out.sender.org", "mx1.example.com", Latency(0.01)),),
        zones=(("example.com.zone", ONE_MX),),
        sources=(SourceSpec("u", "out.sender.org", rate, "a@sender.org", ("b@example.com",)),),
        faults=(FaultSpec(0.0, "mx1.example.com", 1800.0),),
        sample_every=60,
    )


def test_a_dead_destination_defers_without_connecting_until_it_revives() -> None:
    result = World(one_mx_world(), seed=4).run(until=3 * 3600)
    s, events = result.summary, result.events
    tried = int((events.kind == "connect_failed").sum())
    assert s["suspended_deferrals"] > 3 * tried > 0  # most deferrals never connect
    assert (events.kind == "destination_dead").sum() >= 10  # dead again after each probe
    suspended = events[events.detail.str.contains("delivery temporarily suspended", na=False)]
    assert len(suspended) == s["suspended_deferrals"]
    assert set(suspended.kind) == {"deferred"}
    # Once mx1 is back (t = 1800 s) the next probe succeeds and everything drains.
    assert s["delivered"] == s["accepted"] - s["queued_at_end"] > 0
    delivered = events[(events.kind == "delivered")]
    assert delivered.t.min() >= 1800.0


def test_a_soft_error_from_the_primary_sends_the_message_to_the_backup_at_once() -> None:
    """A greylisting primary (450 at RCPT) is not the last MX: smtp(8) goes on to the
    backup in the same attempt, which is why greylisting only on the primary leaks."""
    greylisting = "\n".join(
        [
            "myhostname = mx1.example.com",
            "mydestination = example.com",
            "local_recipient_maps =",
            "smtpd_recipient_restrictions = defer",
        ]
    )
    mtas = (
        MtaSpec("out.sender.org", "198.51.100.5"),
        MtaSpec("mx1.example.com", "192.0.2.10", domains=("example.com",), main_cf=greylisting),
        MtaSpec("mx2.example.com", "192.0.2.20", relay_domains=("example.com",)),
    )
    spec = WorldSpec(
        mtas=mtas,
        links=tuple(LinkSpec(m.name, "core", Latency(0.01)) for m in mtas),
        zones=(("example.com.zone", ZONE),),
        sources=(
            SourceSpec("u", "out.sender.org", 0.01, "a@sender.org", ("b@example.com",), count=3),
        ),
    )
    events = World(spec, seed=1).run(until=1800).events
    relayed = events[events.kind == "relayed"]
    assert list(relayed.detail) == ["to mx2.example.com"] * 3
    first = events[events.msg_id == 1]
    assert list(first.kind[:4]) == ["injected", "accepted", "relayed", "accepted"]
    # The backup's only way on is the primary: its own attempts are the final server's.
    backup = events[(events.host == "mx2.example.com") & (events.kind == "deferred")]
    assert set(backup.detail) == {
        "450 4.3.2 <b@example.com>: Recipient address rejected: Try again later"
    }


def test_a_relay_loop_bounces_after_the_hop_count_limit() -> None:
    """Two relays that each send example.com to the other: Postfix's hopcount_limit (50
    Received headers) ends the loop with a bounce instead of circling forever."""
    mtas = (
        MtaSpec("out.sender.org", "198.51.100.5", domains=("sender.org",), relayhost="a.net"),
        MtaSpec("a.net", "192.0.2.1", relay_domains=("example.com",), relayhost="b.net"),
        MtaSpec("b.net", "192.0.2.2", relay_domains=("example.com",), relayhost="a.net"),
    )
    spec = WorldSpec(
        mtas=mtas,
        links=tuple(LinkSpec(m.name, "core", Latency(0.001)) for m in mtas),
        sources=(
            SourceSpec("u", "out.sender.org", 1.0, "x@sender.org", ("y@example.com",), count=1),
        ),
    )
    result = World(spec, seed=1).run(until=600)
    s = result.summary
    # The DSN to x@sender.org goes the same relays, which do not relay sender.org: it
    # bounces too, and a bounce of a bounce is dropped.
    assert s["dsn_sent"] == 1 and s["dsn_suppressed"] == 1 and s["lost"] == 0
    (entry,) = result.messages[result.messages.msg_id == 1].itertuples()
    assert entry.reply == "554 5.4.0 Error: too many hops" and entry.hops == 51


def test_a_pool_member_that_would_relay_to_itself_bounces_the_mail() -> None:
    """A backup in a pool forwarding to the pool's own name reaches itself: Postfix
    sees its own greeting and bounces "mail for ... loops back to myself"."""
    from sim.world.services import ServiceSpec

    mtas = (
        MtaSpec("out.sender.org", "198.51.100.5", domains=("sender.org",)),
        MtaSpec("m0.example.com", "192.0.2.20", relay_domains=("example.com",)),
    )
    spec = WorldSpec(
        mtas=mtas,
        links=(LinkSpec("out.sender.org", "m0.example.com", Latency(0.001)),),
        zones=(("example.com.zone", ONE_MX.replace("mx1", "pool")),),
        sources=(
            SourceSpec("u", "out.sender.org", 1.0, "x@sender.org", ("y@example.com",), count=1),
        ),
        services=(ServiceSpec("pool.example.com", ("m0.example.com",)),),
    )
    result = World(spec, seed=1).run(until=600)
    (entry,) = result.messages[result.messages.msg_id == 1].itertuples()
    assert entry.fate == "bounced" and entry.host == "m0.example.com"
    assert entry.reply == "554 5.4.6 mail for example.com loops back to myself"


def test_the_observed_postfix_outage_replayed() -> None:
    """postfix-queue-observed.md: short timers (backoff 15..60 s, scans every 15 s), the
    only MX refusing for 4 minutes.  Postfix made 88 real attempts and 768 suspended
    deferrals; the first delivery came 13 s after recovery, the last 58 s after."""
    retry = PostfixSchedule(
        minimal_backoff_time=15,
        maximal_backoff_time=60,
        queue_run_delay=15,
        maximal_queue_lifetime=360,
        bounce_queue_lifetime=360,
    )
    spec = WorldSpec(
        mtas=(
            MtaSpec(
                "relay.sender.example",
                "127.0.0.1",
                domains=("sender.example",),
                retry=retry,
                connect_timeout=0.01,
            ),
            MtaSpec("mx.example.net", "127.0.0.2", domains=("example.net",)),
        ),
        links=(LinkSpec("relay.sender.example", "mx.example.net", Latency(0.001)),),
        zones=(
            ("example.net.zone", "$ORIGIN example.net.\n$TTL 300\n@ MX 10 mx\nmx A 127.0.0.2\n"),
        ),
        sources=(
            SourceSpec(
                "burst",
                "relay.sender.example",
                200 / 60,
                "a@sender.example",
                tuple(f"u{i}@example.net" for i in range(50)),
                count=120,
            ),
        ),
        faults=(FaultSpec(0.0, "mx.example.net", 240.0),),
    )
    result = World(spec, seed=1).run(until=900)
    events = result.events
    real = int(((events.kind == "connect_failed") & (events.t < 240)).sum())
    suspended = result.summary["suspended_deferrals"]
    assert suspended > 5 * real > 0  # observed 768 against 88
    delivered = events[(events.kind == "delivered") & (events.host == "mx.example.net")]
    assert delivered.t.min() - 240 <= 15 + 15  # at the next scan after the dead time
    assert delivered.t.max() - 240 <= 2 * 60  # within two maximal backoffs
    assert result.summary["delivered"] >= 120 and result.summary["expired"] == 0
