"""The simulated Internet: build a world from specs, run it, reconcile every message.

A run is a function of (spec, seed): each component draws from its own stream named
after it (``World.stream("mta:mx1.example.com")``), so adding a host or an attacker
does not change the traffic.  At the end the ledger is reconciled against the
messages the MTAs really hold; a lost message raises
:class:`sim.world.ledger.ConservationError`.
"""

from __future__ import annotations

import itertools
import math
import random
from array import array
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import simpy
from cryptography import x509

from sim.policy.certs import make_ca, make_leaf, make_self_signed
from sim.policy.tls_attacks import Attack
from sim.policy.zones import ZoneSet
from sim.world.attackers import (
    SpammerSpec,
    SpooferSpec,
    StripperSpec,
    run_spammer,
    run_spoofer,
    run_stripper,
)
from sim.world.clients import SourceSpec, traffic
from sim.world.faults import FaultSpec, run_fault
from sim.world.ledger import Ledger
from sim.world.mta import Message, Mta, MtaSpec
from sim.world.network import LinkSpec, Network, Unreachable
from sim.world.services import ServiceSpec

__all__ = ["FaultSpec", "LinkSpec", "RunResult", "SourceSpec", "World", "WorldSpec"]

EVENT_MODES = ("all", "sample", "none")
SAMPLE_EVERY = 100  # events="sample" keeps every 100th message's events and ledger row
TRANSCRIPTS_PER_KIND = 5  # sessions kept as text: the first successful, the first failed
SAMPLES_PER_KIND = 5  # .eml files kept per kind: delivered messages, DSNs, delay notices


