"""parse_path_command and the address helpers (RFC 5321 §4.1.1.2-3, Postfix smtpd)."""

from __future__ import annotations

import ipaddress

import pytest

from sim.policy.addresses import (
    Mailbox,
    PathCommand,
    PathKind,
    ip_literal,
    parse_path_command,
    quote_local,
    valid_hostname,
)
from sim.policy.replies import (
    R501_BAD_RCPT_SYNTAX,
    R501_BAD_SENDER_SYNTAX,
    R501_MAIL_SYNTAX,
    R501_RCPT_SYNTAX,
    R552_SIZE_EXCEEDED,
    Reply,
)

MAIL = PathKind.SENDER
RCPT = PathKind.RECIPIENT


def parsed(kind: PathKind, argument: str, **kw: bool | int) -> PathCommand:
    result = parse_path_command(kind, argument, **kw)  # type: ignore[arg-type]
    assert isinstance(result, PathCommand), result
    return result


def mailbox(kind: PathKind, argument: str, **kw: bool | int) -> Mailbox:
    box = parsed(kind, argument, **kw).mailbox
    assert box is not None
    return box


def reply_line(kind: PathKind, argument: str, **kw: bool | int) -> str:
    result = parse_path_command(kind, argument, **kw)  # type: ignore[arg-type]
    assert isinstance(result, Reply), result
    return result.line()


# -- paths ------------------------------------------------------------------------------


def test_null_sender_path_has_no_mailbox() -> None:
    command = parsed(MAIL, "FROM:<>")
    assert command.kind is MAIL
    assert command.mailbox is None
    assert command.params == ()


def test_null_recipient_path_is_a_syntax_error() -> None:
    assert parse_path_command(RCPT, "TO:<>") == R501_BAD_RCPT_SYNTAX


@pytest.mark.parametrize(
    ("argument", "text"),
    [
        ('TO:<"john doe"@example.com>', "john doe@example.com"),
        ('TO:<"user@victim.com"@example.com>', "user@victim.com@example.com"),
        ('TO:<"john"@example.com>', "john@example.com"),
        ('TO:<"a\\"b"@example.com>', 'a"b@example.com'),
        ('TO:<""@example.com>', "@example.com"),
    ],
)
def test_quoted_local_parts_are_opened(argument: str, text: str) -> None:
    assert mailbox(RCPT, argument).text == text


@pytest.mark.parametrize(
    ("argument", "text", "route"),
    [
        ("TO:<@a.example:user@c.example>", "user@c.example", ("a.example",)),
        (
            "TO:<@a.example,@b.example:user@c.example>",
            "user@c.example",
            ("a.example", "b.example"),
        ),
        ("TO:<@victim.com:user@example.com>", "user@example.com", ("victim.com",)),
    ],
)
def test_source_route_is_removed_and_kept_aside(
    argument: str, text: str, route: tuple[str, ...]
) -> None:
    box = mailbox(RCPT, argument)
    assert box.text == text
    assert box.route == route
    assert box.domain == text.rpartition("@")[2]


def test_plain_address_has_no_route() -> None:
    box = mailbox(RCPT, "TO:<user@example.com>")
    assert box.route == ()
    assert box.local == "user"
    assert box.domain == "example.com"


def test_case_and_trailing_dot_are_kept() -> None:
    assert mailbox(RCPT, "TO:<USER@EXAMPLE.COM.>").text == "USER@EXAMPLE.COM."


