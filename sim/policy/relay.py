"""Relay authorization with Postfix 3.7 restriction semantics (SMTPD_ACCESS_README).

A :class:`RelayPolicy` is compiled once from a ``main.cf`` (unknown restriction names
and broken tables are reported with file and line, and a policy Postfix would refuse
to run is refused here too).  Its stage methods are pure functions of the session
facts: ``check_recipient(client, sender, recipient)`` returns a :class:`Decision`
carrying the exact Postfix reply and the name of the restriction that decided.

Timing follows ``smtpd_delay_reject``: with ``yes`` (the default) the client, HELO
and sender lists are evaluated again at every RCPT, before the relay and recipient
lists (whose order depends on ``smtpd_relay_before_recipient_restrictions``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from sim.errors import PolicyConfigError
from sim.policy.maincf import MODELLED_PARAMETERS, MainCf
from sim.policy.matchlists import DomainList, HostList, normalize_ip
from sim.policy.replies import Reply
from sim.policy.resolve import Resolution, Resolver
from sim.policy.tables import Table, TableCache
from sim.policy.vocab import enum_from_text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = [
    "ARG_RESTRICTIONS",
    "MODELLED_ACCESS",
    "MODELLED_RESTRICTIONS",
    "UNMODELLED_RESTRICTIONS",
    "ClientFacts",
    "Decision",
    "DomainStatus",
    "RelayPolicy",
    "Stage",
    "Step",
    "pop_before_smtp_table",
]

MODELLED_RESTRICTIONS = frozenset(
    [
        "permit",
        "reject",
        "defer",
        "defer_if_permit",
        "defer_if_reject",
        "warn_if_reject",
        "permit_mynetworks",
        "permit_sasl_authenticated",
        "permit_tls_clientcerts",
        "permit_tls_all_clientcerts",
        "reject_unauth_destination",
        "defer_unauth_destination",
        "permit_auth_destination",
        "reject_non_fqdn_sender",
        "reject_non_fqdn_recipient",
        "reject_non_fqdn_helo_hostname",
        "reject_non_fqdn_hostname",
        "reject_invalid_helo_hostname",
        "reject_invalid_hostname",
        "reject_unknown_sender_domain",
        "reject_unknown_recipient_domain",
        "reject_unlisted_recipient",
        "check_recipient_maps",
        "reject_unlisted_sender",
        "reject_sender_login_mismatch",
        "reject_authenticated_sender_login_mismatch",
        "reject_unauthenticated_sender_login_mismatch",
        "reject_known_sender_login_mismatch",
        "reject_unauth_pipelining",
    ]
)
# Access-table restrictions that relaysim evaluates (each takes a table argument).
MODELLED_ACCESS = frozenset(
    [
        "check_client_access",
        "check_reverse_client_hostname_access",
        "check_helo_access",
        "check_sender_access",
        "check_recipient_access",
        "check_ccert_access",
        "check_sasl_access",
    ]
)
# Restrictions that take the next word as their argument (a table, a DNS zone, a service).
ARG_RESTRICTIONS = MODELLED_ACCESS | frozenset(
    [
        "check_policy_service",
        "reject_rbl_client",
        "reject_rhsbl_client",
        "reject_rhsbl_sender",
        "reject_rhsbl_recipient",
        "reject_rhsbl_helo",
        "reject_rhsbl_reverse_client",
        "permit_dnswl_client",
        "permit_rhswl_client",
        "check_client_mx_access",
        "check_client_ns_access",
        "check_client_a_access",
        "check_helo_mx_access",
        "check_helo_ns_access",
        "check_helo_a_access",
        "check_sender_mx_access",
        "check_sender_ns_access",
        "check_sender_a_access",
        "check_recipient_mx_access",
        "check_recipient_ns_access",
        "check_recipient_a_access",
        "check_reverse_client_hostname_mx_access",
        "check_reverse_client_hostname_ns_access",
        "check_reverse_client_hostname_a_access",
        "sleep",
    ]
)
# Real Postfix restrictions that need live DNS or daemons; evaluated as DUNNO, with a warning.
UNMODELLED_RESTRICTIONS = frozenset(
    [
        "reject_unknown_client_hostname",
        "reject_unknown_client",
        "reject_unknown_reverse_client_hostname",
        "reject_unknown_helo_hostname",
        "reject_unknown_hostname",
        "permit_mx_backup",
        "reject_unverified_sender",
        "reject_unverified_recipient",
        "reject_multi_recipient_bounce",
        "reject_plaintext_session",
        "permit_naked_ip_address",
        "check_relay_domains",
        "reject_non_fqdn_address",
    ]
) | (ARG_RESTRICTIONS - MODELLED_ACCESS)
_REQUIRED = {
    "reject_unauth_destination",
    "defer_unauth_destination",
    "reject",
    "defer",
    "defer_if_permit",
    "check_relay_domains",
}
_LIST_PARAMS = (
    "smtpd_client_restrictions",
    "smtpd_helo_restrictions",
    "smtpd_sender_restrictions",
    "smtpd_relay_restrictions",
    "smtpd_recipient_restrictions",
)


class Stage(Enum):
    """The SMTP stage a restriction list belongs to, with Postfix's reply class."""

    CLIENT = "Client host"
    HELO = "Helo command"
    SENDER = "Sender address"
    RECIPIENT = "Recipient address"
    SASL = "SASL login name"
    CCERT = "Client certificate"


