"""A mail server as simpy processes: inbound sessions, a queue manager, outbound delivery.

Each decision is one policy call: relay authorization through the SMTP dialogue
(:mod:`sim.smtp`, which asks :mod:`sim.policy.relay`), MX selection
(:mod:`sim.policy.mx`), retry or give up (:mod:`sim.policy.retry`).  A session is not
simulated command by command: the dialogue runs at once (it is pure) and the session
then costs its round trips plus the receiver's processing time in simulated time, so a
message costs a handful of simpy events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import simpy
from cryptography import x509

from sim.policy.dsn import Action as DsnAction
from sim.policy.dsn import (
    DsnKind,
    NoDsn,
    RecipientResult,
    ReportContext,
    build_dsn,
    dsn_refusal,
)
from sim.policy.dsn import Envelope as DsnEnvelope
from sim.policy.dsn import Recipient as DsnRecipient
from sim.policy.greylist import GreylistConfig, GreylistDb, check, triplet
from sim.policy.mx import Action, MXResult, resolve_mx
from sim.policy.received import Protocol, TLSInfo
from sim.policy.relay import ClientFacts, RelayPolicy
from sim.policy.replies import R250_OK, Reply
from sim.policy.retry import Outcome, Stage
from sim.policy.retry_schedules import GiveUp, History, PostfixSchedule, Schedule, WarnDelayed
from sim.policy.tls import ConnectionFacts, Handshake, StartTls, TlsPolicy, decide
from sim.policy.tls import Level as TlsLevel
from sim.policy.tls import Outcome as TlsOutcome
from sim.policy.tls import Verdict as TlsVerdict
from sim.policy.tls_attacks import ALL_SETUPS, Attack, apply, build_setup, exposure
from sim.policy.trace import HopFacts, build_received
from sim.smtp.client import ClientDialogue, TlsChoice
from sim.smtp.pair import converse
from sim.smtp.server import MessageReceived, ServerConfig, ServerDialogue
from sim.world.attackers import BACKSCATTER_TAG, SPAM_TAG, blocklist_reply
from sim.world.destinations import Destination, suspended_reply
from sim.world.dns import Resolver
from sim.world.network import Unreachable

TLS_INFO = TLSInfo(
    version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", cipher_bits=256, alg_bits=256
)


NO_MX_REACHABLE = Reply(451, "4.4.1", "no MX host reachable")
SPAM_REJECTED = Reply(554, "5.7.1", "Message content rejected: spam")


def verdict_label(verdict: TlsVerdict) -> str:
    """``tls-verified``, ``tls-anonymous``, ``plaintext``, ``defer`` for the summary."""
    if verdict.outcome is TlsOutcome.TLS:
        return f"tls-{verdict.via.value}" if verdict.via is not None else "tls-unauthenticated"
    return str(verdict.outcome.value)


if TYPE_CHECKING:
    from sim.world.engine import World

__all__ = ["CERTIFICATE_KINDS", "Message", "Mta", "MtaSpec"]

CERTIFICATE_KINDS = ("valid", "self-signed", "expired", "wrong-name")


@dataclass(frozen=True)
class MtaSpec:
    """How one mail server is set up; ``main_cf`` (text) gives its relay policy."""

    name: str
    address: str
    domains: tuple[str, ...] = ()
    main_cf: str | None = None
    smtpd_slots: int = 100
    delivery_slots: int = 20
    destination_concurrency: int = 20  # Postfix default_destination_concurrency_limit
    initial_destination_concurrency: int = 5  # Postfix's slow start window
    service_time: float = 0.0
    retry: Schedule = field(default_factory=PostfixSchedule)
    relayhost: str | None = None
    connect_timeout: float = 30.0
    relay_domains: tuple[str, ...] = ()
    mynetworks: str = "127.0.0.0/8"
    tls_level: str = "may"  # smtp_tls_security_level of its outbound side
    starttls: bool = True  # its inbound side offers STARTTLS
    certificate: str = "valid"  # valid | self-signed | expired | wrong-name
    message_size_limit: int = 10_240_000  # bytes; SIZE above it gets 552 5.3.4
    greylist: GreylistConfig | None = None  # a postgrey policy service on its RCPT stage
    dnsbl: tuple[str, ...] = ()  # blocklists it consults (Postfix reject_rbl_client)
    tls_setup: str | None = None  # a sim.policy.tls_attacks sender setup (dane, ...)
    mailboxes: int | None = None  # valid users user1..userN (None: any user is accepted)
    spam_filter: bool = False  # a content filter that rejects spam at the end of DATA
    dnssec_validate: bool = False  # its resolver validates DNSSEC (bogus -> SERVFAIL)

    def __post_init__(self) -> None:
        TlsLevel.from_text(self.tls_level)  # raises ValueError naming the levels
        if self.tls_setup is not None and self.tls_setup not in ALL_SETUPS:
            raise ValueError(
                f"tls_setup must be one of {', '.join(ALL_SETUPS)}, got {self.tls_setup!r}"
            )
        if self.certificate not in CERTIFICATE_KINDS:
            raise ValueError(
                f"certificate must be one of {', '.join(CERTIFICATE_KINDS)}, "
                f"got {self.certificate!r}"
            )

    def policy_text(self) -> str:
        if self.main_cf is not None:
            return self.main_cf
        return "\n".join(
            [
                "compatibility_level = 3.6",
                f"myhostname = {self.name}",
                f"inet_interfaces = {self.address}",
                f"mydestination = {', '.join(self.domains) or self.name}",
                f"relay_domains = {', '.join(self.relay_domains)}",
                f"mynetworks = {self.mynetworks}",
                "local_recipient_maps =",
                "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
                f"smtpd_tls_security_level = {'may' if self.starttls else ''}",
                f"message_size_limit = {self.message_size_limit}",
            ]
        )


@dataclass(frozen=True, slots=True)
class HandOver:
    """One SMTP hand-over, kept to write its Received field when it is needed."""

    client_ip: str
    client: str
    by: str
    queue_id: str
    tls: bool

    def received(self, *, msg: Message, when: datetime) -> str:
        facts = HopFacts(
            client_ip=self.client_ip,
            by=self.by,
            queue_id=self.queue_id,
            helo=self.client,
            client_name=self.client,
            protocol=Protocol.ESMTPS if self.tls else Protocol.ESMTP,
            recipients=(msg.recipient,),
            tls=TLS_INFO if self.tls else None,
        )
        return build_received(facts, when)


@dataclass(slots=True)
class Message:
    """One envelope (one recipient) travelling through the world."""

    msg_id: int
    sender: str
    recipient: str
    size: int
    injected_at: float
    is_dsn: bool = False
    trace: list[tuple[HandOver, datetime]] = field(default_factory=list)  # oldest hop first
    data: bytes | None = None
    build: Callable[[], bytes] | None = None  # makes ``data`` when first asked for
    hops: int = 0  # SMTP hand-overs so far (Postfix counts them as Received headers)
    tag: str = ""  # "spam" for an attacker's message (for the attack counts)
    domain: str = field(init=False)  # the recipient's domain, lower case

    def __post_init__(self) -> None:
        self.domain = self.recipient.rpartition("@")[2].lower()

    @property
    def headers(self) -> list[str]:
        """The Received fields (newest first), as sim.policy.trace writes them."""
        return [hop.received(msg=self, when=when) for hop, when in reversed(self.trace)]

    def original(self) -> bytes:
        """The message as it would be returned in a bounce: trace headers and a short body."""
        if self.data is None and self.build is not None:
            self.data, self.build = self.build(), None
        if self.data is not None:
            return self.data
        trace = "".join(f"Received: {h}\r\n".replace("\n\t", "\r\n\t") for h in self.headers)
        return (
            f"{trace}From: <{self.sender}>\r\nTo: <{self.recipient}>\r\n"
            f"Subject: message {self.msg_id}\r\nMessage-ID: <{self.msg_id}@relaysim>\r\n\r\n"
            f"({self.size} bytes)\r\n"
        ).encode()


HOPCOUNT_LIMIT = 50  # Postfix hopcount_limit: Received headers before "too many hops"
TOO_MANY_HOPS = Reply(554, "5.4.0", "Error: too many hops")
MX_SESSION_LIMIT = 2  # Postfix smtp_mx_session_limit: sessions that passed the handshake
HANDSHAKE = (Stage.CONNECT, Stage.EHLO)  # failures here send smtp(8) to the next host
SessionResult = tuple[Outcome, Reply, Stage]


class SiteFeedback(Enum):
    """What an attempt tells the queue manager about the destination as a whole."""

    ANSWERED = "answered"  # some server got through the handshake
    FAILED = "failed"  # none did, or DNS failed temporarily
    NONE = "none"  # nothing to learn (a permanent DNS answer, a null MX)


MEMO_LIMIT = 100_000  # remembered session outcomes per sending MTA

SessionKey = tuple[str, bool, str, str, bool]  # peer, STARTTLS, sender, recipient, too big


@dataclass(frozen=True, slots=True)
class Memo:
    """What an SMTP session decided, to replay identical sessions without the dialogue."""

    commands: int  # client commands sent: each costs one round trip
    received: bool
    tls: bool
    outcome: Outcome
    reply: Reply
    stage: Stage


@dataclass(frozen=True, slots=True)
class Decided:
    """One session's result: the recipient's outcome and reply, the peer's queue id."""

    commands: int
    outcome: Outcome
    reply: Reply
    queue_id: str | None  # set when the peer took the message
    tls: bool
    stage: Stage = Stage.DOT  # the step whose reply decided


