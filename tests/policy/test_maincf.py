"""main.cf reading (postconf(5)) and what RelayPolicy refuses at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import PolicyConfigError
from sim.policy.maincf import MainCf, compat_at_least, split_list
from sim.policy.relay import RelayPolicy
from tests.policy.helpers import CLASSIC, INSIDER, OUTSIDER, make_policy, rcpt_line

OK = "250 2.1.5 Ok"


# -- syntax -----------------------------------------------------------------------------


def test_continuation_lines_are_joined() -> None:
    cfg = MainCf.parse("a = one,\n    two\n\tthree\nb = x\n")
    assert cfg.get("a") == "one, two three"
    assert cfg.get("b") == "x"
    assert cfg.items("a") == ["one", "two", "three"]


def test_comments_and_blank_lines_inside_a_continued_value() -> None:
    text = "a = one,\n# a comment\n\n    two,\n    # indented comment\n    three\nb = y\n"
    cfg = MainCf.parse(text)
    assert cfg.get("a") == "one, two, three"
    assert cfg.get("b") == "y"


def test_lines_are_recorded_per_parameter() -> None:
    cfg = MainCf.parse("# header\n\na = 1\nb =\n  2\n", source="x/main.cf")
    assert cfg.where("a") == ("x/main.cf", 3)
    assert cfg.where("b") == ("x/main.cf", 4)
    assert cfg.where("myhostname") == ("x/main.cf", None)


def test_later_setting_wins() -> None:
    cfg = MainCf.parse("a = 1\na = 2\n")
    assert cfg.get("a") == "2"
    assert cfg.where("a")[1] == 2


def test_empty_value() -> None:
    cfg = MainCf.parse("relay_domains =\ncompatibility_level = 0\n")
    assert cfg.is_set("relay_domains")
    assert cfg.get("relay_domains") == ""


def test_white_space_around_names_and_values() -> None:
    cfg = MainCf.parse("myhostname=mail.example.com   \nmydomain   =    example.org\n")
    assert cfg.myhostname == "mail.example.com"
    assert cfg.mydomain == "example.org"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a = 1\nthis is not a parameter\n", 2),
        ("a = 1\n\n# c\nbad-name = x\n", 4),
        ("   leading = continuation\n", 1),
        ("# only a comment\n  continued\n", 2),
        ("= value\n", 1),
    ],
)
def test_bad_line_names_file_and_line(text: str, line: int) -> None:
    with pytest.raises(PolicyConfigError) as info:
        MainCf.parse(text, source="conf/main.cf")
    assert info.value.source == "conf/main.cf"
    assert info.value.line == line
    assert str(info.value).startswith(f"conf/main.cf:{line}: ")


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError) as info:
        MainCf.read(tmp_path / "nope" / "main.cf")
    assert "main.cf" in str(info.value)
    assert "cannot read main.cf" in str(info.value)


def test_read_sets_source_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "main.cf"
    path.write_text("myhostname = mx.example.org\n")
    cfg = MainCf.read(path)
    assert cfg.source == str(path)
    assert cfg.directory == tmp_path
    assert cfg.myhostname == "mx.example.org"


# -- expansion --------------------------------------------------------------------------


def test_dollar_expansion_forms() -> None:
    cfg = MainCf.parse("x = base\ny = $x-${x}-$(x)\nz = [$y]\n")
    assert cfg.get("y") == "base-base-base"
    assert cfg.get("z") == "[base-base-base]"
    assert cfg.raw("y") == "$x-${x}-$(x)"


def test_expansion_is_lazy() -> None:
    cfg = MainCf.parse("y = $x\nx = later\n")
    assert cfg.get("y") == "later"


def test_expansion_of_defaults() -> None:
    cfg = MainCf.parse("myhostname = mail.example.com\n")
    assert cfg.get("myorigin") == "mail.example.com"
    assert cfg.get("mydestination") == "mail.example.com, localhost.example.com, localhost"


def test_undefined_parameter_expands_to_nothing() -> None:
    assert MainCf.parse("y = <$no_such_parameter>\n").get("y") == "<>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${x?yes}", "yes"),
        ("${empty?yes}", ""),
        ("${unset?yes}", ""),
        ("${x:no}", ""),
        ("${empty:fallback}", "fallback"),
        ("${unset:fallback}", "fallback"),
        ("${x?{a b}}", "a b"),
        ("${x?$x}", "base"),
        ("${empty:$x}", "base"),
        ("${x?yes}${empty:no}", "yesno"),
    ],
)
def test_conditional_expansion(value: str, expected: str) -> None:
    cfg = MainCf.parse(f"x = base\nempty =\ny = {value}\n")
    assert cfg.get("y") == expected


def test_recursive_expansion_is_an_error_not_a_crash() -> None:
    cfg = MainCf.parse("a = $b\nb = $a\n")
    with pytest.raises(PolicyConfigError):
        cfg.get("a")


@pytest.mark.parametrize(
    ("hostname", "domain"),
    [
        ("mail.example.com", "example.com"),
        ("a.b.c.example.org", "b.c.example.org"),
        ("localhost.localdomain", "localdomain"),
        ("mailhost", "localdomain"),
        # postconf(5): "$myhostname minus the first component" (Postfix >= 2.3).
        ("example.com", "com"),
    ],
)
def test_mydomain_is_derived_from_myhostname(hostname: str, domain: str) -> None:
    assert MainCf.parse(f"myhostname = {hostname}\n").mydomain == domain


def test_mydomain_default_without_myhostname() -> None:
    cfg = MainCf.parse("")
    assert cfg.myhostname == "localhost.localdomain"
    assert cfg.mydomain == "localdomain"


def test_explicit_mydomain_wins() -> None:
    assert MainCf.parse("myhostname = a.b.c\nmydomain = z.example\n").mydomain == "z.example"


def test_split_list_keeps_brace_groups() -> None:
    assert split_list("a, b\tc\n d") == ["a", "b", "c", "d"]
    assert split_list("inline:{ a=b, c=d }, x") == ["inline:{ a=b, c=d }", "x"]
    assert split_list(" ,, ") == []


# -- compatibility_level ------------------------------------------------------------------

DEFAULT_RELAY_LIST = "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"


@pytest.mark.parametrize(
    ("level", "name", "expected"),
    [
        ("0", "smtpd_relay_restrictions", ""),
        ("1", "smtpd_relay_restrictions", DEFAULT_RELAY_LIST),
        ("2", "smtpd_relay_restrictions", DEFAULT_RELAY_LIST),
        ("3.6", "smtpd_relay_restrictions", DEFAULT_RELAY_LIST),
        ("0", "relay_domains", "mail.example.com, localhost.example.com, localhost"),
        ("1", "relay_domains", "mail.example.com, localhost.example.com, localhost"),
        ("2", "relay_domains", ""),
        ("3.6", "relay_domains", ""),
        ("0", "mynetworks_style", "subnet"),
        ("2", "mynetworks_style", "host"),
        ("3.6", "mynetworks_style", "host"),
        ("0", "append_dot_mydomain", "yes"),
        ("1", "append_dot_mydomain", "no"),
        ("3.6", "append_dot_mydomain", "no"),
        ("0", "smtpd_relay_before_recipient_restrictions", "no"),
        ("2", "smtpd_relay_before_recipient_restrictions", "no"),
        ("3.5", "smtpd_relay_before_recipient_restrictions", "no"),
        ("3.6", "smtpd_relay_before_recipient_restrictions", "yes"),
        ("3.10", "smtpd_relay_before_recipient_restrictions", "yes"),
    ],
)
def test_compatibility_level_defaults(level: str, name: str, expected: str) -> None:
    cfg = MainCf.parse(f"compatibility_level = {level}\nmyhostname = mail.example.com\n")
    assert cfg.get(name) == expected


def test_compatibility_level_defaults_to_0() -> None:
    cfg = MainCf.parse("myhostname = mail.example.com\n")
    assert cfg.compat_level == "0"
    assert cfg.get("smtpd_relay_restrictions") == ""
    assert cfg.flag("append_dot_mydomain") is True


def test_explicit_value_overrides_compatibility_default() -> None:
    cfg = MainCf.parse("compatibility_level = 0\nrelay_domains = backup.example.net\n")
    assert cfg.get("relay_domains") == "backup.example.net"


@pytest.mark.parametrize(
    ("level", "wanted", "expected"),
    [
        ("3.6", "3.6", True),
        ("3.10", "3.6", True),
        ("3.5", "3.6", False),
        ("2", "3.6", False),
        ("2", "2", True),
        ("0", "1", False),
        ("1", "1", True),
        ("garbage", "1", False),
    ],
)
def test_compat_at_least(level: str, wanted: str, expected: bool) -> None:
    assert compat_at_least(level, wanted) is expected


# -- typed values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("YES", True), ("true", True), ("no", False), ("", False)],
)
def test_flag_values(value: str, expected: bool) -> None:
    assert MainCf.parse(f"soft_bounce = {value}\n").flag("soft_bounce") is expected


def test_bad_yes_no_value_names_file_and_line() -> None:
    cfg = MainCf.parse("a = 1\nsoft_bounce = maybe\n", source="etc/main.cf")
    with pytest.raises(PolicyConfigError) as info:
        cfg.flag("soft_bounce")
    assert str(info.value).startswith("etc/main.cf:2: ")
    assert "soft_bounce" in str(info.value)
    assert "maybe" in str(info.value)


def test_bad_yes_no_value_is_refused_by_the_policy() -> None:
    text = CLASSIC.replace("hash:recipient_access", "static:DUNNO") + "smtpd_delay_reject = maybe\n"
    line = text.splitlines().index("smtpd_delay_reject = maybe") + 1
    with pytest.raises(PolicyConfigError) as info:
        RelayPolicy.from_text(text)
    assert str(info.value).startswith(f"main.cf:{line}: smtpd_delay_reject")


def test_bad_number_is_refused_by_the_policy() -> None:
    text = "compatibility_level = 3.6\nrelay_domains_reject_code = five\n"
    with pytest.raises(PolicyConfigError) as info:
        RelayPolicy.from_text(text)
    assert str(info.value).startswith("main.cf:2: relay_domains_reject_code")


# -- RelayPolicy start-up checks --------------------------------------------------------


def test_unknown_restriction_names_file_and_line_of_its_parameter(tmp_path: Path) -> None:
    text = (
        "compatibility_level = 3.6\n"
        "mydestination = example.com\n"
        "\n"
        "smtpd_recipient_restrictions = permit_mynetworks,\n"
        "    # a comment\n"
        "    reject_unauth_destinaton\n"
    )
    with pytest.raises(PolicyConfigError) as info:
        RelayPolicy.from_text(text)
    message = str(info.value)
    assert message.startswith("main.cf:4: ")
    assert "reject_unauth_destinaton" in message
    assert "smtpd_recipient_restrictions" in message
    (tmp_path / "main.cf").write_text(text)
    with pytest.raises(PolicyConfigError) as info:
        RelayPolicy.from_main_cf(tmp_path / "main.cf")
    assert str(info.value).startswith(f"{tmp_path / 'main.cf'}:4: ")


def test_restriction_that_needs_an_argument() -> None:
    text = "compatibility_level = 3.6\nsmtpd_sender_restrictions = check_sender_access\n"
    with pytest.raises(PolicyConfigError) as info:
        RelayPolicy.from_text(text)
    assert str(info.value).startswith("main.cf:2: ")
    assert "check_sender_access" in str(info.value)


def test_restriction_names_are_case_insensitive(tmp_path: Path) -> None:
    cf = CLASSIC.replace("reject_unauth_destination", "REJECT_UNAUTH_DESTINATION")
    policy = make_policy(tmp_path, cf + "smtpd_relay_restrictions =\n", recipient_access="")
    assert (
        rcpt_line(policy, "user@victim.com") == "554 5.7.1 <user@victim.com>: Relay access denied"
    )


def test_permit_before_reject_unauth_destination_is_refused() -> None:
    text = (
        "compatibility_level = 3.6\n"
        "smtpd_relay_restrictions = permit, reject_unauth_destination\n"
        "smtpd_recipient_restrictions =\n"
    )
    with pytest.raises(PolicyConfigError) as info:
        RelayPolicy.from_text(text)
    assert "reject_unauth_destination" in str(info.value)
    assert str(info.value).startswith("main.cf:")


def test_compatibility_level_0_without_restrictions_is_refused() -> None:
    with pytest.raises(PolicyConfigError):
        RelayPolicy.from_text("myhostname = mail.example.com\nmydestination = example.com\n")


def test_only_permits_everywhere_is_refused() -> None:
    text = (
        "compatibility_level = 3.6\n"
        "smtpd_relay_restrictions = permit_mynetworks\n"
        "smtpd_recipient_restrictions = permit_sasl_authenticated, permit\n"
    )
    with pytest.raises(PolicyConfigError):
        RelayPolicy.from_text(text)


@pytest.mark.parametrize(
    "restrictions",
    [
        "reject",
        "defer",
        "defer_if_permit",
        "defer_unauth_destination",
        "permit_mynetworks, reject_unauth_destination",
        "check_client_access static:OK, reject_unauth_destination",
        "warn_if_reject reject_non_fqdn_recipient, reject_unauth_destination",
    ],
)
def test_a_working_instance_is_enough(restrictions: str) -> None:
    text = (
        "compatibility_level = 3.6\n"
        f"smtpd_relay_restrictions = {restrictions}\n"
        "smtpd_recipient_restrictions =\n"
    )
    assert isinstance(RelayPolicy.from_text(text), RelayPolicy)


def test_restriction_class_with_a_required_restriction_counts() -> None:
    text = (
        "compatibility_level = 3.6\n"
        "smtpd_restriction_classes = relay_check\n"
        "relay_check = permit_mynetworks, reject_unauth_destination\n"
        "smtpd_relay_restrictions = relay_check\n"
    )
    assert isinstance(RelayPolicy.from_text(text), RelayPolicy)


def test_static_ok_client_check_is_an_open_relay_postfix_accepts(tmp_path: Path) -> None:
    cf = (
        "compatibility_level = 3.6\n"
        "myhostname = mail.example.com\n"
        "inet_interfaces = 127.0.0.1\n"
        "mynetworks = 127.0.0.0/8\n"
        "mydestination = example.com\n"
        "local_recipient_maps =\n"
        "smtpd_relay_restrictions = check_client_access static:OK, reject_unauth_destination\n"
    )
    policy = make_policy(tmp_path, cf)
    assert rcpt_line(policy, "user@victim.com") == OK


# -- mynetworks -------------------------------------------------------------------------


def _with_mynetworks(value: str) -> str:
    return CLASSIC.replace("mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/8", f"mynetworks = {value}")


def test_mynetworks_with_host_bits_breaks_ipv4_lookups(tmp_path: Path) -> None:
    cf = _with_mynetworks("127.0.0.0/8 192.168.1.1/24 [::1]/128 10.0.0.0/8")
    policy = make_policy(tmp_path, cf, recipient_access="")
    failure = "451 4.3.0 <{}>: Temporary lookup failure"
    assert rcpt_line(policy, "user@example.com") == failure.format("user@example.com")
    assert rcpt_line(policy, "user@victim.com") == failure.format("user@victim.com")
    assert rcpt_line(policy, "user@victim.com", sasl="alice") == failure.format("user@victim.com")
    # Entries in the list after the broken one are never reached.
    assert rcpt_line(policy, "user@victim.com", client=INSIDER) == failure.format("user@victim.com")
    # Entries before it still match.
    assert rcpt_line(policy, "user@victim.com", client="127.0.0.1") == OK
    assert any("192.168.1.1/24" in w for w in policy.warnings)


def test_mynetworks_with_host_bits_is_skipped_for_ipv6_clients(tmp_path: Path) -> None:
    cf = _with_mynetworks("127.0.0.0/8 192.168.1.1/24 [::1]/128")
    policy = make_policy(tmp_path, cf, recipient_access="")
    assert rcpt_line(policy, "user@example.com", client="2001:db8::25") == OK
    assert rcpt_line(policy, "user@victim.com", client="2001:db8::25") == (
        "454 4.7.1 <user@victim.com>: Relay access denied"
    )
    assert rcpt_line(policy, "user@victim.com", client="::1") == OK


def test_mynetworks_negation_excludes(tmp_path: Path) -> None:
    cf = _with_mynetworks("127.0.0.0/8 !10.9.0.0/16 10.0.0.0/8")
    policy = make_policy(tmp_path, cf, recipient_access="")
    assert rcpt_line(policy, "user@victim.com", client="10.9.1.1") == (
        "454 4.7.1 <user@victim.com>: Relay access denied"
    )
    assert rcpt_line(policy, "user@victim.com", client="10.1.2.3") == OK
    assert rcpt_line(policy, "user@victim.com", client="10.10.0.1") == OK


def test_mynetworks_negation_after_the_match_is_too_late(tmp_path: Path) -> None:
    cf = _with_mynetworks("127.0.0.0/8 10.0.0.0/8 !10.9.0.0/16")
    policy = make_policy(tmp_path, cf, recipient_access="")
    assert rcpt_line(policy, "user@victim.com", client="10.9.1.1") == OK


def test_mynetworks_table_value_is_ignored(tmp_path: Path) -> None:
    cf = _with_mynetworks("127.0.0.0/8 cidr:nets")
    policy = make_policy(tmp_path, cf, recipient_access="", nets="172.16.6.0/24 REJECT\n")
    assert rcpt_line(policy, "user@victim.com", client="172.16.6.9") == OK
    assert rcpt_line(policy, "user@victim.com", client="172.16.7.9") == (
        "454 4.7.1 <user@victim.com>: Relay access denied"
    )


STYLE_CF = """
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1, 192.0.2.10
mydestination = example.com
local_recipient_maps =
"""
DENIED = "454 4.7.1 <user@victim.com>: Relay access denied"


@pytest.mark.parametrize(
    ("style", "client", "expected"),
    [
        ("host", "127.0.0.1", OK),
        ("host", "192.0.2.10", OK),
        ("host", "127.0.0.2", DENIED),
        ("host", "192.0.2.11", DENIED),
        ("host", OUTSIDER, DENIED),
        ("subnet", "127.0.0.1", OK),
        ("subnet", "127.0.0.2", OK),
        ("subnet", "192.0.2.10", OK),
        ("subnet", OUTSIDER, DENIED),
    ],
)
def test_mynetworks_style_when_mynetworks_is_unset(
    tmp_path: Path, style: str, client: str, expected: str
) -> None:
    policy = make_policy(tmp_path, STYLE_CF + f"mynetworks_style = {style}\n")
    assert rcpt_line(policy, "user@victim.com", client=client) == expected


def test_mynetworks_style_default_is_host_at_level_2(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, STYLE_CF)
    assert rcpt_line(policy, "user@victim.com", client="127.0.0.1") == OK
    assert rcpt_line(policy, "user@victim.com", client="127.0.0.2") == DENIED


def test_explicit_mynetworks_overrides_the_style(tmp_path: Path) -> None:
    policy = make_policy(
        tmp_path, STYLE_CF + "mynetworks_style = subnet\nmynetworks = 198.51.100.0/24\n"
    )
    assert rcpt_line(policy, "user@victim.com", client=OUTSIDER) == OK
    assert rcpt_line(policy, "user@victim.com", client="127.0.0.2") == DENIED


# -- compatibility_level 0 as a whole policy ---------------------------------------------


def test_compatibility_level_0_relays_subdomains_of_mydestination(tmp_path: Path) -> None:
    cf = (
        "myhostname = mail.example.com\n"
        "inet_interfaces = 127.0.0.1\n"
        "mynetworks = 127.0.0.0/8\n"
        "mydestination = example.com, mail.example.com, localhost\n"
        "local_recipient_maps =\n"
        "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n"
    )
    policy = make_policy(tmp_path, cf)
    assert rcpt_line(policy, "user@sub.example.com") == OK
    assert rcpt_line(policy, "user@intranet") == OK
    assert rcpt_line(policy, "user@victim.com") == (
        "554 5.7.1 <user@victim.com>: Relay access denied"
    )
