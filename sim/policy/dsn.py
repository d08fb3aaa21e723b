"""Delivery status notifications: bounces, delay warnings and success reports.

Implements the message format of RFC 3464 (§2.1 the ``message/delivery-status`` body,
§2.2 per-message fields, §2.3 per-recipient fields) inside the ``multipart/report``
container of RFC 3462/6522 (§3), and the sender's requests of the SMTP DSN extension,
RFC 3461 (§4.1 NOTIFY, §4.2 ORCPT, §4.3 RET, §4.4 ENVID, §6.3 what a DSN must return).
The envelope rules come from RFC 5321 §4.5.5 and §6.1: a DSN is sent with the null
reverse-path to the original envelope sender, and never for a null-sender message.

Theory of operation: a delivery attempt ends, per recipient, in an :class:`Action`
(``failed``, ``delayed``, ``delivered``, ``relayed``).  One notice reports one kind
of event (:class:`DsnKind`), as Postfix does: a failure DSN lists only the failed
recipients, a delay warning only the delayed ones.  :func:`build_dsn` picks the
recipients whose result matches the kind and whose NOTIFY asks for it, then either
returns a :class:`Dsn` holding an :class:`email.message.EmailMessage` or a
:class:`NoDsn` saying why nothing is sent (the caller counts these: a null sender
gives ``"dropped: would be a bounce of a bounce"``).

The layout follows a real Postfix 3.7 bounce: ``From: Mail Delivery System
<MAILER-DAEMON@host>``, ``Auto-Submitted: auto-replied``, a boundary
``"<queue id>.<unix time>/<host>"``, the per-message fields ``Reporting-MTA: dns;``,
``X-Postfix-Queue-ID``, ``X-Postfix-Sender`` and ``Arrival-Date``, and a returned copy
that is ``message/rfc822`` for failures (unless RET=HDRS) and ``text/rfc822-headers``
for delay and success notices.  Nothing here reads a clock: every date is an argument.
"""

from __future__ import annotations

import email.policy
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime
from enum import Enum
from typing import Self, overload

from sim.policy.replies import Reply

__all__ = [
    "BOUNCE_SIZE_LIMIT",
    "MAILER_DAEMON",
    "SUBJECTS",
    "Action",
    "Dsn",
    "DsnKind",
    "Envelope",
    "NoDsn",
    "NoDsnReason",
    "Notify",
    "Recipient",
    "RecipientResult",
    "ReportContext",
    "Ret",
    "build_dsn",
    "build_dsns",
    "dsn_refusal",
    "parse_notify",
    "xtext_decode",
]

BOUNCE_SIZE_LIMIT = 50_000
"""Bytes of the original returned in a DSN (Postfix ``bounce_size_limit``; the seed's 50 KB)."""

MAILER_DAEMON = "MAILER-DAEMON"

_POLICY = email.policy.default
_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


class _Vocabulary(Enum):
    """An Enum whose members are read from protocol text, case-insensitively."""

    @classmethod
    def from_text(cls, text: str) -> Self:
        for member in cls:
            if member.value.lower() == text.strip().lower():
                return member
        names = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown {cls.__name__} {text!r} (expected one of: {names})")


class Action(_Vocabulary):
    """RFC 3464 §2.3.3 Action field."""

    FAILED = "failed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    RELAYED = "relayed"
    EXPANDED = "expanded"


class Notify(_Vocabulary):
    """RFC 3461 §4.1 NOTIFY keywords."""

    NEVER = "NEVER"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"


class Ret(_Vocabulary):
    """RFC 3461 §4.3 RET: return the full message or only its headers."""

    FULL = "FULL"
    HDRS = "HDRS"


class DsnKind(_Vocabulary):
    """Which event a notice reports; one notice never mixes kinds (as in Postfix)."""

    FAILURE = "failure"
    DELAY = "delay"
    SUCCESS = "success"


