"""MX resolution: from a recipient domain to the ordered hosts an SMTP client tries.

Implements RFC 5321 §5.1 (locating the target host, implicit MX, equal-preference
randomisation, the relay that finds itself in the MX list), RFC 7505 §3 and §4.1
(null MX), RFC 2181 §10.3 (an MX target must not be an alias) and RFC 974 (the
preference is an unsigned 16-bit number).  Where the RFCs leave a choice, Postfix 3.x
``smtp_addr.c`` is followed (status codes 4.4.3, 4.4.4, 5.4.4, 5.4.6 and their texts).

Theory of operation
-------------------
The core, :func:`mx_resolution`, is a generator without I/O: it *yields* each DNS
:class:`Query` it needs and *receives* the :class:`DnsAnswer` (an RRset built with
dnspython, or a failure kind), and finally returns an :class:`MXResult`.  The
synchronous shell :func:`resolve_mx` answers the queries with a function; the
simulator can answer them in simulated time, one round trip per query.  Steps:

1. ``MX`` query for the domain.  A CNAME answer restarts the lookup at its target (at
   most :data:`MAX_CNAME_CHAIN` aliases; a loop counts as SERVFAIL, as a resolver says).
   NXDOMAIN is a permanent failure (5.1.2); SERVFAIL or a timeout is temporary (4.4.3)
   and never a bounce.  NODATA means an *implicit MX*: preference 0, the domain itself.
2. A single MX whose exchange is the root ``.`` is a null MX: bounce at once (556 5.1.10),
   no fallback to A/AAAA.  A ``.`` mixed with other MX records is skipped.
3. Records are sorted by preference (lower first); each run of equal preferences is
   shuffled with the caller's ``rng``.  Nothing ever crosses a preference level.
4. If the local host is in the list (by name or, after address lookup, by address),
   it and every record with the same or a worse preference are discarded.  Nothing
   left: ``5.4.6 ... loops back to myself`` when the local host had the best
   preference, else ``4.4.4 unable to find primary relay`` (Postfix).
5. Each remaining exchange gets ``AAAA`` then ``A`` queries (addresses keep the order
   of the answer).  An exchange written as an IP address, or without address records,
   is skipped with a reason; one that is a CNAME is followed with a warning (lenient,
   the deployed default) or skipped (``strict=True``).
6. No usable host left: temporary (4.4.3) if any skip was a temporary DNS failure,
   otherwise permanent (5.4.4).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Generator, MutableSequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rrset

from sim.policy.addresses import valid_hostname
from sim.policy.replies import Reply
from sim.policy.vocab import enum_from_text

__all__ = [
    "MAX_CNAME_CHAIN",
    "Action",
    "AnswerKind",
    "DnsAnswer",
    "IPAddress",
    "Lookup",
    "MXRecord",
    "MXResult",
    "MXTarget",
    "Outcome",
    "Query",
    "Resolution",
    "Shuffler",
    "SkipReason",
    "Skipped",
    "dns_tempfail_reply",
    "host_not_found_reply",
    "loops_back_reply",
    "mx_resolution",
    "no_primary_relay_reply",
    "no_usable_mx_reply",
    "null_mx_reply",
    "nxdomain_reply",
    "order_by_preference",
    "resolve_mx",
]

MAX_CNAME_CHAIN = 16
"""Aliases followed before giving up (mox's limit; RFC 5321 sets none)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MX = dns.rdatatype.MX
_A = dns.rdatatype.A
_AAAA = dns.rdatatype.AAAA
_CNAME = dns.rdatatype.CNAME


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True) if name != dns.name.root else "."


# -- replies -----------------------------------------------------------------------------
# They carry the domain, so they are functions; the texts are Postfix's where it has one.


def null_mx_reply(domain: str) -> Reply:
    """RFC 7505 §4.1 and the IANA-registered text for 5.1.10, with the domain."""
    return Reply(
        556, "5.1.10", f"Recipient address has null MX; domain {domain} does not accept mail"
    )