class DomainStatus(Enum):
    """What DNS said of a domain, for ``reject_unknown_*_domain`` (given, never looked up)."""

    EXISTS = "exists"
    NXDOMAIN = "nxdomain"
    NULL_MX = "nullmx"
    TEMPFAIL = "tempfail"
    MALFORMED = "malformed"

    @classmethod
    def from_text(cls, text: str) -> DomainStatus:
        return enum_from_text(cls, text, "DNS status")


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """What the server knows about the connection (RFC 5321 session, not transaction)."""

    address: str | None = None
    name: str | None = None
    helo: str | None = None
    greeting: str = "EHLO"
    sasl_login: str | None = None
    cert_fingerprint: str | None = None
    cert_trusted: bool = False
    pipelined: bool = False

    def __post_init__(self) -> None:
        if self.address is not None:
            try:
                normalize_ip(self.address)
            except ValueError:
                raise ValueError(
                    f"client address {self.address!r} is not an IPv4 or IPv6 address"
                ) from None
        if self.greeting.upper() not in ("EHLO", "HELO"):
            raise ValueError(f"greeting must be EHLO or HELO, got {self.greeting!r}")

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        return None if self.address is None else normalize_ip(self.address)

    @property
    def namaddr(self) -> str:
        """Postfix's ``name[address]`` form used in client rejections."""
        name = self.name or "unknown"
        return f"{name}[{self.ip if self.ip is not None else 'unknown'}]"


