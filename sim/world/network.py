"""The simulated Internet's wiring: hosts and links on a networkx graph.

A link has a latency distribution (one-way, seconds) and a loss probability; the
latency between two hosts is the sum along the shortest path by mean latency, which
is computed once per pair and cached.  Hosts and links can be taken down and brought
back by faults; a connection needs both end hosts and every link on its path up.
A link may have a bandwidth (bits per second): moving a message then takes its size
over the narrowest link on the path, with no sharing between flows (a first-order
model: enough to make a 50 MB message slower than a 20 kB one on a thin link).
Randomness comes from the caller's ``random.Random`` (one named stream per use), so
adding a host does not change other draws.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from enum import Enum

import networkx as nx

__all__ = ["Latency", "LatencyKind", "LinkSpec", "Network", "Route", "Unreachable"]


class Unreachable(Exception):
    """No working path: a host or a link on the way is down, or none exists."""


class LatencyKind(Enum):
    CONSTANT = "constant"
    EXPONENTIAL = "exponential"
    UNIFORM = "uniform"

    @classmethod
    def from_text(cls, text: str) -> LatencyKind:
        for kind in cls:
            if kind.value == text.strip().lower():
                return kind
        raise ValueError(f"unknown latency kind {text!r} (expected constant, exponential, uniform)")


@dataclass(frozen=True, slots=True)
class Latency:
    """One-way delay of a link: a constant, an exponential with this mean, or a range."""

    mean: float = 0.01
    kind: LatencyKind = LatencyKind.CONSTANT
    spread: float = 0.0

    def __post_init__(self) -> None:
        if self.mean < 0 or self.spread < 0:
            raise ValueError("latency mean and spread must be >= 0")

    def sample(self, rng: random.Random) -> float:
        if self.kind is LatencyKind.EXPONENTIAL and self.mean > 0:
            return rng.expovariate(1.0 / self.mean)
        if self.kind is LatencyKind.UNIFORM:
            return max(0.0, rng.uniform(self.mean - self.spread, self.mean + self.spread))
        return self.mean


@dataclass(frozen=True)
class LinkSpec:
    """A cable between two hosts (or routers): its one-way latency, loss and bandwidth.

    ``bandwidth`` is in bits per second; None means unlimited (transfers take no time).
    """

    a: str
    b: str
    latency: Latency = field(default_factory=Latency)
    loss: float = 0.0
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        _check_bandwidth(self.a, self.b, self.bandwidth)


def _check_bandwidth(a: str, b: str, bandwidth: float | None) -> None:
    if bandwidth is not None and not (bandwidth > 0 and math.isfinite(bandwidth)):
        raise ValueError(f"link {a}-{b}: bandwidth must be > 0 bits per second, got {bandwidth}")


@dataclass(frozen=True, slots=True)
class Route:
    """A working path and what its links add up to: latencies, losses, the narrowest
    bandwidth (bits per second; None when no link limits)."""

    hops: tuple[str, ...]
    latencies: tuple[Latency, ...]
    losses: tuple[float, ...]  # only the lossy links, in path order
    bandwidth: float | None


class Network:
    """Hosts and links; answers "how long does a round trip take, if it works at all"."""

    def __init__(self) -> None:
        self.graph: nx.Graph[str] = nx.Graph()
        self._paths: dict[tuple[str, str], list[str]] = {}
        self._routes: dict[tuple[str, str], Route] = {}
        self.down_hosts: set[str] = set()
        self.down_links: set[frozenset[str]] = set()

    def _forget(self) -> None:
        """Drop cached paths and routes: the topology or what is up has changed."""
        self._paths.clear()
        self._routes.clear()

    def add_host(self, name: str) -> None:
        self.graph.add_node(name)
        self._forget()

    def add_link(
        self,
        a: str,
        b: str,
        latency: Latency | None = None,
        loss: float = 0.0,
        bandwidth: float | None = None,
    ) -> None:
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"link {a}-{b}: loss must be in [0, 1), got {loss}")
        _check_bandwidth(a, b, bandwidth)
        lat = latency or Latency()
        self.graph.add_edge(a, b, latency=lat, loss=loss, weight=lat.mean, bandwidth=bandwidth)
        self._forget()

    def path(self, a: str, b: str) -> list[str]:
        """Hosts from a to b along the lowest mean latency over what is up (cached).

        Routing goes around hosts and links that are down, as the Internet's routing
        would; the cache is cleared whenever a fault changes the picture.
        """
        key = (a, b)
        if key not in self._paths:
            view = nx.restricted_view(
                self.graph,
                self.down_hosts - {a, b},
                [tuple(link) for link in self.down_links],
            )
            try:
                self._paths[key] = nx.shortest_path(view, a, b, weight="weight")
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                raise Unreachable(f"no working path from {a} to {b}") from None
        return self._paths[key]

    def set_host(self, name: str, up: bool) -> None:
        (self.down_hosts.discard if up else self.down_hosts.add)(name)
        self._forget()

    def set_link(self, a: str, b: str, up: bool) -> None:
        (self.down_links.discard if up else self.down_links.add)(frozenset((a, b)))
        self._forget()

    def check(self, a: str, b: str) -> list[str]:
        """The path, or Unreachable naming what is down."""
        return list(self.route(a, b).hops)

    def route(self, a: str, b: str) -> Route:
        """The working path from a to b with its links' properties (cached like paths)."""
        down = self.down_hosts
        if down and (a in down or b in down):
            raise Unreachable(f"{a if a in down else b} is down")
        route = self._routes.get((a, b))
        if route is None:
            hops = tuple(self.path(a, b))
            links = [self.graph.edges[x, y] for x, y in itertools.pairwise(hops)]
            limits = [float(e["bandwidth"]) for e in links if e.get("bandwidth") is not None]
            route = Route(
                hops,
                tuple(e["latency"] for e in links),
                tuple(float(e["loss"]) for e in links if e["loss"]),
                min(limits) if limits else None,
            )
            self._routes[(a, b)] = route
        return route

    def one_way(self, a: str, b: str, rng: random.Random) -> float:
        """A one-way delay sample from a to b (raises Unreachable)."""
        if a == b:
            return 0.0
        return sum(latency.sample(rng) for latency in self.route(a, b).latencies)

    def transfer_time(self, a: str, b: str, size_bytes: int) -> float:
        """Seconds to push ``size_bytes`` from a to b: 8 x size over the narrowest link.

        The path is the one routing uses now (around what is down); links without a
        bandwidth do not limit, so an all-unlimited path takes 0 s.  Raises Unreachable.
        """
        if a == b:
            return 0.0
        bandwidth = self.route(a, b).bandwidth
        if size_bytes <= 0 or bandwidth is None:
            return 0.0
        return size_bytes * 8 / bandwidth

    def delivers(self, a: str, b: str, rng: random.Random) -> bool:
        """Whether one packet exchange survives the links' loss probabilities."""
        if a == b:
            return True
        return all(rng.random() >= loss for loss in self.route(a, b).losses)
