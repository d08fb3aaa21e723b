"""The classic open-relay probe: the forms a relay scanner tries, and how it judges them.

Source of the forms.  Tests 1-16 are, in order and byte for byte, the list hard-coded
in Nmap's ``smtp-open-relay`` NSE script (``scripts/smtp-open-relay.nse`` in the
nmap/nmap repository; it prints "Server is an open relay (N/16 tests)").  With
its parameters ``domain`` (the victim's domain), ``from`` (``antispam``), ``to``
(``relaytest``), ``ip`` (the target's address) and ``srvname`` (the host name from the
220 greeting), the script's ``string.format`` templates are::

     1  MAIL FROM:<>                  RCPT TO:<to@domain>
     2  MAIL FROM:<from@domain>       RCPT TO:<to@domain>
     3  MAIL FROM:<from@srvname>      RCPT TO:<to@domain>
     4  MAIL FROM:<from@[ip]>         RCPT TO:<to@domain>
     5  MAIL FROM:<from@[ip]>         RCPT TO:<to%domain@[ip]>
     6  MAIL FROM:<from@[ip]>         RCPT TO:<to%domain@srvname>
     7  MAIL FROM:<from@[ip]>         RCPT TO:<"to@domain">
     8  MAIL FROM:<from@[ip]>         RCPT TO:<"to%domain">
     9  MAIL FROM:<from@[ip]>         RCPT TO:<to@domain@[ip]>
    10  MAIL FROM:<from@[ip]>         RCPT TO:<"to@domain"@[ip]>
    11  MAIL FROM:<from@[ip]>         RCPT TO:<to@domain@srvname>
    12  MAIL FROM:<from@[ip]>         RCPT TO:<@[ip]:to@domain>
    13  MAIL FROM:<from@[ip]>         RCPT TO:<@srvname:to@domain>
    14  MAIL FROM:<from@[ip]>         RCPT TO:<domain!to>
    15  MAIL FROM:<from@[ip]>         RCPT TO:<domain!to@[ip]>
    16  MAIL FROM:<from@[ip]>         RCPT TO:<domain!to@srvname>

These 16 are the default, so that "N/16 relayed" means what it means in Nmap's
output.  ``extended=True`` adds two forms that complete the families, because other
checklists (and relaysim's own docs/relay.md §4) use them and Nmap does not: 17, the
quoted ``"to@domain"`` at the server's *host name* (Nmap has it only at the IP
literal, test 10), and 18, the bare percent hack ``to%domain`` (Nmap has ``%`` only
after an ``@``, or inside quotes).

Differences from Nmap, all deliberate: Nmap uses one domain for the sender and the
victim (``antispam@nmap.scanme.org`` to ``relaytest@nmap.scanme.org``); here the
sender (:data:`DEFAULT_SENDER`) and the victim (:data:`DEFAULT_VICTIM`) are separate
parameters, and the sender's local part is used for forms 3 onwards.  An IPv6 server
address is written ``[IPv6:...]`` (RFC 5321 §4.1.3); Nmap writes ``[...]``.

The verdict (:func:`judge`) is the scanners' rule: a form *relays* when MAIL FROM is
answered 2xx and RCPT TO is answered 2xx (Nmap's ``smtp.check_reply`` accepts 250 for
MAIL and 250/251 for RCPT).  The real question is whether the server accepted a
recipient that, *as the server resolves it*, is neither local nor one of its
``relay_domains``.  The two agree as long as the victim's domain is one the server
does not serve (the runner checks that first) and the server resolves the form to the
victim, which Postfix does for every form with its default ``allow_percent_hack``,
``swap_bangpath`` and ``resolve_dequoted_address``.  With those turned off, a 2xx for
an exotic form (``relaytest%example.net@[ip]``) means a local mailbox that does not
exist: scanners still count it, and so does :attr:`ProbeResult.relayed`;
:attr:`ProbeResult.stays_here` says so.

This module is pure: the forms and the verdict are functions of their arguments.  The
runner that plays them through the SMTP dialogue is :func:`sim.smtp.probe.probe`
(``sim.policy`` never imports ``sim.smtp``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

from sim.policy.addresses import valid_hostname
from sim.policy.maincf import MainCf
from sim.policy.matchlists import normalize_ip
from sim.policy.replies import Reply

__all__ = [
    "DEFAULT_SENDER",
    "DEFAULT_SERVER_IP",
    "DEFAULT_VICTIM",
    "NMAP_TESTS",
    "OUTSIDER",
    "ProbeForm",
    "ProbeReport",
    "ProbeResult",
    "Verdict",
    "default_server",
    "judge",
    "probe_forms",
]

DEFAULT_VICTIM = "relaytest@example.net"
DEFAULT_SENDER = "antispam@example.org"
# Documentation address (RFC 5737) used when main.cf names no interface address.
DEFAULT_SERVER_IP = "192.0.2.25"
# The probe's client: an RFC 5737 (TEST-NET-3) address that no real mynetworks should
# hold, standing for "any host on the Internet".
OUTSIDER = "203.0.113.99"
NMAP_TESTS = 16  # forms 1..NMAP_TESTS are Nmap smtp-open-relay's list, in its order


@dataclass(frozen=True, slots=True)
class ProbeForm:
    """One relay test: the exact path text sent inside ``<>`` (``""`` is ``<>``)."""

    number: int
    label: str
    mail_from: str
    rcpt_to: str

    @property
    def mail_command(self) -> str:
        return f"MAIL FROM:<{self.mail_from}>"

    @property
    def rcpt_command(self) -> str:
        return f"RCPT TO:<{self.rcpt_to}>"

    @property
    def nmap(self) -> bool:
        """True for the forms Nmap's smtp-open-relay sends (1-16)."""
        return self.number <= NMAP_TESTS


