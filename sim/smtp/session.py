"""One relay test as an SMTP conversation: greeting, HELO, MAIL, RCPT..., QUIT.

This is what an administrator does with telnet (and what ``relaysim policy check``
prints): every command gets the reply Postfix 3.7 would send, including the
``smtpd_delay_reject = no`` timing (client rejection instead of the greeting, then
``503 5.7.0`` for everything) and the 503 replies of a refused MAIL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sim.policy.relay import ClientFacts, Decision, DomainStatus, RelayPolicy
from sim.policy.replies import (
    Reply,
)
from sim.smtp.server import ServerConfig, ServerDialogue

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
    """Play the case through the SMTP server dialogue and return every exchange."""
    client = case.client
    config = ServerConfig.from_policy(policy, dns=case.dns)
    dialogue = ServerDialogue(client, policy=policy, config=config)
    out = dialogue.connect()
    exchanges = [Exchange(None, out.reply, out.decision)]
    closed = out.close

    def send(command: str) -> Exchange:
        result = dialogue.receive(command)
        return Exchange(command, result.reply, result.decision)

    if client.helo is not None and not closed:
        ex = send(f"{client.greeting.upper()} {client.helo}")
        exchanges.append(ex)
        closed = dialogue.state.value == "closed"
    mail_cmd = _path("MAIL FROM:", case.sender)
    if case.mail_params:
        mail_cmd += f" {case.mail_params}"
    if closed:
        mail_reply = Reply(421, "4.4.2", "connection closed")
    else:
        ex = send(mail_cmd)
        exchanges.append(ex)
        assert ex.reply is not None
        mail_reply = ex.reply
        closed = dialogue.state.value == "closed"
    rcpts: list[Exchange] = []
    for rcpt in case.recipients:
        command = _path("RCPT TO:", rcpt)
        if closed:
            rcpts.append(Exchange(command, None, None, rcpt))
            continue
        ex = send(command)
        ex = Exchange(ex.command, ex.reply, ex.decision, rcpt)
        rcpts.append(ex)
        exchanges.append(ex)
        closed = dialogue.state.value == "closed"
    if not closed:
        exchanges.append(send("QUIT"))
    return SessionResult(tuple(exchanges), mail_reply, tuple(rcpts))
