"""The simulated Internet: build a world from specs, run it, reconcile every message.

A run is a function of (spec, seed): each component draws from its own stream named
after it (``World.stream("mta:mx1.example.com")``), so adding a host or an attacker
does not change the traffic.  At the end the ledger is reconciled against the
messages the MTAs really hold; a lost message raises
:class:`sim.world.ledger.ConservationError`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import simpy
from cryptography import x509

from sim.policy.certs import make_ca, make_leaf, make_self_signed
from sim.policy.mx import AnswerKind
from sim.policy.zones import ZoneSet
from sim.world.ledger import Ledger
from sim.world.mta import Message, Mta, MtaSpec
from sim.world.network import Latency, Network

__all__ = ["FaultSpec", "LinkSpec", "RunResult", "SourceSpec", "World", "WorldSpec"]


@dataclass(frozen=True)
class LinkSpec:
    a: str
    b: str
    latency: Latency = field(default_factory=Latency)
    loss: float = 0.0


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


@dataclass(frozen=True)
class WorldSpec:
    mtas: tuple[MtaSpec, ...]
    links: tuple[LinkSpec, ...] = ()
    zones: tuple[tuple[str, str], ...] = ()  # (file name, zone-file text)
    sources: tuple[SourceSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    sample_every: float = 60.0
    trace_headers: bool = True


@dataclass
class RunResult:
    """What a run produced; tables are pandas DataFrames."""

    summary: dict[str, Any]
    events: pd.DataFrame
    messages: pd.DataFrame
    timeseries: pd.DataFrame
    queue_waits: pd.DataFrame
    samples: dict[str, bytes] = field(default_factory=dict)  # "msg-7.eml" -> bytes
    transcripts: dict[str, str] = field(default_factory=dict)  # "session-7.txt" -> text
    hosts: tuple[str, ...] = ()  # MTAs, in spec order
    links: tuple[tuple[str, str], ...] = ()  # network edges (routers appear only here)


class World:
    """One run of one spec with one seed."""

    def __init__(self, spec: WorldSpec, *, seed: int = 0) -> None:
        self.spec = spec
        self.seed = seed
        self.env = simpy.Environment()
        self.network = Network()
        self.zones = ZoneSet.from_texts(spec.zones)
        self.ledger = Ledger()
        self.records: list[tuple[float, str, str, int, str]] = []
        self.latencies: list[float] = []
        self.queue_waits: list[tuple[str, float, float]] = []
        self.samples: list[tuple[float, str, int, int, int]] = []
        self.transcripts: dict[str, str] = {}
        self._next_id = 0
        self.epoch = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # simulated t = 0
        self.trace_headers = spec.trace_headers
        self.samples_eml: dict[str, bytes] = {}
        self.tls_counts: Counter[str] = Counter()
        # One test CA for the run: certificates are made once per MTA (EC keys: cheap).
        self._ca = make_ca(
            not_before=self.epoch - timedelta(days=365), not_after=self.epoch + timedelta(days=730)
        )
        self.mtas: dict[str, Mta] = {}
        for mta_spec in spec.mtas:
            self.network.add_host(mta_spec.name)
        for link in spec.links:
            self.network.add_link(link.a, link.b, link.latency, link.loss)
        for mta_spec in spec.mtas:
            self.mtas[mta_spec.name.lower()] = Mta(self, mta_spec)
        for source in spec.sources:
            if source.mta.lower() not in self.mtas:
                raise ValueError(f"source {source.name}: unknown mta {source.mta!r}")
            self.env.process(self.traffic(source))
        for fault in spec.faults:
            if fault.dns is not None and fault.host.lower() not in self.mtas:
                raise ValueError(f"DNS fault on {fault.host!r}: not an MTA with a resolver")
            self.env.process(self.fault(fault))
        self.env.process(self.sampler())

    def stream(self, name: str) -> random.Random:
        """A random stream of its own for one component, derived from the seed."""
        return random.Random(f"{self.seed}:{name}")

    def certificate_for(self, spec: MtaSpec) -> tuple[tuple[x509.Certificate, ...], bool]:
        """The chain an MTA presents and whether it builds to the run's trusted CA."""
        start, end = self.epoch - timedelta(days=30), self.epoch + timedelta(days=365)
        if spec.certificate == "self-signed":
            issued = make_self_signed([spec.name], not_before=start, not_after=end)
            return (issued.certificate,), False
        if spec.certificate == "expired":
            start, end = self.epoch - timedelta(days=400), self.epoch - timedelta(days=10)
        names = ["other.invalid"] if spec.certificate == "wrong-name" else [spec.name]
        leaf = make_leaf(self._ca, names, not_before=start, not_after=end)
        return (leaf.certificate, self._ca.certificate), True

    def clock(self, t: float) -> datetime:
        """The simulated wall-clock time of simulated second ``t`` (for headers and DSNs)."""
        return self.epoch + timedelta(seconds=t)

    def wants_transcript(self, name: str, limit: int = 5) -> bool:
        """Whether a session transcript of this kind (``session-``, ``failed-``) is kept."""
        kind = name.split("-", 1)[0]
        if name in self.transcripts:
            return False
        return sum(1 for n in self.transcripts if n.startswith(kind)) < limit

    def keep_transcript(self, name: str, text: str) -> None:
        """Keep the first few SMTP sessions (and the first few that failed) as text."""
        if self.wants_transcript(name):
            self.transcripts[name] = text

    def keep_sample(self, kind: str, msg_id: int, data: bytes, limit: int = 5) -> None:
        """Keep the first few delivered messages and DSNs as .eml samples."""
        if sum(1 for name in self.samples_eml if name.startswith(kind)) < limit:
            self.samples_eml[f"{kind}-{msg_id}.eml"] = data

    def log(self, kind: str, host: str, msg_id: int, detail: str = "") -> None:
        self.records.append((self.env.now, kind, host, msg_id, detail))

    def new_message(
        self, sender: str, recipient: str, size: int, *, is_dsn: bool = False
    ) -> Message:
        self._next_id += 1
        msg = Message(self._next_id, sender, recipient, size, self.env.now, is_dsn=is_dsn)
        self.ledger.inject(msg.msg_id, self.env.now, is_dsn=is_dsn)
        self.log("injected", "", msg.msg_id, f"{sender} -> {recipient}")
        return msg

    def traffic(self, source: SourceSpec) -> Generator[simpy.Event, Any, None]:
        rng = self.stream(f"source:{source.name}")
        mta = self.mtas[source.mta.lower()]
        sent = 0
        if source.start:
            yield self.env.timeout(source.start)
        peak = source.rate * (1.0 + DIURNAL_SWING if source.profile == "diurnal" else 1.0)
        while source.count is None or sent < source.count:
            # A non-homogeneous Poisson process by thinning (Lewis and Shedler).
            yield self.env.timeout(rng.expovariate(peak))
            if source.stop is not None and self.env.now >= source.stop:
                return
            if source.profile != "constant" and rng.random() > source.rate_at(self.env.now) / peak:
                continue
            size = source.size
            if source.size_distribution == "exponential" and size > 0:
                size = max(1, round(rng.expovariate(1.0 / size)))
            msg = self.new_message(source.sender, rng.choice(source.recipients), size)
            mta.accept(msg)
            sent += 1

    def fault(self, fault: FaultSpec) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(fault.at)
        self._set(fault, up=False)
        self.log(
            "fault_down", fault.host, 0, fault.peer or (f"dns {fault.dns}" if fault.dns else "")
        )
        yield self.env.timeout(fault.down_for)
        self._set(fault, up=True)
        self.log("fault_up", fault.host, 0, fault.peer or (f"dns {fault.dns}" if fault.dns else ""))

    def _set(self, fault: FaultSpec, *, up: bool) -> None:
        if fault.dns is not None:
            resolver = self.mtas[fault.host.lower()].resolver
            resolver.failing = None if up else AnswerKind.from_text(fault.dns)
        elif fault.peer is None:
            self.network.set_host(fault.host, up)
        else:
            self.network.set_link(fault.host, fault.peer, up)

    def sampler(self) -> Generator[simpy.Event, Any, None]:
        while True:
            for mta in self.mtas.values():
                self.samples.append(
                    (self.env.now, mta.name, len(mta.held), mta.smtpd.count, mta.slots.count)
                )
            yield self.env.timeout(self.spec.sample_every)

    def run(self, until: float) -> RunResult:
        self.env.run(until=until)
        present = set().union(*(m.held for m in self.mtas.values()))
        counts = self.ledger.reconcile(present)
        latencies = pd.Series(self.latencies, dtype=float)
        waits = pd.DataFrame(self.queue_waits, columns=["host", "t", "wait"])
        timeseries = pd.DataFrame(
            self.samples, columns=["t", "host", "queued", "inbound_sessions", "outbound_sessions"]
        )
        summary: dict[str, Any] = {
            **counts,
            "seed": self.seed,
            "until": until,
            "latency_p50_s": float(latencies.quantile(0.5)) if len(latencies) else None,
            "latency_p95_s": float(latencies.quantile(0.95)) if len(latencies) else None,
            "queue_wait_mean_s": float(waits["wait"].mean()) if len(waits) else None,
            "tls": dict(sorted(self.tls_counts.items())),
            "queue_peak": {
                host: int(group["queued"].max()) for host, group in timeseries.groupby("host")
            },
        }
        events = pd.DataFrame(self.records, columns=["t", "kind", "host", "msg_id", "detail"])
        messages = pd.DataFrame(
            [
                (
                    e.msg_id,
                    e.injected_at,
                    e.fate.value,
                    e.host,
                    e.accepted_at,
                    e.final_at,
                    e.attempts,
                    e.hops,
                    e.is_dsn,
                    e.reply,
                )
                for e in self.ledger.entries.values()
            ],
            columns=[
                "msg_id",
                "injected_at",
                "fate",
                "host",
                "accepted_at",
                "final_at",
                "attempts",
                "hops",
                "is_dsn",
                "reply",
            ],
        )
        return RunResult(
            summary,
            events,
            messages,
            timeseries,
            waits,
            dict(self.samples_eml),
            transcripts=dict(self.transcripts),
            hosts=tuple(m.name for m in self.spec.mtas),
            links=tuple((link.a, link.b) for link in self.spec.links),
        )