@dataclass(frozen=True)
class WorldSpec:
    mtas: tuple[MtaSpec, ...]
    links: tuple[LinkSpec, ...] = ()
    zones: tuple[tuple[str, str], ...] = ()  # (file name, zone-file text)
    sources: tuple[SourceSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    sample_every: float = 60.0
    trace_headers: bool = True
    signed_zones: tuple[str, ...] = ()  # origins whose answers are DNSSEC-validated
    services: tuple[ServiceSpec, ...] = ()  # names that stand for several MTAs
    spammers: tuple[SpammerSpec, ...] = ()  # open-relay hunters (sim.world.attackers)
    strippers: tuple[StripperSpec, ...] = ()  # men in the middle on links
    spoofers: tuple[SpooferSpec, ...] = ()  # DNS cache poisoners

    def expected_messages(self, until: float) -> float:
        """About how many messages the sources submit in ``until`` seconds (no DSNs)."""
        total = 0.0
        for source in self.sources:
            active = max(0.0, min(source.stop or until, until) - source.start)
            poisson = source.rate * active
            total += poisson if source.count is None else min(poisson, source.count)
            total += sum(burst.count for burst in getattr(source, "bursts", ()))
        return total


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

    def __init__(
        self, spec: WorldSpec, *, seed: int = 0, events: str = "all", memoize: bool = True
    ) -> None:
        if events not in EVENT_MODES:
            raise ValueError(f"events must be one of {', '.join(EVENT_MODES)}, got {events!r}")
        self.spec = spec
        self.seed = seed
        self.events = events
        self.memoize = memoize  # replay identical SMTP sessions (False: play every one)
        # Keep the events and ledger rows of every message, one in SAMPLE_EVERY, or none;
        # run-level events (faults: message id 0) are always kept.
        self._every = {"all": 1, "sample": SAMPLE_EVERY, "none": 0}[events]
        self.env = simpy.Environment()
        self.network = Network()
        self.zones = ZoneSet.from_texts(spec.zones, signed=spec.signed_zones)
        self.ledger = Ledger(keep=self.keeps)
        self.records: list[tuple[float, str, str, int, str]] = []
        self.latencies = array("d")  # every delivery's latency: exact percentiles, 8 B each
        self.queue_waits: list[tuple[str, float, float]] = []
        self._wait_total, self._wait_count = 0.0, 0
        self.suspended = 0  # deferrals without a connection: the destination was dead
        self.attack_counts: Counter[str] = Counter()
        self.blocklists: dict[str, set[str]] = {}  # name -> listed addresses
        self.strippers: dict[frozenset[str], Attack] = {}  # links with a man in the middle
        self._attacker_chain: tuple[x509.Certificate, ...] | None = None
        self.attacker_hosts: set[str] = set()  # MTAs run by an attacker (mail diverted)
        self.samples: list[tuple[float, str, int, int, int]] = []
        self.transcripts: dict[str, str] = {}
        self._transcript_kinds: Counter[str] = Counter({"session": 0, "failed": 0})
        self._sample_kinds: Counter[str] = Counter()
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
        self._by_name: dict[str, Mta] = {}
        self._services = {s.name.rstrip(".").lower(): s for s in spec.services}
        self._turns: dict[str, int] = {}
        for mta_spec in spec.mtas:
            self.network.add_host(mta_spec.name)
        for link in spec.links:
            self.network.add_link(link.a, link.b, link.latency, link.loss, link.bandwidth)
        for mta_spec in spec.mtas:
            self.mtas[mta_spec.name.lower()] = Mta(self, mta_spec)
        for service in spec.services:
            if service.name.rstrip(".").lower() in self.mtas:
                raise ValueError(f"service {service.name}: the name is already an MTA's")
            for member in service.members:
                if member.lower() not in self.mtas:
                    raise ValueError(f"service {service.name}: unknown member {member!r}")
        clients = sum(m.delivery_slots for m in spec.mtas)  # all outbound sessions at once
        for mta in self.mtas.values():
            mta.inbound_limited = mta.spec.smtpd_slots < clients
        for source in spec.sources:
            if source.mta.lower() not in self.mtas:
                raise ValueError(f"source {source.name}: unknown mta {source.mta!r}")
            self.env.process(traffic(self, source))
        for spammer in spec.spammers:
            for target in spammer.targets:
                if target.lower() not in self.mtas:
                    raise ValueError(f"spammer {spammer.name}: unknown target {target!r}")
            self.env.process(run_spammer(self, spammer))
        for spoofer in spec.spoofers:
            if spoofer.resolver.lower() not in self.mtas:
                raise ValueError(f"spoofer {spoofer.name}: unknown resolver {spoofer.resolver!r}")
            self.env.process(run_spoofer(self, spoofer))
        for stripper in spec.strippers:
            if not self.network.graph.has_edge(stripper.a, stripper.b):
                raise ValueError(f"stripper {stripper.name}: no link {stripper.a}-{stripper.b}")
            self.env.process(run_stripper(self, stripper))
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

    def wants_transcript(self, name: str) -> bool:
        """Whether a session transcript of this kind (``session-``, ``failed-``) is kept."""
        return name not in self.transcripts and self.wants_kind(name.split("-", 1)[0])

    def wants_kind(self, kind: str) -> bool:
        """Whether transcripts of this kind (``session``, ``failed``) are still collected."""
        return self._transcript_kinds[kind] < TRANSCRIPTS_PER_KIND

    def keep_transcript(self, name: str, text: str) -> None:
        """Keep the first few SMTP sessions (and the first few that failed) as text."""
        if self.wants_transcript(name):
            self.transcripts[name] = text
            self._transcript_kinds[name.split("-", 1)[0]] += 1

    def wants_sample(self, kind: str) -> bool:
        """Whether .eml samples of this kind (``msg``, ``dsn``, ``delay``) are still kept."""
        return self._sample_kinds[kind] < SAMPLES_PER_KIND

    def keep_sample(self, kind: str, msg_id: int, data: bytes) -> None:
        """Keep the first few delivered messages and DSNs as .eml samples."""
        if self.wants_sample(kind):
            self.samples_eml[f"{kind}-{msg_id}.eml"] = data
            self._sample_kinds[kind] += 1

    def queue_wait(self, host: str, msg_id: int, enqueued: float, wait: float) -> None:
        """A message waited ``wait`` seconds in ``host``'s queue for a delivery slot."""
        self._wait_total += wait
        self._wait_count += 1
        if self.keeps(msg_id) or self._every == 1:
            self.queue_waits.append((host, enqueued, wait))

    def validity_window(self, chain: tuple[x509.Certificate, ...], t: float) -> tuple[float, float]:
        """The simulated interval around ``t`` in which no certificate of ``chain``
        starts or stops being valid."""
        low, high = -math.inf, math.inf
        for cert in chain:
            for edge in (cert.not_valid_before_utc, cert.not_valid_after_utc):
                at = (edge - self.epoch).total_seconds()
                if at <= t:
                    low = max(low, at)
                else:
                    high = min(high, at)
        return low, high

    def mitm(self, a: str, b: str) -> Attack | None:
        """The attack on the path from a to b now, if a man in the middle sits on it."""
        try:
            hops = self.network.route(a, b).hops
        except Unreachable:
            return None
        for x, y in itertools.pairwise(hops):
            attack = self.strippers.get(frozenset((x, y)))
            if attack is not None:
                return attack
        return None

    @property
    def attacker_chain(self) -> tuple[x509.Certificate, ...]:
        """The self-signed certificate an intercepting man in the middle presents."""
        if self._attacker_chain is None:
            issued = make_self_signed(
                ["mitm.invalid"],
                not_before=self.epoch - timedelta(days=30),
                not_after=self.epoch + timedelta(days=365),
            )
            self._attacker_chain = (issued.certificate,)
        return self._attacker_chain

    def mta_named(self, host: str) -> Mta | None:
        """The MTA a host name (as in an MX record: any case, trailing dot) refers to.

        A service name gives one of its members: the first one up (failover) or the
        next one up in turn (balance).
        """
        if self._services:
            service = self._services.get(host.rstrip(".").lower())
            if service is not None:
                return self.member_for(service)
        mta = self._by_name.get(host)
        if mta is None:
            mta = self.mtas.get(host.rstrip(".").lower())
            if mta is not None:
                self._by_name[host] = mta
        return mta

    def member_for(self, service: ServiceSpec) -> Mta:
        """The member a connection to ``service`` reaches now."""
        members = [self.mtas[m.lower()] for m in service.members]
        up = [m for m in members if m.up]
        if not up:
            return members[0]  # nobody answers: the connection fails on the first
        if service.mode == "failover":
            return up[0]
        turn = self._turns.get(service.name, 0)
        self._turns[service.name] = turn + 1
        return up[turn % len(up)]

    def queue_partner(self, mta: Mta) -> Mta | None:
        """A live member sharing ``mta``'s queue (a shared-queue service), if any."""
        for service in self.spec.services:
            if service.shared_queue and mta.name in service.members:
                for name in service.members:
                    other = self.mtas[name.lower()]
                    if other is not mta and other.up:
                        return other
        return None

    def set_host(self, name: str, up: bool) -> None:
        """A host goes down or comes back: the network and, for an MTA, its queue."""
        self.network.set_host(name, up)
        mta = self.mtas.get(name.lower())
        if mta is not None:
            mta.set_up(up)

    def keeps(self, msg_id: int) -> bool:
        """Whether this message's events and ledger row are kept (see ``events``)."""
        every = self._every
        return msg_id == 0 or (every != 0 and msg_id % every == 0)

    def log(self, kind: str, host: str, msg_id: int, detail: str = "") -> None:
        every = self._every
        if every == 1 or msg_id == 0 or (every and msg_id % every == 0):
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
                    (self.env.now, mta.name, len(mta.held), mta.inbound_sessions, mta.slots.count)
                )
            yield self.env.timeout(self.spec.sample_every)

    def run(self, until: float) -> RunResult:
        self.env.run(until=until)
        present = set().union(*(m.held for m in self.mtas.values()))
        counts = self.ledger.reconcile(present)
        latencies = pd.Series(np.frombuffer(self.latencies), dtype=float)
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
            "queue_wait_mean_s": (
                self._wait_total / self._wait_count if self._wait_count else None
            ),
            "suspended_deferrals": self.suspended,
            "tls": dict(sorted(self.tls_counts.items())),
            "attack": dict(sorted(self.attack_counts.items())),
            "events": self.events,
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
                    e.origin,
                )
                for e in self.ledger.entries.values()
                if self.keeps(e.msg_id)
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
                "origin",
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
