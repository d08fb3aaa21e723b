"""Traffic sources: who submits mail to which MTA, how often and how big.

A source is a Poisson process (constant rate, or a diurnal profile by thinning) that
submits one-recipient messages to an MTA; each source draws from its own named random
stream, so adding a source does not change the others' traffic.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from sim.world.engine import World

__all__ = ["DIURNAL_SWING", "SourceSpec", "traffic"]

DIURNAL_SWING = 0.8  # a diurnal source runs between 0.2x and 1.8x its mean rate


@dataclass(frozen=True)
class SourceSpec:
    """Poisson traffic submitted to ``mta``: ``rate`` messages per second."""

    name: str
    mta: str
    rate: float
    sender: str
    recipients: tuple[str, ...]
    size: int = 20_000
    count: int | None = None
    start: float = 0.0
    stop: float | None = None
    profile: str = "constant"  # or "diurnal": busiest at 14:00, quietest at 02:00
    size_distribution: str = "fixed"  # or "exponential" with mean ``size``

    def __post_init__(self) -> None:
        if self.profile not in ("constant", "diurnal"):
            raise ValueError(f"profile must be constant or diurnal, got {self.profile!r}")
        if self.size_distribution not in ("fixed", "exponential"):
            raise ValueError(
                f"size_distribution must be fixed or exponential, got {self.size_distribution!r}"
            )

    def rate_at(self, t: float) -> float:
        """Arrivals per second at simulated time t (t = 0 is 09:00, like the clock)."""
        if self.profile == "constant":
            return self.rate
        hour = (9.0 + t / 3600.0) % 24.0
        return self.rate * (1.0 + DIURNAL_SWING * math.cos(2 * math.pi * (hour - 14.0) / 24.0))


def traffic(world: World, source: SourceSpec) -> Generator[simpy.Event, Any, None]:
    """Submit ``source``'s messages to its MTA until its count, stop time or the run ends."""
    rng = world.stream(f"source:{source.name}")
    mta = world.mtas[source.mta.lower()]
    sent = 0
    if source.start:
        yield world.env.timeout(source.start)
    peak = source.rate * (1.0 + DIURNAL_SWING if source.profile == "diurnal" else 1.0)
    while source.count is None or sent < source.count:
        # A non-homogeneous Poisson process by thinning (Lewis and Shedler).
        yield world.env.timeout(rng.expovariate(peak))
        if source.stop is not None and world.env.now >= source.stop:
            return
        if source.profile != "constant" and rng.random() > source.rate_at(world.env.now) / peak:
            continue
        size = source.size
        if source.size_distribution == "exponential" and size > 0:
            size = max(1, round(rng.expovariate(1.0 / size)))
        msg = world.new_message(source.sender, rng.choice(source.recipients), size)
        mta.accept(msg)
        sent += 1