@pytest.mark.parametrize(
    ("argument", "literal"),
    [
        ("TO:<user@[192.0.2.1]>", ipaddress.IPv4Address("192.0.2.1")),
        ("TO:<user@[IPv6:2001:db8::1]>", ipaddress.IPv6Address("2001:db8::1")),
        ("TO:<user@[ipv6:::1]>", ipaddress.IPv6Address("::1")),
        ("TO:<user@[300.1.2.3]>", None),
        ("TO:<user@example.com>", None),
    ],
)
def test_ip_literal_domains(
    argument: str, literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> None:
    assert mailbox(RCPT, argument).literal == literal


@pytest.mark.parametrize("argument", ["TO:<postmaster>", "TO:<PostMaster>", "TO:postmaster"])
def test_postmaster_without_domain(argument: str) -> None:
    box = mailbox(RCPT, argument)
    assert box.text.lower() == "postmaster"
    assert box.domain is None
    assert box.local == box.text
    assert box.literal is None


@pytest.mark.parametrize(
    ("kind", "argument", "text"),
    [
        (MAIL, "FROM:sender@example.net", "sender@example.net"),
        (RCPT, "TO:user@example.com", "user@example.com"),
        (MAIL, "FROM: <sender@example.net>", "sender@example.net"),
        (MAIL, "from:<sender@example.net>", "sender@example.net"),
        (RCPT, "to:<user@example.com>", "user@example.com"),
        (RCPT, "TO:<<user@example.com>>", "user@example.com"),
        (RCPT, "TO:<Name <user@example.com>>", "user@example.com"),
        (RCPT, "TO:<user@example.com (comment)>", "user@example.com"),
    ],
)
def test_lenient_forms_are_accepted_by_default(kind: PathKind, argument: str, text: str) -> None:
    assert mailbox(kind, argument).text == text


@pytest.mark.parametrize(
    ("kind", "argument"),
    [
        (MAIL, "FROM:<x"),
        (RCPT, "TO:<user@example.com"),
        (RCPT, "TO:<a@example.com, b@example.com>"),
        (RCPT, "TO:<<a@example.com> <b@example.com>>"),
    ],
)
def test_broken_paths_are_bad_address_syntax(kind: PathKind, argument: str) -> None:
    expected = R501_BAD_SENDER_SYNTAX if kind is MAIL else R501_BAD_RCPT_SYNTAX
    assert parse_path_command(kind, argument) == expected


@pytest.mark.parametrize(
    ("kind", "argument"),
    [
        (MAIL, "FROM:sender@example.net"),
        (RCPT, "TO:user@example.com"),
        (RCPT, "TO:<Name <user@example.com>>"),
        (RCPT, "TO:<@example.com>"),
        (RCPT, 'TO:<""@example.com>'),
    ],
)
def test_strict_rfc821_rejects_missing_brackets_phrases_and_empty_local_parts(
    kind: PathKind, argument: str
) -> None:
    expected = R501_BAD_SENDER_SYNTAX if kind is MAIL else R501_BAD_RCPT_SYNTAX
    assert parse_path_command(kind, argument, strict_rfc821=True) == expected


@pytest.mark.parametrize(
    "argument", ["TO:<user@example.com>", "TO:<@a.example:user@example.com>", 'TO:<"a b"@x.com>']
)
def test_strict_rfc821_accepts_proper_paths(argument: str) -> None:
    assert isinstance(parse_path_command(RCPT, argument, strict_rfc821=True), PathCommand)


def test_strict_rfc821_accepts_the_null_sender() -> None:
    assert parsed(MAIL, "FROM:<>", strict_rfc821=True).mailbox is None


def test_phrase_before_the_path_is_read_as_a_parameter() -> None:
    assert reply_line(RCPT, "TO:User Name <u@example.com>") == "555 5.5.4 Unsupported option: Name"


@pytest.mark.parametrize(
    ("kind", "argument", "expected"),
    [
        (MAIL, "FROM <x@example.net>", R501_MAIL_SYNTAX),
        (MAIL, "FROM:", R501_MAIL_SYNTAX),
        (MAIL, "FROM:   ", R501_MAIL_SYNTAX),
        (MAIL, "", R501_MAIL_SYNTAX),
        (MAIL, "TO:<x@example.net>", R501_MAIL_SYNTAX),
        (RCPT, "TO <x@example.net>", R501_RCPT_SYNTAX),
        (RCPT, "TO:", R501_RCPT_SYNTAX),
        (RCPT, "FROM:<x@example.net>", R501_RCPT_SYNTAX),
    ],
)
def test_missing_colon_or_argument_gives_usage(
    kind: PathKind, argument: str, expected: Reply
) -> None:
    assert parse_path_command(kind, argument) == expected


def test_mail_usage_text() -> None:
    assert reply_line(MAIL, "FROM <x>") == "501 5.5.4 Syntax: MAIL FROM:<address>"
    assert reply_line(RCPT, "TO <x>") == "501 5.5.4 Syntax: RCPT TO:<address>"


# -- ESMTP parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "key", "value"),
    [
        ("FROM:<a@b.example> SIZE=1000", "SIZE", "1000"),
        ("FROM:<a@b.example> size=0", "SIZE", "0"),
        ("FROM:<a@b.example> BODY=8BITMIME", "BODY", "8BITMIME"),
        ("FROM:<a@b.example> BODY=7BIT", "BODY", "7BIT"),
        ("FROM:<a@b.example> body=8bitmime", "BODY", "8bitmime"),
        ("FROM:<a@b.example> RET=FULL", "RET", "FULL"),
        ("FROM:<a@b.example> RET=HDRS", "RET", "HDRS"),
        ("FROM:<a@b.example> ENVID=QQ314159", "ENVID", "QQ314159"),
        ("FROM:<a@b.example> ENVID=a+2Bb", "ENVID", "a+2Bb"),
        ("FROM:<a@b.example> SMTPUTF8", "SMTPUTF8", None),
        ("FROM:<a@b.example> AUTH=<>", "AUTH", "<>"),
    ],
)
def test_mail_parameters_accepted(argument: str, key: str, value: str | None) -> None:
    command = parsed(MAIL, argument)
    assert command.has_param(key)
    assert command.param(key) == value
    assert command.param(key.lower()) == value