def nxdomain_reply(domain: str) -> Reply:
    """RFC 5321 §5.1: a non-existent domain is a permanent error (Postfix text)."""
    return Reply(
        550,
        "5.1.2",
        f"Host or domain name not found. Name service error for name={domain} type=MX: "
        "Host not found",
    )


def dns_tempfail_reply(name: str, rdtype: str) -> Reply:
    """RFC 5321 §5.1, §4.5.4.1: a temporary DNS error queues the message (Postfix text)."""
    return Reply(
        451,
        "4.4.3",
        f"Host or domain name not found. Name service error for name={name} type={rdtype}: "
        "Host not found, try again",
    )


def host_not_found_reply(name: str, *, nodata: bool) -> Reply:
    """The implicit MX host has no address (Postfix smtp_addr.c, 5.4.4)."""
    why = "No address associated with hostname" if nodata else "Host not found"
    return Reply(
        554,
        "5.4.4",
        f"Host or domain name not found. Name service error for name={name} type=A: {why}",
    )


def no_usable_mx_reply(domain: str) -> Reply:
    """RFC 5321 §5.1: MX records exist but none can be used."""
    return Reply(554, "5.4.4", f"Host or domain name not found. No MX host for {domain} is usable")


def loops_back_reply(domain: str) -> Reply:
    """RFC 5321 §5.1: the local host is the best MX (Postfix text)."""
    return Reply(554, "5.4.6", f"mail for {domain} loops back to myself")


def no_primary_relay_reply(domain: str) -> Reply:
    """Postfix: MX hosts better than the local host exist but none is usable (temporary)."""
    return Reply(451, "4.4.4", f"unable to find primary relay for {domain}")


# -- DNS answers in --------------------------------------------------------------------


class AnswerKind(Enum):
    """What one DNS query returned."""

    ANSWER = "answer"
    NODATA = "nodata"
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"

    @property
    def is_temporary(self) -> bool:
        return self in (AnswerKind.SERVFAIL, AnswerKind.TIMEOUT)

    @classmethod
    def from_text(cls, text: str) -> AnswerKind:
        return enum_from_text(cls, text, "DNS answer kind")


@dataclass(frozen=True, slots=True)
class Query:
    """One DNS question the resolution needs answered."""

    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType

    def __post_init__(self) -> None:
        if not self.name.is_absolute():
            raise ValueError(f"query name must be absolute, got {self.name}")

    def __str__(self) -> str:
        return f"{_text(self.name)}/{self.rdtype.name}"


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """The answer to one :class:`Query`: an RRset, or a failure kind without one.

    An ``ANSWER`` whose RRset is a CNAME (for a query of another type) says the name is
    an alias; the resolution asks again at the CNAME's target.  One answer is one hop.

    ``authenticated`` is the AD bit (RFC 4035 §3.2.3): the answer, or the proof that
    the name or type does not exist, was validated by DNSSEC.  DANE (RFC 7672 §2.2)
    trusts TLSA records and MX names only from authenticated answers.  A failure
    (SERVFAIL, timeout) proves nothing and is never authenticated.
    """

    kind: AnswerKind
    rrset: dns.rrset.RRset | None = None
    authenticated: bool = False

    def __post_init__(self) -> None:
        if self.kind is AnswerKind.ANSWER:
            if self.rrset is None or len(self.rrset) == 0:
                raise ValueError("an ANSWER needs a non-empty RRset (use NODATA for none)")
        elif self.rrset is not None:
            raise ValueError(f"a {self.kind.value} answer carries no RRset")
        if self.authenticated and self.kind.is_temporary:
            raise ValueError(f"a {self.kind.value} answer cannot be authenticated")

    @classmethod
    def of(cls, rrset: dns.rrset.RRset) -> DnsAnswer:
        """An answer from a dnspython RRset; an empty RRset is NODATA."""
        return cls(AnswerKind.ANSWER, rrset) if len(rrset) else cls(AnswerKind.NODATA)

    @classmethod
    def from_text(cls, name: str, rdtype: str, *rdatas: str, ttl: int = 300) -> DnsAnswer:
        """``DnsAnswer.from_text("example.com.", "MX", "10 mx1.example.com.")``."""
        return cls.of(dns.rrset.from_text(name, ttl, dns.rdataclass.IN, rdtype, *rdatas))

    @classmethod
    def failure(cls, kind: AnswerKind | str) -> DnsAnswer:
        """NODATA, NXDOMAIN, SERVFAIL or TIMEOUT."""
        return cls(AnswerKind.from_text(kind) if isinstance(kind, str) else kind)

    @property
    def alias_target(self) -> dns.name.Name | None:
        """The CNAME target when this answer says the name is an alias."""
        if self.rrset is None or self.rrset.rdtype != _CNAME:
            return None
        rdata = next(iter(self.rrset))
        assert isinstance(rdata, dns.rdtypes.ANY.CNAME.CNAME)
        return rdata.target


