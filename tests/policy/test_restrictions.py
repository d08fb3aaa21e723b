"""Restriction semantics under non-default knobs, each expectation from postfix-observed.md
or relay.md (../shared/reference)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.policy.relay import DomainStatus, RelayPolicy
from tests.policy.helpers import CLASSIC, INSIDER, OUTSIDER, make_policy, rcpt_line, session

OK = "250 2.1.5 Ok"
BASE = """
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1
mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/8
mydestination = example.com, mail.example.com, localhost
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
"""


def policy(tmp_path: Path, extra: str, **tables: str) -> RelayPolicy:
    return make_policy(tmp_path, BASE + extra, **tables)


def denied(rcpt: str) -> str:
    return f"554 5.7.1 <{rcpt}>: Relay access denied"


@pytest.mark.parametrize(
    ("rcpt", "expected"),
    [
        ("user%example.com@example.com", denied("user%example.com@example.com")),
        ("example.com!user", denied("example.com!user")),
        ('"user@victim.com"@example.com', denied("user@victim.com@example.com")),
        ('"user"@example.com', OK),
        ('"us er"@example.com', OK),
    ],
)
def test_routing_strict(tmp_path: Path, rcpt: str, expected: str) -> None:
    strict = "allow_percent_hack = no\nswap_bangpath = no\nresolve_dequoted_address = no\n"
    assert rcpt_line(policy(tmp_path, strict), rcpt) == expected


INBOUND_MX = "relay_domains = backup.example.net, partner.example\nmydestination = example.org\n"


@pytest.mark.parametrize(
    ("rcpt", "expected"),
    [
        ("user@backup.example.net", OK),
        ("user@sub.backup.example.net", OK),
        ("user@deep.sub.partner.example", OK),
        ("user@notpartner.example", denied("user@notpartner.example")),
        ("user%backup.example.net@example.org", OK),
        ("backup.example.net!user@example.org", OK),
        ("user%victim.com@backup.example.net", denied("user%victim.com@backup.example.net")),
        ("user@victim.com@backup.example.net", denied("user@victim.com@backup.example.net")),
        ("victim.com!user@backup.example.net", denied("victim.com!user@backup.example.net")),
        ('"user@victim.com"@backup.example.net', denied("user@victim.com@backup.example.net")),
    ],
)
def test_inbound_mx_relay_domains(tmp_path: Path, rcpt: str, expected: str) -> None:
    assert rcpt_line(policy(tmp_path, INBOUND_MX), rcpt) == expected


def test_allow_untrusted_routing_accepts_routed_relay_addresses(tmp_path: Path) -> None:
    p = policy(tmp_path, INBOUND_MX + "allow_untrusted_routing = yes\n")
    assert rcpt_line(p, "user@victim.com@backup.example.net") == OK
    assert rcpt_line(p, "user@victim.com") == denied("user@victim.com")


def test_proxy_interfaces_make_literals_local(tmp_path: Path) -> None:
    p = policy(tmp_path, "proxy_interfaces = 203.0.113.25\n")
    assert rcpt_line(p, "user@[203.0.113.25]") == OK
    assert rcpt_line(p, "user@[203.0.113.26]") == denied("user@[203.0.113.26]")


def test_numeric_domain_and_null_domain_knobs(tmp_path: Path) -> None:
    p = policy(tmp_path, "resolve_numeric_domain = yes\nresolve_null_domain = yes\n")
    assert rcpt_line(p, "user@127.0.0.1") == OK
    assert rcpt_line(p, "user@") == OK
    assert rcpt_line(p, "@") == OK


def test_strict_rfc821_envelopes(tmp_path: Path) -> None:
    p = policy(tmp_path, "strict_rfc821_envelopes = yes\n")
    assert rcpt_line(p, "@example.com") == "501 5.1.3 Bad recipient address syntax"
    assert rcpt_line(p, "User <user@example.com>") == "501 5.1.3 Bad recipient address syntax"
    assert rcpt_line(p, "user@example.com") == OK


def test_sasl_needs_smtpd_sasl_auth_enable(tmp_path: Path) -> None:
    assert rcpt_line(policy(tmp_path, ""), "u@victim.com", sasl="alice") == denied("u@victim.com")
    p = policy(tmp_path, "smtpd_sasl_auth_enable = yes\n")
    assert rcpt_line(p, "u@victim.com", sasl="alice") == OK


def test_compatibility_level_0_relays_subdomains_and_appends_mydomain(tmp_path: Path) -> None:
    cf = CLASSIC.replace("compatibility_level = 3.6", "compatibility_level = 0").replace(
        "relay_domains =\n", ""
    )
    p = make_policy(tmp_path, cf, recipient_access="")
    assert rcpt_line(p, "user@sub.example.com") == OK
    assert rcpt_line(p, "user@intranet") == OK
    assert rcpt_line(p, "user@victim.com") == denied("user@victim.com")


def test_relay_order_follows_the_knob(tmp_path: Path) -> None:
    extra = "smtpd_recipient_restrictions = reject\n"
    first = policy(tmp_path, extra + "smtpd_relay_before_recipient_restrictions = yes\n")
    assert rcpt_line(first, "user@victim.com") == denied("user@victim.com")
    later = policy(tmp_path, extra + "smtpd_relay_before_recipient_restrictions = no\n")
    assert rcpt_line(later, "user@victim.com") == (
        "554 5.7.1 <user@victim.com>: Recipient address rejected: Access denied"
    )
    assert rcpt_line(first, "user@victim.com", client=INSIDER) == (
        "554 5.7.1 <user@victim.com>: Recipient address rejected: Access denied"
    )


def test_ok_in_an_earlier_stage_does_not_authorize_relaying(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_client_restrictions = check_client_access cidr:clients\n"
        "smtpd_helo_restrictions = check_helo_access hash:helo\n",
        clients="203.0.113.0/24 OK\n198.51.100.0/24 REJECT\n",
        helo="friendly.example OK\n",
    )
    assert rcpt_line(p, "u@victim.com", client="203.0.113.9") == denied("u@victim.com")
    friendly = rcpt_line(p, "u@victim.com", client="192.0.2.9", helo="friendly.example")
    assert friendly == denied("u@victim.com")
    assert rcpt_line(p, "u@example.com", client="203.0.113.9") == OK
    assert rcpt_line(p, "u@example.com") == (
        "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied"
    )


def test_delay_reject_no_answers_at_each_stage(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_delay_reject = no\nsmtpd_client_restrictions = check_client_access cidr:clients\n"
        "smtpd_sender_restrictions = reject_non_fqdn_sender\n",
        clients="198.51.100.66/32 REJECT\n",
    )
    result = session(p, "u@example.com", client="198.51.100.66")
    lines = [str(ex.reply) for ex in result.exchanges]
    assert lines[0] == "554 5.7.1 <unknown[198.51.100.66]>: Client host rejected: Access denied"
    assert lines[1] == "503 5.7.0 Error: access denied for unknown[198.51.100.66]"
    assert result.mail.line() == "503 5.7.0 Error: access denied for unknown[198.51.100.66]"
    sender_rejected = session(p, "u@example.com", sender="sender")
    assert sender_rejected.mail.line() == (
        "504 5.5.2 <sender>: Sender address rejected: need fully-qualified address"
    )
    assert str(sender_rejected.rcpts[0].reply) == "503 5.5.1 Error: need MAIL command"


def test_delay_reject_no_helo_rejection_with_helo_required(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_delay_reject = no\nsmtpd_helo_required = yes\n"
        "smtpd_helo_restrictions = check_helo_access hash:helo\n",
        helo="localhost REJECT\n",
    )
    result = session(p, "u@example.com", helo="localhost")
    assert str(result.exchanges[1].reply) == (
        "554 5.7.1 <localhost>: Helo command rejected: Access denied"
    )
    assert result.mail.line() == "503 5.5.1 Error: send HELO/EHLO first"


def test_soft_bounce_turns_every_5xx_into_4xx(tmp_path: Path) -> None:
    p = policy(
        tmp_path, "soft_bounce = yes\nsmtpd_recipient_restrictions = reject_non_fqdn_recipient\n"
    )
    assert rcpt_line(p, "u@victim.com") == "454 4.7.1 <u@victim.com>: Relay access denied"
    assert rcpt_line(p, "u@[300.1.2.3]") == "401 4.1.3 Bad recipient address syntax"
    assert rcpt_line(p, "user", client=INSIDER) == (
        "404 4.5.2 <user>: Recipient address rejected: need fully-qualified address"
    )
    assert rcpt_line(p, "u@example.com", sender="a@-bad") == "403 4.5.1 Error: need MAIL command"


def test_defer_if_permit_and_defer_if_reject(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_sender_restrictions = check_sender_access hash:senders\n",
        senders="defer@example.net DEFER_IF_PERMIT Try later\nmaybe@example.net DEFER_IF_REJECT\n",
    )
    assert rcpt_line(p, "u@example.com", sender="defer@example.net") == (
        "450 4.7.1 <defer@example.net>: Sender address rejected: Try later"
    )
    assert rcpt_line(p, "u@victim.com", sender="defer@example.net") == denied("u@victim.com")
    assert rcpt_line(p, "u@example.com", sender="maybe@example.net") == OK


def test_defer_if_reject_turns_a_later_reject_into_450(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_recipient_restrictions = defer_if_reject, reject\n")
    assert rcpt_line(p, "u@example.com") == (
        "450 4.7.0 <u@example.com>: Recipient address rejected: defer_if_reject requested"
    )


def test_warn_if_reject_only_warns(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_recipient_restrictions = warn_if_reject, reject\n")
    result = session(p, "u@example.com")
    assert str(result.rcpts[0].reply) == OK
    decision = result.rcpts[0].decision
    assert decision is not None
    assert any("reject_warning" in step.result for step in decision.steps)


def test_reject_and_defer_texts(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_client_restrictions = defer\n")
    assert rcpt_line(p, "u@example.com") == (
        "450 4.3.2 <unknown[198.51.100.7]>: Client host rejected: Try again later"
    )
    q = policy(tmp_path, "smtpd_client_restrictions = permit_mynetworks, reject\n")
    assert rcpt_line(q, "u@example.com", name="mail.client.example") == (
        "554 5.7.1 <mail.client.example[198.51.100.7]>: Client host rejected: Access denied"
    )


def test_restriction_class(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_restriction_classes = internal_only\ninternal_only = permit_mynetworks, reject\n"
        "smtpd_recipient_restrictions = check_recipient_access hash:rcpt\n",
        rcpt="staff@example.com internal_only\n",
    )
    assert rcpt_line(p, "staff@example.com") == (
        "554 5.7.1 <staff@example.com>: Recipient address rejected: Access denied"
    )
    assert rcpt_line(p, "staff@example.com", client=INSIDER) == OK
    assert rcpt_line(p, "other@example.com") == OK


def test_recipient_validation(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "local_recipient_maps = hash:users\nrelay_domains = backup.example.net\n"
        "relay_recipient_maps = hash:relay_users\nvirtual_mailbox_domains = vmail.example.com\n"
        "virtual_mailbox_maps = hash:vusers\nvirtual_alias_domains = alias.example.com\n"
        "virtual_alias_maps = hash:valias\n",
        users="alice x\n",
        relay_users="bob@backup.example.net x\n",
        vusers="carol@vmail.example.com x\n",
        valias="dave@alias.example.com alice@example.com\n",
    )
    assert rcpt_line(p, "alice@example.com") == OK
    assert rcpt_line(p, "ALICE@EXAMPLE.COM") == OK
    assert rcpt_line(p, "nobody@example.com") == (
        "550 5.1.1 <nobody@example.com>: Recipient address rejected: "
        "User unknown in local recipient table"
    )
    for exempt in (
        "postmaster@example.com",
        "MAILER-DAEMON@example.com",
        "double-bounce@localhost",
    ):
        assert rcpt_line(p, exempt) == OK
    assert rcpt_line(p, "postmaster+x@example.com").startswith("550 5.1.1")
    assert rcpt_line(p, "alice+tag@example.com").startswith("550 5.1.1")
    assert rcpt_line(p, "bob@backup.example.net") == OK
    assert rcpt_line(p, "postmaster@backup.example.net").endswith("in relay recipient table")
    assert rcpt_line(p, "carol@vmail.example.com") == OK
    assert rcpt_line(p, "x@vmail.example.com").endswith("in virtual mailbox table")
    assert rcpt_line(p, "dave@alias.example.com") == OK
    assert rcpt_line(p, "x@alias.example.com").endswith("in virtual alias table")


def test_recipient_delimiter_finds_the_base_user(tmp_path: Path) -> None:
    p = policy(
        tmp_path, "local_recipient_maps = hash:users\nrecipient_delimiter = +\n", users="alice x\n"
    )
    assert rcpt_line(p, "alice+tag@example.com") == OK


def test_sender_login_maps(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_sasl_auth_enable = yes\nsmtpd_sender_login_maps = hash:logins\n"
        "smtpd_sender_restrictions = reject_sender_login_mismatch\n",
        logins="alice@example.com alice\n",
    )
    assert rcpt_line(p, "u@victim.com", sasl="alice", sender="ALICE@example.com") == OK
    assert rcpt_line(p, "u@victim.com", sasl="alice", sender="bob@example.com") == (
        "553 5.7.1 <bob@example.com>: Sender address rejected: not owned by user alice"
    )
    assert rcpt_line(p, "u@example.com", sender="alice@example.com") == (
        "553 5.7.1 <alice@example.com>: Sender address rejected: not logged in"
    )
    assert rcpt_line(p, "u@example.com", sasl="alice", sender="") == OK


def test_reject_unlisted_sender(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "local_recipient_maps = hash:users\nsmtpd_sender_restrictions = reject_unlisted_sender\n",
        users="alice x\n",
    )
    assert rcpt_line(p, "u@example.com", sender="ghost@example.com") == (
        "550 5.1.0 <ghost@example.com>: Sender address rejected: "
        "User unknown in local recipient table"
    )


def test_unauth_pipelining_only_without_ehlo(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_sender_restrictions = reject_unauth_pipelining\n")
    assert rcpt_line(p, "u@example.com", pipelined=True, greeting="EHLO") == OK
    assert rcpt_line(p, "u@example.com", pipelined=True, greeting="HELO") == (
        "503 5.5.0 <sender@example.net>: Sender address rejected: "
        "Improper use of SMTP command pipelining"
    )


@pytest.mark.parametrize(
    ("helo", "expected"),
    [
        ("bad_helo!", "501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name"),
        (
            "localhost",
            "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
        ),
        ("[192.0.2.1]", OK),
        ("[300.1.1.1]", "501 5.5.2 <[300.1.1.1]>: Helo command rejected: invalid ip address"),
        ("mx.example.net.", OK),
        (
            "192.0.2.1",
            "504 5.5.2 <192.0.2.1>: Helo command rejected: need fully-qualified hostname",
        ),
    ],
)
def test_helo_checks(tmp_path: Path, helo: str, expected: str) -> None:
    p = policy(
        tmp_path,
        "smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname\n",
    )
    assert rcpt_line(p, "u@example.com", helo=helo) == expected


@pytest.mark.parametrize(
    ("status", "sender_reply", "rcpt_reply"),
    [
        (DomainStatus.EXISTS, OK, OK),
        (
            DomainStatus.NXDOMAIN,
            "450 4.1.8 <a@gone.example>: Sender address rejected: Domain not found",
            "450 4.1.2 <b@gone.example>: Recipient address rejected: Domain not found",
        ),
        (
            DomainStatus.NULL_MX,
            "550 5.7.27 <a@gone.example>: Sender address rejected: "
            "Domain gone.example does not accept mail (nullMX)",
            "556 5.1.10 <b@gone.example>: Recipient address rejected: "
            "Domain gone.example does not accept mail (nullMX)",
        ),
        (
            DomainStatus.TEMPFAIL,
            "450 4.1.8 <a@gone.example>: Sender address rejected: Domain not found",
            "450 4.1.2 <b@gone.example>: Recipient address rejected: Domain not found",
        ),
    ],
)
def test_unknown_domains_from_dns_facts(
    tmp_path: Path, status: DomainStatus, sender_reply: str, rcpt_reply: str
) -> None:
    p = policy(
        tmp_path,
        "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
        "smtpd_recipient_restrictions = reject_unknown_recipient_domain\n",
    )
    dns = {"gone.example": status}
    assert rcpt_line(p, "u@example.com", sender="a@gone.example", dns=dns) == sender_reply
    assert rcpt_line(p, "b@gone.example", client=INSIDER, dns=dns) == rcpt_reply
    # Local domains are never looked up.
    assert rcpt_line(p, "u@example.com", sender="a@example.com", dns={"example.com": status}) == OK


def test_tempfail_defers_only_what_would_be_accepted(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n")
    dns = {"slow.example": DomainStatus.TEMPFAIL}
    assert rcpt_line(p, "u@victim.com", sender="a@slow.example", dns=dns) == denied("u@victim.com")


def test_bad_mynetworks_mask_is_a_temporary_lookup_failure(tmp_path: Path) -> None:
    p = policy(tmp_path, "mynetworks = 127.0.0.0/8 192.168.1.1/24 [::1]/128\n")
    assert rcpt_line(p, "u@example.com") == "451 4.3.0 <u@example.com>: Temporary lookup failure"
    assert rcpt_line(p, "u@victim.com", client="127.0.0.1") == OK
    assert rcpt_line(p, "u@victim.com", client="::1") == OK
    assert rcpt_line(p, "u@example.com", client="2001:db8::25") == OK


# -- the seed's relay strategies ------------------------------------------------------


def test_strategy_smtp_after_pop(tmp_path: Path) -> None:
    from sim.policy.relay import pop_before_smtp_table

    text = pop_before_smtp_table(
        {"198.51.100.7": 1000.0, "198.51.100.8": 100.0}, now=1300.0, window=600
    )
    p = policy(
        tmp_path,
        "smtpd_relay_restrictions = permit_mynetworks, check_client_access hash:pop, "
        "reject_unauth_destination\n",
        pop=text,
    )
    assert rcpt_line(p, "u@victim.com", client="198.51.100.7") == OK
    assert rcpt_line(p, "u@victim.com", client="198.51.100.8") == denied("u@victim.com")


def test_strategy_tls_client_certificates(tmp_path: Path) -> None:
    fpr = ":".join(["AB", "CD", "EF", "01", "23", "45", "67", "89"] * 4)
    p = policy(
        tmp_path,
        "relay_clientcerts = hash:certs\nsmtpd_relay_restrictions = permit_mynetworks, "
        "permit_tls_clientcerts, reject_unauth_destination\n",
        certs=f"{fpr} partner.example\n",
    )
    assert rcpt_line(p, "u@victim.com", cert=fpr) == OK
    assert rcpt_line(p, "u@victim.com", cert=fpr.replace("AB", "BA")) == denied("u@victim.com")
    assert rcpt_line(p, "u@victim.com") == denied("u@victim.com")


def test_strategy_local_recipients_only(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_relay_restrictions = reject_unauth_destination\n")
    assert rcpt_line(p, "u@example.com") == OK
    assert rcpt_line(p, "u@victim.com", client=INSIDER) == denied("u@victim.com")


def test_strategy_sender_domain_authority(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_relay_restrictions = check_sender_access hash:senders, reject_unauth_destination\n",
        senders="example.com OK\n",
    )
    assert rcpt_line(p, "u@victim.com", sender="staff@example.com") == OK
    assert rcpt_line(p, "u@victim.com", sender="x@evil.example") == denied("u@victim.com")


def test_outsider_constant() -> None:
    assert OUTSIDER == "198.51.100.7"


def test_error_transport_is_refused_at_rcpt(tmp_path: Path) -> None:
    p = policy(tmp_path, "local_transport = error:local delivery disabled\n")
    assert rcpt_line(p, "u@example.com") == (
        "550 5.1.1 <u@example.com>: Recipient address rejected: local delivery disabled"
    )
    q = policy(tmp_path, "default_transport = error:5.7.1 outbound mail disabled\n")
    assert rcpt_line(q, "u@victim.com", client=INSIDER) == (
        "550 5.7.1 <u@victim.com>: Recipient address rejected: outbound mail disabled"
    )
    assert rcpt_line(q, "u@example.com") == OK


# -- found by comparing with a real Postfix 3.7.11 (tools/postfix_diff) ------------------


def test_smtputf8_disabled(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtputf8_enable = no\n")
    assert session(p, "u@example.com", params="SMTPUTF8").mail.line() == (
        "555 5.5.4 Unsupported option: SMTPUTF8"
    )
    utf8 = session(p, "u@example.com", sender="sender@bücher.example", params="SMTPUTF8")
    assert utf8.mail.line() == "501 5.1.7 Bad sender address syntax"
    assert str(utf8.rcpts[0].reply) == "503 5.5.1 Error: need MAIL command"


def test_discard_at_mail_skips_rcpt_checks_in_immediate_mode(tmp_path: Path) -> None:
    p = policy(
        tmp_path,
        "smtpd_delay_reject = no\nsmtpd_sender_restrictions = check_sender_access hash:s\n"
        "smtpd_client_restrictions = check_client_access cidr:c\n"
        "smtpd_recipient_restrictions = check_recipient_access hash:r\n",
        s="discard@example.net DISCARD\n",
        c="198.51.100.77/32 DISCARD\n",
        r="dip@example.com DEFER_IF_PERMIT rcpt tempfail\n",
    )
    assert rcpt_line(p, "user@victim.com", sender="discard@example.net") == OK
    # A DISCARD before any mail transaction is ignored, as Postfix ignores it.
    assert rcpt_line(p, "dip@example.com", client="198.51.100.77") == (
        "450 4.7.1 <dip@example.com>: Recipient address rejected: rcpt tempfail"
    )


def test_utf8_helo_is_an_invalid_name(tmp_path: Path) -> None:
    p = policy(tmp_path, "smtpd_helo_restrictions = reject_invalid_helo_hostname\n")
    assert rcpt_line(p, "u@example.com", helo="bücher.example") == (
        "501 5.5.2 <bücher.example>: Helo command rejected: Invalid name"
    )
