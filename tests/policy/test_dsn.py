"""sim.policy.dsn: RFC 3464 reports in RFC 6522 multipart/report, RFC 3461 parameters.

Every DSN is serialised to wire bytes, parsed back with the ``email`` package and read
field by field; flufl.bounce (a real bounce processor) must recognise it.
"""

from __future__ import annotations

import email.policy
import io
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from flufl.bounce import all_failures, scan_message
from flufl.bounce._detectors.dsn import DSN
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.policy.dsn import (
    BOUNCE_SIZE_LIMIT,
    SUBJECTS,
    Action,
    Dsn,
    DsnKind,
    Envelope,
    NoDsn,
    NoDsnReason,
    Notify,
    Recipient,
    RecipientResult,
    ReportContext,
    Ret,
    build_dsn,
    build_dsns,
    parse_notify,
    xtext_decode,
)
from sim.policy.replies import Reply

HOST = "relay.sender.example"
SENDER = "alice@example.org"
ARRIVAL = datetime(2024, 4, 30, 10, 2, 15, tzinfo=UTC)
NOW = ARRIVAL + timedelta(minutes=5)
LAST = ARRIVAL + timedelta(minutes=4)
UNTIL = ARRIVAL + timedelta(days=5)
CTX = ReportContext(HOST, ARRIVAL, NOW, queue_id="4Vx3Q21yZz", dsn_id="4Vx3Q3DSNQ")

R550_USER_UNKNOWN = Reply(
    550, "5.1.1", "<bob@example.com>: Recipient address rejected: User unknown"
)
R451_LOOKUP = Reply(451, "4.3.0", "<carol@example.com>: Temporary lookup failure")
R250_QUEUED = Reply(250, "2.0.0", "Ok: queued as NX1234")

ORIGINAL = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.com, carol@example.com, dave@example.com\r\n"
    b"Subject: quarterly report\r\n"
    b"Message-Id: <20240430.1@example.org>\r\n"
    b"\r\n"
    b"Hello,\r\nthe numbers are attached.\r\n"
)


def rcpt(address: str, *, orcpt: str | None = None, notify: str | None = None) -> Recipient:
    return Recipient(address, orcpt=orcpt, notify=parse_notify(notify))


def failed(address: str = "bob@example.com", **kw: object) -> RecipientResult:
    args: dict[str, object] = {
        "reply": R550_USER_UNKNOWN,
        "remote_mta": "mail.example.com",
        "in_reply_to": "RCPT TO",
        "last_attempt": LAST,
    }
    args.update(kw)
    return RecipientResult(address, Action.FAILED, **args)  # type: ignore[arg-type]


def delayed(address: str = "carol@example.com") -> RecipientResult:
    return RecipientResult(
        address, Action.DELAYED, R451_LOOKUP, "mail.example.com", will_retry_until=UNTIL
    )


def relayed(address: str = "dave@example.com") -> RecipientResult:
    return RecipientResult(address, Action.RELAYED, R250_QUEUED, "mx.example.com")


def envelope(*recipients: Recipient, sender: str = SENDER, **kw: object) -> Envelope:
    rcpts = recipients or (rcpt("bob@example.com"), rcpt("carol@example.com"), rcpt("dave@x.org"))
    return Envelope(sender, rcpts, **kw)  # type: ignore[arg-type]


def make(kind: DsnKind, env: Envelope, *results: RecipientResult, **ctx: object) -> Dsn:
    context = ReportContext(HOST, ARRIVAL, NOW, **ctx) if ctx else CTX  # type: ignore[arg-type]
    out = build_dsn(kind, ORIGINAL, env, results, context)
    assert isinstance(out, Dsn), out
    return out


