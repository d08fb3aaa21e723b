"""Faults on a timeline: hosts, links and resolvers failing, zones and certificates changing.

A fault is a process that flips a switch at ``at`` and flips it back ``down_for``
seconds later; in-flight sessions notice through the network checks in
:mod:`sim.world.mta`, and the event log gets ``fault_down`` / ``fault_up`` records
(host: the host, or the zone's origin; detail: the peer, ``dns servfail``,
``mx_change`` or ``certificate expired``).  The kinds:

* ``host``, ``link`` (with ``peer``), ``dns`` (the host's resolver fails): outages,
  so ``down_for`` is required.
* ``mx_change``: the zone ``zone`` is replaced by ``zone_text`` (an operator moved
  the MX).  Resolvers that cached the old records keep using them until their TTL
  runs out, and an MTA's cached MX result lasts only as long as those answers, so
  senders move over one TTL later, as on the real Internet.  Without ``down_for``
  the change is permanent.
* ``certificate``: the MTA ``host`` presents a certificate of another kind
  (``expired``, ``self-signed``, ``wrong-name``, ``valid``) for ``down_for``, or to
  the end of the run.  Senders that verify defer; opportunistic ones carry on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dns.name
import dns.zone
import simpy

from sim.policy.mx import AnswerKind
from sim.policy.zones import parse_zone
from sim.world.mta import CERTIFICATE_KINDS

if TYPE_CHECKING:
    from sim.world.engine import World

__all__ = ["FAULT_KINDS", "PERMANENT_KINDS", "FaultSpec", "infer_kind", "run_fault"]

FAULT_KINDS = ("host", "link", "dns", "mx_change", "certificate")
PERMANENT_KINDS = ("mx_change", "certificate")
"""Kinds that may last to the end of the run (no ``down_for``): changes, not outages."""


def infer_kind(*, zone: bool, certificate: bool, dns: bool, peer: bool) -> str:
    """The fault kind the given keys imply: a zone wins, then certificate, dns, peer."""
    if zone:
        return "mx_change"
    if certificate:
        return "certificate"
    if dns:
        return "dns"
    return "link" if peer else "host"


@dataclass(frozen=True)
class FaultSpec:
    """One fault; its kind follows from which fields are set (see :func:`infer_kind`).

    ``host`` (or the link ``host``-``peer``) is down from ``at`` for ``down_for``
    seconds.  With ``dns`` set (``servfail`` or ``timeout``) the host stays up but its
    resolver fails every lookup that its cache cannot answer.  With ``zone`` and
    ``zone_text`` the zone is replaced; with ``certificate`` the MTA ``host`` presents
    that kind of certificate.
    """

    at: float
    host: str = ""
    down_for: float | None = None
    peer: str | None = None
    dns: str | None = None
    zone: str | None = None
    zone_text: str | None = None
    certificate: str | None = None

    @property
    def kind(self) -> str:
        return infer_kind(
            zone=self.zone is not None or self.zone_text is not None,
            certificate=self.certificate is not None,
            dns=self.dns is not None,
            peer=self.peer is not None,
        )

    def __post_init__(self) -> None:
        kind = self.kind
        if self.down_for is None and kind not in PERMANENT_KINDS:
            raise ValueError(f"a {kind} fault needs down_for (how long it lasts)")
        if self.down_for is not None and not self.down_for > 0:
            raise ValueError(f"down_for must be > 0 seconds, got {self.down_for!r}")
        if self.dns is not None and self.dns not in ("servfail", "timeout"):
            raise ValueError(f"dns fault must be servfail or timeout, got {self.dns!r}")
        if self.dns is not None and self.peer is not None:
            raise ValueError("a DNS fault concerns one host's resolver, not a link")
        if kind == "mx_change":
            if self.zone is None or self.zone_text is None:
                raise ValueError("an mx_change fault needs zone (an origin) and zone_text")
            if self.host or self.peer or self.dns or self.certificate:
                raise ValueError("an mx_change fault concerns a zone, not a host")
        if kind == "certificate":
            if self.certificate not in CERTIFICATE_KINDS:
                raise ValueError(
                    f"certificate must be one of {', '.join(CERTIFICATE_KINDS)}, "
                    f"got {self.certificate!r}"
                )
            if self.peer is not None or self.dns is not None:
                raise ValueError("a certificate fault concerns one MTA, not a link or resolver")
        if kind != "mx_change" and not self.host:
            raise ValueError(f"a {kind} fault needs a host")

    @property
    def detail(self) -> str:
        """What the ``fault_down`` / ``fault_up`` records say besides the host."""
        if self.kind == "mx_change":
            return "mx_change"
        if self.kind == "certificate":
            return f"certificate {self.certificate}"
        return self.peer or (f"dns {self.dns}" if self.dns else "")


def run_fault(world: World, fault: FaultSpec) -> Generator[simpy.Event, Any, None]:
    """The fault's process; its target is checked against ``world`` now, not when it fires."""
    if fault.kind == "mx_change":
        return _change_zone(world, fault, _new_zone(world, fault))
    if fault.kind == "certificate":
        if fault.host.lower() not in world.mtas:
            raise ValueError(f"certificate fault on {fault.host!r}: not an MTA")
        return _change_certificate(world, fault)
    return _outage(world, fault)


