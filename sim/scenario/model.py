"""The scenario schema: pydantic models for every section of a scenario file.

Unknown keys are errors everywhere (``extra="forbid"``).  Shorthands are expanded
before a field is validated: durations (``90s``) become seconds, rates (``10/min``)
messages per second, bandwidths (``10Mbit/s``) bits per second, a latency given as
one duration a constant latency, a zone given as text ``{text: ...}``.  The JSON
Schema (``relaysim schema``) shows the shorthand forms too, so an editor accepts what
the loader accepts.

Checks that span sections (a source's MTA exists, links join known hosts, zone and
``main.cf`` texts parse) live in :mod:`sim.scenario.checks`; :func:`load_scenario`
reports them together with the field errors.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.policy.greylist import GreylistConfig
from sim.policy.retry import ScheduleKind, build_schedule
from sim.scenario.units import (
    BANDWIDTH_PATTERN,
    DURATION_PATTERN,
    RATE_PATTERN,
    parse_bandwidth,
    parse_duration,
    parse_rate,
)
from sim.world.attackers import SpammerSpec, SpooferSpec, StripperSpec
from sim.world.clients import Burst
from sim.world.engine import FaultSpec, LinkSpec, SourceSpec, WorldSpec
from sim.world.faults import infer_kind
from sim.world.mta import MtaSpec
from sim.world.network import Latency, LatencyKind
from sim.world.services import ServiceSpec

__all__ = [
    "Bandwidth",
    "BurstModel",
    "Duration",
    "FaultModel",
    "LatencyModel",
    "LinkModel",
    "MtaModel",
    "Rate",
    "RetryModel",
    "Scenario",
    "SourceModel",
    "ZoneModel",
]

_DurationText = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
_RateText = Annotated[str, StringConstraints(pattern=RATE_PATTERN)]
_BandwidthText = Annotated[str, StringConstraints(pattern=BANDWIDTH_PATTERN)]

Duration = Annotated[
    float,
    BeforeValidator(
        parse_duration, json_schema_input_type=Annotated[float, Field(ge=0)] | _DurationText
    ),
]
"""Seconds; accepts ``90s``, ``20ms``, ``6h``, ``2d``, ``1w``, ``1h30m`` or a number."""

Rate = Annotated[
    float,
    BeforeValidator(parse_rate, json_schema_input_type=Annotated[float, Field(gt=0)] | _RateText),
]
"""Messages per second; accepts ``10/min``, ``3.5/s``, ``100/h``, ``2/d`` or a number."""

Bandwidth = Annotated[
    float,
    BeforeValidator(
        parse_bandwidth,
        json_schema_input_type=Annotated[float, Field(gt=0)] | _BandwidthText,
    ),
]
"""Bits per second; accepts ``512kbit/s``, ``10Mbit/s``, ``1Gbit/s`` (any case) or a number."""


def _schedule_kind(value: Any) -> Any:
    return ScheduleKind.from_text(value) if isinstance(value, str) else value


def _latency_kind(value: Any) -> Any:
    return LatencyKind.from_text(value) if isinstance(value, str) else value


def _settings(value: Any) -> Any:
    """``{maximal_backoff_time: 4000}`` -> text values, as ``main.cf`` would have them."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        out[key] = item
    return out


def _latency(value: Any) -> Any:
    return {"mean": value} if isinstance(value, int | float | str) else value