def parse(dsn: Dsn) -> EmailMessage:
    msg = message_from_bytes(dsn.as_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def blocks(msg: Message) -> list[Message]:
    """The message/delivery-status part as header blocks: per-message first."""
    part = msg.get_payload(1)
    assert isinstance(part, Message)
    assert part.get_content_type() == "message/delivery-status"
    payload = part.get_payload()
    assert isinstance(payload, list)
    return [b for b in payload if isinstance(b, Message)]


def field(block: Message, name: str) -> str | None:
    value = block.get(name)
    return None if value is None else " ".join(str(value).split())


def bounced(msg: Message) -> tuple[set[str], set[str]]:
    temporary, permanent = all_failures(msg)
    return {a.decode() for a in temporary}, {a.decode() for a in permanent}


BOB_CAROL = envelope(rcpt("bob@example.com"), rcpt("carol@example.com"))


# -- the envelope and outer headers (RFC 5321 §4.5.5, §6.1; Postfix 3.7 layout) ----------


def test_failure_dsn_goes_from_the_null_path_to_the_sender() -> None:
    dsn = make(DsnKind.FAILURE, BOB_CAROL, failed())
    assert (dsn.envelope_sender, dsn.recipient, dsn.reported) == ("", SENDER, ("bob@example.com",))
    msg = parse(dsn)
    assert msg["From"].addresses[0].display_name == "Mail Delivery System"
    assert msg["From"].addresses[0].addr_spec == f"MAILER-DAEMON@{HOST}"
    assert msg["To"].addresses[0].addr_spec == SENDER
    assert msg["Subject"] == "Undelivered Mail Returned to Sender" == SUBJECTS[DsnKind.FAILURE]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-Id"] == f"<20240430100715.4Vx3Q3DSNQ@{HOST}>"
    assert msg["Date"].datetime == NOW
    assert field(msg, "Received") == (
        f"by {HOST} (Postfix) id 4Vx3Q3DSNQ; Tue, 30 Apr 2024 10:07:15 +0000 (UTC)"
    )


def test_multipart_report_shape() -> None:
    msg = parse(make(DsnKind.FAILURE, BOB_CAROL, failed()))
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg.get_boundary() == f"4Vx3Q21yZz.{int(NOW.timestamp())}/{HOST}"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    assert [p["Content-Description"] for p in parts] == [
        "Notification",
        "Delivery report",
        "Undelivered Message",
    ]
    assert "MIME-Version" not in parts[0]
    assert msg.defects == [] and all(p.defects == [] for p in parts)


def test_source_routed_sender_is_reduced_to_its_mailbox() -> None:
    env = envelope(rcpt("bob@example.com"), sender="@relay.example:alice@example.org")
    assert make(DsnKind.FAILURE, env, failed()).recipient == SENDER


def test_same_inputs_give_the_same_bytes() -> None:
    first = make(DsnKind.FAILURE, BOB_CAROL, failed()).as_bytes()
    assert make(DsnKind.FAILURE, BOB_CAROL, failed()).as_bytes() == first
    assert b"\r\n" in first and b"\r\r" not in first


# -- the message/delivery-status fields (RFC 3464 §2.2, §2.3) -----------------------------


def test_per_message_fields() -> None:
    first = blocks(parse(make(DsnKind.FAILURE, BOB_CAROL, failed())))[0]
    assert field(first, "Reporting-MTA") == f"dns; {HOST}"
    assert field(first, "X-Postfix-Queue-ID") == "4Vx3Q21yZz"
    assert field(first, "X-Postfix-Sender") == f"rfc822; {SENDER}"
    assert parsedate_to_datetime(str(first["Arrival-Date"])) == ARRIVAL
    assert str(first["Arrival-Date"]).endswith("+0000 (UTC)")
    assert first["Original-Envelope-Id"] is None


def test_per_recipient_fields_of_a_failure() -> None:
    _, bob = blocks(parse(make(DsnKind.FAILURE, BOB_CAROL, failed())))
    assert field(bob, "Final-Recipient") == "rfc822; bob@example.com"
    assert field(bob, "Action") == "failed"
    assert field(bob, "Status") == "5.1.1"
    assert field(bob, "Remote-MTA") == "dns; mail.example.com"
    assert field(bob, "Diagnostic-Code") == f"smtp; {R550_USER_UNKNOWN.line()}"
    assert parsedate_to_datetime(str(bob["Last-Attempt-Date"])) == LAST
    assert bob["Will-Retry-Until"] is None
    assert bob["Original-Recipient"] is None


def test_expired_recipient_is_failed_with_a_4xx_status_and_mta_text() -> None:
    expired = RecipientResult(
        "bob@example.com",
        Action.FAILED,
        status="4.4.1",
        diagnostic="connect to mail.example.com[192.0.2.25]:25: Connection refused",
    )
    msg = parse(make(DsnKind.FAILURE, BOB_CAROL, expired))
    bob = blocks(msg)[1]
    assert (field(bob, "Action"), field(bob, "Status")) == ("failed", "4.4.1")
    assert field(bob, "Diagnostic-Code") == (
        "X-Postfix; connect to mail.example.com[192.0.2.25]:25: Connection refused"
    )
    assert bob["Remote-MTA"] is None  # RFC 3464 §2.3.5: no remote MTA was involved
    assert bounced(msg) == (set(), {"bob@example.com"})


@pytest.mark.parametrize(
    ("orcpt", "expected"),
    [(None, None), ("rfc822;bob+x@example.com", "rfc822;bob+x@example.com")],
)
def test_original_recipient_only_with_orcpt(orcpt: str | None, expected: str | None) -> None:
    env = envelope(rcpt("bob@example.com", orcpt=orcpt))
    bob = blocks(parse(make(DsnKind.FAILURE, env, failed())))[1]
    assert field(bob, "Original-Recipient") == expected


def test_envid_becomes_original_envelope_id() -> None:
    env = envelope(rcpt("bob@example.com"), envid=xtext_decode("QQ314159+2Bz"))
    first = blocks(parse(make(DsnKind.FAILURE, env, failed())))[0]
    assert field(first, "Original-Envelope-Id") == "QQ314159+z"


def test_human_readable_part_names_each_recipient_and_reason() -> None:
    text = parse(make(DsnKind.FAILURE, BOB_CAROL, failed())).get_payload(0)
    assert isinstance(text, EmailMessage)
    body = text.get_content().replace("\r\n", "\n")  # an 8bit part keeps the wire CRLF
    assert body.startswith(f"This is the mail system at host {HOST}.\n")
    assert "could not\nbe delivered to one or more recipients" in body
    assert all(len(line) <= 79 for line in body.splitlines())
    assert " ".join(body.split()).endswith(
        "<bob@example.com>: host mail.example.com said: "
        f"{R550_USER_UNKNOWN.line()} (in reply to RCPT TO command)"
    )


# -- one kind per notice; flufl.bounce reads them as a real bounce processor would --------


def test_failure_dsn_lists_only_the_failed_recipients() -> None:
    env = envelope(rcpt("bob@example.com"), rcpt("carol@example.com"), rcpt("dave@example.com"))
    results = (failed(), delayed(), relayed())
    failure, delay, success = build_dsns(ORIGINAL, env, results, CTX)
    assert isinstance(failure, Dsn) and isinstance(delay, Dsn)
    assert success == NoDsn(DsnKind.SUCCESS, NoDsnReason.NOTIFY_EXCLUDED, ("dave@example.com",))
    fmsg = parse(failure)
    assert [field(b, "Final-Recipient") for b in blocks(fmsg)[1:]] == ["rfc822; bob@example.com"]
    assert bounced(fmsg) == (set(), {"bob@example.com"})
    assert scan_message(fmsg) == {b"bob@example.com"}
    dmsg = parse(delay)
    assert bounced(dmsg) == ({"carol@example.com"}, set())
    assert scan_message(dmsg) == frozenset()


def test_delay_notice() -> None:
    msg = parse(make(DsnKind.DELAY, BOB_CAROL, failed(), delayed()))
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    carol = blocks(msg)[1]
    assert (field(carol, "Action"), field(carol, "Status")) == ("delayed", "4.3.0")
    assert parsedate_to_datetime(str(carol["Will-Retry-Until"])) == UNTIL
    original = msg.get_payload(2)
    assert isinstance(original, EmailMessage)
    assert original.get_content_type() == "text/rfc822-headers"
    assert original["Content-Description"] == "Undelivered Message Headers"
    body = msg.get_payload(0)
    assert isinstance(body, EmailMessage)
    text = body.get_content().replace("\r\n", "\n")
    assert "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #" in text
    assert "Your message could not be delivered for more than 0 hour(s)." in text  # as Postfix
    assert "It will be retried until it is 5 day(s) old." in text


def test_success_notice_only_when_asked() -> None:
    env = envelope(rcpt("dave@example.com", notify="SUCCESS,FAILURE"), rcpt("erin@example.com"))
    results = (relayed(), relayed("erin@example.com"))
    dsn = build_dsn(DsnKind.SUCCESS, ORIGINAL, env, results, CTX)
    assert isinstance(dsn, Dsn) and dsn.reported == ("dave@example.com",)
    msg = parse(dsn)
    assert msg["Subject"] == "Successful Mail Delivery Report"
    dave = blocks(msg)[1]
    assert (field(dave, "Action"), field(dave, "Status")) == ("relayed", "2.0.0")
    assert field(dave, "Diagnostic-Code") == "smtp; 250 2.0.0 Ok: queued as NX1234"
    original = msg.get_payload(2)
    assert isinstance(original, EmailMessage)
    assert original["Content-Description"] == "Message Headers"
    # flufl's RFC 3464 reader sees no failure.  (all_failures() would then fall through to
    # its last-resort heuristics, and LLNL picks an address out of the returned "To:" line.)
    assert DSN().process(msg) == (set(), set())


# -- NOTIFY (RFC 3461 §4.1) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("notify", "kind", "sent"),
    [
        (None, DsnKind.FAILURE, True),
        (None, DsnKind.DELAY, True),
        (None, DsnKind.SUCCESS, False),
        ("NEVER", DsnKind.FAILURE, False),
        ("NEVER", DsnKind.DELAY, False),
        ("NEVER", DsnKind.SUCCESS, False),
        ("FAILURE", DsnKind.FAILURE, True),
        ("FAILURE", DsnKind.DELAY, False),
        ("DELAY", DsnKind.FAILURE, False),
        ("DELAY", DsnKind.DELAY, True),
        ("SUCCESS", DsnKind.SUCCESS, True),
        ("SUCCESS", DsnKind.FAILURE, False),
        ("success,delay", DsnKind.DELAY, True),
    ],
)
def test_notify(notify: str | None, kind: DsnKind, sent: bool) -> None:
    result = {DsnKind.FAILURE: failed, DsnKind.DELAY: delayed, DsnKind.SUCCESS: relayed}[kind]()
    env = envelope(rcpt(result.recipient, notify=notify))
    out = build_dsn(kind, ORIGINAL, env, (result,), CTX)
    if sent:
        assert isinstance(out, Dsn) and out.reported == (result.recipient,)
    else:
        assert out == NoDsn(kind, NoDsnReason.NOTIFY_EXCLUDED, (result.recipient,))