Lookup = Callable[[Query], DnsAnswer]
"""Answers one query; :func:`resolve_mx` calls it for every query in turn."""


class Shuffler(Protocol):
    """What MX resolution needs of a random generator (``random.Random`` fits)."""

    def shuffle(self, x: MutableSequence[Any], /) -> None: ...


# -- values out ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MXRecord:
    """One MX RR: preference (0..65535, RFC 974) and exchange."""

    preference: int
    exchange: dns.name.Name

    def __post_init__(self) -> None:
        if not 0 <= self.preference <= 65535:
            raise ValueError(f"MX preference must be 0..65535, got {self.preference}")

    @classmethod
    def from_rdata(cls, rdata: dns.rdtypes.ANY.MX.MX) -> MXRecord:
        return cls(rdata.preference, rdata.exchange)

    @property
    def host(self) -> str:
        return _text(self.exchange)


class Action(Enum):
    """What the client does with the message next."""

    DELIVER = "deliver"
    DEFER = "defer"
    BOUNCE = "bounce"


class Outcome(Enum):
    """Why the resolution ended the way it did."""

    TARGETS = "targets"
    NULL_MX = "null MX"
    NXDOMAIN = "domain does not exist"
    DNS_TEMPFAIL = "temporary DNS failure"
    LOOPS_BACK = "mail loops back to myself"
    NO_PRIMARY_RELAY = "no usable MX host more preferred than myself"
    NO_USABLE_MX = "no usable MX host"
    NO_ADDRESS = "domain has no MX and no address"


class SkipReason(Enum):
    """Why an MX record was not made a delivery target."""

    IP_LITERAL = "exchange is an IP address, not a host name"
    NO_ADDRESS = "no address records"
    DNS_TEMPFAIL = "address lookup failed temporarily"
    CNAME_TARGET = "exchange is an alias (CNAME), refused in strict mode"
    NULL_MX_MIXED = "null MX mixed with other MX records"
    LOCAL_HOST = "this is the local host"
    NOT_BETTER_THAN_LOCAL = "not more preferred than the local host"

    @property
    def is_temporary(self) -> bool:
        return self is SkipReason.DNS_TEMPFAIL


@dataclass(frozen=True, slots=True)
class MXTarget:
    """A host to try, with its addresses in the order to try them."""

    host: str
    preference: int
    addresses: tuple[IPAddress, ...]
    canonical: str | None = None
    """The name the addresses belong to when ``host`` was an alias (an RFC violation)."""
    implicit: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.preference <= 65535:
            raise ValueError(f"MX preference must be 0..65535, got {self.preference}")
        if not self.addresses:
            raise ValueError(f"delivery target {self.host} needs at least one address")

    def as_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "preference": self.preference,
            "addresses": [str(a) for a in self.addresses],
            "canonical": self.canonical,
            "implicit": self.implicit,
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """An MX record left out of the targets, and why."""

    host: str
    preference: int
    reason: SkipReason
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "preference": self.preference,
            "reason": self.reason.name.lower(),
            "detail": self.detail or self.reason.value,
        }


