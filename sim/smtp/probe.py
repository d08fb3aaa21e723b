"""Play the open-relay probe (:mod:`sim.policy.relay_probe`) through the SMTP dialogue.

Each form gets a session of its own (greeting, EHLO, MAIL, RCPT, QUIT) from
:func:`sim.smtp.session.run_session`; Nmap sends RSET between the forms on one
connection instead, which gives the same answers because a Postfix transaction keeps
no state from the one before it.  The runner lives here, not in ``sim.policy``,
because ``sim.policy`` is the lower layer and never imports ``sim.smtp``.  It is pure
all the same: it only calls the dialogue and the policy.
"""

from __future__ import annotations

from collections.abc import Mapping

from sim.policy.addresses import PathCommand, PathKind, parse_path_command
from sim.policy.matchlists import ListLookupError, normalize_ip
from sim.policy.relay import ClientFacts, DomainStatus, RelayPolicy
from sim.policy.relay_probe import (
    DEFAULT_SENDER,
    DEFAULT_VICTIM,
    OUTSIDER,
    ProbeReport,
    ProbeResult,
    Verdict,
    judge,
    probe_forms,
)
from sim.policy.resolve import AddressClass, Resolution
from sim.smtp.session import RelayCase, run_session

__all__ = ["probe"]


def _served(resolution: Resolution) -> bool:
    """Is this one of the server's own destinations (local, virtual, relay_domains)?"""
    return resolution.address_class is not AddressClass.DEFAULT


def _resolve(policy: RelayPolicy, rcpt_to: str) -> Resolution | None:
    parsed = parse_path_command(PathKind.RECIPIENT, f"TO:<{rcpt_to}>")
    if not isinstance(parsed, PathCommand) or parsed.mailbox is None:
        return None
    resolution = policy.resolve(parsed.mailbox.text)
    return None if resolution.error else resolution


def _in_mynetworks(policy: RelayPolicy, address: str | None, name: str | None = None) -> bool:
    try:
        return policy.mynetworks.match(name, None if address is None else normalize_ip(address))
    except ListLookupError:
        return False


def _trusted(policy: RelayPolicy, client: ClientFacts) -> tuple[str | None, str | None]:
    """(why the server lets this client relay on purpose, or why mynetworks is too wide)."""
    if client.sasl_login is not None and policy.flag("smtpd_sasl_auth_enable"):
        return f"the client is authenticated as {client.sasl_login!r}", None
    if not _in_mynetworks(policy, client.address, client.name):
        return None, None
    if _in_mynetworks(policy, OUTSIDER):
        return None, (
            f"mynetworks contains {OUTSIDER}, a documentation address that stands for any "
            "host on the Internet: it trusts everybody, so this server is an open relay"
        )
    return f"client {client.address} is in mynetworks", None


def probe(
    policy: RelayPolicy,
    client: ClientFacts,
    server_name: str,
    server_ip: str,
    *,
    victim: str = DEFAULT_VICTIM,
    probe_sender: str = DEFAULT_SENDER,
    dns: Mapping[str, DomainStatus] | None = None,
    extended: bool = False,
) -> ProbeReport:
    """Send every form of :func:`probe_forms` as ``client`` and judge the replies.

    The default is Nmap's 16 forms; ``extended`` adds forms 17 and 18.

    Raises ValueError for bad server name/IP, victim or sender, and when the victim's
    domain is one the server serves (then a 2xx would not mean relaying).
    """
    forms = probe_forms(server_name, server_ip, victim, probe_sender, extended=extended)
    target = policy.resolve(victim)
    if target.error:
        raise ValueError(f"victim {victim!r} is not an address this server can resolve")
    if _served(target):
        raise ValueError(
            f"victim {victim!r} is a destination of this server ({target.address_class.value} "
            "address class): a relay probe needs a domain the server does not serve"
        )
    results = []
    for form in forms:
        case = RelayCase(client, f"<{form.mail_from}>", (f"<{form.rcpt_to}>",), dns=dns or {})
        session = run_session(policy, case)
        rcpt = session.rcpts[0]
        relayed = judge(session.mail, rcpt.reply) is Verdict.RELAYED
        resolution = _resolve(policy, form.rcpt_to)
        decision = rcpt.decision
        if not 200 <= session.mail.code < 300:
            mail_ex = next(
                (ex for ex in session.exchanges if ex.command == form.mail_command), None
            )
            decision = mail_ex.decision if mail_ex is not None else None
        results.append(
            ProbeResult(
                form,
                session.mail,
                rcpt.reply,
                relayed,
                resolved=None if resolution is None else resolution.recipient,
                stays_here=relayed and resolution is not None and _served(resolution),
                decided_by=decision.by if decision is not None and not relayed else None,
            )
        )
    notes = []
    trusted, too_wide = _trusted(policy, client)
    if too_wide is not None:
        notes.append(too_wide)
    if trusted is not None:
        notes.append(
            f"{trusted}: the server lets it relay on purpose, so accepted forms are not an "
            f"open-relay finding; probe from an outside address (default {OUTSIDER})"
        )
    if not policy.resolver.is_local(forms[3].mail_from.rpartition("@")[2]):
        notes.append(
            f"{server_ip} is not in inet_interfaces/proxy_interfaces, so this server treats "
            "the IP-literal forms as mail for another host; give --server-ip one of its "
            "addresses to probe them as a scanner would"
        )
    if not policy.resolver.is_local(server_name):
        notes.append(
            f"{server_name} is not in mydestination, so the host-name forms address another "
            "host; give --server-name the server's own name"
        )
    return ProbeReport(
        server_name=server_name,
        server_ip=server_ip,
        client=client.address,
        helo=client.helo,
        victim=victim,
        results=tuple(results),
        client_trusted=trusted is not None,
        notes=tuple(notes),
    )