def test_notify_is_per_recipient() -> None:
    env = envelope(rcpt("bob@example.com", notify="NEVER"), rcpt("carol@example.com"))
    results = (failed(), failed("carol@example.com"))
    out = build_dsn(DsnKind.FAILURE, ORIGINAL, env, results, CTX)
    assert isinstance(out, Dsn) and out.reported == ("carol@example.com",)
    assert bounced(parse(out)) == (set(), {"carol@example.com"})


def test_nothing_to_report() -> None:
    out = build_dsn(DsnKind.FAILURE, ORIGINAL, BOB_CAROL, (delayed(),), CTX)
    assert out == NoDsn(DsnKind.FAILURE, NoDsnReason.NOTHING_TO_REPORT)
    assert build_dsns(ORIGINAL, BOB_CAROL, (), CTX) == ()


# -- never bounce a bounce (RFC 5321 §4.5.4, §6.1) ----------------------------------------


def test_null_sender_gets_no_dsn() -> None:
    env = envelope(rcpt("bob@example.com"), rcpt("carol@example.com"), sender="")
    decisions = build_dsns(ORIGINAL, env, (failed(), delayed()), CTX)
    assert decisions == (
        NoDsn(DsnKind.FAILURE, NoDsnReason.NULL_SENDER, ("bob@example.com",)),
        NoDsn(DsnKind.DELAY, NoDsnReason.NULL_SENDER, ("carol@example.com",)),
    )
    assert str(decisions[0]) == "dropped: would be a bounce of a bounce"