@dataclass(frozen=True, slots=True)
class MXResult:
    """Targets to try in order, or the decision (with its reply) not to try any."""

    domain: str
    canonical: str
    action: Action
    outcome: Outcome
    targets: tuple[MXTarget, ...] = ()
    reply: Reply | None = None
    skipped: tuple[Skipped, ...] = ()
    implicit: bool = False
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        delivering = self.action is Action.DELIVER
        if delivering != bool(self.targets) or delivering != (self.reply is None):
            raise ValueError("DELIVER needs targets and no reply; DEFER/BOUNCE a reply only")
        if self.reply is not None and self.reply.is_temporary != (self.action is Action.DEFER):
            raise ValueError("DEFER goes with a 4xx reply, BOUNCE with a 5xx reply")

    def as_dict(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "canonical": self.canonical,
            "action": self.action.value,
            "outcome": self.outcome.name.lower(),
            "reply": None if self.reply is None else self.reply.as_dict(),
            "implicit_mx": self.implicit,
            "targets": [t.as_dict() for t in self.targets],
            "skipped": [s.as_dict() for s in self.skipped],
            "warnings": list(self.warnings),
        }


# -- the algorithm -----------------------------------------------------------------------


def order_by_preference(records: Collection[MXRecord], rng: Shuffler) -> tuple[MXRecord, ...]:
    """RFC 5321 §5.1: ascending preference, each equal-preference run shuffled by ``rng``.

    Runs of one record draw nothing from ``rng``, so adding a lone backup MX does not
    change later draws.  The input order within a run is the one shuffled (keep it
    stable, e.g. the answer's order, for reproducible runs).
    """
    ordered: list[MXRecord] = []
    for pref in sorted({r.preference for r in records}):
        run = [r for r in records if r.preference == pref]
        if len(run) > 1:
            rng.shuffle(run)
        ordered.extend(run)
    return tuple(ordered)


@dataclass(frozen=True, slots=True)
class _Self:
    """The local host's names and addresses, as given by the caller."""

    names: frozenset[dns.name.Name] = frozenset()
    addresses: frozenset[IPAddress] = frozenset()

    @classmethod
    def parse(cls, local_names: Collection[str]) -> _Self:
        names: set[dns.name.Name] = set()
        addresses: set[IPAddress] = set()
        for item in local_names:
            text = item.strip()
            try:
                addresses.add(ipaddress.ip_address(text.strip("[]")))
                continue
            except ValueError:
                pass
            names.add(_domain_name(text, what="local name"))
        return cls(frozenset(names), frozenset(addresses))


def _domain_name(text: str, *, what: str = "domain") -> dns.name.Name:
    bare = text.strip().rstrip(".")
    if not valid_hostname(bare, allow_utf8=False):
        raise ValueError(f"{what} {text!r} is not a host name (expected e.g. example.com)")
    return dns.name.from_text(bare)


@dataclass(slots=True)
class _Found:
    """What the AAAA/A queries for one exchange gave."""

    addresses: list[IPAddress] = field(default_factory=list)
    canonical: dns.name.Name | None = None
    refused_alias: bool = False
    temporary: Query | None = None
    temporary_kind: AnswerKind = AnswerKind.SERVFAIL
    nodata: bool = False


Resolution = Generator[Query, DnsAnswer, MXResult]


def _follow(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, aliases: bool
) -> Generator[Query, DnsAnswer, tuple[DnsAnswer, dns.name.Name]]:
    """Ask ``rdtype`` at ``name``, following CNAMEs when ``aliases`` allows."""
    seen = [name]
    current = name
    while True:
        answer = yield Query(current, rdtype)
        target = answer.alias_target if rdtype != _CNAME else None
        if target is None or not aliases:
            return answer, current
        if target in seen or len(seen) > MAX_CNAME_CHAIN:
            return DnsAnswer(AnswerKind.SERVFAIL), current
        seen.append(target)
        current = target