@dataclass(frozen=True, slots=True)
class Step:
    """One restriction evaluated, for ``--explain``."""

    list_name: str
    restriction: str
    result: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The reply for one stage and the restriction that decided it."""

    reply: Reply
    by: str | None
    steps: tuple[Step, ...] = ()
    disconnect: bool = False
    discard: bool = False

    @property
    def accepted(self) -> bool:
        return self.reply.code < 400


@dataclass
class RelayPolicy:
    """A compiled Postfix relay policy; build it with :meth:`from_main_cf`."""

    cfg: MainCf
    tables: TableCache
    lists: dict[str, list[str]] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    _memo: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_main_cf(cls, path: str | Path) -> RelayPolicy:
        return cls.from_config(MainCf.read(path))

    @classmethod
    def from_text(cls, text: str, *, directory: Path | None = None) -> RelayPolicy:
        return cls.from_config(MainCf.parse(text, directory=directory))

    @classmethod
    def from_config(cls, cfg: MainCf) -> RelayPolicy:
        policy = cls(cfg, TableCache(cfg.directory, cfg.source))
        policy._compile()
        return policy

    # -- compilation -------------------------------------------------------------------

    def _compile(self) -> None:
        cfg = self.cfg
        self.classes = set(cfg.items("smtpd_restriction_classes"))
        for name in (*_LIST_PARAMS, *sorted(self.classes)):
            self.lists[name] = self._compile_list(name)
        self._check_required()
        parent = cfg.parent_matches
        self.mynetworks = HostList(
            self._mynetworks_value(),
            self.tables,
            parent_style=parent("mynetworks"),
            line=cfg.where("mynetworks")[1],
        )
        self.warnings.extend(f"mynetworks: {w}" for w in self.mynetworks.warnings)
        self.local_addresses = self._interface_addresses()
        lists = {
            name: DomainList(
                cfg.get(name), self.tables, parent_style=parent(name), line=cfg.where(name)[1]
            )
            for name in ("relay_domains", "virtual_alias_domains", "virtual_mailbox_domains")
        }
        mydestination = DomainList(
            cfg.get("mydestination"),
            self.tables,
            parent_style=False,
            exact=True,
            line=cfg.where("mydestination")[1],
        )
        self.resolver = Resolver(
            myhostname=cfg.myhostname,
            myorigin=cfg.get("myorigin"),
            mydomain=cfg.mydomain,
            is_local_domain=mydestination.match,
            local_addresses=self.local_addresses,
            is_virtual_alias_domain=lists["virtual_alias_domains"].match,
            is_virtual_mailbox_domain=lists["virtual_mailbox_domains"].match,
            is_relay_domain=lists["relay_domains"].match,
            percent_hack=cfg.flag("allow_percent_hack"),
            swap_bangpath=cfg.flag("swap_bangpath"),
            dequote=cfg.flag("resolve_dequoted_address"),
            null_domain=cfg.flag("resolve_null_domain"),
            numeric_domain=cfg.flag("resolve_numeric_domain"),
            append_dot_mydomain=cfg.flag("append_dot_mydomain"),
            empty_address_recipient=cfg.get("empty_address_recipient"),
            utf8_domains=cfg.flag("smtputf8_enable"),
        )
        self.maps = {
            name: self._maps(name)
            for name in (
                "local_recipient_maps",
                "relay_recipient_maps",
                "virtual_alias_maps",
                "virtual_mailbox_maps",
                "smtpd_sender_login_maps",
                "relay_clientcerts",
            )
        }
        self.mydestination = mydestination
        for name in (
            "smtpd_delay_reject",
            "smtpd_helo_required",
            "smtpd_sasl_auth_enable",
            "soft_bounce",
            "allow_untrusted_routing",
            "strict_rfc821_envelopes",
            "show_user_unknown_table_name",
            "smtpd_relay_before_recipient_restrictions",
            "smtpd_reject_unlisted_recipient",
            "smtpd_reject_unlisted_sender",
        ):
            cfg.flag(name)  # validate yes/no now, with file and line
        for name in (
            "relay_domains_reject_code",
            "unknown_address_reject_code",
            "non_fqdn_reject_code",
            "access_map_reject_code",
            "access_map_defer_code",
            "defer_code",
            "reject_code",
            "invalid_hostname_reject_code",
            "unknown_local_recipient_reject_code",
            "unknown_relay_recipient_reject_code",
            "unknown_virtual_alias_reject_code",
            "unknown_virtual_mailbox_reject_code",
            "message_size_limit",
        ):
            cfg.integer(name)
        for table in self.tables._tables.values():
            self.warnings.extend(table.warnings)
        for name in cfg.values:
            if (
                name not in MODELLED_PARAMETERS
                and name not in self.classes
                and _relay_relevant(name)
            ):
                source, line = cfg.where(name)
                self.warnings.append(
                    f"{source}:{line}: {name} is not modelled by relaysim (ignored)"
                )

    def _compile_list(self, name: str) -> list[str]:
        source, line = self.cfg.where(name)
        words = self.cfg.items(name)
        out: list[str] = []
        i = 0
        while i < len(words):
            word = words[i]
            lower = word.lower()
            if lower in ARG_RESTRICTIONS:
                if i + 1 >= len(words):
                    raise PolicyConfigError(
                        f"{name}: restriction {word} needs an argument", source=source, line=line
                    )
                arg = words[i + 1]
                if lower in MODELLED_ACCESS:
                    self.tables.open(arg, line=line)
                elif lower in UNMODELLED_RESTRICTIONS:
                    self.warnings.append(f"{source}: {name}: {word} {arg} is not modelled (DUNNO)")
                out.extend([lower, arg])
                i += 2
                continue
            if ":" in word:
                self.tables.open(word, line=line)
                out.append(word)
            elif lower in MODELLED_RESTRICTIONS or word in self.classes:
                out.append(word if word in self.classes else lower)
            elif lower in UNMODELLED_RESTRICTIONS:
                self.warnings.append(f"{source}: {name}: {word} needs live DNS or a daemon; DUNNO")
                out.append(lower)
            else:
                raise PolicyConfigError(
                    f"{name}: unknown restriction {word!r} (expected a Postfix restriction, "
                    "a type:table or a name from smtpd_restriction_classes)",
                    source=source,
                    line=line,
                )
            i += 1
        return out

    def _has_required(self, name: str, depth: int = 0) -> bool:
        words = self.lists.get(name, [])
        skip = False
        for word in words:
            if skip:
                skip = False
                continue
            if word == "permit":
                return False
            if word == "warn_if_reject" or word in ARG_RESTRICTIONS:
                skip = True
                continue
            if word in _REQUIRED:
                return True
            if word in self.classes and depth < 100 and self._has_required(word, depth + 1):
                return True
        return False

    def _check_required(self) -> None:
        if self._has_required("smtpd_relay_restrictions") or self._has_required(
            "smtpd_recipient_restrictions"
        ):
            return
        source, line = self.cfg.where("smtpd_recipient_restrictions")
        if line is None:
            source, line = self.cfg.where("smtpd_relay_restrictions")
        raise PolicyConfigError(
            "Postfix refuses to run this policy (an open relay): in parameter "
            "smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one "
            "working instance of: reject_unauth_destination, defer_unauth_destination, reject, "
            "defer, defer_if_permit or check_relay_domains",
            source=source,
            line=line,
        )

    def _interface_addresses(
        self, names: tuple[str, ...] = ("inet_interfaces", "proxy_interfaces")
    ) -> frozenset[IPAddress]:
        """Our own addresses; ``all`` and ``loopback-only`` mean 127.0.0.1 and ::1 here."""
        out: set[IPAddress] = set()
        for name in names:
            for item in self.cfg.items(name):
                if item.lower() in ("all", "loopback-only", "localhost"):
                    out |= {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
                    continue
                try:
                    out.add(normalize_ip(item))
                except ValueError:
                    self.warnings.append(f"{name}: host name {item!r} not resolved (ignored)")
        return frozenset(out)

    def _mynetworks_value(self) -> str:
        if self.cfg.is_set("mynetworks"):
            return self.cfg.get("mynetworks")
        style = self.cfg.get("mynetworks_style").strip().lower()
        nets: list[str] = []
        for addr in sorted(
            self._interface_addresses(("inet_interfaces",)), key=lambda a: (a.version, int(a))
        ):
            if style == "host":
                nets.append(
                    f"{addr}/{addr.max_prefixlen}" if addr.version == 4 else f"[{addr}]/128"
                )
            elif addr.is_loopback and addr.version == 4:
                nets.append("127.0.0.0/8")
            elif addr.version == 4:
                prefix = 24 if style == "subnet" else _class_prefix(addr)
                nets.append(str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False)))
            else:
                prefix = 128 if addr.is_loopback else 64
                net = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
                nets.append(f"[{net.network_address}]/{prefix}")
        return " ".join(dict.fromkeys(nets))

    def _maps(self, name: str) -> list[Table]:
        line = self.cfg.where(name)[1]
        out: list[Table] = []
        for ref in self.cfg.items(name):
            if ":" not in ref:
                raise PolicyConfigError(
                    f"{name}: expected a type:table, got {ref!r}", source=self.cfg.source, line=line
                )
            try:
                out.append(self.tables.open(ref, line=line))
            except PolicyConfigError:
                if ref.partition(":")[2] != "/etc/aliases":
                    raise
                # The system alias file of a machine relaysim does not have.
                self.warnings.append(f"{name}: {ref} not found; using an empty alias table")
        return out

    # -- helpers for the engine --------------------------------------------------------

    # The policy is immutable once compiled, so these answers are memoized: the
    # simulator asks the same questions for every message.

    def resolve(self, address: str) -> Resolution:
        cache = self._memo.setdefault("resolve", {})
        if address not in cache:
            if len(cache) > 100_000:
                cache.clear()
            cache[address] = self.resolver.resolve(address)
        result: Resolution = cache[address]
        return result

    def code(self, name: str) -> int:
        cache = self._memo.setdefault("code", {})
        if name not in cache:
            cache[name] = self.cfg.integer(name)
        value: int = cache[name]
        return value

    def flag(self, name: str) -> bool:
        cache = self._memo.setdefault("flag", {})
        if name not in cache:
            cache[name] = self.cfg.flag(name)
        value: bool = cache[name]
        return value

    # -- stage API (the SMTP dialogue calls these) -------------------------------------

    def check_client(self, client: ClientFacts) -> Decision:
        from sim.policy.restrictions import Evaluation

        return Evaluation(self, client).client_stage()

    def check_helo(self, client: ClientFacts) -> Decision:
        from sim.policy.restrictions import Evaluation

        return Evaluation(self, client).helo_stage()

    def check_sender(
        self, client: ClientFacts, sender: str, *, rejected_helo: str | None = None
    ) -> Decision:
        """``sender`` is the internal form from :mod:`sim.policy.addresses` ("" for ``<>``)."""
        from sim.policy.restrictions import Evaluation

        return Evaluation(self, client, sender=sender, rejected_helo=rejected_helo).sender_stage()

    def check_recipient(
        self,
        client: ClientFacts,
        sender: str,
        recipient: str,
        *,
        dns: Mapping[str, DomainStatus] | None = None,
        rejected_helo: str | None = None,
    ) -> Decision:
        """The full RCPT decision, including delayed client/HELO/sender restrictions.

        ``rejected_helo`` is a HELO name refused earlier with ``smtpd_delay_reject = no``.
        """
        from sim.policy.restrictions import Evaluation

        return Evaluation(
            self, client, sender=sender, recipient=recipient, dns=dns, rejected_helo=rejected_helo
        ).rcpt_stage()

    def address_error(self, address: str, *, smtputf8: bool = True) -> bool:
        """Postfix ``smtpd_check_addr``: does the resolver call this address a syntax error?"""
        if not address:
            return False
        resolution = self.resolve(address)
        if resolution.error:
            return True
        return not smtputf8 and not resolution.domain.isascii()


def pop_before_smtp_table(logins: Mapping[str, float], *, now: float, window: float) -> str:
    """The access table a POP-before-SMTP daemon keeps (the seed's SMTP-after-POP strategy).

    Clients that read their mailbox within ``window`` seconds of ``now`` are listed with
    their login time; Postfix treats an all-digit right-hand side as OK, and the daemon
    drops stale entries, which is what makes the permission temporary.  Use it with
    ``check_client_access hash:FILE`` before ``reject_unauth_destination``.
    """
    rows = [f"{ip} {int(t)}" for ip, t in sorted(logins.items()) if 0 <= now - t <= window]
    return "".join(f"{row}\n" for row in rows)


_DAEMON_ONLY = (
    "tls",
    "banner",
    "timeout",
    "limit",
    "milter",
    "sasl",
    "proxy",
    "client_",
    "error",
    "junk",
    "hard_error",
    "soft_error",
    "authorized",
    "log",
    "discard",
    "forbid",
    "policy",
    "upstream",
    "peername",
    "expansion",
    "history",
    "overshoot",
    "command_filter",
    "per_record",
    "noop",
    "footer",
    "dns_reply",
    "service_name",
    "use_tls",
    "enforce_tls",
    "recipient_limit",
    "etrn",
    "chunking",
    "pipelining",
    "xforward",
    "reject_unlisted",
)


def _relay_relevant(name: str) -> bool:
    """Parameters that could change a relay decision, so ignoring them deserves a warning."""
    if name.endswith("_restrictions"):
        return True
    return name.startswith("smtpd_") and not any(word in name for word in _DAEMON_ONLY)


def _class_prefix(addr: ipaddress.IPv4Address) -> int:
    first = int(addr) >> 24
    if first < 128:
        return 8
    if first < 192:
        return 16
    return 24
