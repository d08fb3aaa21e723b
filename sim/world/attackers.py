"""Adversaries in the simulated Internet, and the blocklists that react to them.

An attacker is a simpy process with its own random stream.  Everything it tries and
gets is recorded as an ``attack`` event (host: the target, detail: what happened), and
counted in the run's ``summary["attack"]`` so a lab can show the attacker's view next
to the defender's.

* :class:`SpammerSpec`, the open-relay hunter: at ``at`` it probes each target with
  the scanners' classic relay tests (:mod:`sim.smtp.probe`), reports "N/16 relayed",
  and through every target that relayed it starts a spam campaign at ``rate``
  messages per second to ``victims``.  The spam enters the relay through the real SMTP
  dialogue and from then on is ordinary mail: it fills the relay's queue and takes its
  delivery slots.  ``listed_after`` seconds after the campaign starts, the relay's
  address appears on the blocklist ``blocklist``; receivers that consult it (an MTA's
  ``dnsbl``) then refuse everything from the relay, legitimate mail included, with
  Postfix's ``reject_rbl_client`` reply.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim.policy.relay import ClientFacts
from sim.policy.replies import Reply
from sim.smtp.client import ClientDialogue
from sim.smtp.pair import converse
from sim.smtp.server import MessageReceived, ServerDialogue

if TYPE_CHECKING:
    from sim.world.engine import World
    from sim.world.mta import Mta

__all__ = [
    "BACKSCATTER_TAG",
    "SPAM_TAG",
    "SpammerSpec",
    "SpooferSpec",
    "StripperSpec",
    "blocklist_reply",
    "run_spammer",
    "run_spoofer",
    "run_stripper",
    "submit",
]

SPAM_TAG = "spam"
BACKSCATTER_TAG = "backscatter"  # a DSN of spam, sent to the forged sender


@dataclass(frozen=True)
class StripperSpec:
    """A man in the middle on the link ``a``-``b`` from ``at`` until ``stop``.

    ``attack`` is a :class:`sim.policy.tls_attacks.Attack` value: ``strip`` (removes
    STARTTLS from the EHLO reply), ``starttls-4xx`` / ``starttls-5xx`` (refuses
    STARTTLS), ``intercept`` (completes TLS itself with its own self-signed
    certificate).  Every SMTP connection whose path crosses the link meets it.
    """

    name: str
    a: str
    b: str
    attack: str = "strip"
    at: float = 0.0
    stop: float | None = None

    def __post_init__(self) -> None:
        from sim.policy.tls_attacks import Attack

        Attack.from_text(self.attack)  # raises ValueError naming the attacks


def run_stripper(world: World, spec: StripperSpec) -> Generator[simpy.Event, Any, None]:
    """Sit on the link from ``at`` to ``stop``."""
    from sim.policy.tls_attacks import Attack

    link = frozenset((spec.a, spec.b))
    yield world.env.timeout(spec.at)
    world.strippers[link] = Attack.from_text(spec.attack)
    world.log("attack", spec.name, 0, f"{spec.attack} on {spec.a}-{spec.b} starts")
    if spec.stop is not None:
        yield world.env.timeout(max(0.0, spec.stop - world.env.now))
        del world.strippers[link]
        world.log("attack", spec.name, 0, f"{spec.attack} on {spec.a}-{spec.b} ends")


@dataclass(frozen=True)
class SpooferSpec:
    """A DNS cache poisoner: from ``at`` the resolver of MTA ``resolver`` answers the
    MX query for ``domain`` with ``mx`` (a host the attacker runs), for ``ttl`` seconds
    a time, until ``stop``.  A validating resolver (the MTA's ``dnssec_validate``)
    rejects the forgery when ``domain``'s zone is signed: the lookup fails (SERVFAIL)
    and the mail waits instead of going to the attacker."""

    name: str
    resolver: str
    domain: str
    mx: str
    at: float = 0.0
    stop: float | None = None
    ttl: int = 3600


def run_spoofer(world: World, spec: SpooferSpec) -> Generator[simpy.Event, Any, None]:
    """Poison the resolver at ``at``; stop forging at ``stop`` (the cache keeps it)."""
    import dns.name
    import dns.rdatatype
    import dns.rrset

    from sim.policy.mx import AnswerKind, DnsAnswer, Query

    mta = world.mtas[spec.resolver.lower()]
    query = Query(dns.name.from_text(spec.domain), dns.rdatatype.MX)
    rrset = dns.rrset.from_text(spec.domain, spec.ttl, "IN", "MX", f"10 {spec.mx.rstrip('.')}.")
    world.attacker_hosts.add(spec.mx.rstrip(".").lower())
    yield world.env.timeout(spec.at)
    mta.resolver.forged[query] = DnsAnswer(AnswerKind.ANSWER, rrset)
    mta.resolver.cache.pop(query, None)  # the poison replaces what was cached
    world.log("attack", mta.name, 0, f"{spec.name}: MX of {spec.domain} forged to {spec.mx}")
    if spec.stop is not None:
        yield world.env.timeout(max(0.0, spec.stop - world.env.now))
        mta.resolver.forged.pop(query, None)
        world.log("attack", mta.name, 0, f"{spec.name}: stops forging {spec.domain}")


def blocklist_reply(client_ip: str, blocklist: str) -> Reply:
    """Postfix's ``reject_rbl_client`` answer (``default_rbl_reply``, code 554)."""
    return Reply(
        554, "5.7.1", f"Service unavailable; Client host [{client_ip}] blocked using {blocklist}"
    )


@dataclass(frozen=True)
class SpammerSpec:
    """An open-relay hunter and the spam run it starts through every relay it finds."""

    name: str
    address: str  # where its connections come from
    targets: tuple[str, ...]  # MTAs it probes
    victims: tuple[str, ...]  # spam recipients
    rate: float  # spam per second through each relay found
    at: float = 0.0  # when it probes
    stop: float | None = None  # when the campaign ends
    sender: str = "offers@bulk-deals.example"
    size: int = 8_000
    blocklist: str | None = None  # the blocklist that notices the relay's spam
    listed_after: float = 3600.0  # from the start of the campaign to the listing
    probe: bool = True  # False: no relay tests, spam the targets directly (their own MX)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"spammer {self.name}: rate must be > 0")
        if not self.targets or not self.victims:
            raise ValueError(f"spammer {self.name}: needs targets and victims")


def submit(world: World, client_ip: str, client_name: str, target: Mta, msg: Any) -> Reply:
    """Hand ``msg`` to ``target`` from an outside client through the SMTP dialogue.

    Accepted: the message is ``target``'s now.  Refused: the ledger records it as
    rejected in the session.  Returns the reply that decided.
    """
    client = ClientDialogue(
        msg.sender, [msg.recipient], f"Subject: message {msg.msg_id}\r\n\r\n", client_name
    )
    server = ServerDialogue(
        ClientFacts(address=client_ip, name=client_name),
        policy=target.policy,
        config=target.server_config,
        queue_ids=target.queue_ids,
    )
    events = converse(client, server)
    reply = client.results[0].reply
    if any(isinstance(e, MessageReceived) for e in events):
        screened = target.screen(client_ip, msg) if target.screens else None
        if screened is None:
            target.accept(msg)
            return reply
        reply = screened[0]
    world.ledger.reject(msg.msg_id, world.env.now, target.name, reply.line())
    return reply


def run_spammer(world: World, spec: SpammerSpec) -> Generator[simpy.Event, Any, None]:
    """Probe the targets at ``at``, then spam through each relay found."""
    from sim.smtp.probe import probe

    yield world.env.timeout(spec.at)
    client = ClientFacts(address=spec.address, name=f"{spec.name}.invalid")
    for name in spec.targets:
        target = world.mtas[name.lower()]
        if not spec.probe:  # mail for the target's own domains: no relay needed
            world.log("attack", target.name, 0, f"{spec.name}: spam run starts")
            world.env.process(_campaign(world, spec, target))
            continue
        report = probe(target.policy, client, target.name, target.spec.address)
        for result in report.results:
            verdict = "relayed" if result.relayed else "refused"
            world.log(
                "attack",
                target.name,
                0,
                f"{spec.name} probe {result.form.number} {result.form.label}: {verdict}",
            )
        world.attack_counts["relay_probes"] += len(report.results)
        world.log("attack", target.name, 0, f"{spec.name}: {report.summary()}")
        if report.relayed_count:
            world.attack_counts["open_relays_found"] += 1
            world.env.process(_campaign(world, spec, target))


def _campaign(world: World, spec: SpammerSpec, relay: Mta) -> Generator[simpy.Event, Any, None]:
    rng = world.stream(f"spammer:{spec.name}:{relay.name}")
    start = world.env.now
    if spec.blocklist is not None:
        world.env.process(_listing(world, spec, relay, start + spec.listed_after))
    while spec.stop is None or world.env.now < spec.stop:
        yield world.env.timeout(rng.expovariate(spec.rate))
        if spec.stop is not None and world.env.now >= spec.stop:
            return
        msg = world.new_message(spec.sender, rng.choice(spec.victims), spec.size)
        msg.tag = SPAM_TAG
        reply = submit(world, spec.address, f"{spec.name}.invalid", relay, msg)
        if reply.code >= 300:
            world.attack_counts["spam_refused"] += 1
        elif spec.probe:
            world.attack_counts["relayed_spam"] += 1
        else:
            world.attack_counts["spam_accepted"] += 1


def _listing(
    world: World, spec: SpammerSpec, relay: Mta, when: float
) -> Generator[simpy.Event, Any, None]:
    yield world.env.timeout(max(0.0, when - world.env.now))
    assert spec.blocklist is not None
    world.blocklists.setdefault(spec.blocklist, set()).add(relay.spec.address)
    world.log("listed", relay.name, 0, f"{relay.spec.address} on {spec.blocklist}")
