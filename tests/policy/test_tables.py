"""Lookup tables (access(5), cidr_table(5), regexp_table(5)) and access-table actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import PolicyConfigError
from sim.policy.relay import RelayPolicy
from sim.policy.tables import Table, TableCache
from tests.policy.helpers import INSIDER, OUTSIDER, mail_line, make_policy, rcpt_line, session

OK = "250 2.1.5 Ok"


def open_table(tmp: Path, ref: str, **files: str) -> Table:
    for name, text in files.items():
        (tmp / name).write_text(text)
    return TableCache(tmp, "main.cf").open(ref)


# -- hash (indexed) source files --------------------------------------------------------


HASH_SOURCE = """\
# a comment line
Foo@Example.COM   REJECT go
    away
   # an indented comment is still a comment

bar.example\tOK
tabbed\tREJECT\twith tab
first.example REJECT first
first.example REJECT second
"""


def test_hash_source_comments_continuations_and_case(tmp_path: Path) -> None:
    table = open_table(tmp_path, "hash:access", access=HASH_SOURCE)
    assert table.kind == "hash"
    assert not table.is_pattern
    assert table.lookup("foo@example.com") == "REJECT go away"
    assert table.lookup("FOO@EXAMPLE.COM") == "REJECT go away"
    assert table.lookup("bar.example") == "OK"
    # postmap keeps the white space inside a value as written.
    assert table.lookup("tabbed") == "REJECT\twith tab"
    assert table.lookup("# a comment line") is None
    assert table.lookup("away") is None
    assert table.lookup("missing") is None


def test_hash_partial_lookups_are_answered(tmp_path: Path) -> None:
    table = open_table(tmp_path, "hash:access", access=HASH_SOURCE)
    assert table.lookup("bar.example", partial=True) == "OK"


@pytest.mark.parametrize("kind", ["hash", "texthash", "lmdb", "btree", "cdb", "dbm"])
def test_indexed_types_read_the_source_file(tmp_path: Path, kind: str) -> None:
    table = open_table(tmp_path, f"{kind}:access", access="key value\n")
    assert table.lookup("KEY") == "value"


def test_tables_are_opened_once(tmp_path: Path) -> None:
    (tmp_path / "access").write_text("a b\n")
    cache = TableCache(tmp_path)
    assert cache.open("hash:access") is cache.open("hash:access")


# -- cidr -------------------------------------------------------------------------------

CIDR_SOURCE = """\
# first match wins
192.0.2.1/24        REJECT host bits
192.0.2.0/25        REJECT first
192.0.2.0/24        OK second
192.0.2.200         HOLD single
!198.51.100.0/24    DUNNO outside
198.51.100.0/24     REJECT inside
2001:db8::/32       REJECT six
[2001:db9::]/32     OK bracketed
"""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("192.0.2.1", "REJECT first"),
        ("192.0.2.127", "REJECT first"),
        ("192.0.2.128", "OK second"),
        ("192.0.2.200", "OK second"),
        ("[192.0.2.5]", "REJECT first"),
        ("198.51.100.7", "REJECT inside"),
        ("203.0.113.9", "DUNNO outside"),
        ("2001:db8::1", "REJECT six"),
        ("2001:db8:ffff::1", "REJECT six"),
        ("2001:db9::25", "OK bracketed"),
        ("not-an-address", None),
    ],
)
def test_cidr_first_match_and_negation(tmp_path: Path, key: str, value: str | None) -> None:
    table = open_table(tmp_path, "cidr:nets", nets=CIDR_SOURCE)
    assert table.lookup(key) == value


def test_cidr_negation_only_applies_within_its_address_family(tmp_path: Path) -> None:
    # cidr_match_execute() skips every rule of the other family, negated or not.
    table = open_table(
        tmp_path, "cidr:nets", nets="!192.0.2.0/24 REJECT v4\n!2001:db8::/32 OK v6\n"
    )
    assert table.lookup("198.51.100.7") == "REJECT v4"
    assert table.lookup("192.0.2.7") is None
    assert table.lookup("2001:db9::1") == "OK v6"
    assert table.lookup("2001:db8::1") is None


def test_cidr_rule_with_host_bits_is_skipped_with_a_warning(tmp_path: Path) -> None:
    table = open_table(tmp_path, "cidr:nets", nets=CIDR_SOURCE)
    assert len(table.warnings) == 1
    assert "nets:2" in table.warnings[0]
    assert "skipping" in table.warnings[0]
    assert all("host bits" not in value for _, _, value in table.networks)


def test_cidr_answers_only_full_lookups(tmp_path: Path) -> None:
    table = open_table(tmp_path, "cidr:nets", nets=CIDR_SOURCE)
    assert table.is_pattern
    assert table.lookup("192.0.2.1", partial=True) is None


def test_cidr_warning_reaches_the_policy(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_client_restrictions = check_client_access cidr:nets\n"
    policy = make_policy(tmp_path, cf, nets="192.0.2.1/24 REJECT\n")
    assert any("192.0.2.1/24" in w for w in policy.warnings)
    assert rcpt_line(policy, "user@example.com", client="192.0.2.1") == OK


# -- regexp / pcre ------------------------------------------------------------------------

REGEXP_SOURCE = """\
/^spam@/              REJECT spam
/^Exact@/i            REJECT exact case
!/@example\\.com$/     DUNNO not ours
/^(a|b)@example\\.com$/ OK ab
/\\/slash@/            REJECT slash
"""


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spam@example.com", "REJECT spam"),
        ("SPAM@example.com", "REJECT spam"),
        ("Exact@example.com", "REJECT exact case"),
        ("exact@example.com", None),
        ("EXACT@example.com", None),
        ("someone@elsewhere.org", "DUNNO not ours"),
        ("a@example.com", "OK ab"),
        ("B@EXAMPLE.COM", "OK ab"),
        ("c@example.com", None),
    ],
)
def test_regexp_flags_and_negation(tmp_path: Path, kind: str, key: str, value: str | None) -> None:
    table = open_table(tmp_path, f"{kind}:re", re=REGEXP_SOURCE)
    assert table.lookup(key) == value
    assert table.lookup(key, partial=True) is None


def test_regexp_escaped_slash(tmp_path: Path) -> None:
    table = open_table(tmp_path, "regexp:re", re="/\\/slash@/ REJECT slash\n")
    assert table.lookup("a/slash@example.com") == "REJECT slash"


def test_regexp_syntax_error_names_the_file_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError) as info:
        open_table(tmp_path, "regexp:re", re="/ok/ OK\nnot a pattern\n")
    assert "re:2" in str(info.value)
    with pytest.raises(PolicyConfigError) as info:
        TableCache(tmp_path).open("pcre:bad")  # no such file
    (tmp_path / "bad").write_text("/(unclosed/ OK\n")
    with pytest.raises(PolicyConfigError) as info:
        TableCache(tmp_path).open("pcre:bad")
    assert "bad:1" in str(info.value)


# -- static, inline, proxy --------------------------------------------------------------


def test_static_answers_every_key() -> None:
    cache = TableCache(None)
    assert cache.open("static:OK").lookup("anything") == "OK"
    assert cache.open("static:OK").lookup("x", partial=True) == "OK"
    assert cache.open("static:{REJECT go away}").lookup("x") == "REJECT go away"


def test_inline_table() -> None:
    table = TableCache(None).open("inline:{ a=b, { c = d e }, Upper=V }")
    assert table.lookup("a") == "b"
    assert table.lookup("A") == "b"
    assert table.lookup("c") == "d e"
    assert table.lookup("upper") == "V"
    assert table.lookup("d") is None


@pytest.mark.parametrize("ref", ["inline:a=b", "inline:{ novalue }", "inline:{ a = b }"])
def test_bad_inline_table(ref: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        TableCache(None, "main.cf").open(ref, line=5)
    assert str(info.value).startswith("main.cf:5: ")


def test_proxy_wraps_the_inner_table(tmp_path: Path) -> None:
    table = open_table(tmp_path, "proxy:hash:access", access="Key Value\n")
    assert table.ref == "proxy:hash:access"
    assert table.kind == "hash"
    assert table.lookup("key") == "Value"


def test_unix_passwd_table() -> None:
    table = TableCache(None).open("unix:passwd.byname")
    assert table.lookup("root") is not None
    assert table.lookup("alice") is None


# -- errors and paths -------------------------------------------------------------------


def test_missing_table_file_names_main_cf_and_line() -> None:
    with pytest.raises(PolicyConfigError) as info:
        TableCache(Path("/nonexistent-dir"), "conf/main.cf").open("hash:access", line=7)
    assert info.value.source == "conf/main.cf"
    assert info.value.line == 7
    assert str(info.value).startswith("conf/main.cf:7: ")
    assert "access" in str(info.value)


def test_missing_table_in_policy_names_main_cf_line(tmp_path: Path) -> None:
    cf = BASE_CF + "\nsmtpd_recipient_restrictions =\n    check_recipient_access hash:nope\n"
    line = cf.splitlines().index("smtpd_recipient_restrictions =") + 1
    with pytest.raises(PolicyConfigError) as info:
        make_policy(tmp_path, cf)
    assert str(info.value).startswith(f"{tmp_path / 'main.cf'}:{line}: ")
    assert "nope" in str(info.value)


def test_absolute_path_falls_back_to_the_main_cf_folder(tmp_path: Path) -> None:
    cf = BASE_CF + (
        "smtpd_recipient_restrictions = check_recipient_access "
        "hash:/etc/postfix/no-such-dir-relaysim/recipient_access\n"
    )
    policy = make_policy(tmp_path, cf, recipient_access="blocked@example.com REJECT\n")
    assert rcpt_line(policy, "blocked@example.com") == (
        "554 5.7.1 <blocked@example.com>: Recipient address rejected: Access denied"
    )


def test_absolute_path_that_exists_is_used(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "access").write_text("k v\n")
    table = TableCache(tmp_path).open(f"hash:{elsewhere / 'access'}")
    assert table.lookup("k") == "v"


def test_relative_path_is_taken_from_the_main_cf_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "access").write_text("k v\n")
    assert TableCache(tmp_path).open("hash:sub/access").lookup("k") == "v"


@pytest.mark.parametrize("ref", ["ldap:/etc/postfix/ldap.cf", "mysql:x", "FROB:x"])
def test_unknown_table_type(ref: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        TableCache(None, "main.cf").open(ref, line=3)
    assert str(info.value).startswith("main.cf:3: ")
    assert "unsupported table type" in str(info.value)


def test_unknown_table_type_in_policy(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_sender_restrictions = check_sender_access frob:x\n"
    with pytest.raises(PolicyConfigError) as info:
        make_policy(tmp_path, cf)
    assert "frob" in str(info.value)
    assert "main.cf:" in str(info.value)


def test_table_reference_without_type() -> None:
    with pytest.raises(PolicyConfigError):
        TableCache(None).open("access")


# -- access-table actions through the engine -------------------------------------------

BASE_CF = """
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1
mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/8
mydestination = example.com, mail.example.com, localhost
relay_domains =
local_recipient_maps =
smtpd_sasl_auth_enable = yes
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
"""
RCPT_CF = BASE_CF + "smtpd_recipient_restrictions = check_recipient_access hash:rcpt\n"
RR = "<r@example.com>: Recipient address rejected"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("OK", OK),
        ("OK trailing text is ignored", OK),
        ("RELAY", OK),
        ("1234", OK),
        ("REJECT", f"554 5.7.1 {RR}: Access denied"),
        ("reject", f"554 5.7.1 {RR}: Access denied"),
        ("REJECT This mailbox is closed", f"554 5.7.1 {RR}: This mailbox is closed"),
        ("REJECT 5.1.1 No such user", f"554 5.1.1 {RR}: No such user"),
        ("REJECT 4.1.1 wrong class", f"554 5.1.1 {RR}: wrong class"),
        ("DEFER", f"450 4.7.1 {RR}: Access denied"),
        ("DEFER come back later", f"450 4.7.1 {RR}: come back later"),
        ("DEFER_IF_PERMIT", f"450 4.7.1 {RR}: Service unavailable"),
        ("DEFER_IF_PERMIT not yet", f"450 4.7.1 {RR}: not yet"),
        ("DEFER_IF_REJECT", OK),
        ("DUNNO", OK),
        ("DISCARD", OK),
        ("DISCARD thrown away", OK),
        ("HOLD", OK),
        ("WARN something odd", OK),
        ("INFO noted", OK),
        ("PREPEND X-Header: yes", OK),
        ("REDIRECT other@example.com", OK),
        ("550 5.7.1 Go away", f"550 5.7.1 {RR}: Go away"),
        ("451 4.3.2 Try later", f"451 4.3.2 {RR}: Try later"),
        ("553 No such luck", f"553 5.7.1 {RR}: No such luck"),
        ("452 Full", f"452 4.7.1 {RR}: Full"),
        ("550 4.2.2 Mailbox full", f"550 5.2.2 {RR}: Mailbox full"),
        ("450 5.2.2 Mailbox full", f"450 4.2.2 {RR}: Mailbox full"),
        ("550", OK),
        ("650 6.0.0 x", "451 4.3.5 Server configuration error"),
        ("FROBNICATE", "451 4.3.5 Server configuration error"),
        ("hash:other", "451 4.3.5 Server configuration error"),
    ],
)
def test_recipient_access_actions(tmp_path: Path, action: str, expected: str) -> None:
    policy = make_policy(tmp_path, RCPT_CF, rcpt=f"r@example.com {action}\n")
    assert rcpt_line(policy, "r@example.com") == expected


def test_discard_marks_the_decision(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, RCPT_CF, rcpt="r@example.com DISCARD\n")
    result = session(policy, "r@example.com")
    decision = result.rcpts[0].decision
    assert decision is not None
    assert decision.discard


def test_discard_in_the_client_table_accepts_every_recipient(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_client_restrictions = check_client_access hash:clients\n"
    policy = make_policy(tmp_path, cf, clients=f"{OUTSIDER} DISCARD\n")
    result = session(policy, ["a@example.com", "b@example.com"])
    assert [ex.reply.line() for ex in result.rcpts if ex.reply] == [OK, OK]


def test_reject_in_sender_stage_gets_sender_dsn(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_sender_restrictions = check_sender_access hash:senders\n"
    policy = make_policy(tmp_path, cf, senders="s@example.net REJECT 5.1.1 unknown\n")
    assert rcpt_line(policy, "user@example.com", sender="s@example.net") == (
        "554 5.1.7 <s@example.net>: Sender address rejected: unknown"
    )


def test_defer_in_sender_stage(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_sender_restrictions = check_sender_access hash:senders\n"
    policy = make_policy(tmp_path, cf, senders="x@example.net DEFER\n")
    assert rcpt_line(policy, "user@example.com", sender="x@example.net") == (
        "450 4.7.1 <x@example.net>: Sender address rejected: Access denied"
    )
    # smtpd_delay_reject = yes: MAIL FROM itself is accepted.
    assert mail_line(policy, "x@example.net") == "250 2.1.0 Ok"


def test_defer_if_permit_leaves_a_relay_denial_alone(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_sender_restrictions = check_sender_access hash:senders\n"
    policy = make_policy(tmp_path, cf, senders="defer@example.net DEFER_IF_PERMIT later\n")
    assert rcpt_line(policy, "user@example.com", sender="defer@example.net") == (
        "450 4.7.1 <defer@example.net>: Sender address rejected: later"
    )
    assert rcpt_line(policy, "user@victim.com", sender="defer@example.net") == (
        "554 5.7.1 <user@victim.com>: Relay access denied"
    )


def test_defer_if_reject_turns_a_later_reject_into_450(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_recipient_restrictions = check_recipient_access hash:rcpt, reject\n"
    policy = make_policy(tmp_path, cf, rcpt="r@example.com DEFER_IF_REJECT not sure\n")
    assert rcpt_line(policy, "r@example.com") == f"450 4.7.1 {RR}: not sure"
    assert rcpt_line(policy, "s@example.com") == (
        "554 5.7.1 <s@example.com>: Recipient address rejected: Access denied"
    )


def test_dunno_stops_parent_lookups(tmp_path: Path) -> None:
    table = "r@example.com DUNNO\nexample.com REJECT\n"
    policy = make_policy(tmp_path, RCPT_CF, rcpt=table)
    assert rcpt_line(policy, "r@example.com") == OK
    assert rcpt_line(policy, "other@example.com") == (
        "554 5.7.1 <other@example.com>: Recipient address rejected: Access denied"
    )


def test_dunno_stops_shorter_client_prefixes(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_client_restrictions = check_client_access hash:clients\n"
    policy = make_policy(tmp_path, cf, clients="198.51.100.7 DUNNO\n198.51.100 REJECT\n")
    assert rcpt_line(policy, "user@example.com", client="198.51.100.7") == OK
    assert rcpt_line(policy, "user@example.com", client="198.51.100.8") == (
        "554 5.7.1 <unknown[198.51.100.8]>: Client host rejected: Access denied"
    )


def test_421_disconnects(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_client_restrictions = check_client_access hash:clients\n"
    policy = make_policy(tmp_path, cf, clients="198.51.100.88 421 4.7.0 Go away\n")
    result = session(policy, ["a@example.com", "b@example.com"], client="198.51.100.88")
    first, second = result.rcpts
    assert first.reply is not None
    assert first.reply.line() == (
        "421 4.7.0 <unknown[198.51.100.88]>: Client host rejected: Go away"
    )
    assert first.decision is not None and first.decision.disconnect
    assert second.reply is None
    assert all(ex.command != "QUIT" for ex in result.exchanges)


RESTRICTION_CLASS_CF = (
    RCPT_CF
    + "smtpd_restriction_classes = internal_only\ninternal_only = permit_mynetworks, reject\n"
)


@pytest.mark.parametrize("value", ["internal_only", "permit_mynetworks, reject"])
def test_restriction_list_as_table_value(tmp_path: Path, value: str) -> None:
    policy = make_policy(tmp_path, RESTRICTION_CLASS_CF, rcpt=f"r@example.com {value}\n")
    assert rcpt_line(policy, "r@example.com") == f"554 5.7.1 {RR}: Access denied"
    assert rcpt_line(policy, "r@example.com", client=INSIDER) == OK
    assert rcpt_line(policy, "other@example.com") == OK


def test_ok_in_an_earlier_stage_does_not_authorize_relaying(tmp_path: Path) -> None:
    cf = BASE_CF + (
        "smtpd_client_restrictions = check_client_access hash:clients\n"
        "smtpd_helo_restrictions = check_helo_access hash:helos\n"
        "smtpd_sender_restrictions = check_sender_access hash:senders\n"
    )
    policy = make_policy(
        tmp_path,
        cf,
        clients="203.0.113 OK\n",
        helos="friendly.example OK\n",
        senders="vip@partner.example OK\n",
    )
    denied = "554 5.7.1 <user@victim.com>: Relay access denied"
    assert rcpt_line(policy, "user@victim.com", client="203.0.113.9") == denied
    assert rcpt_line(policy, "user@victim.com", helo="friendly.example") == denied
    assert rcpt_line(policy, "user@victim.com", sender="vip@partner.example") == denied


# -- lookup keys ------------------------------------------------------------------------

CLIENT_CF = BASE_CF + "smtpd_client_restrictions = check_client_access hash:clients\n"


@pytest.mark.parametrize(
    ("entry", "client", "name", "expected"),
    [
        (
            "198.51.101 REJECT",
            "198.51.101.9",
            None,
            "554 5.7.1 <unknown[198.51.101.9]>: Client host rejected: Access denied",
        ),
        (
            "198.51 REJECT",
            "198.51.101.9",
            None,
            "554 5.7.1 <unknown[198.51.101.9]>: Client host rejected: Access denied",
        ),
        ("198.51.10 REJECT", "198.51.101.9", None, OK),
        (
            "2001:db8:bad::1 REJECT",
            "2001:db8:bad:0:0:0:0:1",
            None,
            "554 5.7.1 <unknown[2001:db8:bad::1]>: Client host rejected: Access denied",
        ),
        (
            "2001:db8:beef REJECT",
            "2001:db8:beef::7",
            None,
            "554 5.7.1 <unknown[2001:db8:beef::7]>: Client host rejected: Access denied",
        ),
        (
            "spammy.example REJECT",
            "198.51.100.7",
            "host.spammy.example",
            "554 5.7.1 <host.spammy.example[198.51.100.7]>: Client host rejected: Access denied",
        ),
        (
            "host.spammy.example REJECT",
            "198.51.100.7",
            "host.spammy.example",
            "554 5.7.1 <host.spammy.example[198.51.100.7]>: Client host rejected: Access denied",
        ),
        ("notspammy.example REJECT", "198.51.100.7", "host.spammy.example", OK),
        (
            "198.51.100.7 REJECT",
            "::ffff:198.51.100.7",
            None,
            "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied",
        ),
    ],
)
def test_client_lookup_keys(
    tmp_path: Path, entry: str, client: str, name: str | None, expected: str
) -> None:
    policy = make_policy(tmp_path, CLIENT_CF, clients=entry + "\n")
    assert rcpt_line(policy, "user@example.com", client=client, name=name) == expected


def test_client_cidr_table(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_client_restrictions = check_client_access cidr:clients\n"
    policy = make_policy(
        tmp_path, cf, clients="203.0.113.9/32 OK\n203.0.113.0/24 REJECT\n2001:db8::/32 REJECT\n"
    )
    assert rcpt_line(policy, "user@example.com", client="203.0.113.9") == OK
    assert rcpt_line(policy, "user@example.com", client="203.0.113.10") == (
        "554 5.7.1 <unknown[203.0.113.10]>: Client host rejected: Access denied"
    )
    assert rcpt_line(policy, "user@example.com", client="2001:db8::25") == (
        "554 5.7.1 <unknown[2001:db8::25]>: Client host rejected: Access denied"
    )


HELO_CF = BASE_CF + "smtpd_helo_restrictions = check_helo_access hash:helos\n"


@pytest.mark.parametrize(
    ("helo", "expected"),
    [
        ("sub.example.com", "554 5.7.1 <sub.example.com>: Helo command rejected: Access denied"),
        ("a.b.example.com", "554 5.7.1 <a.b.example.com>: Helo command rejected: Access denied"),
        ("example.com", "554 5.7.1 <example.com>: Helo command rejected: Access denied"),
        ("notexample.com", OK),
        ("example.com.victim.com", OK),
    ],
)
def test_helo_parent_domains(tmp_path: Path, helo: str, expected: str) -> None:
    policy = make_policy(tmp_path, HELO_CF, helos="example.com REJECT\n")
    assert rcpt_line(policy, "user@example.com", helo=helo) == expected


SENDER_CF = BASE_CF + "smtpd_sender_restrictions = check_sender_access hash:senders\n"


@pytest.mark.parametrize(
    ("entry", "sender", "expected"),
    [
        (
            "nobody@ REJECT",
            "nobody@localhost",
            "554 5.7.1 <nobody@localhost>: Sender address rejected: Access denied",
        ),
        (
            "nobody@ REJECT",
            "nobody@elsewhere.example",
            "554 5.7.1 <nobody@elsewhere.example>: Sender address rejected: Access denied",
        ),
        ("nobody@ REJECT", "somebody@localhost", OK),
        ("<> REJECT", "", "554 5.7.1 <>: Sender address rejected: Access denied"),
        ("<> REJECT", "x@example.net", OK),
        (
            "example.net REJECT",
            "user@host.example.net",
            "554 5.7.1 <user@host.example.net>: Sender address rejected: Access denied",
        ),
        (
            "Sender@Example.NET REJECT",
            "SENDER@example.net",
            "554 5.7.1 <SENDER@example.net>: Sender address rejected: Access denied",
        ),
        ("notexample.net REJECT", "user@example.net", OK),
    ],
)
def test_sender_lookup_keys(tmp_path: Path, entry: str, sender: str, expected: str) -> None:
    policy = make_policy(tmp_path, SENDER_CF, senders=entry + "\n")
    assert rcpt_line(policy, "user@example.com", sender=sender) == expected


def test_null_access_lookup_key_is_configurable(tmp_path: Path) -> None:
    cf = SENDER_CF + "smtpd_null_access_lookup_key = <NULL>\n"
    policy = make_policy(tmp_path, cf, senders="<null> REJECT\n")
    assert rcpt_line(policy, "user@example.com", sender="") == (
        "554 5.7.1 <>: Sender address rejected: Access denied"
    )


@pytest.mark.parametrize(
    ("delimiter", "rcpt", "expected"),
    [
        ("+", "alice+tag@example.com", "554 5.7.1 <alice+tag@example.com>: "),
        ("+", "alice@example.com", "554 5.7.1 <alice@example.com>: "),
        ("+", "bob+tag@example.com", "250"),
        ("", "alice+tag@example.com", "250"),
        ("-", "alice+tag@example.com", "250"),
        ("-+", "alice+tag@example.com", "554 5.7.1 <alice+tag@example.com>: "),
    ],
)
def test_recipient_delimiter(tmp_path: Path, delimiter: str, rcpt: str, expected: str) -> None:
    cf = RCPT_CF + f"recipient_delimiter = {delimiter}\n"
    policy = make_policy(tmp_path, cf, rcpt="alice@example.com REJECT\n")
    assert rcpt_line(policy, rcpt).startswith(expected)


def test_recipient_key_is_the_resolved_address(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, RCPT_CF, rcpt="user@example.com REJECT\n")
    for rcpt in ("USER@EXAMPLE.COM", "user@example.com.", "@victim.com:user@example.com"):
        assert rcpt_line(policy, rcpt).startswith("554 5.7.1 <"), rcpt


ROUTED_CF = """
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1
mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/8
mydestination = example.com, mail.example.com, localhost
relay_domains = backup.example.net
local_recipient_maps =
smtpd_relay_restrictions =
smtpd_recipient_restrictions = check_recipient_access hash:rcpt,
    permit_mynetworks, reject_unauth_destination