@pytest.mark.parametrize(
    ("argument", "key", "value"),
    [
        ("TO:<a@b.example> NOTIFY=SUCCESS,FAILURE", "NOTIFY", "SUCCESS,FAILURE"),
        ("TO:<a@b.example> NOTIFY=SUCCESS,FAILURE,DELAY", "NOTIFY", "SUCCESS,FAILURE,DELAY"),
        ("TO:<a@b.example> NOTIFY=NEVER", "NOTIFY", "NEVER"),
        ("TO:<a@b.example> notify=never", "NOTIFY", "never"),
        ("TO:<a@b.example> ORCPT=rfc822;a@b", "ORCPT", "rfc822;a@b"),
        ("TO:<a@b.example> ORCPT=rfc822;a+2Bx@b", "ORCPT", "rfc822;a+2Bx@b"),
    ],
)
def test_rcpt_parameters_accepted(argument: str, key: str, value: str) -> None:
    command = parsed(RCPT, argument)
    assert command.param(key) == value


def test_parameters_keep_their_order() -> None:
    command = parsed(MAIL, "FROM:<a@b.example> SIZE=10 BODY=8BITMIME RET=HDRS")
    assert command.params == (("SIZE", "10"), ("BODY", "8BITMIME"), ("RET", "HDRS"))


@pytest.mark.parametrize(
    ("kind", "argument", "expected"),
    [
        (MAIL, "FROM:<a@b.example> SIZE=abc", "501 5.5.4 Bad message size syntax"),
        (MAIL, "FROM:<a@b.example> SIZE=-1", "501 5.5.4 Bad message size syntax"),
        (MAIL, "FROM:<a@b.example> RET=NONE", "501 5.5.4 Bad RET parameter syntax"),
        (MAIL, "FROM:<a@b.example> ENVID=a+zz", "501 5.5.4 Bad ENVID parameter syntax"),
        (MAIL, "FROM:<a@b.example> ENVID=", "501 5.5.4 Bad ENVID parameter syntax"),
        (MAIL, "FROM:<a@b.example> ENVID=a=b", "501 5.5.4 Bad ENVID parameter syntax"),
        (
            RCPT,
            "TO:<a@b.example> NOTIFY=NEVER,SUCCESS",
            "501 5.5.4 Error: Bad NOTIFY parameter syntax",
        ),
        (RCPT, "TO:<a@b.example> NOTIFY=SOMETIMES", "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
        (RCPT, "TO:<a@b.example> NOTIFY=", "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
        (RCPT, "TO:<a@b.example> ORCPT=rfc822", "501 5.5.4 Error: Bad ORCPT parameter syntax"),
        (RCPT, "TO:<a@b.example> ORCPT=;a@b", "501 5.5.4 Error: Bad ORCPT parameter syntax"),
        (RCPT, "TO:<a@b.example> ORCPT=rfc822;a+zz", "501 5.5.4 Error: Bad ORCPT parameter syntax"),
        (MAIL, "FROM:<a@b.example> FOO=bar", "555 5.5.4 Unsupported option: FOO=bar"),
        (MAIL, "FROM:<a@b.example> NOTIFY=NEVER", "555 5.5.4 Unsupported option: NOTIFY=NEVER"),
        (RCPT, "TO:<a@b.example> SIZE=10", "555 5.5.4 Unsupported option: SIZE=10"),
        (RCPT, "TO:<a@b.example> XYZZY", "555 5.5.4 Unsupported option: XYZZY"),
    ],
)
def test_bad_parameters(kind: PathKind, argument: str, expected: str) -> None:
    assert reply_line(kind, argument) == expected


def test_size_above_the_limit() -> None:
    assert parse_path_command(MAIL, "FROM:<a@b.example> SIZE=1001", size_limit=1000) == (
        R552_SIZE_EXCEEDED
    )
    assert isinstance(
        parse_path_command(MAIL, "FROM:<a@b.example> SIZE=1000", size_limit=1000), PathCommand
    )
    assert isinstance(
        parse_path_command(MAIL, "FROM:<a@b.example> SIZE=999999999999", size_limit=0),
        PathCommand,
    )


# -- RFC 5321 length limits and UTF-8 ----------------------------------------------------


def test_enforce_rfc_limits_rejects_a_65_character_local_part() -> None:
    long_local = "a" * 65 + "@example.com"
    assert reply_line(RCPT, f"TO:<{long_local}>", enforce_rfc_limits=True) == (
        "501 5.1.3 Path too long (RFC 5321 section 4.5.3.1)"
    )
    assert reply_line(MAIL, f"FROM:<{long_local}>", enforce_rfc_limits=True) == (
        "501 5.1.7 Path too long (RFC 5321 section 4.5.3.1)"
    )
    # Postfix itself has no such limit.
    assert mailbox(RCPT, f"TO:<{long_local}>").text == long_local


def test_enforce_rfc_limits_accepts_64_characters() -> None:
    address = "a" * 64 + "@example.com"
    assert mailbox(RCPT, f"TO:<{address}>", enforce_rfc_limits=True).text == address


def test_enforce_rfc_limits_rejects_a_long_domain() -> None:
    domain = ".".join(["a" * 60] * 5)  # 304 characters
    argument = f"TO:<u@{domain}>"
    assert isinstance(parse_path_command(RCPT, argument, enforce_rfc_limits=True), Reply)


def test_utf8_domain_needs_smtputf8() -> None:
    assert parse_path_command(RCPT, "TO:<user@bücher.example>") == R501_BAD_RCPT_SYNTAX
    assert mailbox(RCPT, "TO:<user@bücher.example>", smtputf8=True).domain == "bücher.example"
    assert mailbox(MAIL, "FROM:<user@bücher.example> SMTPUTF8").domain == "bücher.example"
    assert mailbox(RCPT, "TO:<üser@example.com>").local == "üser"


# -- helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("[192.0.2.1]", ipaddress.IPv4Address("192.0.2.1")),
        ("[IPv6:2001:db8::25]", ipaddress.IPv6Address("2001:db8::25")),
        ("[IPV6:::1]", ipaddress.IPv6Address("::1")),
        ("[127.0.0.1", ipaddress.IPv4Address("127.0.0.1")),
        ("[300.1.2.3]", None),
        ("[::1]", None),
        ("[IPv6:192.0.2.1]", None),
        ("[]", None),
        ("[", None),
        ("192.0.2.1", None),
        ("example.com", None),
    ],
)
def test_ip_literal(
    domain: str, expected: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> None:
    assert ip_literal(domain) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example.com", True),
        ("localhost", True),
        ("bad_host.example", True),
        ("1.example", True),
        ("a" * 63 + ".example", True),
        ("a" * 64 + ".example", False),
        ("-bad.example", False),
        ("bad-.example", False),
        ("bad..example", False),
        (".example", False),
        ("example.", False),
        ("", False),
        ("127.0.0.1", False),
        ("12345", False),
        ("sp ace.example", False),
        ("bang!.example", False),
        (".".join(["a" * 63] * 4) + ".ab", False),
    ],
)
def test_valid_hostname(name: str, expected: bool) -> None:
    assert valid_hostname(name) is expected