_KIND_ACTIONS = {
    DsnKind.FAILURE: frozenset({Action.FAILED}),
    DsnKind.DELAY: frozenset({Action.DELAYED}),
    DsnKind.SUCCESS: frozenset({Action.DELIVERED, Action.RELAYED, Action.EXPANDED}),
}
_KIND_NOTIFY = {
    DsnKind.FAILURE: Notify.FAILURE,
    DsnKind.DELAY: Notify.DELAY,
    DsnKind.SUCCESS: Notify.SUCCESS,
}
SUBJECTS = {  # Postfix 3.7 bounce_templates.c
    DsnKind.FAILURE: "Undelivered Mail Returned to Sender",
    DsnKind.DELAY: "Delayed Mail (still being retried)",
    DsnKind.SUCCESS: "Successful Mail Delivery Report",
}
_STATUS_CLASSES = {Action.FAILED: "45", Action.DELAYED: "4"}  # the rest: "2"


class NoDsnReason(Enum):
    """Why :func:`build_dsn` sent nothing; the value is the text to log or count."""

    NULL_SENDER = "dropped: would be a bounce of a bounce"
    NOTHING_TO_REPORT = "no recipient has this outcome"
    NOTIFY_EXCLUDED = "NOTIFY does not ask for this notice"


def parse_notify(text: str | None) -> frozenset[Notify] | None:
    """``NOTIFY=`` value → keywords; ``None`` (parameter absent) stays ``None``."""
    if text is None:
        return None
    words = frozenset(Notify.from_text(w) for w in text.split(","))
    _check_notify(words)
    return words


def _check_notify(words: frozenset[Notify]) -> None:
    if not words:
        raise ValueError("NOTIFY needs at least one keyword")
    if Notify.NEVER in words and len(words) > 1:
        raise ValueError("NOTIFY=NEVER cannot be combined with other keywords")


def xtext_decode(text: str) -> str:
    """RFC 3461 §4 xtext → text (``bob+2Bx`` → ``bob+x``), as ORCPT and ENVID arrive."""
    if re.search(r"\+(?![0-9A-F]{2})", text):
        raise ValueError(
            f"bad xtext (a '+' must be followed by two upper-case hex digits): {text!r}"
        )
    return re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), text)


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True, slots=True)
class Recipient:
    """One ``RCPT TO`` with its DSN parameters (RFC 3461 §4.1-4.2), xtext already decoded.

    ``orcpt`` is ``"addr-type;address"`` (``"rfc822;bob+x@example.com"``) or ``None``;
    ``notify`` is ``None`` when the client sent no NOTIFY.
    """

    address: str
    orcpt: str | None = None
    notify: frozenset[Notify] | None = None

    def __post_init__(self) -> None:
        if not self.address or any(c.isspace() for c in self.address):
            raise ValueError(f"bad recipient address {self.address!r}")
        if self.orcpt is not None:
            addr_type, sep, addr = self.orcpt.partition(";")
            if not sep or not addr_type.strip() or not addr.strip():
                raise ValueError(f"ORCPT must look like 'rfc822;addr', got {self.orcpt!r}")
        if self.notify is not None:
            _check_notify(self.notify)

    def wants(self, kind: DsnKind) -> bool:
        """Does this recipient ask for a notice of ``kind``?

        NOTIFY absent acts as ``FAILURE,DELAY`` (RFC 3461 §4.1 allows it; Postfix does it).
        """
        if self.notify is None:
            return kind in (DsnKind.FAILURE, DsnKind.DELAY)
        return _KIND_NOTIFY[kind] in self.notify