def _addresses(name: dns.name.Name, strict: bool) -> Generator[Query, DnsAnswer, _Found]:
    found = _Found()
    for rdtype in (_AAAA, _A):
        answer, canonical = yield from _follow(found.canonical or name, rdtype, aliases=not strict)
        if answer.alias_target is not None:  # strict: an alias is refused outright
            found.refused_alias = True
            return found
        if canonical != name:
            found.canonical = canonical
        if answer.kind.is_temporary and found.temporary is None:
            found.temporary = Query(canonical, rdtype)
            found.temporary_kind = answer.kind
        elif answer.kind is AnswerKind.NODATA:
            found.nodata = True
        elif answer.rrset is not None:
            for rdata in answer.rrset:
                if isinstance(rdata, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA):
                    found.addresses.append(ipaddress.ip_address(rdata.address))
    return found


def _is_ip_literal(name: dns.name.Name) -> bool:
    text = _text(name)
    if text.startswith("["):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def mx_resolution(
    domain: str,
    *,
    rng: Shuffler,
    local_names: Collection[str] = (),
    strict: bool = False,
) -> Resolution:
    """The resolution as a generator: yields :class:`Query`, receives :class:`DnsAnswer`.

    ``local_names`` are the local host's names and IP addresses (RFC 5321 §5.1: "any
    name or address by which it is known").  ``strict`` refuses MX targets that are
    CNAMEs instead of following them.  Raises ``ValueError`` for a malformed domain or
    local name before the first query.
    """
    origin = _domain_name(domain)
    me = _Self.parse(local_names)
    shown = _text(origin)
    warnings: list[str] = []

    answer, canonical = yield from _follow(origin, _MX, aliases=True)
    # A CNAME at the domain is fine (RFC 5321 §5.1): ``canonical`` in the result says so.

    def result(action: Action, outcome: Outcome, **kw: Any) -> MXResult:
        return MXResult(shown, _text(canonical), action, outcome, warnings=tuple(warnings), **kw)

    if answer.kind is AnswerKind.NXDOMAIN:
        return result(Action.BOUNCE, Outcome.NXDOMAIN, reply=nxdomain_reply(shown))
    if answer.kind.is_temporary:
        reply = dns_tempfail_reply(_text(canonical), "MX")
        return result(Action.DEFER, Outcome.DNS_TEMPFAIL, reply=reply)

    records: list[MXRecord] = []
    if answer.rrset is not None:
        records = [
            MXRecord.from_rdata(r) for r in answer.rrset if isinstance(r, dns.rdtypes.ANY.MX.MX)
        ]
    implicit = not records
    skipped: list[Skipped] = []
    if implicit:  # RFC 5321 §5.1: no MX at all, the domain is its own MX, preference 0
        records = [MXRecord(0, canonical)]
    else:
        nulls = [r for r in records if r.exchange == dns.name.root]
        if nulls and len(records) == 1:
            if nulls[0].preference != 0:
                warnings.append(
                    f"null MX with preference {nulls[0].preference}, not 0 (RFC 7505 §3)"
                )
            return result(Action.BOUNCE, Outcome.NULL_MX, reply=null_mx_reply(shown))
        if nulls:
            warnings.append("null MX published with other MX records (RFC 7505 §3 forbids it)")
            for r in nulls:
                skipped.append(Skipped(".", r.preference, SkipReason.NULL_MX_MIXED))
            records = [r for r in records if r.exchange != dns.name.root]

    ordered = order_by_preference(records, rng)
    best = ordered[0].preference
    # The local host by name (RFC 5321 §5.1): discard it and everything not better.
    by_name = [r.preference for r in ordered if r.exchange in me.names]
    self_pref: int | None = min(by_name) if by_name else None

    targets: list[MXTarget] = []
    first_tempfail: Query | None = None
    nodata = False
    for record in ordered:
        host, pref = record.host, record.preference
        if self_pref is not None and pref >= self_pref:
            reason = SkipReason.LOCAL_HOST
            if record.exchange not in me.names:
                reason = SkipReason.NOT_BETTER_THAN_LOCAL
            skipped.append(Skipped(host, pref, reason))
            continue
        if _is_ip_literal(record.exchange):
            skipped.append(Skipped(host, pref, SkipReason.IP_LITERAL))
            continue
        found = yield from _addresses(record.exchange, strict)
        if found.refused_alias:
            skipped.append(Skipped(host, pref, SkipReason.CNAME_TARGET))
            continue
        if (found.canonical is not None and found.canonical in me.names) or (
            me.addresses.intersection(found.addresses)
        ):
            # The local host by address (Postfix) or by its canonical name: truncate here,
            # including the equal-preference targets already accepted.
            self_pref = pref
            for t in [t for t in targets if t.preference >= pref]:
                targets.remove(t)
                skipped.append(Skipped(t.host, t.preference, SkipReason.NOT_BETTER_THAN_LOCAL))
            skipped.append(Skipped(host, pref, SkipReason.LOCAL_HOST, "found by address"))
            continue
        if found.canonical is not None:
            warnings.append(
                f"MX host {host} is an alias for {_text(found.canonical)}: an MX target must "
                "not be a CNAME (RFC 2181 §10.3, RFC 5321 §5.1); followed"
            )
        if not found.addresses:
            nodata = nodata or found.nodata
            if found.temporary is not None:
                first_tempfail = first_tempfail or found.temporary
                detail = f"{found.temporary} {found.temporary_kind.value}"
                skipped.append(Skipped(host, pref, SkipReason.DNS_TEMPFAIL, detail))
            else:
                how = "NODATA" if found.nodata else "NXDOMAIN"
                skipped.append(Skipped(host, pref, SkipReason.NO_ADDRESS, how))
            continue
        targets.append(
            MXTarget(
                host,
                pref,
                tuple(found.addresses),
                None if found.canonical is None else _text(found.canonical),
                implicit,
            )
        )

    kw: dict[str, Any] = {"skipped": tuple(skipped), "implicit": implicit}
    if targets:
        return result(Action.DELIVER, Outcome.TARGETS, targets=tuple(targets), **kw)
    if self_pref is not None:
        if self_pref == best:
            return result(Action.BOUNCE, Outcome.LOOPS_BACK, reply=loops_back_reply(shown), **kw)
        reply = no_primary_relay_reply(shown)
        return result(Action.DEFER, Outcome.NO_PRIMARY_RELAY, reply=reply, **kw)
    if first_tempfail is not None:  # never a bounce on a temporary DNS fault
        reply = dns_tempfail_reply(_text(first_tempfail.name), first_tempfail.rdtype.name)
        return result(Action.DEFER, Outcome.DNS_TEMPFAIL, reply=reply, **kw)
    if implicit:
        reply = host_not_found_reply(_text(canonical), nodata=nodata)
        return result(Action.BOUNCE, Outcome.NO_ADDRESS, reply=reply, **kw)
    return result(Action.BOUNCE, Outcome.NO_USABLE_MX, reply=no_usable_mx_reply(shown), **kw)


def resolve_mx(
    domain: str,
    lookup: Lookup,
    *,
    rng: Shuffler,
    local_names: Collection[str] = (),
    strict: bool = False,
) -> MXResult:
    """Run :func:`mx_resolution`, answering every query with ``lookup``."""
    steps = mx_resolution(domain, rng=rng, local_names=local_names, strict=strict)
    try:
        query = next(steps)
        while True:
            query = steps.send(lookup(query))
    except StopIteration as done:
        outcome: MXResult = done.value
        return outcome