def _zone(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


def _host_list(value: Any) -> Any:
    """``mynetworks`` as a YAML list or as main.cf text."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryModel(_Model):
    """Which retry schedule the queue manager follows, and its settings."""

    schedule: Annotated[ScheduleKind, BeforeValidator(_schedule_kind)] = Field(
        default=ScheduleKind.POSTFIX, description="the retry schedule family"
    )
    rule: str | None = Field(
        default=None,
        description="exim: a retry rule line; table: comma-separated delays (5m,10m,1h)",
    )
    settings: Annotated[
        dict[str, str],
        BeforeValidator(_settings, json_schema_input_type=dict[str, str | float]),
    ] = Field(
        default_factory=dict,
        description="parameters as in main.cf (maximal_backoff_time: 4000s); see relaysim retry",
    )

    def build(self) -> Any:
        """The :class:`sim.policy.retry_schedules.Schedule` these settings describe."""
        return build_schedule(self.schedule, dict(self.settings), self.rule)


class GreylistModel(_Model):
    """A postgrey policy service on the MTA's RCPT stage (times as durations)."""

    delay: Duration = Field(default=300.0, description="a new triplet must wait this long")
    retry_window: Duration = Field(
        default=2 * 86400.0, gt=0, description="a retry after this (from first seen) is new"
    )
    max_age: Duration = Field(
        default=35 * 86400.0, gt=0, description="a passed triplet is forgotten after this"
    )
    auto_whitelist_clients: int = Field(
        default=5, ge=0, description="pass a client after this many passed triplets (0: off)"
    )

    def build(self) -> GreylistConfig:
        return GreylistConfig(
            delay=self.delay,
            retry_window=self.retry_window,
            max_age=self.max_age,
            auto_whitelist_clients=self.auto_whitelist_clients,
        )


class MtaModel(_Model):
    """One mail server; its name is its key in ``mtas`` (the name MX records point to)."""

    address: str = Field(description="its IP address (the client address others see)")
    domains: list[str] = Field(
        default_factory=list, description="domains it delivers locally (mydestination)"
    )
    relay_domains: list[str] = Field(
        default_factory=list, description="domains it accepts and forwards (backup MX)"
    )
    mynetworks: Annotated[
        str, BeforeValidator(_host_list, json_schema_input_type=str | list[str])
    ] = Field(default="127.0.0.0/8", description="networks allowed to relay through it")
    main_cf: str | None = Field(
        default=None, description="a Postfix main.cf as text; replaces the four fields above"
    )
    main_cf_file: str | None = Field(
        default=None, description="a main.cf file, relative to the scenario file"
    )
    smtpd_slots: int = Field(default=100, ge=1, description="concurrent inbound sessions")
    delivery_slots: int = Field(default=20, ge=1, description="concurrent outbound deliveries")
    destination_concurrency: int = Field(
        default=20, ge=1, description="concurrent deliveries to one destination domain"
    )
    tls_setup: (
        Literal[
            "none",
            "may",
            "encrypt",
            "verify",
            "secure",
            "dane",
            "dane-only",
            "mta-sts-testing",
            "mta-sts-enforce",
        ]
        | None
    ) = Field(
        default=None,
        description="a sender setup from sim.policy.tls_attacks (dane: a secure TLSA record "
        "of the peer; mta-sts-*: a policy listing it); replaces tls_level",
    )
    mailboxes: int | None = Field(
        default=None,
        ge=0,
        description="valid users user1..userN of its domains and relay_domains; others get "
        "550 5.1.1 at RCPT (default: every user accepted)",
    )
    dnssec_validate: bool = Field(
        default=False, description="its resolver validates DNSSEC: forged answers fail"
    )
    spam_filter: bool = Field(
        default=False, description="a content filter that rejects spam at the end of DATA"
    )
    dnsbl: list[str] = Field(
        default_factory=list,
        description="blocklists it consults: mail from a listed client is refused (554 5.7.1)",
    )
    greylist: GreylistModel | None = Field(
        default=None, description="greylist new senders as postgrey does: {delay, ...}"
    )
    message_size_limit: int = Field(
        default=10_240_000,
        ge=0,
        description="largest message accepted, in bytes (0: no limit; ignored with main_cf)",
    )
    initial_destination_concurrency: int = Field(
        default=5,
        ge=1,
        description="slow start: sessions to a new or revived destination before feedback",
    )
    service_time: Duration = Field(
        default=0.0, description="mean processing time per received message (exponential)"
    )
    relayhost: str | None = Field(
        default=None, description="send everything through this MTA instead of MX lookup"
    )
    connect_timeout: Duration = Field(
        default=30.0, description="time lost on a connection attempt to a host that is down"
    )
    retry: RetryModel = Field(default_factory=RetryModel, description="the retry schedule")
    tls_level: Literal[
        "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure"
    ] = Field(default="may", description="its outbound smtp_tls_security_level (Postfix)")
    starttls: bool = Field(default=True, description="its inbound side offers STARTTLS")
    certificate: Literal["valid", "self-signed", "expired", "wrong-name"] = Field(
        default="valid", description="the certificate it presents (from the run's test CA)"
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"expected an IPv4 or IPv6 address, got {value!r}") from None


class LatencyModel(_Model):
    """One-way delay of a link."""

    mean: Duration = Field(default=0.01, description="mean one-way delay")
    kind: Annotated[LatencyKind, BeforeValidator(_latency_kind)] = Field(
        default=LatencyKind.CONSTANT, description="constant, exponential or uniform"
    )
    spread: Duration = Field(default=0.0, description="uniform: half-width around the mean")

    def build(self) -> Latency:
        return Latency(self.mean, self.kind, self.spread)


class LinkModel(_Model):
    """A link between two hosts (MTAs or routers)."""

    a: str = Field(description="one end: an MTA or a router")
    b: str = Field(description="the other end")
    latency: Annotated[
        LatencyModel,
        BeforeValidator(_latency, json_schema_input_type=Duration | LatencyModel),
    ] = Field(
        default_factory=LatencyModel,
        description="a duration (constant) or {mean, kind, spread}",
    )
    loss: float = Field(default=0.0, ge=0.0, lt=1.0, description="packet loss probability")
    bandwidth: Bandwidth | None = Field(
        default=None,
        description="bits per second (10Mbit/s); a message takes size / the narrowest link "
        "on its path; none: unlimited",
    )


class ZoneModel(_Model):
    """An authoritative zone: zone-file text inline, or a file beside the scenario."""

    text: str | None = Field(default=None, description="zone-file text")
    file: str | None = Field(default=None, description="a zone file, relative to the scenario")
    signed: bool = Field(
        default=False,
        description="DNSSEC-signed: its answers, NXDOMAIN and NODATA included, are authenticated",
    )


ZoneEntry = Annotated[ZoneModel, BeforeValidator(_zone, json_schema_input_type=str | ZoneModel)]


class BurstModel(_Model):
    """Extra messages in a short window: a flash crowd or a mailing-list blast."""

    at: Duration = Field(description="when the burst begins")
    count: int = Field(ge=1, description="how many messages it adds")
    over: Duration = Field(
        default=0.0, description="spread uniformly at random over [at, at + over); 0: all at once"
    )


class SourceModel(_Model):
    """Poisson traffic submitted to one MTA, plus bursts."""

    mta: str = Field(description="the MTA the messages are submitted to")
    rate: Rate = Field(description="mean arrival rate (Poisson)")
    sender: str = Field(description="envelope sender ('' for the null sender)")
    recipients: list[str] | None = Field(
        default=None,
        min_length=1,
        description="drawn uniformly per message (or give recipient_domains)",
    )
    recipient_domains: dict[str, Annotated[int, Field(ge=1)]] | None = Field(
        default=None,
        min_length=1,
        description="domain: user count; each message goes to one of all the users "
        "(user1..userN@domain) uniformly, so a domain weighs as many users as it has",
    )
    size: int = Field(default=20_000, ge=0, description="message size in bytes (the mean)")
    size_distribution: Literal["fixed", "exponential"] = Field(
        default="fixed", description="every message `size` bytes, or exponential with that mean"
    )
    profile: Literal["constant", "diurnal"] = Field(
        default="constant",
        description="constant rate, or diurnal: 0.2x to 1.8x of `rate`, busiest at 14:00",
    )
    count: int | None = Field(
        default=None,
        ge=1,
        description="stop the Poisson arrivals after this many messages (bursts come on top)",
    )
    start: Duration = Field(
        default=0.0, description="first Poisson arrival not before this time (not bursts)"
    )
    stop: Duration | None = Field(
        default=None, description="no Poisson arrivals from this time on (not bursts)"
    )
    bursts: list[BurstModel] = Field(
        default_factory=list,
        description="extra messages on top of the Poisson stream, at their own times",
    )

    @model_validator(mode="after")
    def _one_recipient_source(self) -> SourceModel:
        if (self.recipients is None) == (self.recipient_domains is None):
            got = "neither" if self.recipients is None else "both"
            raise ValueError(
                f"give recipients (a list of addresses) or recipient_domains "
                f"(domain: user count), exactly one (got {got})"
            )
        return self

    def build(self, name: str) -> SourceSpec:
        return SourceSpec(
            name=name,
            mta=self.mta,
            rate=self.rate,
            sender=self.sender,
            recipients=tuple(self.recipients or ()),
            recipient_domains=tuple((self.recipient_domains or {}).items()),
            size=self.size,
            size_distribution=self.size_distribution,
            profile=self.profile,
            count=self.count,
            start=self.start,
            stop=self.stop,
            bursts=tuple(Burst(b.at, b.count, b.over) for b in self.bursts),
        )


FaultKind = Literal["host", "link", "dns", "mx_change", "certificate"]


class FaultModel(_Model):
    """A host, link or resolver down for a while; a zone or a certificate changed.

    The kind follows from the keys unless ``kind`` says it: ``zone`` (or ``zone_text``,
    ``zone_file``) makes an ``mx_change``, ``certificate`` a ``certificate`` fault,
    ``dns`` a resolver fault, ``peer`` a link fault; otherwise the host goes down.
    """

    at: Duration = Field(description="when it goes down (or the change happens)")
    kind: FaultKind | None = Field(
        default=None,
        description="host, link, dns, mx_change or certificate; inferred from the keys",
    )
    host: str | None = Field(default=None, description="an MTA or a router (not for mx_change)")
    down_for: Duration | None = Field(
        default=None,
        gt=0,
        description="how long it lasts; required except for mx_change and certificate "
        "(without it they last to the end of the run)",
    )
    peer: str | None = Field(default=None, description="take down the link host-peer instead")
    dns: Literal["servfail", "timeout"] | None = Field(
        default=None, description="keep the host up but fail its DNS resolver this way"
    )
    zone: str | None = Field(
        default=None, description="mx_change: the origin of the zone (in zones) to replace"
    )
    zone_text: str | None = Field(default=None, description="mx_change: the new zone-file text")
    zone_file: str | None = Field(
        default=None, description="mx_change: the new zone file, relative to the scenario"
    )
    certificate: Literal["valid", "self-signed", "expired", "wrong-name"] | None = Field(
        default=None,
        description="certificate: what the MTA host presents meanwhile (default expired)",
    )

    @property
    def resolved_kind(self) -> str:
        """``kind``, or the kind the other keys imply."""
        if self.kind is not None:
            return self.kind
        return infer_kind(
            zone=any(v is not None for v in (self.zone, self.zone_text, self.zone_file)),
            certificate=self.certificate is not None,
            dns=self.dns is not None,
            peer=self.peer is not None,
        )


class ServiceModel(_Model):
    """Several MTAs behind one name (what an MX record or a relayhost points at)."""

    members: list[str] = Field(min_length=1, description="the MTAs behind the name")
    mode: Literal["failover", "balance"] = Field(
        default="failover",
        description="failover: the first member up answers (a cluster's floating address); "
        "balance: round-robin over the members up (a load balancer)",
    )
    shared_queue: bool = Field(
        default=False,
        description="the members share one queue: a live member delivers what a dead one held",
    )


class SpammerModel(_Model):
    """An open-relay hunter: probes its targets, spams through every relay it finds."""

    address: str = Field(description="the address its connections come from")
    targets: list[str] = Field(min_length=1, description="MTAs it probes for an open relay")
    victims: list[str] = Field(min_length=1, description="spam recipients")
    rate: Rate = Field(description="spam per second through each relay found")
    at: Duration = Field(default=0.0, description="when it probes")
    stop: Duration | None = Field(default=None, description="when the campaign ends")
    sender: str = Field(default="offers@bulk-deals.example", description="spam envelope sender")
    size: int = Field(default=8_000, ge=0, description="spam size in bytes")
    blocklist: str | None = Field(
        default=None, description="the blocklist that lists a relay it abuses"
    )
    listed_after: Duration = Field(
        default=3600.0, description="from the start of the spam run to the relay's listing"
    )
    probe: bool = Field(
        default=True,
        description="probe for an open relay first; false: spam the targets (their own MX)",
    )


class SpooferModel(_Model):
    """A DNS cache poisoner at one MTA's resolver."""

    resolver: str = Field(description="the MTA whose resolver it poisons")
    domain: str = Field(description="the domain whose MX it forges")
    mx: str = Field(description="the host the forged MX points to (the attacker's MTA)")
    at: Duration = Field(default=0.0, description="when the poisoning starts")
    stop: Duration | None = Field(default=None, description="when it stops forging")
    ttl: int = Field(default=3600, ge=1, description="TTL of the forged answer (seconds)")


class StripperModel(_Model):
    """A man in the middle on one link, against STARTTLS."""

    a: str = Field(description="one end of the link it sits on")
    b: str = Field(description="the other end")
    attack: Literal["none", "strip", "starttls-4xx", "starttls-5xx", "intercept"] = Field(
        default="strip",
        description="strip STARTTLS, refuse it (4xx/5xx), or intercept TLS with its own cert",
    )
    at: Duration = Field(default=0.0, description="when it starts")
    stop: Duration | None = Field(default=None, description="when it stops")


class Scenario(_Model):
    """A whole scenario file: hosts, wiring, DNS, traffic and faults."""

    name: str = Field(description="a short name")
    description: str = Field(default="", description="what the scenario shows")
    duration: Duration = Field(gt=0, description="simulated time to run")
    seed: int = Field(default=1, description="default random seed (relaysim run --seed)")
    sample_every: Duration = Field(default=60.0, gt=0, description="queue-depth sampling interval")
    routers: list[str] = Field(
        default_factory=list, description="plain network nodes that only appear in links"
    )
    mtas: dict[str, MtaModel] = Field(min_length=1, description="mail servers by host name")
    links: list[LinkModel] = Field(default_factory=list, description="the network's links")
    zones: dict[str, ZoneEntry] = Field(
        default_factory=dict, description="DNS zones by origin: zone-file text or {file: path}"
    )
    sources: dict[str, SourceModel] = Field(default_factory=dict, description="traffic sources")
    faults: list[FaultModel] = Field(default_factory=list, description="the fault timeline")
    spoofers: dict[str, SpooferModel] = Field(
        default_factory=dict, description="DNS cache poisoners (forged MX answers)"
    )
    strippers: dict[str, StripperModel] = Field(
        default_factory=dict, description="men in the middle on links (STARTTLS attacks)"
    )
    spammers: dict[str, SpammerModel] = Field(
        default_factory=dict, description="open-relay hunters and their spam runs"
    )
    services: dict[str, ServiceModel] = Field(
        default_factory=dict,
        description="names standing for several MTAs: failover clusters, load-balanced pools",
    )

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source_path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Scenario:
        """Built from Python (not through load_scenario): run the cross-section checks."""
        if isinstance(info.context, dict) and info.context.get("checked"):
            return self
        from sim.scenario.checks import check_sections

        problems = check_sections(self.model_dump(mode="json"), Path.cwd())
        if problems:
            from sim.scenario.checks import dotted

            raise ValueError("; ".join(f"{dotted(loc)}: {msg}" for loc, msg in problems))
        return self

    @property
    def base_dir(self) -> Path:
        """The directory file references (``main_cf_file``, zone ``file``) are relative to."""
        return self._base_dir

    @property
    def source_path(self) -> Path | None:
        """The scenario file this came from, if any."""
        return self._source_path

    def read(self, relative: str) -> str:
        """A file named in the scenario, relative to :attr:`base_dir`."""
        return (self._base_dir / relative).read_text(encoding="utf-8")

    def zone_texts(self) -> tuple[tuple[str, str], ...]:
        """``(file name, zone text)`` per zone, in file order."""
        out = []
        for origin, zone in self.zones.items():
            if zone.file is not None:
                out.append((zone.file, self.read(zone.file)))
            else:
                out.append((f"{origin.rstrip('.')}.zone", zone.text or ""))
        return tuple(out)

    def signed_zones(self) -> tuple[str, ...]:
        """Origins of the DNSSEC-signed zones, in file order."""
        return tuple(origin.rstrip(".") for origin, zone in self.zones.items() if zone.signed)

    def fault_spec(self, fault: FaultModel) -> FaultSpec:
        """The engine's spec of one fault: files read, the certificate default applied."""
        kind = fault.resolved_kind
        if kind == "mx_change":
            text = fault.zone_text
            if fault.zone_file is not None:
                text = self.read(fault.zone_file)
            return FaultSpec(fault.at, down_for=fault.down_for, zone=fault.zone, zone_text=text)
        if kind == "certificate":
            return FaultSpec(
                fault.at,
                fault.host or "",
                fault.down_for,
                certificate=fault.certificate or "expired",
            )
        return FaultSpec(fault.at, fault.host or "", fault.down_for, fault.peer, fault.dns)

    def mta_spec(self, name: str) -> MtaSpec:
        mta = self.mtas[name]
        main_cf = mta.main_cf
        if mta.main_cf_file is not None:
            main_cf = self.read(mta.main_cf_file)
        return MtaSpec(
            name=name,
            address=mta.address,
            domains=tuple(mta.domains),
            main_cf=main_cf,
            smtpd_slots=mta.smtpd_slots,
            delivery_slots=mta.delivery_slots,
            destination_concurrency=mta.destination_concurrency,
            initial_destination_concurrency=mta.initial_destination_concurrency,
            message_size_limit=mta.message_size_limit,
            greylist=None if mta.greylist is None else mta.greylist.build(),
            dnsbl=tuple(mta.dnsbl),
            tls_setup=mta.tls_setup,
            mailboxes=mta.mailboxes,
            spam_filter=mta.spam_filter,
            dnssec_validate=mta.dnssec_validate,
            service_time=mta.service_time,
            retry=mta.retry.build(),
            relayhost=mta.relayhost,
            connect_timeout=mta.connect_timeout,
            relay_domains=tuple(mta.relay_domains),
            mynetworks=mta.mynetworks,
            tls_level=mta.tls_level,
            starttls=mta.starttls,
            certificate=mta.certificate,
        )

    def to_world_spec(self) -> WorldSpec:
        """The engine's spec; routers become plain network nodes through their links."""
        return WorldSpec(
            mtas=tuple(self.mta_spec(name) for name in self.mtas),
            links=tuple(
                LinkSpec(k.a, k.b, k.latency.build(), k.loss, k.bandwidth) for k in self.links
            ),
            zones=self.zone_texts(),
            sources=tuple(s.build(name) for name, s in self.sources.items()),
            faults=tuple(self.fault_spec(f) for f in self.faults),
            sample_every=self.sample_every,
            signed_zones=self.signed_zones(),
            services=tuple(
                ServiceSpec(name, tuple(s.members), s.mode, s.shared_queue)
                for name, s in self.services.items()
            ),
            spoofers=tuple(
                SpooferSpec(name, s.resolver, s.domain, s.mx, s.at, s.stop, s.ttl)
                for name, s in self.spoofers.items()
            ),
            strippers=tuple(
                StripperSpec(name, s.a, s.b, s.attack, s.at, s.stop)
                for name, s in self.strippers.items()
            ),
            spammers=tuple(
                SpammerSpec(
                    name,
                    s.address,
                    tuple(s.targets),
                    tuple(s.victims),
                    s.rate,
                    at=s.at,
                    stop=s.stop,
                    sender=s.sender,
                    size=s.size,
                    blocklist=s.blocklist,
                    listed_after=s.listed_after,
                    probe=s.probe,
                )
                for name, s in self.spammers.items()
            ),
        )

    def summary(self) -> str:
        """``3 MTAs, 1 router, 3 links, 1 zone, 1 source, 1 fault, 12h``."""
        from sim.scenario.units import format_duration

        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        parts = [n(len(self.mtas), "MTA")]
        if self.routers:
            parts.append(n(len(self.routers), "router"))
        parts += [
            n(len(self.links), "link"),
            n(len(self.zones), "zone"),
            n(len(self.sources), "source"),
            n(len(self.faults), "fault"),
            *([n(len(self.services), "service")] if self.services else []),
            *([n(len(self.spammers), "spammer")] if self.spammers else []),
            format_duration(self.duration),
        ]
        return ", ".join(parts)