@dataclass(frozen=True, slots=True)
class Envelope:
    """The original transaction: reverse-path, recipients, ENVID and RET (RFC 3461 §4.3-4.4).

    ``sender == ""`` is the null reverse-path ``MAIL FROM:<>``.
    """

    sender: str
    recipients: tuple[Recipient, ...]
    envid: str | None = None
    ret: Ret | None = None

    def __post_init__(self) -> None:
        addresses = [r.address for r in self.recipients]
        if not addresses:
            raise ValueError("an envelope needs at least one recipient")
        if any(c.isspace() or c in "<>" for c in self.sender):
            raise ValueError(f"bad envelope sender {self.sender!r}")
        duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
        if duplicates:
            raise ValueError(f"duplicate envelope recipients: {', '.join(duplicates)}")
        if self.envid is not None and not (
            self.envid and all(32 <= ord(c) <= 126 for c in self.envid)
        ):
            raise ValueError(f"ENVID must be printable ASCII, got {self.envid!r}")

    @property
    def return_path(self) -> str:
        """Where DSNs go: the reverse-path, a source route cut to its mailbox (RFC 5321 §6.1)."""
        if self.sender.startswith("@") and ":" in self.sender:
            return self.sender.split(":", 1)[1]
        return self.sender

    def recipient(self, address: str) -> Recipient:
        for rcpt in self.recipients:
            if rcpt.address == address:
                return rcpt
        raise ValueError(f"{address!r} is not an envelope recipient")


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """How delivery to one recipient ended, as the reporting MTA saw it.

    ``reply`` is the SMTP reply that decided it (quoted as ``Diagnostic-Code: smtp; ...``);
    without one, ``diagnostic`` is the MTA's own text (``X-Postfix; connect to ...``).
    ``status`` overrides the RFC 3463 code, e.g. ``4.4.1`` for a queue-lifetime expiry
    reported as ``failed``; by default it is the reply's enhanced code.
    """

    recipient: str
    action: Action
    reply: Reply | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None
    status: str | None = None
    in_reply_to: str | None = None
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not _STATUS.match(self.status):
            raise ValueError(f"Status must look like 5.1.1 (RFC 3463), got {self.status!r}")
        allowed = _STATUS_CLASSES.get(self.action, "2")
        if self.dsn_status[0] not in allowed:
            raise ValueError(
                f"Status {self.dsn_status} does not fit Action {self.action.value} "
                f"(expected class {' or '.join(allowed)})"
            )
        if self.will_retry_until is not None and self.action is not Action.DELAYED:
            raise ValueError("Will-Retry-Until is only allowed for delayed recipients (RFC 3464)")
        _check_aware("last_attempt", self.last_attempt)
        _check_aware("will_retry_until", self.will_retry_until)

    @property
    def dsn_status(self) -> str:
        """The Status field: explicit, else the reply's enhanced code, else its class."""
        if self.status is not None:
            return self.status
        if self.reply is not None:
            return self.reply.enhanced or f"{self.reply.code // 100}.0.0"
        return {Action.FAILED: "5.0.0", Action.DELAYED: "4.0.0"}.get(self.action, "2.0.0")

    def diagnostic_code(self) -> str | None:
        if self.reply is not None:
            return f"smtp; {self.reply.line()}"
        if self.diagnostic is not None:
            return f"X-Postfix; {self.diagnostic}"
        return None

    def explanation(self) -> str:
        """The human-readable reason, worded as Postfix's bounce(8) does."""
        if self.reply is None:
            return self.diagnostic or f"{self.action.value} (status {self.dsn_status})"
        said = self.reply.line()
        if self.in_reply_to:
            said += f" (in reply to {self.in_reply_to} command)"
        if self.remote_mta is None:
            return said
        if self.action is Action.FAILED or self.action is Action.DELAYED:
            return f"host {self.remote_mta} said: {said}"
        return f"delivery via {self.remote_mta}: {said}"


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Facts about the reporting MTA and the moment the notice is written.

    ``queue_id`` is the original's queue id (``X-Postfix-Queue-ID`` and the MIME boundary);
    ``dsn_id`` names the notice itself (``Received: ... id``, ``Message-Id``).
    ``size_limit``: a larger original comes back as headers only, as Postfix 3.x
    ``bounce_original()`` does (cutting a MIME message would break it); 0 means no
    limit.  ``delay_warning_hours`` is Postfix's ``delay_warning_time``, which its
    delay notice quotes ("for more than 4 hour(s)"); None quotes the message's age.
    """

    reporting_mta: str
    arrival: datetime
    date: datetime
    queue_id: str | None = None
    dsn_id: str | None = None
    size_limit: int = BOUNCE_SIZE_LIMIT
    delay_warning_hours: int | None = None

    def __post_init__(self) -> None:
        if not self.reporting_mta or any(c.isspace() or c in ";<>@" for c in self.reporting_mta):
            raise ValueError(f"reporting_mta must be a host name, got {self.reporting_mta!r}")
        _check_aware("arrival", self.arrival)
        _check_aware("date", self.date)
        if self.size_limit < 0:
            raise ValueError(f"size_limit must be >= 0 (0 = unlimited), got {self.size_limit}")


@dataclass(frozen=True, slots=True)
class Dsn:
    """A notice ready to queue: send ``message`` with ``MAIL FROM:<>`` to ``recipient``."""

    kind: DsnKind
    message: EmailMessage = field(compare=False)
    recipient: str
    reported: tuple[str, ...]
    envelope_sender: str = ""

    def __post_init__(self) -> None:
        if self.envelope_sender != "":
            raise ValueError("a DSN is always sent with the null reverse-path (RFC 5321 §4.5.5)")

    def as_bytes(self) -> bytes:
        """The message as sent on the wire (CRLF line ends)."""
        return self.message.as_bytes(policy=email.policy.SMTP)


@dataclass(frozen=True, slots=True)
class NoDsn:
    """No notice is sent; ``recipients`` are those it would have been about."""

    kind: DsnKind
    reason: NoDsnReason
    recipients: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.reason.value


@overload
def _date(value: datetime) -> str: ...
@overload
def _date(value: None) -> None: ...
def _date(value: datetime | None) -> str | None:
    """RFC 5322 §3.3 date-time, with Postfix's zone-name comment: ``... +0000 (UTC)``."""
    if value is None:
        return None
    text = format_datetime(value)
    name = value.tzname()
    if name and name.isalpha():
        text += f" ({name})"
    return text


