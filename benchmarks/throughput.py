"""Messages per wall-clock second: relaysim's capacity world against a bare simpy M/M/c.

Run: .venv/bin/python benchmarks/throughput.py [N] [--events none|sample|all]
Both models get the same arrivals (Poisson, 3.5/s) and service times (exponential,
mean 1 s) with 4 servers.  Targets (issue "simulated Internet"): relaysim costs at most
2x the bare model per message (ratio >= 0.5), one million two-hop messages in 60 s on
one core, and peak memory at 1M no more than 1.5x that at 100k.  Reported, not asserted.

Each relaysim run happens in a fresh child process, so its peak resident memory
(``ru_maxrss``) is its own: N messages and N/10 messages are compared.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
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
    """Two hops: the sending MTA relays each message to the MX, which delivers it."""
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


def child(n: int, events: str) -> None:
    """One relaysim run in this process; prints wall seconds, delivered, peak RSS (JSON)."""
    start = time.perf_counter()
    result = World(capacity_world(n), seed=1, events=events).run(until=n / LAMBDA * 2 + 600)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = result.summary
    print(json.dumps({"wall": wall, "delivered": summary["delivered"], "rss_kib": peak_kib}))


def relaysim(n: int, events: str) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return what it printed."""
    out = subprocess.run(
        [sys.executable, __file__, str(n), "--events", events, "--child"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000, help="messages")
    parser.add_argument("--events", choices=("all", "sample", "none"), default="none")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.n, args.events)
        return
    n, small = args.n, max(1, args.n // 10)
    bare = bare_mmc(n)
    big_run, small_run = relaysim(n, args.events), relaysim(small, args.events)
    rate = n / big_run["wall"]
    print(f"messages: {n:,} (delivered {big_run['delivered']:,}), events={args.events}")
    print(f"bare simpy M/M/{SERVERS}:   {n / bare:,.0f} jobs/s")
    print(f"relaysim two-hop:      {rate:,.0f} messages/s ({big_run['wall']:.1f} s)")
    print(f"ratio relaysim/bare:   {bare / big_run['wall']:.3f} (target >= 0.5)")
    print(f"1M messages at this rate: {1_000_000 / rate:,.0f} s (target 60 s)")
    big_mib, small_mib = big_run["rss_kib"] / 1024, small_run["rss_kib"] / 1024
    print(
        f"peak RSS: {big_mib:,.0f} MiB at {n:,}, {small_mib:,.0f} MiB at {small:,}"
        f" (ratio {big_mib / small_mib:.2f}, target <= 1.5)"
    )


if __name__ == "__main__":
    main()
