"""One relay test as an SMTP conversation: greeting, HELO, MAIL, RCPT..., QUIT.

This is what an administrator does with telnet (and what ``relaysim policy check``
prints): every command gets the reply Postfix 3.7 would send, including the
``smtpd_delay_reject = no`` timing (client rejection instead of the greeting, then
``503 5.7.0`` for everything) and the 503 replies of a refused MAIL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sim.policy.addresses import PathCommand, PathKind, parse_path_command
from sim.policy.relay import ClientFacts, Decision, DomainStatus, RelayPolicy
from sim.policy.replies import (
    R221_BYE,
    R250_SENDER_OK,
    R503_NEED_HELO,
    R503_NEED_MAIL,
    Reply,
)

__all__ = ["Exchange", "RelayCase", "SessionResult", "run_session"]


@dataclass(frozen=True)
class RelayCase:
    """One relay test: who connects, what they say, and what DNS would answer."""

    client: ClientFacts
    sender: str
    recipients: tuple[str, ...]
    mail_params: str = ""
    dns: Mapping[str, DomainStatus] = field(default_factory=dict)


@dataclass(frozen=True)
class Exchange:
    """One command and its reply; ``decision`` is set for MAIL/RCPT policy answers."""

    command: str | None
    reply: Reply | None
    decision: Decision | None = None
    address: str | None = None


@dataclass(frozen=True)
class SessionResult:
    exchanges: tuple[Exchange, ...]
    mail: Reply
    rcpts: tuple[Exchange, ...]

    def as_json(self) -> dict[str, object]:
        rcpts = []
        for ex in self.rcpts:
            entry: dict[str, object] = {"address": ex.address}
            if ex.reply is None:
                entry.update({"code": None, "enhanced": None, "text": "connection closed"})
            else:
                entry.update(ex.reply.as_dict())
            entry["decided_by"] = (
                ex.decision.by if ex.decision and not ex.decision.accepted else None
            )
            rcpts.append(entry)
        return {"mail": self.mail.as_dict(), "rcpt": rcpts}


def _path(prefix: str, value: str) -> str:
    """``a@b`` becomes ``<a@b>``; text that already has brackets is sent as typed."""
    return f"{prefix}{value}" if "<" in value else f"{prefix}<{value}>"


def run_session(policy: RelayPolicy, case: RelayCase) -> SessionResult:
    """Play the case against the policy and return every exchange."""
    client = case.client
    delay = policy.flag("smtpd_delay_reject")
    exchanges: list[Exchange] = []
    denied: Reply | None = None
    closed = False
    banner = Reply(220, None, f"{policy.cfg.myhostname} ESMTP Postfix")
    if not delay:
        connect = policy.check_client(client)
        if not connect.accepted:
            exchanges.append(Exchange(None, connect.reply, connect))
            denied = Reply(503, "5.7.0", f"Error: access denied for {client.namaddr}")
            closed = connect.disconnect
        else:
            exchanges.append(Exchange(None, banner))
    else:
        exchanges.append(Exchange(None, banner))

    def answer(command: str, reply: Reply | None, decision: Decision | None = None) -> None:
        exchanges.append(Exchange(command, reply, decision))

    helo_ok = False
    if client.helo is not None and not closed:
        command = f"{client.greeting.upper()} {client.helo}"
        if denied is not None:
            answer(command, denied)
        elif not delay:
            helo_decision = policy.check_helo(client)
            answer(command, helo_decision.reply, helo_decision)
            helo_ok = helo_decision.accepted
            closed = helo_decision.disconnect
        else:
            answer(command, Reply(250, None, policy.cfg.myhostname))
            helo_ok = True
    effective = (
        client
        if helo_ok
        else ClientFacts(
            client.address,
            client.name,
            None,
            client.greeting,
            client.sasl_login,
            client.cert_fingerprint,
            client.cert_trusted,
            client.pipelined,
        )
    )

    mail_cmd = _path("MAIL FROM:", case.sender) + (
        f" {case.mail_params}" if case.mail_params else ""
    )
    mail_reply: Reply
    sender: str | None = None
    smtputf8 = False
    if closed:
        mail_reply = Reply(421, "4.4.2", "connection closed")
    elif denied is not None:
        mail_reply = denied
    elif policy.flag("smtpd_helo_required") and not helo_ok:
        mail_reply = R503_NEED_HELO
    else:
        parsed = parse_path_command(
            PathKind.SENDER,
            mail_cmd[5:],
            strict_rfc821=policy.flag("strict_rfc821_envelopes"),
            size_limit=policy.code("message_size_limit"),
            smtputf8_enable=policy.flag("smtputf8_enable"),
            address_ok=lambda text, utf8: not policy.address_error(text, smtputf8=utf8),
        )
        if isinstance(parsed, Reply):
            mail_reply = parsed
        else:
            smtputf8 = parsed.has_param("SMTPUTF8")
            text = _text(parsed)
            if not delay:
                mail_decision = policy.check_sender(effective, text)
                mail_reply = mail_decision.reply if not mail_decision.accepted else R250_SENDER_OK
                sender = text if mail_decision.accepted else None
                closed = mail_decision.disconnect
            else:
                mail_reply, sender = R250_SENDER_OK, text
    if not closed:
        answer(mail_cmd, mail_reply)

    rcpts: list[Exchange] = []
    for rcpt in case.recipients:
        command = _path("RCPT TO:", rcpt)
        if closed:
            rcpts.append(Exchange(command, None, None, rcpt))
            continue
        decision: Decision | None = None
        if denied is not None:
            reply = denied
        elif sender is None:
            reply = R503_NEED_MAIL
        else:
            reply, decision = _rcpt(policy, effective, sender, command, smtputf8, case.dns)
        ex = Exchange(command, reply, decision, rcpt)
        rcpts.append(ex)
        exchanges.append(ex)
        if decision is not None and decision.disconnect:
            closed = True
    if not closed:
        answer("QUIT", R221_BYE)
    if policy.flag("soft_bounce"):
        # Postfix soft_bounce turns every 5xx into 4xx, protocol errors included.
        exchanges = [_soften(ex) for ex in exchanges]
        rcpts = [_soften(ex) for ex in rcpts]
        mail_reply = mail_reply.softened()
    return SessionResult(tuple(exchanges), mail_reply, tuple(rcpts))


def _soften(ex: Exchange) -> Exchange:
    reply = None if ex.reply is None else ex.reply.softened()
    return Exchange(ex.command, reply, ex.decision, ex.address)


def _text(parsed: PathCommand) -> str:
    return "" if parsed.mailbox is None else parsed.mailbox.text


def _rcpt(
    policy: RelayPolicy,
    client: ClientFacts,
    sender: str,
    command: str,
    smtputf8: bool,
    dns: Mapping[str, DomainStatus],
) -> tuple[Reply, Decision | None]:
    parsed = parse_path_command(
        PathKind.RECIPIENT,
        command[5:],
        strict_rfc821=policy.flag("strict_rfc821_envelopes"),
        smtputf8=smtputf8,
        smtputf8_enable=policy.flag("smtputf8_enable"),
        address_ok=lambda text, utf8: not policy.address_error(text, smtputf8=utf8),
    )
    if isinstance(parsed, Reply):
        return parsed, None
    text = _text(parsed)
    decision = policy.check_recipient(client, sender, text, dns=dns)
    return decision.reply, decision
