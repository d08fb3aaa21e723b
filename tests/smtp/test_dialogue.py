"""The SMTP dialogue as an in-memory client/server pair (no sockets, no simpy)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sim.policy.relay import ClientFacts, RelayPolicy
from sim.policy.replies import Reply
from sim.policy.retry import Outcome
from sim.smtp.client import ClientDialogue, TlsChoice, dot_stuff
from sim.smtp.pair import converse
from sim.smtp.server import (
    TRANSITIONS,
    MessageReceived,
    ServerConfig,
    ServerDialogue,
    State,
    TlsStarted,
)
from tests.policy.helpers import CLASSIC, INSIDER, OUTSIDER, RECIPIENT_ACCESS, make_policy

MESSAGE = "Subject: hi\r\n\r\nHello.\r\n.leading dot\r\n..two dots\r\n"


@pytest.fixture
def classic(tmp_path: Path) -> RelayPolicy:
    return make_policy(tmp_path, CLASSIC, recipient_access=RECIPIENT_ACCESS)


def client(*rcpts: str, **kw: object) -> ClientDialogue:
    return ClientDialogue("sender@example.net", list(rcpts), MESSAGE, "client.example.net", **kw)  # type: ignore[arg-type]


def server(policy: RelayPolicy | None, address: str = OUTSIDER, **kw: object) -> ServerDialogue:
    return ServerDialogue(ClientFacts(address=address), policy=policy, **kw)  # type: ignore[arg-type]


def test_successful_delivery(classic: RelayPolicy) -> None:
    c = client("bob@example.com", "carol@example.com")
    events = converse(c, server(classic))
    received = [e for e in events if isinstance(e, MessageReceived)]
    assert len(received) == 1
    assert received[0].envelope.recipients == ("bob@example.com", "carol@example.com")
    assert received[0].data == MESSAGE  # dot-stuffing undone exactly
    assert [r.outcome for r in c.results] == [Outcome.SUCCESS, Outcome.SUCCESS]
    assert c.results[0].reply.line().startswith("250 2.0.0 Ok: queued as ")
    assert c.transcript[0] == "S: 220 mail.example.com ESMTP Postfix"
    assert c.transcript[-2:] == ["C: QUIT", "S: 221 2.0.0 Bye"]


def test_relay_denied_is_a_temporary_failure_with_the_default_relay_list(
    classic: RelayPolicy,
) -> None:
    c = client("victim@gmail.com", "bob@example.com")
    events = converse(c, server(classic))
    by_rcpt = {r.recipient: r for r in c.results}
    assert by_rcpt["victim@gmail.com"].reply.line() == (
        "454 4.7.1 <victim@gmail.com>: Relay access denied"
    )
    assert by_rcpt["victim@gmail.com"].outcome is Outcome.TEMPORARY
    assert by_rcpt["bob@example.com"].outcome is Outcome.SUCCESS
    assert [e.envelope.recipients for e in events if isinstance(e, MessageReceived)] == [
        ("bob@example.com",)
    ]


def test_insider_relays(classic: RelayPolicy) -> None:
    c = client("victim@gmail.com")
    converse(c, server(classic, INSIDER))
    assert c.results[0].outcome is Outcome.SUCCESS


def test_no_valid_recipient_means_no_data(classic: RelayPolicy) -> None:
    c = client("a@victim.com", "b@victim.com")
    events = converse(c, server(classic))
    assert not [e for e in events if isinstance(e, MessageReceived)]
    assert "C: DATA" not in c.transcript
    assert c.transcript[-2] == "C: QUIT"


def test_starttls_upgrade_restarts_the_session(classic: RelayPolicy) -> None:
    config = ServerConfig(capabilities=("PIPELINING", "STARTTLS", "ENHANCEDSTATUSCODES"))
    c = client("bob@example.com")
    events = converse(c, server(classic, config=config))
    assert isinstance(events[0], TlsStarted)
    received = [e for e in events if isinstance(e, MessageReceived)]
    assert received[0].tls is True
    assert c.transcript.count("C: EHLO client.example.net") == 2


def test_tls_required_but_not_offered_defers(classic: RelayPolicy) -> None:
    config = ServerConfig(capabilities=("PIPELINING",))
    c = client("bob@example.com", tls_choice=lambda offered: TlsChoice.STARTTLS)
    events = converse(c, server(classic, config=config))
    assert not events or not any(isinstance(e, MessageReceived) for e in events)
    assert c.results[0].reply.line().startswith("450 4.7.4 TLS is required")
    assert c.results[0].outcome is Outcome.TEMPORARY


def test_failed_handshake_defers(classic: RelayPolicy) -> None:
    c = client("bob@example.com")
    converse(
        c, server(classic), tls_ok=False
    ) if "STARTTLS" in ServerConfig().capabilities else None
    assert c.results[0].reply.line() == "450 4.7.5 TLS handshake failed"


def test_4xx_at_rcpt_from_an_access_table(tmp_path: Path) -> None:
    policy = make_policy(
        tmp_path,
        CLASSIC.replace(
            "check_recipient_access hash:recipient_access", "check_recipient_access hash:r"
        ),
        r="grey@example.com DEFER greylisted, try again later\n",
    )
    c = client("grey@example.com")
    converse(c, server(policy))
    assert c.results[0].reply.line() == (
        "450 4.7.1 <grey@example.com>: Recipient address rejected: greylisted, try again later"
    )
    assert c.results[0].outcome is Outcome.TEMPORARY


def test_5xx_at_end_of_data_bounces(classic: RelayPolicy) -> None:
    config = ServerConfig(message_size_limit=10, capabilities=("PIPELINING",))  # no SIZE
    c = client("bob@example.com")
    converse(c, server(classic, config=config))
    assert c.results[0].reply.line() == "552 5.3.4 Error: message file too big"
    assert c.results[0].outcome is Outcome.PERMANENT


def test_announced_size_over_the_limit_is_refused_at_mail(classic: RelayPolicy) -> None:
    c = client("bob@example.com")
    converse(c, server(classic, config=ServerConfig(message_size_limit=10)))
    assert c.results[0].reply.line() == "552 5.3.4 Message size exceeds fixed limit"
    assert c.results[0].outcome is Outcome.PERMANENT


def test_greeting_refusal_defers_every_recipient(tmp_path: Path) -> None:
    """Postfix smtp_skip_5xx_greeting: a refused greeting is tried again later."""
    policy = make_policy(
        tmp_path,
        CLASSIC + "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n",
        recipient_access=RECIPIENT_ACCESS,
    )
    c = client("a@example.com", "b@example.com")
    converse(c, server(policy))
    assert [r.outcome for r in c.results] == [Outcome.TEMPORARY, Outcome.TEMPORARY]
    assert c.results[0].reply.line() == (
        "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied"
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["EHLO x", "RCPT TO:<a@example.com>"], "503 5.5.1 Error: need MAIL command"),
        (["EHLO x", "DATA"], "503 5.5.1 Error: need MAIL command"),
        (["EHLO x", "MAIL FROM:<a@b.example>", "DATA"], "503 5.5.1 Error: need RCPT command"),
        (
            ["EHLO x", "MAIL FROM:<a@b.example>", "MAIL FROM:<a@b.example>"],
            "503 5.5.1 Error: nested MAIL command",
        ),
        (["EHLO x", "FROB"], "502 5.5.2 Error: command not recognized"),
        (["EHLO x", "MAIL FROM:<a@b.example> " + "X" * 2100], "500 5.5.6 Error: line too long"),
        (["EHLO x", "MAIL FROM:<a@b.example>", "RSET"], "250 2.0.0 Ok"),
        (
            ["EHLO x", "MAIL FROM:<a@b.example>", "RSET", "RCPT TO:<a@example.com>"],
            "503 5.5.1 Error: need MAIL command",
        ),
        (["HELO"], "501 Syntax: HELO hostname"),
        (["NOOP"], "250 2.0.0 Ok"),
        (["QUIT"], "221 2.0.0 Bye"),
    ],
)
def test_server_replies(classic: RelayPolicy, lines: list[str], expected: str) -> None:
    s = server(classic)
    s.connect()
    out = None
    for line in lines:
        out = s.receive(line)
    assert out is not None and out.reply is not None
    assert out.reply.line() == expected


def test_quit_closes(classic: RelayPolicy) -> None:
    s = server(classic)
    s.connect()
    assert s.receive("QUIT").close
    assert s.state is State.CLOSED
    assert s.receive("NOOP").reply is None


def test_auth_plain(classic: RelayPolicy) -> None:
    config = ServerConfig(capabilities=("AUTH", "PIPELINING"), sasl_users={"alice": "s3cret"})
    s = server(classic, config=config)
    s.connect()
    s.receive("EHLO x")
    bad = base64.b64encode(b"\0alice\0wrong").decode()
    assert s.receive(f"AUTH PLAIN {bad}").reply == Reply(
        535, "5.7.8", "Error: authentication failed: authentication failure"
    )
    good = base64.b64encode(b"\0alice\0s3cret").decode()
    assert s.receive(f"AUTH PLAIN {good}").reply == Reply(235, "2.7.0", "Authentication successful")
    s.receive("MAIL FROM:<alice@example.com>")
    # Authenticated users may relay (permit_sasl_authenticated in the classic config).
    assert s.receive("RCPT TO:<victim@gmail.com>").reply == Reply(250, "2.1.5", "Ok")


def test_denied_client_gets_503_for_everything_but_quit(tmp_path: Path) -> None:
    policy = make_policy(
        tmp_path,
        CLASSIC + "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n",
        recipient_access=RECIPIENT_ACCESS,
    )
    s = server(policy)
    s.connect()
    for line in ("EHLO x", "MAIL FROM:<a@b.example>", "FROB"):
        assert s.receive(line).reply == Reply(
            503, "5.7.0", "Error: access denied for unknown[198.51.100.7]"
        )
    assert s.receive("QUIT").reply == Reply(221, "2.0.0", "Bye")


def test_every_state_answers_quit() -> None:
    for state, verbs in TRANSITIONS.items():
        assert "QUIT" in verbs, state


def test_dot_stuffing() -> None:
    assert dot_stuff("a\r\n.b\r\n") == ["a", "..b", "."]


def test_same_transcript_as_policy_check(classic: RelayPolicy) -> None:
    """The relay checker and a delivering client see the same RCPT reply."""
    from sim.smtp.session import RelayCase, run_session

    case = RelayCase(
        ClientFacts(address=OUTSIDER, helo="client.example.net"),
        "sender@example.net",
        ("victim@gmail.com",),
    )
    checked = run_session(classic, case).rcpts[0].reply
    c = client("victim@gmail.com")
    converse(c, server(classic))
    assert c.results[0].reply == checked


def test_starttls_is_not_offered_again_after_tls(classic: RelayPolicy) -> None:
    s = server(classic, config=ServerConfig())
    s.connect()
    first = s.receive("EHLO x").reply
    assert first is not None and "STARTTLS" in first.text
    s.receive("STARTTLS")
    again = s.receive("EHLO x").reply
    assert again is not None and "STARTTLS" not in again.text
    assert s.receive("STARTTLS").reply == Reply(554, "5.5.1", "Error: TLS already active")
