"""The simulated Internet: build a world from specs, run it, reconcile every message.

A run is a function of (spec, seed): each component draws from its own stream named
after it (``World.stream("mta:mx1.example.com")``), so adding a host or an attacker
does not change the traffic.  At the end the ledger is reconciled against the
messages the MTAs really hold; a lost message raises
:class:`sim.world.ledger.ConservationError`.
"""

from __future__ import annotations

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
from sim.policy.zones import ZoneSet
from sim.world.clients import SourceSpec, traffic
from sim.world.faults import FaultSpec, run_fault
from sim.world.ledger import Ledger
from sim.world.mta import Message, Mta, MtaSpec
from sim.world.network import LinkSpec, Network

__all__ = ["FaultSpec", "LinkSpec", "RunResult", "SourceSpec", "World", "WorldSpec"]


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
            self.env.process(traffic(self, source))
        for fault in spec.faults:
            if fault.dns is not None and fault.host.lower() not in self.mtas:
                raise ValueError(f"DNS fault on {fault.host!r}: not an MTA with a resolver")
            self.env.process(run_fault(self, fault))
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
