"""The server side of an SMTP session, without I/O (RFC 5321 §3, §4.1, §4.3.2).

Theory of operation: :class:`ServerDialogue` is fed one command line at a time and
returns an :class:`Output`: the reply to send, the events the adapter must act on
(a transaction's envelope, a received message, a STARTTLS upgrade, the end of the
session) and whether to close.  It never touches a socket or a clock, so the simpy
MTA and the live loopback server drive the same object and produce the same
transcript.  What each command does in each state is the table :data:`TRANSITIONS`;
``docs`` can render it.  MAIL and RCPT ask :class:`sim.policy.relay.RelayPolicy`,
with Postfix's timing (``smtpd_delay_reject``), so a live transcript matches
``relaysim policy check``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from sim.policy.addresses import PathCommand, PathKind, parse_path_command
from sim.policy.relay import ClientFacts, Decision, DomainStatus, RelayPolicy
from sim.policy.replies import (
    R221_BYE,
    R250_OK,
    R250_RCPT_OK,
    R250_SENDER_OK,
    R354_DATA,
    R502_UNKNOWN_COMMAND,
    R503_NEED_HELO,
    R503_NEED_MAIL,
    R503_NEED_RCPT,
    R503_NESTED_MAIL,
    Reply,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "TRANSITIONS",
    "AuthSucceeded",
    "Envelope",
    "Event",
    "MessageReceived",
    "Output",
    "ServerConfig",
    "ServerDialogue",
    "SessionClosed",
    "State",
    "TlsStarted",
]

DEFAULT_CAPABILITIES = (
    "PIPELINING",
    "SIZE",
    "8BITMIME",
    "STARTTLS",
    "ENHANCEDSTATUSCODES",
    "DSN",
    "SMTPUTF8",
)
R500_LINE_TOO_LONG = Reply(500, "5.5.6", "Error: line too long")
R501_HELO = Reply(501, None, "Syntax: HELO hostname")
R501_EHLO = Reply(501, None, "Syntax: EHLO hostname")
R554_NO_VALID_RCPT = Reply(554, "5.5.1", "Error: no valid recipients")
R220_TLS = Reply(220, "2.0.0", "Ready to start TLS")
R502_NOT_IMPLEMENTED = Reply(502, "5.5.1", "Error: command not implemented")
R503_IN_TRANSACTION = Reply(503, "5.5.1", "Error: MAIL transaction in progress")
R554_TLS_ACTIVE = Reply(554, "5.5.1", "Error: TLS already active")
R503_AUTH_DISABLED = Reply(503, "5.5.1", "Error: authentication not enabled")
R503_ALREADY_AUTH = Reply(503, "5.5.1", "Error: already authenticated")
R235_AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
R535_AUTH_FAILED = Reply(535, "5.7.8", "Error: authentication failed: authentication failure")
R552_TOO_BIG = Reply(552, "5.3.4", "Error: message file too big")


_NEUTER = set(' <>()\\";@')  # Postfix smtpd NEUTER_CHARACTERS


def _neuter(name: str) -> str:
    """The HELO name as Postfix keeps it: specials and unprintables become ``?``."""
    return "".join("?" if ch in _NEUTER or not ch.isprintable() else ch for ch in name)


class State(Enum):
    """Where the session is (RFC 5321 §4.1.4 ordering)."""

    DENIED = "denied"
    CONNECTED = "connected"
    READY = "ready"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Envelope:
    """What MAIL and RCPT established: the transaction the message travels with."""

    sender: str
    recipients: tuple[str, ...]
    mail_params: tuple[tuple[str, str | None], ...] = ()
    rcpt_params: tuple[tuple[tuple[str, str | None], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class MessageReceived:
    envelope: Envelope
    data: str
    queue_id: str
    helo: str | None
    tls: bool
    sasl_login: str | None


@dataclass(frozen=True, slots=True)
class TlsStarted:
    """The adapter must run the TLS handshake now; the session restarts after it."""


@dataclass(frozen=True, slots=True)
class AuthSucceeded:
    login: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    reason: str


Event = MessageReceived | TlsStarted | AuthSucceeded | SessionClosed


@dataclass(frozen=True, slots=True)
class Output:
    """What one input line produced; ``reply`` is None while DATA lines arrive."""

    reply: Reply | None
    events: tuple[Event, ...] = ()
    close: bool = False
    decision: Decision | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Per-MTA settings of the dialogue (what EHLO offers, limits, SASL users)."""

    hostname: str = "mail.example.com"
    banner: str = "ESMTP Postfix"
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    message_size_limit: int = 10_240_000
    max_command_line: int = 2048  # Postfix line_length_limit (RFC 5321 asks for >= 512)
    sasl_users: Mapping[str, str] = field(default_factory=dict)
    dns: Mapping[str, DomainStatus] = field(default_factory=dict)

    @classmethod
    def from_policy(
        cls, policy: RelayPolicy, *, dns: Mapping[str, DomainStatus] | None = None
    ) -> ServerConfig:
        """What a Postfix with this main.cf offers, in Postfix's EHLO order."""
        cfg = policy.cfg
        tls = cfg.get("smtpd_tls_security_level").strip() in ("may", "encrypt") or (
            cfg.get("smtpd_use_tls").strip() == "yes"
        )
        caps = ["PIPELINING", "SIZE"]
        caps += ["STARTTLS"] if tls else []
        caps += ["AUTH"] if policy.flag("smtpd_sasl_auth_enable") else []
        caps += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN"]
        caps += ["SMTPUTF8"] if policy.flag("smtputf8_enable") else []
        return cls(
            hostname=cfg.myhostname,
            capabilities=tuple(caps),
            message_size_limit=policy.code("message_size_limit"),
            dns=dict(dns or {}),
        )

    def ehlo_lines(self) -> list[str]:
        lines = []
        for cap in self.capabilities:
            if cap == "SIZE":
                lines.append(f"SIZE {self.message_size_limit}")
            elif cap == "AUTH" or cap.startswith("AUTH "):
                lines.append("AUTH PLAIN")
            else:
                lines.append(cap)
        return lines


