"""Regression cases from ../shared/reference/postfix-observed.md (real Postfix 3.7.11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.policy.relay import RelayPolicy
from tests.policy.helpers import (
    CLASSIC,
    INSIDER,
    OUTSIDER,
    RECIPIENT_ACCESS,
    mail_line,
    make_policy,
    rcpt_line,
)

R454 = "454 4.7.1 <{}>: Relay access denied"
R554 = "554 5.7.1 <{}>: Relay access denied"
OK = "250 2.1.5 Ok"


@pytest.fixture
def classic(tmp_path: Path) -> RelayPolicy:
    return make_policy(tmp_path, CLASSIC, recipient_access=RECIPIENT_ACCESS)


def test_default_relay_list_defers_outsiders(classic: RelayPolicy) -> None:
    assert rcpt_line(classic, "user@victim.com") == R454.format("user@victim.com")


def test_empty_relay_list_gives_554(tmp_path: Path) -> None:
    policy = make_policy(
        tmp_path, CLASSIC + "smtpd_relay_restrictions =\n", recipient_access=RECIPIENT_ACCESS
    )
    assert rcpt_line(policy, "user@victim.com") == R554.format("user@victim.com")


def test_compat_level_2_runs_recipient_list_first(tmp_path: Path) -> None:
    cf = CLASSIC.replace("compatibility_level = 3.6", "compatibility_level = 2")
    policy = make_policy(tmp_path, cf, recipient_access=RECIPIENT_ACCESS)
    assert rcpt_line(policy, "user@victim.com") == R554.format("user@victim.com")


@pytest.mark.parametrize(
    ("client", "sasl"), [(INSIDER, None), ("127.0.0.1", None), ("::1", None), (OUTSIDER, "alice")]
)
def test_trusted_clients_relay(classic: RelayPolicy, client: str, sasl: str | None) -> None:
    assert rcpt_line(classic, "user@victim.com", client=client, sasl=sasl) == OK


@pytest.mark.parametrize(
    ("rcpt", "expected"),
    [
        ("user@example.com", OK),
        ("USER@EXAMPLE.COM", OK),
        ("user@example.com.", OK),
        ("user@example.com..", "501 5.1.3 Bad recipient address syntax"),
        ("user@sub.example.com", R454.format("user@sub.example.com")),
        ("@victim.com:user@example.com", OK),
        ("@example.com:user@victim.com", R454.format("user@victim.com")),
        ("user%victim.com@example.com", R454.format("user%victim.com@example.com")),
        ("victim.com!user@example.com", R454.format("victim.com!user@example.com")),
        ("user@victim.com@example.com", R454.format("user@victim.com@example.com")),
        ('"user@victim.com"@example.com', R454.format("user@victim.com@example.com")),
        ("user%example.com@example.com", OK),
        ("example.com!user", OK),
        ("user", OK),
        ("user%victim.com", R454.format("user%victim.com")),
        ("victim.com!user", R454.format("victim.com!user")),
        ('"user@victim.com"', R454.format("user@victim.com")),
        ("user@[127.0.0.1]", OK),
        ("user@[127.0.0.1", OK),
        ("user@[10.20.30.40]", R454.format("user@[10.20.30.40]")),
        ("user@[IPv6:::1]", R454.format("user@[IPv6:::1]")),
        ("user@[300.1.2.3]", "501 5.1.3 Bad recipient address syntax"),
        ("user@127.0.0.1", "501 5.1.3 Bad recipient address syntax"),
        ("", "501 5.1.3 Bad recipient address syntax"),
        ("user@", "501 5.1.3 Bad recipient address syntax"),
        ("@", "501 5.1.3 Bad recipient address syntax"),
        ("@example.com", OK),
        ('""@example.com', OK),
        ("user@notexample.com", R454.format("user@notexample.com")),
        ("user@example.com.victim.com", R454.format("user@example.com.victim.com")),
        (
            "blocked@example.com",
            "554 5.7.1 <blocked@example.com>: Recipient address rejected: Access denied",
        ),
        (
            "BLOCKED@EXAMPLE.COM",
            "554 5.7.1 <BLOCKED@EXAMPLE.COM>: Recipient address rejected: Access denied",
        ),
        (
            "blocked@example.com.",
            "554 5.7.1 <blocked@example.com.>: Recipient address rejected: Access denied",
        ),
    ],
)
def test_outsider_address_forms(classic: RelayPolicy, rcpt: str, expected: str) -> None:
    assert rcpt_line(classic, rcpt) == expected


@pytest.mark.parametrize(
    "rcpt",
    [
        "user%victim.com@example.com",
        "user@victim.com@example.com",
        '"user@victim.com"@example.com',
        "blocked@example.com",
        "user@victim.com",
    ],
)
def test_insiders_pass_everything_after_permit_mynetworks(classic: RelayPolicy, rcpt: str) -> None:
    assert rcpt_line(classic, rcpt, client=INSIDER) == OK


def test_ipv6_clients(classic: RelayPolicy) -> None:
    assert rcpt_line(classic, "user@victim.com", client="2001:db8::25") == R454.format(
        "user@victim.com"
    )
    assert rcpt_line(classic, "user@victim.com", client="::ffff:10.1.2.3") == OK
    assert rcpt_line(classic, "user@victim.com", client="0:0:0:0:0:0:0:1") == OK


def test_sender_restrictions_apply_to_insiders_at_rcpt_time(classic: RelayPolicy) -> None:
    assert mail_line(classic, "sender", client=INSIDER) == "250 2.1.0 Ok"
    assert rcpt_line(classic, "user@victim.com", client=INSIDER, sender="sender") == (
        "504 5.5.2 <sender>: Sender address rejected: need fully-qualified address"
    )
    assert rcpt_line(classic, "user@victim.com", client=INSIDER, sender="victim.com!sender") == (
        "504 5.5.2 <victim.com!sender>: Sender address rejected: need fully-qualified address"
    )


def test_bare_postmaster_skips_all_restrictions(classic: RelayPolicy) -> None:
    assert rcpt_line(classic, "postmaster", sender="sender") == OK
    assert rcpt_line(classic, "PostMaster", sender="sender") == OK
    assert rcpt_line(classic, "postmaster@example.com", sender="sender").startswith("504 5.5.2")


@pytest.mark.parametrize(
    ("sender", "params", "expected"),
    [
        ("sender@bad_host.example", "", "250 2.1.0 Ok"),
        ("sender@-bad.example", "", "501 5.1.7 Bad sender address syntax"),
        ("sender@bad..example", "", "501 5.1.7 Bad sender address syntax"),
        ("sender@", "", "501 5.1.7 Bad sender address syntax"),
        ("sender@bücher.example", "", "501 5.1.7 Bad sender address syntax"),
        ("sender@bücher.example", "SMTPUTF8", "250 2.1.0 Ok"),
        ("üser@example.net", "", "250 2.1.0 Ok"),
        ("", "", "250 2.1.0 Ok"),
        ("sender@example.net", "SIZE=999999999", "552 5.3.4 Message size exceeds fixed limit"),
        ("sender@example.net", "FOO=bar", "555 5.5.4 Unsupported option: FOO=bar"),
        ("<x", "", "501 5.1.7 Bad sender address syntax"),
    ],
)
def test_mail_from_syntax(classic: RelayPolicy, sender: str, params: str, expected: str) -> None:
    assert mail_line(classic, sender, params=params) == expected


def test_rcpt_phrase_is_parsed_as_an_option(classic: RelayPolicy) -> None:
    assert rcpt_line(classic, "User Name <u@example.com>") == "555 5.5.4 Unsupported option: Name"


def test_utf8_recipient_domain_needs_smtputf8_on_mail(classic: RelayPolicy) -> None:
    assert rcpt_line(classic, "user@bücher.example") == "501 5.1.3 Bad recipient address syntax"


def test_refused_mail_makes_rcpt_503(classic: RelayPolicy) -> None:
    assert (
        rcpt_line(classic, "user@example.com", sender="a@-bad")
        == "503 5.5.1 Error: need MAIL command"
    )
