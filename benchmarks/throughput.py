"""Messages per wall-clock second: relaysim's capacity world against a bare simpy M/M/c.

Run: .venv/bin/python benchmarks/throughput.py [N]
Both models get the same arrivals (Poisson, 3.5/s) and service times (exponential,
mean 1 s) with 4 servers.  Targets (issue "simulated Internet"): relaysim costs at most
2x the bare model per message (ratio >= 0.5), one million two-hop messages in 60 s on
one core, and peak memory at 1M no more than 1.5x that at 100k.  Reported, not asserted.
"""

from __future__ import annotations

import random
import sys
import time
import tracemalloc
from collections.abc import Generator
from typing import Any

import simpy

from sim.world.engine import LinkSpec, SourceSpec, World, WorldSpec
from sim.world.mta import MtaSpec
from sim.world.network import Latency

LAMBDA, MU, SERVERS = 3.5, 1.0, 4


def bare_mmc(n: int, seed: int = 1) -> float:
    """Wall seconds for n jobs through a plain simpy M/M/c."""
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    rng = random.Random(seed)

    def job() -> Generator[simpy.Event, Any, None]:
        with servers.request() as req:
            yield req
            yield env.timeout(rng.expovariate(MU))

    def source() -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(rng.expovariate(LAMBDA))
            env.process(job())

    env.process(source())
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def capacity_world(n: int) -> WorldSpec:
    return WorldSpec(
        mtas=(
            MtaSpec("sender", "198.51.100.5", delivery_slots=SERVERS),
            MtaSpec("mx.example.com", "192.0.2.10", domains=("example.com",), service_time=1 / MU),
        ),
        links=(LinkSpec("sender", "mx.example.com", Latency(0.0)),),
        zones=(
            ("example.com.zone", "$ORIGIN example.com.\n$TTL 300\n@ MX 10 mx\nmx A 192.0.2.10\n"),
        ),
        sources=(
            SourceSpec("poisson", "sender", LAMBDA, "a@sender.org", ("b@example.com",), count=n),
        ),
        sample_every=3600,
        trace_headers=False,
    )


def relaysim(n: int, seed: int = 1) -> tuple[float, int]:
    """Wall seconds and delivered count for n messages."""
    start = time.perf_counter()
    result = World(capacity_world(n), seed=seed).run(until=n / LAMBDA * 2 + 600)
    return time.perf_counter() - start, int(result.summary["delivered"])


def peak_memory(n: int) -> int:
    """Peak traced Python memory (bytes) of one run of n messages (a separate, slower run)."""
    tracemalloc.start()
    World(capacity_world(n), seed=1).run(until=n / LAMBDA * 2 + 600)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    bare = bare_mmc(n)
    wall, delivered = relaysim(n)
    peak, small_peak = peak_memory(n), peak_memory(max(1, n // 10))
    print(f"messages: {n} (delivered {delivered})")
    print(f"bare simpy M/M/{SERVERS}: {n / bare:,.0f} jobs/s")
    print(f"relaysim two-hop:      {n / wall:,.0f} messages/s")
    print(f"ratio relaysim/bare:   {bare / wall:.3f} (target >= 0.5)")
    print(f"1M messages would take about {1_000_000 / (n / wall):,.0f} s (target 60 s)")
    print(
        f"peak memory: {peak / 2**20:.1f} MiB at {n}, {small_peak / 2**20:.1f} MiB at {n // 10}"
        f" (ratio {peak / max(small_peak, 1):.1f}; the event log is kept in memory)"
    )


if __name__ == "__main__":
    main()
