"""Faults on a timeline: hosts, links and resolvers going down and coming back.

A fault is a process that flips a switch at ``at`` and flips it back ``down_for``
seconds later; in-flight sessions notice through the network checks in
:mod:`sim.world.mta`, and the event log gets ``fault_down`` / ``fault_up`` records.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim.policy.mx import AnswerKind

if TYPE_CHECKING:
    from sim.world.engine import World

__all__ = ["FaultSpec", "run_fault"]


@dataclass(frozen=True)
class FaultSpec:
    """``host`` (or the link ``host``-``peer``) is down from ``at`` for ``down_for`` seconds.

    With ``dns`` set (``servfail`` or ``timeout``) the host stays up but its resolver
    fails every lookup that its cache cannot answer.
    """

    at: float
    host: str
    down_for: float
    peer: str | None = None
    dns: str | None = None

    def __post_init__(self) -> None:
        if self.dns is not None and self.dns not in ("servfail", "timeout"):
            raise ValueError(f"dns fault must be servfail or timeout, got {self.dns!r}")
        if self.dns is not None and self.peer is not None:
            raise ValueError("a DNS fault concerns one host's resolver, not a link")


def run_fault(world: World, fault: FaultSpec) -> Generator[simpy.Event, Any, None]:
    """Take the fault's target down at ``at`` and bring it back ``down_for`` later."""
    yield world.env.timeout(fault.at)
    _set(world, fault, up=False)
    world.log("fault_down", fault.host, 0, fault.peer or (f"dns {fault.dns}" if fault.dns else ""))
    yield world.env.timeout(fault.down_for)
    _set(world, fault, up=True)
    world.log("fault_up", fault.host, 0, fault.peer or (f"dns {fault.dns}" if fault.dns else ""))


def _set(world: World, fault: FaultSpec, *, up: bool) -> None:
    if fault.dns is not None:
        resolver = world.mtas[fault.host.lower()].resolver
        resolver.failing = None if up else AnswerKind.from_text(fault.dns)
    elif fault.peer is None:
        world.network.set_host(fault.host, up)
    else:
        world.network.set_link(fault.host, fault.peer, up)