# -- the returned original (RFC 3461 §4.3, RFC 6522 §3, bounce_size_limit) ---------------


def returned(msg: Message) -> Message:
    part = msg.get_payload(2)
    assert isinstance(part, Message)
    return part


def test_ret_full_returns_the_whole_message_with_return_path() -> None:
    env = envelope(rcpt("bob@example.com"), ret=Ret.FULL)
    part = returned(parse(make(DsnKind.FAILURE, env, failed())))
    assert part.get_content_type() == "message/rfc822"
    inner = part.get_payload(0)
    assert isinstance(inner, EmailMessage)
    assert inner["Return-Path"] == f"<{SENDER}>"
    assert inner["Subject"] == "quarterly report"
    assert inner.get_content().replace("\r\n", "\n") == "Hello,\nthe numbers are attached.\n"


def test_ret_hdrs_returns_only_the_headers() -> None:
    env = envelope(rcpt("bob@example.com"), ret=Ret.HDRS)
    part = returned(parse(make(DsnKind.FAILURE, env, failed())))
    assert part.get_content_type() == "text/rfc822-headers"
    assert part["Content-Description"] == "Undelivered Message Headers"
    text = part.get_payload(decode=True)
    assert isinstance(text, bytes)
    headers = text.decode().replace("\r\n", "\n")
    assert "Subject: quarterly report\n" in headers
    assert "Message-Id: <20240430.1@example.org>" in headers
    assert "numbers" not in headers