def _new_zone(world: World, fault: FaultSpec) -> dns.zone.Zone:
    assert fault.zone is not None and fault.zone_text is not None  # by FaultSpec
    origin = fault.zone.rstrip(".")
    zone = parse_zone(fault.zone_text, filename=f"{origin}.zone")
    if zone.origin != dns.name.from_text(origin + "."):
        raise ValueError(f"mx_change of {origin}: the new zone's origin is {zone.origin}")
    if all(z.origin != zone.origin for z in world.zones.zones):
        raise ValueError(f"mx_change of {origin}: no such zone is loaded")
    return zone


def _outage(world: World, fault: FaultSpec) -> Generator[simpy.Event, Any, None]:
    """Take the target down at ``at`` and bring it back ``down_for`` later."""
    assert fault.down_for is not None  # by FaultSpec: outages always end
    yield world.env.timeout(fault.at)
    _set(world, fault, up=False)
    world.log("fault_down", fault.host, 0, fault.detail)
    yield world.env.timeout(fault.down_for)
    _set(world, fault, up=True)
    world.log("fault_up", fault.host, 0, fault.detail)


def _set(world: World, fault: FaultSpec, *, up: bool) -> None:
    if fault.dns is not None:
        resolver = world.mtas[fault.host.lower()].resolver
        resolver.failing = None if up else AnswerKind.from_text(fault.dns)
    elif fault.peer is None:
        world.set_host(fault.host, up)
    else:
        world.network.set_link(fault.host, fault.peer, up)


def _change_zone(
    world: World, fault: FaultSpec, zone: dns.zone.Zone
) -> Generator[simpy.Event, Any, None]:
    """Replace the zone at ``at``; put the old one back after ``down_for``, if given."""
    origin = str(fault.zone).rstrip(".")
    yield world.env.timeout(fault.at)
    old = world.zones.replace_zone(zone)
    world.log("fault_down", origin, 0, fault.detail)
    if fault.down_for is None:
        return
    yield world.env.timeout(fault.down_for)
    world.zones.replace_zone(old)
    world.log("fault_up", origin, 0, fault.detail)


def _change_certificate(world: World, fault: FaultSpec) -> Generator[simpy.Event, Any, None]:
    """Present another certificate from ``at``; the original again after ``down_for``.

    ``mta.chain`` is always rebound to another tuple, never mutated: verdicts may be
    memoised on the chain object.
    """
    mta = world.mtas[fault.host.lower()]
    yield world.env.timeout(fault.at)
    original = (mta.chain, mta.trusted)
    changed = dataclasses.replace(mta.spec, certificate=str(fault.certificate))
    mta.chain, mta.trusted = world.certificate_for(changed)
    world.log("fault_down", fault.host, 0, fault.detail)
    if fault.down_for is None:
        return
    yield world.env.timeout(fault.down_for)
    mta.chain, mta.trusted = original
    world.log("fault_up", fault.host, 0, fault.detail)
