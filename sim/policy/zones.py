"""Answer MX-resolution queries from zone files: a closed, authoritative little DNS.

Zone files use the RFC 1035 §5 master-file format as dnspython reads it.  The text is
given (the caller reads the file), so this module stays pure.

Rules, chosen for teaching and written down in docs/mx.md:

* **Origin.** The first ``$ORIGIN`` line when the file starts with one (before any
  record with a relative owner); otherwise the file name without ``.zone``
  (``example.com.zone`` -> ``example.com.``).  Records outside the origin are ignored,
  as dnspython does.  No SOA or NS is required.
* **Closed world.** A name inside no loaded zone is NXDOMAIN; the longest matching
  origin answers.  No delegation, no wildcards.  A name with no node but with names
  below it (an empty non-terminal) is NODATA.
* **CNAME.** A query of another type at an alias answers with the CNAME RRset; the
  caller follows it (one hop per query).
* **Faults.** Names listed in ``servfail`` or ``timeout`` answer SERVFAIL or TIMEOUT
  for every type, whether inside a zone or not (``relaysim mx --servfail NAME``).
* **DNSSEC.** Origins listed in ``signed`` are taken as signed and validating: every
  answer from such a zone, NXDOMAIN and NODATA included, is ``authenticated`` (the AD
  bit).  Signatures are not modelled, only their verdict; a name in no zone, or a
  fault, is never authenticated.
* **Change.** :meth:`ZoneSet.replace_zone` swaps one zone for a new version during a
  run (an MX record moved).  Resolvers that cached the old answers keep them for
  their TTL; the authoritative side answers from the new zone at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import dns.zonefile

from sim.errors import InputError
from sim.policy.mx import AnswerKind, DnsAnswer, Query

__all__ = ["ZoneSet", "origin_from_filename", "parse_zone"]

_FRIENDLIER = {
    "Missing default TTL value": "expected a TTL on the record or a $TTL line before it",
    "Text input is malformed.": "expected a valid address or value for this record type",
    "expecting an identifier": "expected more fields on this record",
}


def origin_from_filename(filename: str) -> dns.name.Name | None:
    """``zones/example.com.zone`` -> ``example.com.``; None when that is not a name."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if base.endswith(".zone"):
        base = base[: -len(".zone")]
    if not base or base.startswith(".") or " " in base:
        return None
    try:
        return dns.name.from_text(base.rstrip(".") + ".")
    except dns.exception.DNSException:
        return None


def _parse(text: str, origin: dns.name.Name | None, filename: str) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin, relativize=False, filename=filename, check_origin=False)


def _first_line(lines: list[str], fails: Callable[[str], bool], lo: int, hi: int) -> int:
    """The smallest k in lo..hi such that the first k lines already fail."""
    while lo < hi:
        mid = (lo + hi) // 2
        if fails("".join(lines[:mid])):
            hi = mid
        else:
            lo = mid + 1
    return hi


def parse_zone(text: str, *, filename: str) -> dns.zone.Zone:
    """Parse zone-file text; every error is an :class:`InputError` naming file:line."""
    try:
        return _parse(text, None, filename)
    except dns.zone.UnknownOrigin:
        origin = origin_from_filename(filename)
        if origin is None:
            raise InputError(
                f"{filename}:1: expected a $ORIGIN line (the file name is not a domain name)"
            ) from None
    except (dns.exception.DNSException, ValueError):
        origin = None  # report below, with the line found the same way
    return _parse_with_lines(text, origin, filename)


def _parse_with_lines(text: str, origin: dns.name.Name | None, filename: str) -> dns.zone.Zone:
    lines = text.splitlines(keepends=True)

    def error_of(prefix: str) -> Exception | None:
        try:
            _parse(prefix, origin, filename)
        except dns.zone.UnknownOrigin:
            return None
        except (dns.exception.DNSException, ValueError) as exc:
            return exc
        return None

    exc = error_of(text)
    if exc is None:
        return _parse(text, origin, filename)
    if isinstance(exc, dns.exception.SyntaxError):
        # "file:N: detail"; dnspython counts the newline after the last token read, so
        # the error may really be on line N-1: keep the first prefix that fails alike.
        where, _, detail = str(exc).partition(": ")
        reported = int(where.rpartition(":")[2]) if where.rpartition(":")[2].isdigit() else 1

        def same(prefix: str) -> bool:
            err = error_of(prefix)
            return err is not None and str(err).partition(": ")[2] == detail

        line = reported
        if reported > 1 and same("".join(lines[: reported - 1])):
            line = reported - 1
        detail = _FRIENDLIER.get(detail, detail)
        if detail.startswith("expecting "):
            detail = "expected " + detail[len("expecting ") :]
    else:
        # Raised when the records are committed (e.g. a CNAME beside other data): the
        # first prefix of the file that raises it ends on the offending line.
        kind = type(exc)

        def same(prefix: str) -> bool:
            return isinstance(error_of(prefix), kind)

        line = _first_line(lines, same, 1, max(len(lines), 1))
        detail = str(exc)
        if isinstance(exc, dns.zonefile.CNAMEAndOtherData):
            detail = "expected either a CNAME or other records at a name, not both"
    raise InputError(f"{filename}:{line}: {detail}")


