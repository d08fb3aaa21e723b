"""Traffic sources: who submits mail to which MTA, how often, how big and to whom.

A source is a Poisson process (constant rate, or a diurnal profile by thinning) that
submits one-recipient messages to an MTA, plus optional bursts: ``count`` extra
messages at uniform random times in ``[at, at + over)``, the flash crowd of a mailing
list blast that no Poisson rate produces.  Recipients come from a fixed list, or from
domains with user counts (``user1..userN@domain``, every user equally likely, so a
domain weighs as much as it has users).

Each source draws from its own named random streams, the Poisson part from
``source:NAME`` and the bursts from ``source:NAME:bursts``, so adding a source or a
burst does not change any other arrival.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from sim.world.engine import World
    from sim.world.mta import Mta

__all__ = ["DIURNAL_SWING", "Burst", "Recipients", "SourceSpec", "bursts", "traffic"]

DIURNAL_SWING = 0.8  # a diurnal source runs between 0.2x and 1.8x its mean rate


@dataclass(frozen=True, slots=True)
class Burst:
    """``count`` extra messages at uniform random times in ``[at, at + over)``."""

    at: float
    count: int
    over: float = 0.0

    def __post_init__(self) -> None:
        if not (self.at >= 0 and math.isfinite(self.at)):
            raise ValueError(f"a burst's at must be a time >= 0, got {self.at!r}")
        if self.count < 1:
            raise ValueError(f"a burst's count must be >= 1, got {self.count!r}")
        if not (self.over >= 0 and math.isfinite(self.over)):
            raise ValueError(f"a burst's over must be a duration >= 0, got {self.over!r}")


@dataclass(frozen=True)
class SourceSpec:
    """Poisson traffic submitted to ``mta``: ``rate`` messages per second, plus bursts.

    Give ``recipients`` (addresses drawn uniformly) or ``recipient_domains``
    (``(domain, users)`` pairs), exactly one.  ``count``, ``start`` and ``stop`` shape
    the Poisson part only; bursts happen at their own times.
    """

    name: str
    mta: str
    rate: float
    sender: str
    recipients: tuple[str, ...] = ()
    size: int = 20_000
    count: int | None = None
    start: float = 0.0
    stop: float | None = None
    profile: str = "constant"  # or "diurnal": busiest at 14:00, quietest at 02:00
    size_distribution: str = "fixed"  # or "exponential" with mean ``size``
    recipient_domains: tuple[tuple[str, int], ...] = ()
    bursts: tuple[Burst, ...] = ()

    def __post_init__(self) -> None:
        if self.profile not in ("constant", "diurnal"):
            raise ValueError(f"profile must be constant or diurnal, got {self.profile!r}")
        if self.size_distribution not in ("fixed", "exponential"):
            raise ValueError(
                f"size_distribution must be fixed or exponential, got {self.size_distribution!r}"
            )
        if bool(self.recipients) == bool(self.recipient_domains):
            got = "both" if self.recipients else "neither"
            raise ValueError(
                f"source {self.name}: give recipients or recipient_domains, exactly one (got {got})"
            )
        for domain, users in self.recipient_domains:
            if users < 1:
                raise ValueError(f"source {self.name}: {domain} needs >= 1 user, got {users}")

    def rate_at(self, t: float) -> float:
        """Arrivals per second at simulated time t (t = 0 is 09:00, like the clock)."""
        if self.profile == "constant":
            return self.rate
        hour = (9.0 + t / 3600.0) % 24.0
        return self.rate * (1.0 + DIURNAL_SWING * math.cos(2 * math.pi * (hour - 14.0) / 24.0))


class Recipients:
    """Draws one recipient per message for a source, from its list or its user counts."""

    def __init__(self, source: SourceSpec) -> None:
        self.listed = source.recipients
        self.domains = [domain for domain, _ in source.recipient_domains]
        # Cumulative user counts: user k (0-based, over all domains) is in the first
        # domain whose running total exceeds k.
        self.totals = list(itertools.accumulate(users for _, users in source.recipient_domains))

    def draw(self, rng: random.Random) -> str:
        if self.listed:
            return rng.choice(self.listed)  # one draw, as before user counts existed
        k = rng.randrange(self.totals[-1])
        i = bisect.bisect_right(self.totals, k)
        before = self.totals[i - 1] if i else 0
        return f"user{k - before + 1}@{self.domains[i]}"


def _submit(
    world: World, source: SourceSpec, mta: Mta, rng: random.Random, recipients: Recipients
) -> None:
    size = source.size
    if source.size_distribution == "exponential" and size > 0:
        size = max(1, round(rng.expovariate(1.0 / size)))
    msg = world.new_message(source.sender, recipients.draw(rng), size)
    mta.accept(msg)


def traffic(world: World, source: SourceSpec) -> Generator[simpy.Event, Any, None]:
    """Submit ``source``'s messages to its MTA until its count, stop time or the run ends.

    The bursts run as a process of their own (:func:`bursts`), started from here.
    """
    rng = world.stream(f"source:{source.name}")
    mta = world.mtas[source.mta.lower()]
    recipients = Recipients(source)
    if source.bursts:
        world.env.process(bursts(world, source))
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
        _submit(world, source, mta, rng, recipients)
        sent += 1


def bursts(world: World, source: SourceSpec) -> Generator[simpy.Event, Any, None]:
    """Submit every burst's messages at their drawn times, in time order."""
    rng = world.stream(f"source:{source.name}:bursts")
    mta = world.mtas[source.mta.lower()]
    recipients = Recipients(source)
    times = sorted(b.at + b.over * rng.random() for b in source.bursts for _ in range(b.count))
    for t in times:
        if t > world.env.now:
            yield world.env.timeout(t - world.env.now)
        _submit(world, source, mta, rng, recipients)
