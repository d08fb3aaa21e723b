"""Caching DNS resolvers for the simulated Internet (RFC 1034 §4.3.4, RFC 2308).

Each MTA asks its own resolver.  A resolver keeps an answer for the TTL of its RRset
and a negative answer (NXDOMAIN, NODATA) for the zone's negative TTL (the SOA minimum
when the zone has an SOA, else ``negative_ttl``), so a changed MX record reaches a
sender only when its cached copy expires, as on the real Internet.  Failures
(SERVFAIL, timeout) are not cached.  A resolver fault makes every lookup fail for a
while: the MX logic then defers, never bounces.

Answers are handed on as the zones gave them, so the AD bit of an answer from a
signed zone (:attr:`sim.policy.mx.DnsAnswer.authenticated`) survives the cache; a
failure is never authenticated.  When a zone is replaced during a run
(:meth:`sim.policy.zones.ZoneSet.replace_zone`) nothing here is flushed: cached
copies of the old records live out their TTL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.rdatatype

from sim.policy.mx import AnswerKind, DnsAnswer, Query
from sim.policy.zones import ZoneSet

__all__ = ["Resolver"]


@dataclass
class Resolver:
    """A caching resolver over the run's authoritative zones; ``now`` is simulated time."""

    zones: ZoneSet
    negative_ttl: float = 300.0
    failing: AnswerKind | None = None  # SERVFAIL or TIMEOUT while a fault lasts
    cache: dict[Query, tuple[DnsAnswer, float]] = field(default_factory=dict)
    lookups: int = 0
    hits: int = 0
    valid_until: float = float("inf")  # earliest expiry among answers since mark()
    validating: bool = False  # checks DNSSEC: a forged answer in a signed zone is bogus
    forged: dict[Query, DnsAnswer] = field(default_factory=dict)  # a poisoner's answers

    def mark(self) -> None:
        """Start a resolution: ``valid_until`` will say how long its answers hold."""
        self.valid_until = float("inf")

    def lookup(self, query: Query, now: float) -> DnsAnswer:
        """The answer to ``query`` at time ``now``: from the cache, or from the zones."""
        self.lookups += 1
        cached = self.cache.get(query)
        if cached is not None and cached[1] > now:
            self.hits += 1
            self.valid_until = min(self.valid_until, cached[1])
            return cached[0]
        if self.failing is not None:
            self.valid_until = now  # a failure is never reused
            return DnsAnswer(self.failing)
        if query in self.forged:
            return self._forged(query, now)
        answer = self.zones.lookup(query)
        ttl = self._ttl(query, answer)
        if ttl is None:
            self.valid_until = now
        else:
            self.cache[query] = (answer, now + ttl)
            self.valid_until = min(self.valid_until, now + ttl)
        return answer

    def _forged(self, query: Query, now: float) -> DnsAnswer:
        """A spoofed answer: cached like a real one, unless DNSSEC validation sees that
        it does not verify in a signed zone (bogus: SERVFAIL, RFC 4035 §5.5)."""
        zone = self.zones.zone_for(query.name)
        if self.validating and zone is not None and zone.origin in self.zones.signed:
            self.valid_until = now
            return DnsAnswer(AnswerKind.SERVFAIL)
        answer = self.forged[query]
        ttl = float(answer.rrset.ttl) if answer.rrset is not None else self.negative_ttl
        self.cache[query] = (answer, now + ttl)
        self.valid_until = min(self.valid_until, now + ttl)
        return answer

    def _ttl(self, query: Query, answer: DnsAnswer) -> float | None:
        if answer.kind is AnswerKind.ANSWER and answer.rrset is not None:
            return float(answer.rrset.ttl)
        if answer.kind in (AnswerKind.NXDOMAIN, AnswerKind.NODATA):
            zone = self.zones.zone_for(query.name)
            soa = None if zone is None else zone.get_rdataset("@", dns.rdatatype.SOA)
            if soa is not None and len(soa):
                return float(min(soa.ttl, soa[0].minimum))  # RFC 2308 §5
            return self.negative_ttl
        return None  # SERVFAIL and timeouts are not cached (RFC 2308 §7 allows a little)

    def flush(self) -> None:
        self.cache.clear()