"""


@pytest.mark.parametrize(
    "rcpt",
    [
        "user@victim.com@backup.example.net",
        "user%victim.com@backup.example.net",
        "victim.com!user@backup.example.net",
        '"user@victim.com"@backup.example.net',
    ],
)
def test_access_ok_for_a_routed_address_does_not_let_outsiders_relay(
    tmp_path: Path, rcpt: str
) -> None:
    table = (
        "user@victim.com@backup.example.net OK\n"
        "user%victim.com@backup.example.net OK\n"
        "victim.com!user@backup.example.net OK\n"
        "backup.example.net OK\n"
    )
    policy = make_policy(tmp_path, ROUTED_CF, rcpt=table)
    shown = rcpt.replace('"', "")
    assert rcpt_line(policy, rcpt) == f"554 5.7.1 <{shown}>: Relay access denied"
    assert rcpt_line(policy, rcpt, client=INSIDER) == OK


def test_access_ok_for_an_unrouted_relay_address(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, ROUTED_CF, rcpt="user@victim.com OK\n")
    assert rcpt_line(policy, "user@backup.example.net") == OK
    assert rcpt_line(policy, "user@sub.backup.example.net") == OK
    # An OK for a remote domain in the recipient list does authorize it: that is the
    # pre-2.10 foot-gun the relay list exists to prevent.
    assert rcpt_line(policy, "user@victim.com") == OK


def test_access_ok_in_recipient_list_does_not_bypass_the_relay_list(tmp_path: Path) -> None:
    cf = BASE_CF + "smtpd_recipient_restrictions = check_recipient_access hash:rcpt\n"
    policy = make_policy(tmp_path, cf, rcpt="remote-ok@victim.com OK\n")
    assert rcpt_line(policy, "remote-ok@victim.com") == (
        "554 5.7.1 <remote-ok@victim.com>: Relay access denied"
    )


def test_policy_type(tmp_path: Path) -> None:
    assert isinstance(make_policy(tmp_path, RCPT_CF, rcpt=""), RelayPolicy)


def test_parent_domain_keys_without_smtpd_access_maps(tmp_path: Path) -> None:
    cf = SENDER_CF + "parent_domain_matches_subdomains = relay_domains\n"
    policy = make_policy(tmp_path, cf, senders="example.net REJECT\n.example.org REJECT\n")
    assert rcpt_line(policy, "user@example.com", sender="user@host.example.net") == OK
    assert rcpt_line(policy, "user@example.com", sender="user@example.net").startswith("554")
    assert rcpt_line(policy, "user@example.com", sender="user@host.example.org").startswith("554")
    assert rcpt_line(policy, "user@example.com", sender="user@example.org") == OK