def _as_bytes(original: Message | bytes) -> bytes:
    if isinstance(original, bytes):
        return original.replace(b"\r\n", b"\n")
    return original.as_bytes(policy=_POLICY.clone(linesep="\n"))


def _cut(data: bytes, limit: int) -> bytes:
    """The longest run of whole lines of ``data`` within ``limit`` bytes (0 = no limit)."""
    if limit == 0 or len(data) <= limit:
        return data
    end = data.rfind(b"\n", 0, limit)
    return data[: end + 1] if end >= 0 else b""


def _returned(original: bytes, sender: str, headers_only: bool, limit: int) -> bytes:
    """The copy of the original to return: ``Return-Path`` added as Postfix does, then cut."""
    if not original.lower().startswith(b"return-path:"):
        original = f"Return-Path: <{sender}>\n".encode() + original
    if headers_only:
        end = original.find(b"\n\n")
        original = original if end < 0 else original[: end + 1]
    return _cut(original, limit)


_INTRO = "This is the mail system at host {host}.\n\n"
_TEMPLATES = {  # Postfix 3.7 bounce_templates.c, default texts
    DsnKind.FAILURE: """\
I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.
""",
    DsnKind.DELAY: """\
####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than {hours} hour(s).
""",
    DsnKind.SUCCESS: """\
Your message was successfully delivered to the destination(s)
listed below. If the message was delivered to mailbox you will
receive no further notifications. Otherwise you may still receive
notifications of mail delivery errors from other systems.
""",
}
_ASSISTANCE = """
For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.
"""
_SIGNATURE = "\n                   The mail system\n"
_WRAP = textwrap.TextWrapper(
    76, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
)