def _split(address: str, what: str) -> tuple[str, str]:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or not valid_hostname(domain, allow_utf8=False):
        raise ValueError(f"{what} {address!r}: expected local@domain with a host-name domain")
    if any(ch in local for ch in '@%!"<>:[] \t\\'):
        raise ValueError(f"{what} {address!r}: the local part must be a plain word")
    return local, domain


def _literal(server_ip: str) -> str:
    try:
        addr = ipaddress.ip_address(server_ip.strip().strip("[]"))
    except ValueError:
        raise ValueError(f"server IP {server_ip!r} is not an IPv4 or IPv6 address") from None
    return f"[IPv6:{addr}]" if addr.version == 6 else f"[{addr}]"


def probe_forms(
    server_name: str,
    server_ip: str,
    victim: str = DEFAULT_VICTIM,
    probe_sender: str = DEFAULT_SENDER,
    *,
    extended: bool = False,
) -> tuple[ProbeForm, ...]:
    """Nmap's 16 forms in Nmap's order; with ``extended``, the two this module adds.

    Raises ValueError for a server name that is not a host name, a server IP that is
    not an address, or a victim/sender that is not a plain ``local@domain``.
    """
    if not valid_hostname(server_name, allow_utf8=False):
        raise ValueError(f"server name {server_name!r} is not a host name")
    ip = _literal(server_ip)
    to, domain = _split(victim, "victim")
    frm, _ = _split(probe_sender, "probe sender")
    srv = server_name
    at_ip = f"{frm}@{ip}"
    rows = [
        ("null sender", "", f"{to}@{domain}"),
        ("third-party sender", probe_sender, f"{to}@{domain}"),
        ("sender at the server's host name", f"{frm}@{srv}", f"{to}@{domain}"),
        ("sender at the server's IP literal", at_ip, f"{to}@{domain}"),
        ("percent hack at IP literal", at_ip, f"{to}%{domain}@{ip}"),
        ("percent hack at host name", at_ip, f"{to}%{domain}@{srv}"),
        ("quoted local part with @", at_ip, f'"{to}@{domain}"'),
        ("quoted local part with %", at_ip, f'"{to}%{domain}"'),
        ("double @ at IP literal", at_ip, f"{to}@{domain}@{ip}"),
        ("quoted @ at IP literal", at_ip, f'"{to}@{domain}"@{ip}'),
        ("double @ at host name", at_ip, f"{to}@{domain}@{srv}"),
        ("source route via IP literal", at_ip, f"@{ip}:{to}@{domain}"),
        ("source route via host name", at_ip, f"@{srv}:{to}@{domain}"),
        ("bang path", at_ip, f"{domain}!{to}"),
        ("bang path at IP literal", at_ip, f"{domain}!{to}@{ip}"),
        ("bang path at host name", at_ip, f"{domain}!{to}@{srv}"),
    ]
    if extended:
        rows += [
            ("quoted @ at host name", at_ip, f'"{to}@{domain}"@{srv}'),
            ("percent hack, bare", at_ip, f"{to}%{domain}"),
        ]
    return tuple(
        ProbeForm(number, label, mail_from, rcpt_to)
        for number, (label, mail_from, rcpt_to) in enumerate(rows, 1)
    )


class Verdict(Enum):
    """The scanner's verdict on one form."""

    RELAYED = "RELAYED"
    REFUSED = "refused"