Handler = Callable[["ServerDialogue", str], Output]
_ANY = (State.CONNECTED, State.READY, State.MAIL, State.RCPT)
# The state table: state x verb -> handler name.  A verb missing for a state gets the
# 503 bad-sequence reply from the handler of the same name, or 502 when unknown.
TRANSITIONS: dict[State, dict[str, str]] = {
    state: {
        "EHLO": "ehlo",
        "HELO": "helo",
        "MAIL": "mail",
        "RCPT": "rcpt",
        "DATA": "data",
        "RSET": "rset",
        "NOOP": "noop",
        "QUIT": "quit",
        "STARTTLS": "starttls",
        "AUTH": "auth",
        "VRFY": "vrfy",
    }
    for state in _ANY
}
TRANSITIONS[State.DENIED] = {"QUIT": "quit"}


class ServerDialogue:
    """One SMTP server session; feed it lines, send what it returns."""

    def __init__(
        self,
        client: ClientFacts,
        *,
        policy: RelayPolicy | None = None,
        config: ServerConfig | None = None,
        queue_ids: Iterator[str] | None = None,
        tls_active: bool = False,
    ) -> None:
        self.client = client
        self.policy = policy
        self.config = config or ServerConfig(
            hostname=policy.cfg.myhostname if policy else "mail.example.com"
        )
        self.queue_ids = queue_ids or (f"{n:010X}" for n in itertools.count(1))
        self.state = State.CONNECTED
        self.helo: str | None = None
        self.greeting = client.greeting
        self.sasl_login = client.sasl_login
        self.tls = tls_active
        self.denied: Reply | None = None
        self.rejected_helo: str | None = None
        self._reset()

    # -- helpers -----------------------------------------------------------------------

    def _reset(self) -> None:
        self.sender: str | None = None
        self.mail_params: tuple[tuple[str, str | None], ...] = ()
        self.recipients: list[str] = []
        self.rcpt_params: list[tuple[tuple[str, str | None], ...]] = []
        self.smtputf8 = False
        self.data_lines: list[str] = []
        self.data_size = 0
        if self.state in (State.MAIL, State.RCPT, State.DATA):
            self.state = State.READY

    def _flag(self, name: str, default: bool = False) -> bool:
        return self.policy.flag(name) if self.policy else default

    def _facts(self) -> ClientFacts:
        return replace(
            self.client, helo=self.helo, greeting=self.greeting, sasl_login=self.sasl_login
        )

    def _out(
        self,
        reply: Reply,
        decision: Decision | None = None,
        *,
        close: bool = False,
        events: tuple[Event, ...] = (),
    ) -> Output:
        if self._flag("soft_bounce"):
            reply = reply.softened()  # Postfix: every 5xx becomes 4xx, protocol errors too
        close = close or (decision is not None and decision.disconnect)
        if close:
            self.state = State.CLOSED
        return Output(reply, events, close, decision)

    # -- the adapter's entry points ------------------------------------------------------

    def connect(self) -> Output:
        """The greeting, or the client rejection with ``smtpd_delay_reject = no``."""
        if self.policy is not None and not self._flag("smtpd_delay_reject", True):
            decision = self.policy.check_client(self.client)
            if not decision.accepted:
                self.state = State.DENIED
                self.denied = Reply(503, "5.7.0", f"Error: access denied for {self.client.namaddr}")
                return self._out(decision.reply, decision)
        return self._out(Reply(220, None, f"{self.config.hostname} {self.config.banner}"))

    def receive(self, line: str) -> Output:
        """One line from the client (without CRLF)."""
        if self.state is State.CLOSED:
            return Output(None, (), True)
        if self.state is State.DATA:
            return self._data_line(line)
        if len(line) > self.config.max_command_line:
            return self._out(R500_LINE_TOO_LONG)
        verb, _, arg = line.strip().partition(" ")
        verb = verb.upper()
        handler = TRANSITIONS[self.state].get(verb)
        if handler is None:
            if self.state is State.DENIED:
                assert self.denied is not None
                return self._out(self.denied)
            return self._out(R502_UNKNOWN_COMMAND)
        method: Handler = getattr(type(self), f"_cmd_{handler}")
        return method(self, arg.strip())

    # -- commands ------------------------------------------------------------------------

    def _greet(self, verb: str, arg: str) -> Output:
        if not arg:
            return self._out(R501_EHLO if verb == "EHLO" else R501_HELO)
        self._reset()
        self.greeting, self.rejected_helo = verb, None
        self.helo = _neuter(arg)
        if self.policy is not None and not self._flag("smtpd_delay_reject", True):
            decision = self.policy.check_helo(self._facts())
            if not decision.accepted:
                self.rejected_helo, self.helo = self.helo, None
                return self._out(decision.reply, decision)
        self.state = State.READY
        if verb == "HELO":
            return self._out(Reply(250, None, self.config.hostname))
        return self._out(Reply(250, None, "\n".join([self.config.hostname, *self._ehlo_lines()])))

    def _ehlo_lines(self) -> list[str]:
        """RFC 3207 §4.2: once TLS is on, STARTTLS is no longer offered."""
        lines = self.config.ehlo_lines()
        return [line for line in lines if line != "STARTTLS"] if self.tls else lines

    def _cmd_ehlo(self, arg: str) -> Output:
        return self._greet("EHLO", arg)

    def _cmd_helo(self, arg: str) -> Output:
        return self._greet("HELO", arg)

    def _parse_path(self, kind: PathKind, arg: str) -> PathCommand | Reply:
        """MAIL/RCPT argument parsing with this server's main.cf knobs (Postfix order)."""
        policy = self.policy
        return parse_path_command(
            kind,
            arg,
            strict_rfc821=self._flag("strict_rfc821_envelopes"),
            size_limit=self.config.message_size_limit,
            smtputf8=self.smtputf8 and kind is PathKind.RECIPIENT,
            smtputf8_enable=self._flag("smtputf8_enable", True),
            allow_min_user=self._flag("allow_min_user"),
            address_ok=(
                (lambda text, utf8: not policy.address_error(text, smtputf8=utf8))
                if policy is not None
                else None
            ),
        )

    def _cmd_mail(self, arg: str) -> Output:
        if self._flag("smtpd_helo_required") and self.helo is None:
            return self._out(R503_NEED_HELO)
        if self.state in (State.MAIL, State.RCPT):
            return self._out(R503_NESTED_MAIL)
        policy = self.policy
        parsed = self._parse_path(PathKind.SENDER, arg)
        if isinstance(parsed, Reply):
            return self._out(parsed)
        sender = "" if parsed.mailbox is None else parsed.mailbox.text
        if policy is not None and not self._flag("smtpd_delay_reject", True):
            decision = policy.check_sender(self._facts(), sender, rejected_helo=self.rejected_helo)
            if not decision.accepted:
                return self._out(decision.reply, decision)
        self.sender, self.mail_params = sender, parsed.params
        self.smtputf8 = parsed.has_param("SMTPUTF8")
        self.state = State.MAIL
        return self._out(R250_SENDER_OK)

    def _cmd_rcpt(self, arg: str) -> Output:
        if self.sender is None:
            return self._out(R503_NEED_MAIL)
        policy = self.policy
        parsed = self._parse_path(PathKind.RECIPIENT, arg)
        if isinstance(parsed, Reply):
            return self._out(parsed)
        assert parsed.mailbox is not None  # the parser refuses an empty RCPT path
        recipient = parsed.mailbox.text
        decision = None
        if policy is not None:
            decision = policy.check_recipient(
                self._facts(),
                self.sender,
                recipient,
                dns=self.config.dns,
                rejected_helo=self.rejected_helo,
            )
            if not decision.accepted:
                return self._out(decision.reply, decision)
        self.recipients.append(recipient)
        self.rcpt_params.append(parsed.params)
        self.state = State.RCPT
        return self._out(R250_RCPT_OK, decision)

    def _cmd_data(self, arg: str) -> Output:
        if self.sender is None:
            return self._out(R503_NEED_MAIL)
        if not self.recipients:
            return self._out(R503_NEED_RCPT if self.state is State.MAIL else R554_NO_VALID_RCPT)
        self.state = State.DATA
        return self._out(R354_DATA)

    def _data_line(self, line: str) -> Output:
        if line != ".":
            text = line[1:] if line.startswith(".") else line  # RFC 5321 §4.5.2
            self.data_size += len(text) + 2
            if self.data_size <= self.config.message_size_limit:
                self.data_lines.append(text)
            return Output(None)
        too_big = self.data_size > self.config.message_size_limit
        envelope = Envelope(
            self.sender or "",
            tuple(self.recipients),
            self.mail_params,
            tuple(self.rcpt_params),
        )
        data = "\r\n".join(self.data_lines) + "\r\n"
        self.state = State.READY
        self._reset()
        if too_big:
            return self._out(R552_TOO_BIG)
        queue_id = next(self.queue_ids)
        event = MessageReceived(envelope, data, queue_id, self.helo, self.tls, self.sasl_login)
        return self._out(Reply(250, "2.0.0", f"Ok: queued as {queue_id}"), events=(event,))

    def _cmd_rset(self, arg: str) -> Output:
        self._reset()
        return self._out(R250_OK)

    def _cmd_noop(self, arg: str) -> Output:
        return self._out(R250_OK)

    def _cmd_vrfy(self, arg: str) -> Output:
        return self._out(Reply(502, "5.5.1", "VRFY command is disabled"))

    def _cmd_quit(self, arg: str) -> Output:
        return self._out(R221_BYE, close=True, events=(SessionClosed("QUIT"),))

    def _cmd_starttls(self, arg: str) -> Output:
        if "STARTTLS" not in self.config.capabilities:
            return self._out(R502_NOT_IMPLEMENTED)
        if self.tls:
            return self._out(R554_TLS_ACTIVE)
        if self.state in (State.MAIL, State.RCPT):
            return self._out(R503_IN_TRANSACTION)
        self.tls = True
        self.helo = None
        self._reset()
        self.state = State.CONNECTED  # RFC 3207 §4.2: forget everything, EHLO again
        return self._out(R220_TLS, events=(TlsStarted(),))

    def _cmd_auth(self, arg: str) -> Output:
        if not any(c.startswith("AUTH") for c in self.config.capabilities):
            return self._out(R503_AUTH_DISABLED)
        if self.sasl_login is not None:
            return self._out(R503_ALREADY_AUTH)
        if self.state in (State.MAIL, State.RCPT):
            return self._out(R503_IN_TRANSACTION)
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() != "PLAIN" or not initial:
            return self._out(
                Reply(504, "5.5.4", f"Unsupported authentication mechanism: {mechanism}")
            )
        try:
            _, login, password = base64.b64decode(initial, validate=True).decode().split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return self._out(
                Reply(501, "5.5.2", "Syntax: AUTH PLAIN credentials are not valid base64")
            )
        if self.config.sasl_users.get(login) != password:
            return self._out(R535_AUTH_FAILED)
        self.sasl_login = login
        return self._out(R235_AUTH_OK, events=(AuthSucceeded(login),))