class Mta:
    """A running mail server in a :class:`sim.world.engine.World`."""

    def __init__(self, world: World, spec: MtaSpec) -> None:
        self.world = world
        self.env: simpy.Environment = world.env
        self.spec = spec
        self.name = spec.name
        self.policy = RelayPolicy.from_text(spec.policy_text())
        self.smtpd = simpy.Resource(self.env, capacity=spec.smtpd_slots)
        self.inbound_limited = True  # the world clears it when smtpd_slots cannot fill up
        self.up = True
        self._revival: simpy.Event | None = None
        self.unqueued_sessions = 0
        self.slots = simpy.Resource(self.env, capacity=spec.delivery_slots)
        self.held: set[int] = set()
        self.rng = world.stream(f"mta:{spec.name}")
        self.domains = {d.lower() for d in spec.domains}
        self.relay_domains = {d.lower() for d in spec.relay_domains}
        self.server_config = ServerConfig.from_policy(self.policy)
        self.queue_ids = (f"{n:010X}" for n in itertools.count(1))  # per host, like Postfix
        self.resolver = Resolver(world.zones, validating=spec.dnssec_validate)
        self._destinations: dict[str, Destination] = {}
        self._mx_cache: dict[str, tuple[MXResult, float]] = {}
        self.tls_policy = TlsPolicy(TlsLevel.from_text(spec.tls_level))
        self.chain, self.trusted = world.certificate_for(spec)
        self._sessions: dict[SessionKey, Memo] = {}
        self.greylist_db = GreylistDb()  # postgrey's triplet database, if it greylists
        self._dsn_overhead: dict[DsnKind, int] = {}
        self._verdicts: dict[
            tuple[str, str, Attack | None],
            tuple[tuple[x509.Certificate, ...], TlsVerdict, str, float, float],
        ] = {}

    # -- receiving -------------------------------------------------------------------

    def accept(self, msg: Message) -> None:
        """The message is ours now: deliver it locally or queue it for the next hop."""
        world, now = self.world, self.env.now
        world.ledger.accept(msg.msg_id, now, self.name)
        world.log("accepted", self.name, msg.msg_id)
        if msg.domain in self.domains:
            world.ledger.deliver(msg.msg_id, now, self.name)
            world.log("delivered", self.name, msg.msg_id)
            if self.name.lower() in world.attacker_hosts and not msg.is_dsn:
                world.attack_counts["diverted_to_attacker"] += 1
                world.log("attack", self.name, msg.msg_id, f"diverted: {msg.recipient}")
            if msg.tag == BACKSCATTER_TAG:
                world.attack_counts["backscatter_bounces"] += 1
            elif msg.tag == SPAM_TAG and not msg.is_dsn:
                world.attack_counts["spam_delivered"] += 1  # in a mailbox
            if not msg.is_dsn and not msg.tag:  # DSNs and spam are not the mail's latency
                world.latencies.append(now - msg.injected_at)
            if not msg.is_dsn and world.wants_sample("msg"):
                world.keep_sample("msg", msg.msg_id, msg.original())
            return
        self.held.add(msg.msg_id)
        self.env.process(self.deliver(msg))

    def serve(
        self, session: Generator[simpy.Event, Any, SessionResult | None]
    ) -> Generator[simpy.Event, Any, SessionResult | None]:
        """Run an inbound session in one of our ``smtpd_slots`` (waiting for one if full).

        When the slots cannot all be busy (see :attr:`inbound_limited`) the session
        is only counted, which saves the simulator two events per session.
        """
        if not self.inbound_limited:
            self.unqueued_sessions += 1
            try:
                return (yield from session)
            finally:
                self.unqueued_sessions -= 1
        with self.smtpd.request() as slot:
            yield slot
            return (yield from session)

    def set_up(self, up: bool) -> None:
        """The host went down (its queue stops) or came back (its queue runs again)."""
        self.up = up
        if up and self._revival is not None:
            self._revival.succeed()
            self._revival = None

    def revived(self) -> simpy.Event:
        """An event that fires when this host is up again."""
        if self._revival is None:
            self._revival = self.env.event()
        return self._revival

    @property
    def inbound_sessions(self) -> int:
        """SMTP sessions this MTA is serving now."""
        return self.smtpd.count + self.unqueued_sessions

    # -- the queue manager -----------------------------------------------------------

    def deliver(
        self, msg: Message, arrival: float | None = None, history: History | None = None
    ) -> Generator[simpy.Event, Any, None]:
        """Try until delivered, bounced or expired, as the retry schedule says.

        While this host is down its queue stands still, unless a cluster member that
        shares the queue is up: that member carries on with the message (``arrival``
        and ``history`` go with it).
        """
        if arrival is None:
            arrival = self.env.now  # a History only once an attempt fails
        while True:
            if not self.up:
                partner = self.world.queue_partner(self)
                if partner is not None:
                    self.held.discard(msg.msg_id)
                    partner.held.add(msg.msg_id)
                    self.world.log("taken_over", partner.name, msg.msg_id, f"from {self.name}")
                    self.env.process(partner.deliver(msg, arrival, history))
                    return
                yield self.revived()
            enqueued = self.env.now
            destination = self.destination(self.spec.relayhost or msg.domain)
            dead = destination.suspended()
            if dead is None:
                ticket = destination.acquire()
                if ticket is not None:
                    dead = yield ticket  # a session to this destination, or its death
            if dead is not None:
                # Postfix error(8): deferred without a connection while the site is dead.
                outcome, reply = Outcome.TEMPORARY, suspended_reply(dead)
                self.world.suspended += 1
            else:
                slot = self.slots.request()
                yield slot
                try:
                    self.world.queue_wait(self.name, msg.msg_id, enqueued, self.env.now - enqueued)
                    outcome, reply, site = yield from self.attempt(msg)
                finally:
                    self.slots.release(slot)
                    destination.release()
                if site is SiteFeedback.FAILED:
                    if destination.failed(reply):
                        self.world.log("destination_dead", self.name, msg.msg_id, reply.line())
                elif site is SiteFeedback.ANSWERED:
                    destination.succeeded()
            if outcome is Outcome.SUCCESS:
                self.held.discard(msg.msg_id)
                return
            if outcome is Outcome.PERMANENT:
                self.give_up(msg, reply, expired=False)
                return
            if history is None:
                history = History(arrival, null_sender=not msg.sender)
            decision = self.spec.retry.next_attempt(history, self.env.now, self.rng)
            if isinstance(decision, GiveUp):
                self.give_up(msg, reply, expired=True, why=decision.reason)
                return
            if isinstance(decision, WarnDelayed):
                self.warn_delayed(msg, reply, decision)
            history = history.record(self.env.now, decision)
            self.world.log("deferred", self.name, msg.msg_id, reply.line())
            yield self.env.timeout(max(0.0, decision.t - self.env.now))

    def warn_delayed(self, msg: Message, reply: Reply, decision: WarnDelayed) -> None:
        """A "delayed" DSN (RFC 3464 Action: delayed) to the sender; the message stays."""
        self.world.log("delay_warning", self.name, msg.msg_id)
        lifetime = self.spec.retry.lifetime(null_sender=not msg.sender)
        result = RecipientResult(
            msg.recipient,
            DsnAction.DELAYED,
            reply=reply if reply.code >= 400 else None,
            diagnostic=None if reply.code >= 400 else reply.line(),
            status=reply.enhanced if reply.enhanced and reply.code < 500 else "4.0.0",
            will_retry_until=self.world.clock(msg.injected_at + lifetime),
        )
        self.send_notice(DsnKind.DELAY, msg, result)

    def give_up(self, msg: Message, reply: Reply, *, expired: bool, why: str = "") -> None:
        """Return the message: a real RFC 3464 DSN to its sender, unless the sender is null."""
        world, now = self.world, self.env.now
        self.held.discard(msg.msg_id)
        text = reply.line() + (f" ({why})" if why else "")
        if expired:
            world.ledger.expire(msg.msg_id, now, self.name, text)
        else:
            world.ledger.bounce(msg.msg_id, now, self.name, text)
        world.log("expired" if expired else "bounced", self.name, msg.msg_id, text)
        result = RecipientResult(
            msg.recipient,
            DsnAction.FAILED,
            reply=reply if reply.code >= 400 else None,
            diagnostic=None if reply.code >= 400 else text,
            status=reply.enhanced if reply.enhanced and reply.code >= 400 else "5.0.0",
        )
        notice = self.send_notice(DsnKind.FAILURE, msg, result)
        if notice is not None:
            world.ledger.dsn_suppressed += 1  # never bounce a bounce (RFC 5321 §6.1)
            world.log("dsn_suppressed", self.name, msg.msg_id, notice.reason.value)

    def send_notice(self, kind: DsnKind, msg: Message, result: RecipientResult) -> NoDsn | None:
        """Inject the ``kind`` DSN of sim.policy.dsn here; NoDsn says why there is none.

        Building a DSN with the ``email`` package costs milliseconds, so only the
        notices kept as samples (or whose bytes are asked for later) are built; the
        size of the others is the original's plus the overhead of the first one built.
        """
        world, now = self.world, self.env.now
        envelope = DsnEnvelope(msg.sender, (DsnRecipient(msg.recipient),))
        refusal = dsn_refusal(kind, envelope, (result,))
        if refusal is not None:
            return refusal
        original = msg.original()
        context = ReportContext(self.name, world.clock(msg.injected_at), world.clock(now))

        def build() -> bytes:
            notice = build_dsn(kind, original, envelope, (result,), context)
            if isinstance(notice, NoDsn):  # dsn_refusal said otherwise: a bug, say so
                raise AssertionError(f"DSN refused after all: {notice}")
            data = notice.as_bytes()
            self._dsn_overhead.setdefault(kind, len(data) - len(original))
            return data

        sample = "dsn" if kind is DsnKind.FAILURE else "delay"
        data = build() if world.wants_sample(sample) or kind not in self._dsn_overhead else None
        size = len(data) if data is not None else len(original) + self._dsn_overhead[kind]
        dsn = world.new_message("", msg.sender, size, is_dsn=True)
        dsn.data, dsn.build = data, build
        if msg.tag == SPAM_TAG:
            dsn.tag = BACKSCATTER_TAG  # a bounce of spam goes to whoever it claimed to be
        world.log("dsn", self.name, dsn.msg_id, f"{kind.value} notice for message {msg.msg_id}")
        if data is not None:
            world.keep_sample(sample, dsn.msg_id, data)
        self.accept(dsn)
        return None

    def destination(self, nexthop: str) -> Destination:
        """The queue manager's state for one next hop (its domain, or the relayhost)."""
        state = self._destinations.get(nexthop)
        if state is None:
            state = Destination(
                self.env,
                limit=self.spec.destination_concurrency,
                initial=self.spec.initial_destination_concurrency,
                suspend_for=float(getattr(self.spec.retry, "minimal_backoff_time", 300.0)),
            )
            self._destinations[nexthop] = state
        return state

    # -- one delivery attempt --------------------------------------------------------

    def next_hops(self, msg: Message) -> tuple[list[str], Outcome, Reply]:
        """Hosts to try in order, or the outcome and reply when there are none."""
        if self.spec.relayhost:
            return [self.spec.relayhost], Outcome.SUCCESS, R250_OK
        now = self.env.now
        cached = self._mx_cache.get(msg.domain)
        if cached is not None and cached[1] > now:
            result = cached[0]
        else:
            self.resolver.mark()
            result = resolve_mx(
                msg.domain,
                lambda query: self.resolver.lookup(query, now),
                rng=self.rng,
                local_names=(self.name,),
            )
            prefs = [t.preference for t in result.targets]
            if len(prefs) == len(set(prefs)) and self.resolver.valid_until > now:
                # Nothing for the rng to shuffle: the same answers give the same result
                # until the first of them leaves the resolver's cache.
                self._mx_cache[msg.domain] = (result, self.resolver.valid_until)
        if result.action is Action.DELIVER:
            return [t.host for t in result.targets], Outcome.SUCCESS, R250_OK
        outcome = Outcome.PERMANENT if result.action is Action.BOUNCE else Outcome.TEMPORARY
        fallback = Reply(451 if outcome is Outcome.TEMPORARY else 550, None, result.outcome.value)
        return [], outcome, result.reply or fallback

    def attempt(
        self, msg: Message
    ) -> Generator[simpy.Event, Any, tuple[Outcome, Reply, SiteFeedback]]:
        """One delivery attempt over the next hops, as Postfix's smtp(8) makes it.

        A host that cannot be reached, that the TLS policy refuses, or whose greeting
        or EHLO fails passes the message to the next host; so does a temporary failure
        in the mail transaction while fewer than ``smtp_mx_session_limit`` (2)
        sessions got through the handshake.  The feedback tells the queue manager
        whether the site answered at all.
        """
        world = self.world
        world.ledger.attempt(msg.msg_id)
        hosts, outcome, reply = self.next_hops(msg)
        if not hosts:
            site = SiteFeedback.FAILED if outcome is Outcome.TEMPORARY else SiteFeedback.NONE
            return outcome, reply, site
        last, sessions = NO_MX_REACHABLE, 0
        for host in hosts:
            peer = world.mta_named(host)
            if peer is self:
                # Postfix smtp(8): the server greets with our own name.
                text = f"mail for {msg.domain} loops back to myself"
                return Outcome.PERMANENT, Reply(554, "5.4.6", text), SiteFeedback.NONE
            try:
                if peer is None:
                    raise Unreachable(f"{host}: no such server")
                one_way = world.network.one_way(self.name, peer.name, self.rng)
            except Unreachable as exc:
                world.log("connect_failed", self.name, msg.msg_id, str(exc))
                yield self.env.timeout(self.spec.connect_timeout)
                last = Reply(451, "4.4.1", f"connect to {host}: {exc}")
                continue
            verdict = self.tls_verdict(msg, peer)
            if verdict.outcome is TlsOutcome.DEFER:
                # The TLS policy forbids this host (no STARTTLS, bad certificate): next MX.
                world.log("tls_defer", self.name, msg.msg_id, f"{peer.name}: {verdict.reason}")
                last = Reply(451, verdict.status or "4.7.5", verdict.reason)
                continue
            result = yield from peer.serve(self.session(msg, peer, 2 * one_way, verdict))
            if result is None:
                last = Reply(421, "4.4.2", f"lost connection with {host}")
                continue
            outcome, reply, stage = result
            if stage in HANDSHAKE and outcome is not Outcome.SUCCESS:
                last = reply  # the greeting or EHLO failed: this host does not count
                continue
            sessions += 1
            if outcome is Outcome.TEMPORARY and sessions < MX_SESSION_LIMIT:
                last = reply  # a soft error from a server that is not the last one
                continue
            return outcome, reply, SiteFeedback.ANSWERED
        if sessions:
            return Outcome.TEMPORARY, last, SiteFeedback.ANSWERED
        return Outcome.TEMPORARY, last, SiteFeedback.FAILED

    def record_transcript(self, msg: Message, peer: Mta, lines: list[str], rtt: float) -> None:
        """A swaks-like transcript with simulated times, for the first sessions of a run."""
        ok = any(line.startswith("S: 250 2.0.0 Ok: queued") for line in lines)
        name = f"{'session' if ok else 'failed'}-{msg.msg_id}-{self.name}-{peer.name}.txt"
        if not self.world.wants_transcript(name):
            return
        t = self.env.now
        out = [f"=== {self.name} -> {peer.name}, message {msg.msg_id}"]
        for line in lines:
            if line.startswith("C: "):
                t += rtt
            stamp = self.world.clock(t).strftime("%H:%M:%S.%f")[:-3]
            arrow = " -> " if line.startswith("C: ") else "<-  "
            out.append(f"{stamp} {arrow}{line[3:]}")
        self.world.keep_transcript(name, "\n".join(out) + "\n")

    def tls_verdict(self, msg: Message, peer: Mta) -> TlsVerdict:
        """What sim.policy.tls says about connecting to ``peer`` for ``msg``.

        The verdict depends on the clock only through the certificates' validity
        windows, so it is remembered per (peer, domain) for the same chain object
        until the clock crosses a window boundary.
        """
        now = self.env.now
        attack = self.world.mitm(self.name, peer.name) if self.world.strippers else None
        key = (peer.name, msg.domain, attack)
        memo = self._verdicts.get(key)
        if memo is not None and memo[0] is peer.chain and memo[3] <= now < memo[4]:
            verdict, label = memo[1], memo[2]
        else:
            verdict = self.decide_tls(msg, peer, attack)
            label = verdict_label(verdict)
            low, high = self.world.validity_window(peer.chain, now)
            self._verdicts[key] = (peer.chain, verdict, label, low, high)
        self.world.tls_counts[label] += 1
        if attack is not None:
            seen = exposure(attack, verdict)
            self.world.attack_counts[f"tls_{seen.value}"] += 1
            if seen.exposed:
                self.world.attack_counts["read_by_attacker"] += 1
                self.world.log("attack", peer.name, msg.msg_id, f"{attack.value}: {seen.value}")
        return verdict

    def decide_tls(self, msg: Message, peer: Mta, attack: Attack | None = None) -> TlsVerdict:
        """sim.policy.tls.decide on the facts of a connection to ``peer`` now.

        With ``tls_setup`` the MTA follows one of sim.policy.tls_attacks' sender setups
        (DANE with a secure TLSA record of the peer's certificate, an MTA-STS policy
        listing the peer, ...); a man in the middle changes what the sender sees.
        """
        offered = "STARTTLS" in peer.server_config.capabilities
        now = self.world.clock(self.env.now)
        policy = self.tls_policy
        facts = ConnectionFacts(
            nexthop=msg.domain,
            mx=peer.name,
            now=now,
            starttls=StartTls.OFFERED if offered else StartTls.STRIPPED,
            handshake=Handshake.OK,
            chain=peer.chain,
            trusted=peer.trusted,
        )
        if self.spec.tls_setup is not None:
            policy, template = build_setup(
                self.spec.tls_setup,
                server_chain=peer.chain,
                now=now,
                nexthop=msg.domain,
                mx=peer.name,
                trusted=peer.trusted,
            )
            facts = dataclasses.replace(facts, tlsa=template.tlsa, sts=template.sts)
        if attack is not None:
            facts = apply(attack, facts, self.world.attacker_chain)
        return decide(policy, facts)

    def session(
        self, msg: Message, peer: Mta, rtt: float, verdict: TlsVerdict
    ) -> Generator[simpy.Event, Any, tuple[Outcome, Reply, Stage] | None]:
        """One SMTP session with ``peer``; None when the peer went down meanwhile."""
        choice = TlsChoice.STARTTLS if verdict.outcome is TlsOutcome.TLS else TlsChoice.PLAINTEXT
        decided = self.dialogue(msg, peer, choice, rtt)
        if decided.queue_id is not None and peer.screens:
            screened = peer.screen(self.spec.address, msg)
            if screened is not None:  # refused at RCPT (no DATA) or at the end of DATA
                reply, stage = screened
                commands = (5 if decided.tls else 3) + (2 if stage is Stage.DOT else 0)
                outcome = Outcome.TEMPORARY if reply.code < 500 else Outcome.PERMANENT
                decided = Decided(commands, outcome, reply, None, False, stage)
        service, transfer = 0.0, 0.0
        if decided.queue_id is not None:
            if peer.spec.service_time:
                service = peer.rng.expovariate(1.0 / peer.spec.service_time)
            with contextlib.suppress(Unreachable):  # the check below notices the fault
                transfer = self.world.network.transfer_time(self.name, peer.name, msg.size)
        yield self.env.timeout(rtt * decided.commands + transfer + service)
        try:
            self.world.network.route(self.name, peer.name)  # raises if an end went down
            intact = self.world.network.delivers(self.name, peer.name, self.rng)
        except Unreachable:
            intact = False
        if not intact:
            return None  # a fault or packet loss cut the session: nothing was handed over
        if decided.queue_id is None:
            return decided.outcome, decided.reply, decided.stage
        if msg.hops >= HOPCOUNT_LIMIT:
            # Postfix cleanup(8) counts Received headers: a relay loop ends here.
            return Outcome.PERMANENT, TOO_MANY_HOPS, Stage.DOT
        msg.hops += 1
        self.world.log("relayed", self.name, msg.msg_id, f"to {peer.name}")
        if self.world.trace_headers:
            # Written out only when the message is (sample, DSN): most never are.  The
            # stamp is when the message arrived, before the receiver's processing (as
            # Postfix stamps on receipt): a slow scanner shows in the next hop's delay.
            hop = HandOver(self.spec.address, self.name, peer.name, decided.queue_id, decided.tls)
            msg.trace.append((hop, self.world.clock(self.env.now - service)))
        peer.accept(msg)
        return Outcome.SUCCESS, decided.reply, Stage.DOT

    @property
    def screens(self) -> bool:
        """Whether mail the relay policy accepts meets further checks here."""
        spec = self.spec
        return bool(spec.dnsbl or spec.greylist or spec.mailboxes is not None or spec.spam_filter)

    def screen(self, client_ip: str, msg: Message) -> tuple[Reply, Stage] | None:
        """The checks after the relay policy, in Postfix's order, for a message our
        policy accepted: reject_rbl_client, the recipient tables, the greylisting policy
        service (all at RCPT), then the content filter at the end of DATA."""
        counts = self.world.attack_counts
        for blocklist in self.spec.dnsbl:
            if client_ip in self.world.blocklists.get(blocklist, ()):
                counts["spam_blocked" if msg.tag else "legit_rejected_due_to_blocklist"] += 1
                return blocklist_reply(client_ip, blocklist), Stage.RCPT
        unknown = self.unknown_user(msg)
        if unknown is not None:
            if msg.tag:
                counts["spam_rejected_unknown_user"] += 1
            return unknown, Stage.RCPT
        if self.spec.greylist is not None:
            deferred = self.greylisting(client_ip, msg)
            if deferred is not None:
                return deferred, Stage.RCPT
        if self.spec.spam_filter and msg.tag == SPAM_TAG:
            counts["spam_filtered"] += 1
            return SPAM_REJECTED, Stage.DOT
        return None

    def unknown_user(self, msg: Message) -> Reply | None:
        """550 5.1.1 for a recipient not among our ``mailboxes`` (user1..userN), as
        Postfix's local_recipient_maps / relay_recipient_maps answer at RCPT."""
        boxes = self.spec.mailboxes
        if boxes is None:
            return None
        local = msg.domain in self.domains
        if not local and msg.domain not in self.relay_domains:
            return None
        user = msg.recipient.rpartition("@")[0].lower()
        number = user.removeprefix("user")
        if user.startswith("user") and number.isdigit() and 1 <= int(number) <= boxes:
            return None
        table = "local" if local else "relay"
        reason = f"Recipient address rejected: User unknown in {table} recipient table"
        return Reply(550, "5.1.1", f"<{msg.recipient}>: {reason}")

    def greylisting(self, client_ip: str, msg: Message) -> Reply | None:
        """postgrey's answer (sim.policy.greylist) to a recipient our policy accepted.

        Postfix asks the policy service after reject_unauth_destination, so only mail
        the relay policy takes is greylisted; the reply is the 4xx, or None to pass.
        """
        config = self.spec.greylist
        assert config is not None
        key = triplet(client_ip, msg.sender, msg.recipient, config)
        decision = check(self.greylist_db, key, client_ip, self.env.now, config)
        if decision.reply is None:
            return None
        self.world.log("greylisted", self.name, msg.msg_id, decision.reason.value)
        return decision.reply

    def dialogue(self, msg: Message, peer: Mta, choice: TlsChoice, rtt: float) -> Decided:
        """The session's SMTP dialogue, played through sim.smtp or replayed from the memo.

        The dialogue is a pure function of the two hosts' configurations, the envelope,
        whether the SIZE is over the peer's limit and the TLS choice; so the first
        session of each kind is played for real and identical ones reuse its outcome,
        drawing a fresh queue id from the peer as the real server would.  Sessions kept
        as transcripts are always played.
        """
        limit = peer.server_config.message_size_limit
        starttls = choice is TlsChoice.STARTTLS
        key = (peer.name, starttls, msg.sender, msg.recipient, bool(limit) and msg.size > limit)
        memo = self._sessions.get(key) if self.world.memoize else None
        if memo is not None and not self.world.wants_kind("session" if memo.received else "failed"):
            if not memo.received:
                return Decided(memo.commands, memo.outcome, memo.reply, None, memo.tls, memo.stage)
            queue_id = next(peer.queue_ids)
            reply = Reply(250, "2.0.0", f"Ok: queued as {queue_id}")
            return Decided(memo.commands, Outcome.SUCCESS, reply, queue_id, memo.tls)
        client = ClientDialogue(
            msg.sender,
            [msg.recipient],
            f"Subject: message {msg.msg_id}\r\n\r\n",
            self.name,
            tls_choice=lambda offered: choice,
            size=msg.size,
        )
        server = ServerDialogue(
            ClientFacts(address=self.spec.address, name=self.name),
            policy=peer.policy,
            config=peer.server_config,
            queue_ids=peer.queue_ids,
        )
        events = converse(client, server)
        commands = sum(1 for line in client.transcript if line.startswith("C: "))
        self.record_transcript(msg, peer, client.transcript, rtt)
        result = client.results[0]
        received = [e for e in events if isinstance(e, MessageReceived)]
        if received:
            got = received[0]
            if result.reply == Reply(250, "2.0.0", f"Ok: queued as {got.queue_id}"):
                memo = Memo(commands, True, got.tls, Outcome.SUCCESS, result.reply, Stage.DOT)
                self.remember(key, memo)
            return Decided(commands, Outcome.SUCCESS, result.reply, got.queue_id, got.tls)
        self.remember(key, Memo(commands, False, False, result.outcome, result.reply, result.stage))
        return Decided(commands, result.outcome, result.reply, None, False, result.stage)

    def remember(self, key: SessionKey, memo: Memo) -> None:
        if len(self._sessions) >= MEMO_LIMIT:
            self._sessions.clear()  # bounded memory for runs with very many envelopes
        self._sessions[key] = memo