def test_valid_hostname_utf8() -> None:
    assert valid_hostname("bücher.example") is True
    assert valid_hostname("bücher.example", allow_utf8=False) is False


@pytest.mark.parametrize(
    ("local", "external"),
    [
        ("user", "user"),
        ("first.last", "first.last"),
        ("user+tag", "user+tag"),
        ("john doe", '"john doe"'),
        ("user@victim.com", '"user@victim.com"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("", '""'),
        (".user", '".user"'),
        ("user.", '"user."'),
        ("a..b", '"a..b"'),
    ],
)
def test_quote_local(local: str, external: str) -> None:
    assert quote_local(local) == external


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY=BINARYMIME"),
        ("FROM:<a@b.example> RET=FULL RET=HDRS", "501 5.5.4 Bad RET parameter syntax"),
        ("FROM:<a@b.example> ENVID=x ENVID=y", "501 5.5.4 Bad ENVID parameter syntax"),
        ("FROM:<a@b.example> SIZE=99999999999 FOO=1", "555 5.5.4 Unsupported option: FOO=1"),
    ],
)
def test_postfix_parameter_quirks(argument: str, expected: str) -> None:
    result = parse_path_command(PathKind.SENDER, argument)
    assert isinstance(result, Reply)
    assert result.line() == expected


def test_repeated_size_and_body_are_accepted_last_wins() -> None:
    result = parse_path_command(
        PathKind.SENDER, "FROM:<a@b.example> SIZE=1 SIZE=2 BODY=7BIT BODY=8BITMIME"
    )
    assert isinstance(result, PathCommand)
    assert result.param("SIZE") == "2"
    assert result.param("BODY") == "8BITMIME"


def test_repeated_notify_is_a_syntax_error() -> None:
    result = parse_path_command(PathKind.RECIPIENT, "TO:<a@b.example> NOTIFY=NEVER NOTIFY=NEVER")
    assert result == Reply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")