def _human_text(kind: DsnKind, results: Sequence[RecipientResult], ctx: ReportContext) -> str:
    """The Postfix template for ``kind``, then ``<rcpt>: reason`` folded at 76 columns.

    Like Postfix, the delay text rounds down to whole hours and days, so short test
    timers give "for more than 0 hour(s)".
    """
    hours = int((ctx.date - ctx.arrival).total_seconds() // 3600)
    if kind is DsnKind.DELAY and ctx.delay_warning_hours is not None:
        hours = ctx.delay_warning_hours
    text = _INTRO.format(host=ctx.reporting_mta) + _TEMPLATES[kind].format(hours=hours)
    until = [r.will_retry_until for r in results if r.will_retry_until is not None]
    if kind is DsnKind.DELAY and until:
        days = int((max(until) - ctx.arrival).total_seconds() // 86400)
        text += f"It will be retried until it is {days} day(s) old.\n"
    if kind is not DsnKind.SUCCESS:
        text += _ASSISTANCE
    text += _SIGNATURE
    for r in results:
        text += f"\n{_WRAP.fill(f'<{r.recipient}>: {r.explanation()}')}\n"
    return text


def _block(*fields: tuple[str, str | None]) -> EmailMessage:
    """One header block of the report; fields whose value is ``None`` are left out."""
    block = EmailMessage(policy=_POLICY)
    for name, value in fields:
        if value is not None:
            block[name] = value
    return block


def _status_part(
    envelope: Envelope, results: Sequence[RecipientResult], ctx: ReportContext
) -> EmailMessage:
    """RFC 3464 §2.1: per-message fields, then one block per recipient (Postfix's order)."""
    blocks: list[Message | str] = [
        _block(
            ("Reporting-MTA", f"dns; {ctx.reporting_mta}"),
            ("Original-Envelope-Id", envelope.envid),
            ("X-Postfix-Queue-ID", ctx.queue_id),
            ("X-Postfix-Sender", f"rfc822; {envelope.sender}"),
            ("Arrival-Date", _date(ctx.arrival)),
        )
    ]
    for r in results:
        blocks.append(
            _block(
                ("Final-Recipient", f"rfc822; {r.recipient}"),
                # RFC 3461 §6.3: Original-Recipient only when ORCPT was given
                ("Original-Recipient", envelope.recipient(r.recipient).orcpt),
                ("Action", r.action.value),
                ("Status", r.dsn_status),
                ("Remote-MTA", r.remote_mta and f"dns; {r.remote_mta}"),
                ("Diagnostic-Code", r.diagnostic_code()),
                ("Last-Attempt-Date", _date(r.last_attempt)),
                ("Will-Retry-Until", _date(r.will_retry_until)),
            )
        )
    part = EmailMessage(policy=_POLICY)
    part["Content-Description"] = "Delivery report"
    part["Content-Type"] = "message/delivery-status"
    part.set_payload(blocks)
    return part


def _original_part(kind: DsnKind, original: bytes, envelope: Envelope, limit: int) -> EmailMessage:
    """RFC 6522 §3 third part; RFC 3461 §4.3 RET applies to failure notices only."""
    too_big = bool(limit) and len(original) > limit
    headers_only = kind is not DsnKind.FAILURE or envelope.ret is Ret.HDRS or too_big
    copy = _returned(original, envelope.sender, headers_only, limit)
    undelivered = "" if kind is DsnKind.SUCCESS else "Undelivered "
    part = EmailMessage(policy=_POLICY)
    if headers_only:
        part.set_content(copy.decode("utf-8", errors="replace"), subtype="rfc822-headers")
        part["Content-Description"] = f"{undelivered}Message Headers"
    else:
        part.set_content(message_from_bytes(copy, policy=_POLICY))
        part["Content-Description"] = f"{undelivered}Message"
    del part["MIME-Version"]  # set_content adds it; RFC 2045 wants it only at the top
    return part


def _select(
    kind: DsnKind, envelope: Envelope, results: Sequence[RecipientResult]
) -> tuple[list[RecipientResult], list[RecipientResult]]:
    """(results of this kind, those whose NOTIFY asks for it), checking the inputs."""
    seen: set[str] = set()
    for result in results:
        envelope.recipient(result.recipient)
        if result.recipient in seen:
            raise ValueError(f"two results for recipient {result.recipient!r}")
        seen.add(result.recipient)
    matching = [r for r in results if r.action in _KIND_ACTIONS[kind]]
    wanted = [r for r in matching if envelope.recipient(r.recipient).wants(kind)]
    return matching, wanted


def dsn_refusal(
    kind: DsnKind, envelope: Envelope, results: Sequence[RecipientResult]
) -> NoDsn | None:
    """Why :func:`build_dsn` would send no ``kind`` notice, or None when it would send one.

    The decision alone, without building the message: a simulator can count notices
    and write out only the few it keeps as samples.
    """
    matching, wanted = _select(kind, envelope, results)
    if not matching:
        return NoDsn(kind, NoDsnReason.NOTHING_TO_REPORT)
    if not wanted:
        return NoDsn(kind, NoDsnReason.NOTIFY_EXCLUDED, tuple(r.recipient for r in matching))
    if envelope.sender == "":
        return NoDsn(kind, NoDsnReason.NULL_SENDER, tuple(r.recipient for r in wanted))
    return None


def build_dsn(
    kind: DsnKind,
    original: Message | bytes,
    envelope: Envelope,
    results: Sequence[RecipientResult],
    ctx: ReportContext,
) -> Dsn | NoDsn:
    """The ``kind`` notice for one message, or why there is none.

    Only results whose action belongs to ``kind`` and whose recipient's NOTIFY asks
    for it are reported, in the order given.  A null sender never gets a notice
    (RFC 5321 §6.1, §4.5.4).
    """
    refusal = dsn_refusal(kind, envelope, results)
    if refusal is not None:
        return refusal
    wanted = _select(kind, envelope, results)[1]
    reported = tuple(r.recipient for r in wanted)
    host = ctx.reporting_mta
    dsn_id = ctx.dsn_id or f"{ctx.queue_id or 'dsn'}.{kind.value}"
    boundary = f"{ctx.queue_id or dsn_id}.{int(ctx.date.timestamp())}/{host}"
    msg = EmailMessage(policy=_POLICY)
    msg["Received"] = f"by {host} (Postfix) id {dsn_id}; {_date(ctx.date)}"
    msg["Date"] = _date(ctx.date)
    msg["From"] = Address("Mail Delivery System", MAILER_DAEMON, host)
    msg["Subject"] = SUBJECTS[kind]
    msg["To"] = envelope.return_path
    msg["Auto-Submitted"] = "auto-replied"
    msg["Message-Id"] = f"<{ctx.date:%Y%m%d%H%M%S}.{dsn_id}@{host}>"
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = "multipart/report; report-type=delivery-status"
    msg.set_boundary(boundary)
    msg.preamble = "This is a MIME-encapsulated message.\n"

    notification = EmailMessage(policy=_POLICY)
    notification.set_content(_human_text(kind, wanted, ctx), cte="8bit")
    del notification["MIME-Version"]
    notification["Content-Description"] = "Notification"
    msg.attach(notification)
    msg.attach(_status_part(envelope, wanted, ctx))
    msg.attach(_original_part(kind, _as_bytes(original), envelope, ctx.size_limit))
    return Dsn(kind=kind, message=msg, recipient=envelope.return_path, reported=reported)


def build_dsns(
    original: Message | bytes,
    envelope: Envelope,
    results: Sequence[RecipientResult],
    ctx: ReportContext,
) -> tuple[Dsn | NoDsn, ...]:
    """One decision per kind that some result has, in the order failure, delay, success."""
    decisions = (build_dsn(kind, original, envelope, results, ctx) for kind in DsnKind)
    return tuple(
        d
        for d in decisions
        if not (isinstance(d, NoDsn) and d.reason is NoDsnReason.NOTHING_TO_REPORT)
    )
