"""The simulated DNS: signed zones set the AD bit, replaced zones, caching resolvers."""

from __future__ import annotations

import dns.name
import dns.rdatatype
import pytest

from sim.errors import InputError
from sim.policy.mx import AnswerKind, DnsAnswer, Query
from sim.policy.zones import ZoneSet, parse_zone
from sim.world.dns import Resolver

SIGNED = "$ORIGIN signed.example.\n$TTL 300\n@ MX 10 mx\nmx A 192.0.2.10\nx.y A 192.0.2.11\n"
PLAIN = "$ORIGIN plain.example.\n$TTL 300\n@ MX 10 mx\nmx A 192.0.2.20\n"


def q(name: str, rdtype: str = "MX") -> Query:
    return Query(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))


def zoneset() -> ZoneSet:
    return ZoneSet.from_texts(
        [("signed.example.zone", SIGNED), ("plain.example.zone", PLAIN)],
        signed=["signed.example"],
        servfail=["broken.signed.example"],
    )


@pytest.mark.parametrize(
    ("name", "rdtype", "kind", "authenticated"),
    [
        ("signed.example.", "MX", AnswerKind.ANSWER, True),
        ("signed.example.", "AAAA", AnswerKind.NODATA, True),
        ("nope.signed.example.", "MX", AnswerKind.NXDOMAIN, True),
        ("y.signed.example.", "A", AnswerKind.NODATA, True),  # an empty non-terminal
        ("broken.signed.example.", "MX", AnswerKind.SERVFAIL, False),
        ("plain.example.", "MX", AnswerKind.ANSWER, False),
        ("nope.plain.example.", "MX", AnswerKind.NXDOMAIN, False),
        ("elsewhere.test.", "MX", AnswerKind.NXDOMAIN, False),  # in no zone: unsigned
    ],
)
def test_answers_from_signed_zones_are_authenticated(
    name: str, rdtype: str, kind: AnswerKind, authenticated: bool
) -> None:
    answer = zoneset().lookup(q(name, rdtype))
    assert (answer.kind, answer.authenticated) == (kind, authenticated)


def test_a_failure_cannot_be_authenticated() -> None:
    with pytest.raises(ValueError, match="servfail answer cannot be authenticated"):
        DnsAnswer(AnswerKind.SERVFAIL, authenticated=True)
    assert DnsAnswer(AnswerKind.NXDOMAIN, authenticated=True).authenticated
    assert not DnsAnswer.from_text("a.test.", "A", "192.0.2.1").authenticated


def test_a_signed_origin_must_be_a_loaded_zone() -> None:
    with pytest.raises(InputError, match=r"signed zone other.example. is not loaded"):
        ZoneSet.from_texts([("plain.example.zone", PLAIN)], signed=["other.example"])


def test_the_resolver_keeps_the_ad_bit_in_its_cache_and_never_on_failures() -> None:
    resolver = Resolver(zoneset())
    first = resolver.lookup(q("signed.example."), 0.0)
    assert first.authenticated
    resolver.failing = AnswerKind.TIMEOUT
    cached = resolver.lookup(q("signed.example."), 100.0)
    assert cached is first and cached.authenticated and resolver.hits == 1
    failed = resolver.lookup(q("signed.example."), 400.0)
    assert failed.kind is AnswerKind.TIMEOUT and not failed.authenticated


def test_replacing_a_zone_reaches_new_lookups_but_not_cached_answers() -> None:
    zones = zoneset()
    resolver = Resolver(zones)
    before = resolver.lookup(q("signed.example."), 0.0)
    assert zones.lookup(q("signed.example.")) is before  # memoised
    moved = parse_zone(SIGNED.replace("@ MX 10 mx", "@ MX 20 mx"), filename="x.zone")
    old = zones.replace_zone(moved)
    assert old.origin == moved.origin and old is not moved
    fresh = zones.lookup(q("signed.example."))
    assert fresh is not before and fresh.rrset is not None
    assert "20 mx.signed.example." in fresh.rrset.to_text()
    assert fresh.authenticated  # still the signed origin
    assert resolver.lookup(q("signed.example."), 299.0) is before  # cached: the old MX
    assert resolver.lookup(q("signed.example."), 300.0) == fresh  # expired: asks again
    assert [z.origin for z in zones.zones] == [moved.origin, dns.name.from_text("plain.example.")]


def test_only_a_loaded_zone_can_be_replaced() -> None:
    zones = zoneset()
    other = parse_zone("$TTL 60\n@ MX 0 .\n", filename="other.example.zone")
    with pytest.raises(InputError, match=r"no zone other\.example\. to replace"):
        zones.replace_zone(other)
