"""The open-relay probe: Nmap smtp-open-relay's forms, the verdict, and the runner.

The forms live in sim.policy.relay_probe (pure); the runner is sim.smtp.probe, because
sim.policy never imports sim.smtp.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import PolicyConfigError
from sim.policy.maincf import MainCf
from sim.policy.relay import ClientFacts, RelayPolicy
from sim.policy.relay_probe import (
    DEFAULT_SERVER_IP,
    OUTSIDER,
    ProbeForm,
    Verdict,
    default_server,
    judge,
    probe_forms,
)
from sim.policy.replies import Reply
from sim.smtp.probe import probe

ROOT = Path(__file__).resolve().parents[2]
SEED_CF = ROOT / "scenarios" / "relay" / "main.cf"
NORELAY_CF = ROOT / "scenarios" / "relay" / "main-norelay.cf"
SERVER = ("mail.example.com", "127.0.0.1")
VICTIM = "relaytest@example.net"
OK = "250 2.1.5 Ok"

# tests/data/postfix/open_relay/main.cf: Postfix 3.7 starts with it.  The default relay
# list (compatibility_level 3.6) begins with permit_mynetworks, and 0.0.0.0/0 is everybody.
OPEN_CF = """\
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1
mynetworks = 0.0.0.0/0 [::]/0
mydestination = example.com, mail.example.com, localhost
local_recipient_maps =
alias_maps =
"""
ROUTING_OFF = "allow_percent_hack = no\nswap_bangpath = no\nresolve_dequoted_address = no\n"

# Nmap's templates (scripts/smtp-open-relay.nse) with to=relaytest, domain=example.net,
# srvname=mail.example.com, ip=127.0.0.1, and this probe's sender antispam@example.org.
EXPECTED = [
    (1, "", "relaytest@example.net"),
    (2, "antispam@example.org", "relaytest@example.net"),
    (3, "antispam@mail.example.com", "relaytest@example.net"),
    (4, "antispam@[127.0.0.1]", "relaytest@example.net"),
    (5, "antispam@[127.0.0.1]", "relaytest%example.net@[127.0.0.1]"),
    (6, "antispam@[127.0.0.1]", "relaytest%example.net@mail.example.com"),
    (7, "antispam@[127.0.0.1]", '"relaytest@example.net"'),
    (8, "antispam@[127.0.0.1]", '"relaytest%example.net"'),
    (9, "antispam@[127.0.0.1]", "relaytest@example.net@[127.0.0.1]"),
    (10, "antispam@[127.0.0.1]", '"relaytest@example.net"@[127.0.0.1]'),
    (11, "antispam@[127.0.0.1]", "relaytest@example.net@mail.example.com"),
    (12, "antispam@[127.0.0.1]", "@[127.0.0.1]:relaytest@example.net"),
    (13, "antispam@[127.0.0.1]", "@mail.example.com:relaytest@example.net"),
    (14, "antispam@[127.0.0.1]", "example.net!relaytest"),
    (15, "antispam@[127.0.0.1]", "example.net!relaytest@[127.0.0.1]"),
    (16, "antispam@[127.0.0.1]", "example.net!relaytest@mail.example.com"),
    # extended=True: the quoted form at the host name, and the bare percent hack.
    (17, "antispam@[127.0.0.1]", '"relaytest@example.net"@mail.example.com'),
    (18, "antispam@[127.0.0.1]", "relaytest%example.net"),
]


def outsider(address: str = OUTSIDER) -> ClientFacts:
    return ClientFacts(address=address, helo="example.org")


def write(tmp_path: Path, text: str, **tables: str) -> RelayPolicy:
    for name, body in tables.items():
        (tmp_path / name).write_text(body)
    (tmp_path / "main.cf").write_text(text)
    return RelayPolicy.from_main_cf(tmp_path / "main.cf")


# -- the forms (pure) --------------------------------------------------------------------


def test_forms_are_nmaps_sixteen() -> None:
    forms = probe_forms(*SERVER)
    assert [(f.number, f.mail_from, f.rcpt_to) for f in forms] == EXPECTED[:16]
    assert all(f.nmap for f in forms)
    assert len({f.label for f in forms}) == 16
    assert forms[0].mail_command == "MAIL FROM:<>"
    assert forms[9].rcpt_command == 'RCPT TO:<"relaytest@example.net"@[127.0.0.1]>'


def test_extended_adds_two_forms() -> None:
    forms = probe_forms(*SERVER, extended=True)
    assert [(f.number, f.mail_from, f.rcpt_to) for f in forms] == EXPECTED
    assert [f.nmap for f in forms] == [True] * 16 + [False] * 2
    assert len({f.label for f in forms}) == 18


def test_forms_take_victim_and_sender() -> None:
    forms = probe_forms("mx.example.com", "192.0.2.25", "bob@victim.example", "eve@spam.example")
    assert forms[1] == ProbeForm(2, "third-party sender", "eve@spam.example", "bob@victim.example")
    assert forms[2].mail_from == "eve@mx.example.com"
    assert forms[4].rcpt_to == "bob%victim.example@[192.0.2.25]"
    assert forms[15].rcpt_to == "victim.example!bob@mx.example.com"


def test_ipv6_server_gets_an_ipv6_literal() -> None:
    forms = probe_forms("mail.example.com", "2001:DB8::25")
    assert forms[3].mail_from == "antispam@[IPv6:2001:db8::25]"
    assert forms[11].rcpt_to == "@[IPv6:2001:db8::25]:relaytest@example.net"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("mail..example.com", "127.0.0.1"), "server name"),
        (("mail.example.com", "mail.example.com"), "server IP"),
        (("mail.example.com", "300.1.2.3"), "server IP"),
        (("mail.example.com", "127.0.0.1", "relaytest"), "victim"),
        (("mail.example.com", "127.0.0.1", "a%b@example.net"), "victim"),
        (("mail.example.com", "127.0.0.1", VICTIM, "x@[127.0.0.1]"), "probe sender"),
    ],
)
def test_bad_parameters_are_refused(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        probe_forms(*args)


# -- the verdict (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mail", "rcpt", "verdict"),
    [
        (Reply(250, "2.1.0", "Ok"), Reply(250, "2.1.5", "Ok"), Verdict.RELAYED),
        (Reply(250, "2.1.0", "Ok"), Reply(251, "2.1.5", "will forward"), Verdict.RELAYED),
        # 454 (defer_unauth_destination) is a refusal, as Nmap counts it.
        (Reply(250, "2.1.0", "Ok"), Reply(454, "4.7.1", "Relay access denied"), Verdict.REFUSED),
        (Reply(250, "2.1.0", "Ok"), Reply(554, "5.7.1", "Relay access denied"), Verdict.REFUSED),
        # A refused MAIL: Nmap does not even send the RCPT.
        (Reply(553, "5.7.1", "Sender address rejected"), Reply(250, None, "Ok"), Verdict.REFUSED),
        (Reply(250, "2.1.0", "Ok"), None, Verdict.REFUSED),
    ],
)
def test_judge_is_the_scanner_rule(mail: Reply, rcpt: Reply | None, verdict: Verdict) -> None:
    assert judge(mail, rcpt) is verdict


# -- the runner against real configurations ----------------------------------------------


def test_seed_config_relays_nothing() -> None:
    report = probe(RelayPolicy.from_main_cf(SEED_CF), outsider(), *SERVER)
    assert report.relayed_count == 0
    assert report.summary() == "0/16 relayed"
    assert not report.open_relay
    assert report.notes == ()
    for result in report.results:
        assert result.mail_reply.line() == "250 2.1.0 Ok"
        assert result.rcpt_reply is not None and result.rcpt_reply.code == 454
        assert result.decided_by == "defer_unauth_destination"
        # With Postfix's defaults every form resolves to the victim itself.
        assert result.resolved == VICTIM
    replies = {r.form.number: r.rcpt_reply.line() for r in report.results if r.rcpt_reply}
    # Postfix shows the address as typed, with quotes and a source route removed.
    assert replies[5] == "454 4.7.1 <relaytest%example.net@[127.0.0.1]>: Relay access denied"
    assert replies[10] == "454 4.7.1 <relaytest@example.net@[127.0.0.1]>: Relay access denied"
    assert replies[12] == "454 4.7.1 <relaytest@example.net>: Relay access denied"


def test_norelay_config_refuses_with_554() -> None:
    report = probe(RelayPolicy.from_main_cf(NORELAY_CF), outsider(), *SERVER)
    assert report.relayed_count == 0
    first = report.results[0]
    assert first.rcpt_reply is not None
    assert first.rcpt_reply.line() == "554 5.7.1 <relaytest@example.net>: Relay access denied"
    assert first.decided_by == "reject_unauth_destination"


def test_open_mynetworks_relays_every_form(tmp_path: Path) -> None:
    """18/18 with extended (16/16 for Nmap's).  permit_mynetworks decides before anything
    looks at the address, so the percent hack, bang paths, quotes and source routes
    change nothing here; and with Postfix's default rewrites every form resolves to
    relaytest@example.net, so each 250 really sends the mail on (none stays here)."""
    report = probe(write(tmp_path, OPEN_CF), outsider(), *SERVER, extended=True)
    assert report.relayed_count == 18
    assert report.summary() == "18/18 relayed (Nmap's: 16/16)"
    assert all(r.rcpt_reply is not None and r.rcpt_reply.line() == OK for r in report.results)
    assert all(r.resolved == VICTIM and not r.stays_here for r in report.results)
    assert report.open_relay and not report.client_trusted
    assert "mynetworks contains 203.0.113.99" in report.notes[0]


def test_relay_restrictions_permit_is_refused_like_postfix(tmp_path: Path) -> None:
    """``smtpd_relay_restrictions = permit`` with an empty recipient list is the most open
    configuration one can write, and Postfix 3.7 refuses to start with it
    (tests/data/postfix/open_relay_permit_only): there is no server to probe."""
    text = OPEN_CF.replace("0.0.0.0/0 [::]/0", "127.0.0.0/8") + (
        "smtpd_relay_restrictions = permit\nsmtpd_recipient_restrictions =\n"
    )
    with pytest.raises(PolicyConfigError, match="Postfix refuses to run this policy"):
        write(tmp_path, text)


def test_open_relay_with_rewrites_off_counts_what_a_scanner_counts(tmp_path: Path) -> None:
    """Without the percent hack, bang paths and dequoting, 11 forms (9 of Nmap's)
    resolve to a local mailbox with a %, ! or @ left in it (which would bounce here).
    Scanners count the 250 as relayed, and so does the report; stays_here tells them
    apart."""
    report = probe(write(tmp_path, OPEN_CF + ROUTING_OFF), outsider(), *SERVER, extended=True)
    assert report.relayed_count == 18
    here = [r.form.number for r in report.results if r.stays_here]
    assert here == [5, 6, 8, 9, 10, 11, 14, 15, 16, 17, 18]
    by_number = {r.form.number: r for r in report.results}
    assert by_number[5].resolved == "relaytest%example.net@[127.0.0.1]"
    assert by_number[14].resolved == "example.net!relaytest@mail.example.com"
    # Quotes are removed by the parser whatever resolve_dequoted_address says.
    assert by_number[7].resolved == VICTIM and not by_number[7].stays_here


def test_closed_config_with_rewrites_off_still_refuses_all(tmp_path: Path) -> None:
    """The local parts left with %, ! or @ are *routed*: never an authorized destination."""
    text = SEED_CF.read_text() + ROUTING_OFF
    (tmp_path / "recipient_access").write_text("blocked@example.com REJECT\n")
    report = probe(write(tmp_path, text), outsider(), *SERVER, extended=True)
    assert report.relayed_count == 0
    assert {r.rcpt_reply.code for r in report.results if r.rcpt_reply} == {454}


def test_sender_based_relaying_falls_to_form_3(tmp_path: Path) -> None:
    """docs/relay.md strategy 6: relay when the sender claims our domain.  Nmap's form 3
    (sender at the server's own host name) walks through it: 1/16."""
    text = OPEN_CF.replace("0.0.0.0/0 [::]/0", "127.0.0.0/8") + (
        "smtpd_relay_restrictions = permit_mynetworks,\n"
        "    check_sender_access hash:local_senders, reject_unauth_destination\n"
    )
    policy = write(tmp_path, text, local_senders="mail.example.com OK\nexample.com OK\n")
    report = probe(policy, outsider(), *SERVER)
    assert [r.form.number for r in report.results if r.relayed] == [3]
    assert report.summary() == "1/16 relayed"
    assert report.open_relay
    refused = report.results[0].rcpt_reply
    assert refused is not None
    assert refused.line() == "554 5.7.1 <relaytest@example.net>: Relay access denied"


def test_client_inside_mynetworks_is_not_a_finding() -> None:
    """The seed trusts 10.0.0.0/8: from there every form is accepted, on purpose.  A
    relay probe is only meaningful from outside."""
    report = probe(RelayPolicy.from_main_cf(SEED_CF), outsider("10.1.2.3"), *SERVER)
    assert report.relayed_count == 16
    assert report.client_trusted and not report.open_relay
    assert report.summary().endswith("authorized for this client, not an open relay")
    assert "client 10.1.2.3 is in mynetworks" in report.notes[0]


def test_victim_the_server_serves_is_refused() -> None:
    policy = RelayPolicy.from_main_cf(SEED_CF)
    with pytest.raises(ValueError, match="destination of this server"):
        probe(policy, outsider(), *SERVER, victim="someone@example.com")


def test_mail_refusal_is_reported_as_the_reply(tmp_path: Path) -> None:
    text = OPEN_CF + "smtpd_delay_reject = no\nsmtpd_sender_restrictions = reject\n"
    report = probe(write(tmp_path, text), outsider(), *SERVER)
    assert report.relayed_count == 0
    first = report.results[0]
    assert first.reply is first.mail_reply
    assert first.mail_reply.code == 554
    assert first.decided_by == "reject"


def test_server_defaults_come_from_main_cf() -> None:
    assert default_server(MainCf.read(SEED_CF)) == SERVER
    cfg = MainCf.parse("myhostname = mx.example.com\nproxy_interfaces = 198.51.100.25\n")
    assert default_server(cfg) == ("mx.example.com", "198.51.100.25")
    assert default_server(MainCf.parse("myhostname = mx.example.com\n")) == (
        "mx.example.com",
        DEFAULT_SERVER_IP,
    )


def test_foreign_server_address_gets_a_note() -> None:
    report = probe(RelayPolicy.from_main_cf(SEED_CF), outsider(), "mail.example.com", "192.0.2.25")
    assert report.relayed_count == 0
    assert any("192.0.2.25 is not in inet_interfaces" in note for note in report.notes)