def big_original(kib: int) -> bytes:
    line = b"x" * 70 + b"\r\n"
    return ORIGINAL + line * (kib * 1024 // len(line))


@pytest.mark.parametrize(("limit", "size_kib"), [(BOUNCE_SIZE_LIMIT, 200), (2000, 10)])
def test_an_original_over_the_size_limit_comes_back_as_headers_only(
    limit: int, size_kib: int
) -> None:
    """Postfix 3.x bounce_original(): never cut a message, return its headers instead."""
    ctx = ReportContext(HOST, ARRIVAL, NOW, size_limit=limit)
    out = build_dsn(DsnKind.FAILURE, big_original(size_kib), BOB_CAROL, (failed(),), ctx)
    assert isinstance(out, Dsn)
    part = returned(parse(out))
    assert part.get_content_type() == "text/rfc822-headers"
    assert "Subject: quarterly report" in part.get_content()
    assert "xxxxxxxx" not in part.get_content()
    assert len(out.as_bytes()) < limit + 5000


def test_an_original_under_the_limit_comes_back_whole() -> None:
    ctx = ReportContext(HOST, ARRIVAL, NOW, size_limit=BOUNCE_SIZE_LIMIT)
    out = build_dsn(DsnKind.FAILURE, big_original(10), BOB_CAROL, (failed(),), ctx)
    assert isinstance(out, Dsn)
    part = returned(parse(out))
    assert part.get_content_type() == "message/rfc822"
    inner = part.get_payload(0)
    assert isinstance(inner, EmailMessage)
    assert inner["Subject"] == "quarterly report"


def test_delay_notice_quotes_delay_warning_time() -> None:
    from datetime import timedelta

    later = ARRIVAL + timedelta(hours=5, minutes=10)
    ctx = ReportContext(HOST, ARRIVAL, later, delay_warning_hours=4)
    out = build_dsn(DsnKind.DELAY, ORIGINAL, BOB_CAROL, (delayed(),), ctx)
    assert isinstance(out, Dsn)
    assert "for more than 4 hour(s)" in out.as_bytes().decode()


def test_size_limit_zero_returns_everything() -> None:
    ctx = ReportContext(HOST, ARRIVAL, NOW, size_limit=0)
    out = build_dsn(DsnKind.FAILURE, big_original(80), BOB_CAROL, (failed(),), ctx)
    assert isinstance(out, Dsn)
    assert len(out.as_bytes()) > 80 * 1024


def test_original_may_be_a_message_object() -> None:
    as_msg = message_from_bytes(ORIGINAL, policy=email.policy.default)
    out = build_dsn(DsnKind.FAILURE, as_msg, BOB_CAROL, (failed(),), CTX)
    assert isinstance(out, Dsn)
    assert out.as_bytes() == make(DsnKind.FAILURE, BOB_CAROL, failed()).as_bytes()


# -- input validation: wrong values fail at once, naming the problem -----------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: parse_notify("NEVER,SUCCESS"), "NEVER cannot be combined"),
        (lambda: parse_notify("SOMETIMES"), "unknown Notify 'SOMETIMES'"),
        (lambda: Ret.from_text("BODY"), "expected one of: FULL, HDRS"),
        (lambda: Recipient("bob@example.com", orcpt="bob@example.com"), "ORCPT must look"),
        (lambda: envelope(rcpt("a@x.org"), rcpt("a@x.org")), "duplicate envelope recipients"),
        (lambda: RecipientResult("a@x.org", Action.DELAYED, R550_USER_UNKNOWN), "does not fit"),
        (lambda: RecipientResult("a@x.org", Action.FAILED, status="5.1"), "look like 5.1.1"),
        (lambda: RecipientResult("a@x.org", Action.DELIVERED, R451_LOOKUP), "does not fit"),
        (lambda: failed(will_retry_until=UNTIL), "only allowed for delayed"),
        (lambda: failed(last_attempt=datetime(2024, 4, 30)), "timezone-aware"),
        (lambda: ReportContext("relay host", ARRIVAL, NOW), "must be a host name"),
        (lambda: ReportContext(HOST, ARRIVAL, NOW, size_limit=-1), "size_limit"),
        (lambda: xtext_decode("bob+2"), "bad xtext"),
        (lambda: build_dsn(DsnKind.FAILURE, b"", BOB_CAROL, (failed("x@y.org"),), CTX), "not an"),
        (lambda: build_dsn(DsnKind.FAILURE, b"", BOB_CAROL, (failed(), failed()), CTX), "two"),
    ],
)
def test_bad_inputs_are_refused(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_vocabularies_read_protocol_text() -> None:
    assert Action.from_text(" Failed ") is Action.FAILED
    assert parse_notify("failure,Delay") == {Notify.FAILURE, Notify.DELAY}
    assert parse_notify(None) is None
    assert xtext_decode("bob+2Bx+3Dy@example.com") == "bob+x=y@example.com"


# -- property: every give-up yields exactly one DSN unless the sender is null ------------

ADDRESSES = [f"u{i}@example.{tld}" for i, tld in enumerate(["com", "net", "org"] * 2)]
NOTIFY_CHOICES = [None, "NEVER", "FAILURE", "DELAY", "SUCCESS", "SUCCESS,FAILURE,DELAY"]
OUTCOMES = {
    "bounced": lambda a: failed(a),
    "expired": lambda a: RecipientResult(a, Action.FAILED, status="4.4.1", diagnostic="timeout"),
    "delayed": delayed,
    "relayed": relayed,
    "delivered": lambda a: RecipientResult(a, Action.DELIVERED, R250_QUEUED),
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[Envelope, tuple[RecipientResult, ...]]:
    chosen = draw(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=6, unique=True))
    notifies = draw(st.lists(st.sampled_from(NOTIFY_CHOICES), min_size=6, max_size=6))
    sender = draw(st.sampled_from(["", SENDER, "bounces+list@example.org"]))
    env = Envelope(sender, tuple(rcpt(a, notify=n) for a, n in zip(chosen, notifies, strict=False)))
    outcome_names = st.sampled_from(sorted(OUTCOMES))
    results = tuple(OUTCOMES[draw(outcome_names)](a) for a in chosen)
    return env, results


@settings(max_examples=150, deadline=None, derandomize=True)
@given(cases())
def test_every_give_up_yields_exactly_one_dsn_unless_the_sender_is_null(
    case: tuple[Envelope, tuple[RecipientResult, ...]],
) -> None:
    env, results = case
    decisions = build_dsns(ORIGINAL, env, results, CTX)
    assert len({d.kind for d in decisions}) == len(decisions)
    failures = [d for d in decisions if d.kind is DsnKind.FAILURE]
    gave_up = [r.recipient for r in results if r.action is Action.FAILED]
    wanted = [a for a in gave_up if env.recipient(a).wants(DsnKind.FAILURE)]
    if not gave_up:
        assert failures == []
        return
    (decision,) = failures
    if env.sender == "":
        assert all(isinstance(d, NoDsn) for d in decisions)
        expected = NoDsnReason.NULL_SENDER if wanted else NoDsnReason.NOTIFY_EXCLUDED
        assert isinstance(decision, NoDsn) and decision.reason is expected
    elif not wanted:
        assert decision == NoDsn(DsnKind.FAILURE, NoDsnReason.NOTIFY_EXCLUDED, tuple(gave_up))
    else:
        assert isinstance(decision, Dsn) and decision.reported == tuple(wanted)
        msg = parse(decision)
        finals = [field(b, "Final-Recipient") for b in blocks(msg)[1:]]
        assert finals == [f"rfc822; {a}" for a in wanted]
        assert bounced(msg) == (set(), set(wanted))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(cases())
def test_default_notify_bounces_exactly_the_failed_recipients(
    case: tuple[Envelope, tuple[RecipientResult, ...]],
) -> None:
    env, results = case
    env = Envelope(env.sender or SENDER, tuple(Recipient(r.address) for r in env.recipients))
    failure = build_dsn(DsnKind.FAILURE, ORIGINAL, env, results, CTX)
    gave_up = {r.recipient for r in results if r.action is Action.FAILED}
    if gave_up:
        assert isinstance(failure, Dsn)
        assert bounced(parse(failure))[1] == gave_up
    else:
        assert failure == NoDsn(DsnKind.FAILURE, NoDsnReason.NOTHING_TO_REPORT)


# -- docs/dsn.md shows real output ---------------------------------------------------------


def test_the_example_in_the_docs_is_what_the_code_prints() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "dsn.md").read_text()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    shown = doc.split("output is unchanged:\n\n```\n", 1)[1].split("\n```", 1)[0]
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(code, "docs/dsn.md", "exec"), {})
    assert out.getvalue().rstrip("\n") == shown
    printed = message_from_bytes(shown.encode(), policy=email.policy.default)
    assert bounced(printed) == (set(), {"bob@example.com", "carol@example.com"})