def judge(mail_reply: Reply, rcpt_reply: Reply | None) -> Verdict:
    """RELAYED when MAIL FROM and RCPT TO were both answered 2xx, as scanners count.

    ``rcpt_reply`` is None when the server closed the connection before the RCPT.
    A 4xx is a refusal (Postfix's default relay list answers ``454 4.7.1``), and so is
    a 3xx, which no server sends to MAIL or RCPT.  The caller must make sure the
    victim's domain is not one the server serves, or a 2xx means nothing.
    """
    if not 200 <= mail_reply.code < 300:
        return Verdict.REFUSED
    if rcpt_reply is None or not 200 <= rcpt_reply.code < 300:
        return Verdict.REFUSED
    return Verdict.RELAYED


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the server answered to one form.

    ``rcpt_reply`` is None when the connection was closed before the RCPT.
    ``resolved`` is the recipient as the server resolves it (None for a syntax
    error); ``stays_here`` is True when that is one of the server's own destinations
    although the scanner counts a 2xx as relayed (see the module docstring).
    """

    form: ProbeForm
    mail_reply: Reply
    rcpt_reply: Reply | None
    relayed: bool
    resolved: str | None = None
    stays_here: bool = False
    decided_by: str | None = None

    @property
    def verdict(self) -> Verdict:
        return Verdict.RELAYED if self.relayed else Verdict.REFUSED

    @property
    def reply(self) -> Reply | None:
        """The reply that settled the form: MAIL's when MAIL was refused, else RCPT's."""
        if not 200 <= self.mail_reply.code < 300:
            return self.mail_reply
        return self.rcpt_reply

    def as_json(self) -> dict[str, object]:
        return {
            "number": self.form.number,
            "label": self.form.label,
            "nmap": self.form.nmap,
            "mail_from": self.form.mail_from,
            "rcpt_to": self.form.rcpt_to,
            "mail": self.mail_reply.as_dict(),
            "rcpt": None if self.rcpt_reply is None else self.rcpt_reply.as_dict(),
            "decided_by": self.decided_by,
            "resolved": self.resolved,
            "relayed": self.relayed,
            "stays_here": self.stays_here,
        }


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """All forms played against one server from one client.

    ``client_trusted`` is True when the server lets this client relay on purpose (it
    is in ``mynetworks``, or authenticated): then a 2xx is authorized relaying, not an
    open-relay finding, because a probe must come from outside.  A ``mynetworks`` that
    also holds :data:`OUTSIDER` (``0.0.0.0/0``) trusts everybody: that is no excuse,
    and ``client_trusted`` stays False.
    """

    server_name: str
    server_ip: str
    client: str | None
    helo: str | None
    victim: str
    results: tuple[ProbeResult, ...]
    client_trusted: bool = False
    notes: tuple[str, ...] = ()

    @property
    def relayed_count(self) -> int:
        return sum(r.relayed for r in self.results)

    @property
    def nmap_relayed_count(self) -> int:
        """Relayed among Nmap's own 16 forms: comparable with its "N/16 tests"."""
        return sum(r.relayed for r in self.results if r.form.nmap)

    @property
    def open_relay(self) -> bool:
        """Some form relayed for a client the server does not trust."""
        return self.relayed_count > 0 and not self.client_trusted

    def summary(self) -> str:
        """``"0/16 relayed"``, scanner style; extended: ``"0/18 relayed (Nmap's: 0/16)"``."""
        nmap_total = sum(r.form.nmap for r in self.results)
        text = f"{self.relayed_count}/{len(self.results)} relayed"
        if nmap_total != len(self.results):
            text += f" (Nmap's: {self.nmap_relayed_count}/{nmap_total})"
        if self.relayed_count and self.client_trusted:
            text += " - authorized for this client, not an open relay"
        return text

    def as_json(self) -> dict[str, object]:
        return {
            "server": {"name": self.server_name, "ip": self.server_ip},
            "client": {"address": self.client, "helo": self.helo, "trusted": self.client_trusted},
            "victim": self.victim,
            "forms": [r.as_json() for r in self.results],
            "relayed": self.relayed_count,
            "total": len(self.results),
            "nmap_relayed": self.nmap_relayed_count,
            "open_relay": self.open_relay,
            "summary": self.summary(),
            "notes": list(self.notes),
        }


def default_server(cfg: MainCf) -> tuple[str, str]:
    """The server name and IP a scanner would see: ``myhostname`` (the 220 greeting)
    and the first address in ``inet_interfaces``, else ``proxy_interfaces``, else
    :data:`DEFAULT_SERVER_IP` (for ``inet_interfaces = all``, the default)."""
    for name in ("inet_interfaces", "proxy_interfaces"):
        for item in cfg.items(name):
            try:
                return cfg.myhostname, str(normalize_ip(item))
            except ValueError:
                continue
    return cfg.myhostname, DEFAULT_SERVER_IP