@dataclass(eq=False)
class ZoneSet:
    """Loaded zones plus injected faults; :meth:`lookup` is an :data:`sim.policy.mx.Lookup`.

    The set of zones is fixed at construction except through :meth:`replace_zone`,
    which is how a running world models an operator editing a zone; everything else
    is read-only.  Equality is identity: a ZoneSet is shared state, not a value.
    """

    zones: tuple[dns.zone.Zone, ...]
    servfail: frozenset[dns.name.Name] = frozenset()
    timeout: frozenset[dns.name.Name] = frozenset()
    signed: frozenset[dns.name.Name] = frozenset()
    _answers: dict[tuple[dns.name.Name, int], DnsAnswer] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Memo of zone answers, cleared by :meth:`replace_zone`; faults are not memoised."""

    def __post_init__(self) -> None:
        origins = [z.origin for z in self.zones]
        for origin in origins:
            if origins.count(origin) > 1:
                raise InputError(f"zone {origin} is loaded twice (expected one file per origin)")
        for name in sorted(self.signed - set(origins)):
            loaded = ", ".join(str(o) for o in origins if o is not None) or "none"
            raise InputError(f"signed zone {name} is not loaded (expected one of: {loaded})")

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[tuple[str, str]],
        *,
        servfail: Iterable[str] = (),
        timeout: Iterable[str] = (),
        signed: Iterable[str] = (),
    ) -> ZoneSet:
        """Build from ``(filename, text)`` pairs, fault names and signed origins."""
        zones = tuple(parse_zone(text, filename=name) for name, text in texts)
        return cls(
            zones,
            _names(servfail, "--servfail"),
            _names(timeout, "--timeout"),
            _names(signed, "signed zone"),
        )

    def replace_zone(self, zone: dns.zone.Zone) -> dns.zone.Zone:
        """Put ``zone`` in place of the loaded zone with its origin; returns the old one.

        The memo of answers is cleared, so the next lookup sees the new data; caches
        downstream (resolvers) are left alone, as on the real Internet.
        """
        for i, old in enumerate(self.zones):
            if old.origin == zone.origin:
                self.zones = (*self.zones[:i], zone, *self.zones[i + 1 :])
                self._answers.clear()
                return old
        loaded = ", ".join(str(z.origin) for z in self.zones if z.origin is not None) or "none"
        raise InputError(f"no zone {zone.origin} to replace (loaded: {loaded})")

    def zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        """The zone with the longest origin containing ``name``."""
        best: dns.zone.Zone | None = None
        for zone in self.zones:
            if zone.origin is None:  # a zone file without records and without an origin
                continue
            if name.is_subdomain(zone.origin) and (
                best is None or len(zone.origin) > len(best.origin or dns.name.root)
            ):
                best = zone
        return best

    def lookup(self, query: Query) -> DnsAnswer:
        """Answer one query from the zones (see the module docstring for the rules)."""
        name, rdtype = query.name, query.rdtype
        if name in self.servfail:
            return DnsAnswer(AnswerKind.SERVFAIL)
        if name in self.timeout:
            return DnsAnswer(AnswerKind.TIMEOUT)
        key = (name, rdtype)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._answer(name, rdtype)
        return answer

    def _answer(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> DnsAnswer:
        zone = self.zone_for(name)
        if zone is None:
            return DnsAnswer(AnswerKind.NXDOMAIN)
        ad = zone.origin in self.signed
        node = zone.get_node(name)
        if node is None:
            below = any(n != name and n.is_subdomain(name) for n in zone.nodes)
            return DnsAnswer(AnswerKind.NODATA if below else AnswerKind.NXDOMAIN, authenticated=ad)
        for wanted in (rdtype, dns.rdatatype.CNAME):
            rdataset = node.get_rdataset(dns.rdataclass.IN, wanted)
            if rdataset is not None and len(rdataset):
                rrset = dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))
                return DnsAnswer(AnswerKind.ANSWER, rrset, authenticated=ad)
        return DnsAnswer(AnswerKind.NODATA, authenticated=ad)


def _names(items: Iterable[str], option: str) -> frozenset[dns.name.Name]:
    out = set()
    for item in items:
        try:
            out.add(dns.name.from_text(item.strip().rstrip(".") + "."))
        except dns.exception.DNSException as exc:
            raise InputError(f"{option} {item!r}: expected a domain name ({exc})") from None
    return frozenset(out)
