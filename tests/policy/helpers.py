"""Small helpers to write policy tests as one line per case."""

from __future__ import annotations

from pathlib import Path

from sim.policy.relay import ClientFacts, DomainStatus, RelayPolicy
from sim.smtp.session import RelayCase, SessionResult, run_session

CLASSIC = """
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1
mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/8
mydestination = example.com, mail.example.com, localhost
relay_domains =
local_recipient_maps =
smtpd_sasl_auth_enable = yes
smtpd_recipient_restrictions = permit_sasl_authenticated, permit_mynetworks,
    reject_unauth_destination, check_recipient_access hash:recipient_access
smtpd_sender_restrictions = reject_non_fqdn_sender
"""
RECIPIENT_ACCESS = """
blocked@example.com REJECT
victim.com REJECT
"""
OUTSIDER = "198.51.100.7"
INSIDER = "10.1.2.3"


def make_policy(tmp: Path, main_cf: str, **tables: str) -> RelayPolicy:
    for name, text in tables.items():
        (tmp / name).write_text(text)
    (tmp / "main.cf").write_text(main_cf)
    return RelayPolicy.from_main_cf(tmp / "main.cf")


def session(
    policy: RelayPolicy,
    rcpt: str | list[str],
    *,
    client: str | None = OUTSIDER,
    sender: str = "sender@example.net",
    helo: str | None = "client.example.net",
    sasl: str | None = None,
    greeting: str = "EHLO",
    name: str | None = None,
    params: str = "",
    dns: dict[str, DomainStatus] | None = None,
    cert: str | None = None,
    pipelined: bool = False,
) -> SessionResult:
    facts = ClientFacts(
        address=client,
        name=name,
        helo=helo,
        greeting=greeting,
        sasl_login=sasl,
        cert_fingerprint=cert,
        pipelined=pipelined,
    )
    rcpts = (rcpt,) if isinstance(rcpt, str) else tuple(rcpt)
    return run_session(policy, RelayCase(facts, sender, rcpts, params, dns or {}))


def rcpt_line(policy: RelayPolicy, rcpt: str, **kw: object) -> str:
    """The RCPT reply line for one recipient."""
    result = session(policy, rcpt, **kw)  # type: ignore[arg-type]
    reply = result.rcpts[0].reply
    assert reply is not None
    return reply.line()


def mail_line(policy: RelayPolicy, sender: str, **kw: object) -> str:
    result = session(policy, "user@example.com", sender=sender, **kw)  # type: ignore[arg-type]
    return result.mail.line()
