"""Property tests: the relay invariant, parser robustness and reply softening."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.policy.addresses import PathCommand, PathKind, parse_path_command
from sim.policy.relay import RelayPolicy
from sim.policy.replies import Reply
from sim.policy.resolve import AddressClass
from tests.policy.helpers import CLASSIC, RECIPIENT_ACCESS, make_policy, session

RELAY_LIST = (
    "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
    "reject_unauth_destination\n"
)
CONFIGS = {
    "classic": CLASSIC + RELAY_LIST,
    "backup_mx": CLASSIC.replace("relay_domains =", "relay_domains = backup.example.net")
    + RELAY_LIST,
}

_TRUSTED = [
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
]


def _outside_mynetworks(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not any(addr.version == net.version and addr in net for net in _TRUSTED)


OUTSIDERS = st.ip_addresses().filter(_outside_mynetworks).map(str)

TRICKY = [
    "user@victim.com",
    "user@example.com",
    "user%victim.com@example.com",
    "victim.com!user@example.com",
    "user@victim.com@example.com",
    '"user@victim.com"@example.com',
    '"user%victim.com"@example.com',
    '"victim.com!user"@example.com',
    "@example.com:user@victim.com",
    "@victim.com:user@example.com",
    "@a,@b:user@victim.com",
    "user%victim.com",
    "victim.com!user",
    '"user@victim.com"',
    "user@[10.20.30.40]",
    "user@[127.0.0.1]",
    "user@[127.0.0.1",
    "user@[IPv6:::1]",
    "user@127.0.0.1",
    "user@example.com.",
    "user@victim.com.",
    "user@example.com..",
    "user@sub.example.com",
    "user@example.com.victim.com",
    "user%victim.com%example.com@example.com",
    "user%example.com@example.com",
    "example.com!victim.com!user",
    "victim.com!user%example.com",
    "user@victim.com@backup.example.net",
    "user%victim.com@backup.example.net",
    "victim.com!user@backup.example.net",
    '"user@victim.com"@backup.example.net',
    "user@sub.backup.example.net",
    "user%backup.example.net@example.com",
    "backup.example.net!user@example.com",
    "user@backup.example.net.victim.com",
    "<user@victim.com>",
    "<<user@victim.com>>",
    "Name <user@victim.com>",
    "<Name <user@victim.com>>",
    "user@victim.com, other@example.com",
    "user@example.com <user@victim.com>",
    "postmaster",
    "postmaster@victim.com",
    "@",
    "",
    "user@",
    '""@victim.com',
    '"@victim.com"@example.com',
    '"a b"@victim.com',
    "user@localhost",
    "user@mail.example.com",
    "user%victim.com@localhost",
    "user@[IPv6:::1]@example.com",
]
ALPHABET = "abcuservictimexample.com" + "0127" + '@%!."[]:,<> ' + "\\()"
PIECES = [
    "user",
    "victim.com",
    "example.com",
    "backup.example.net",
    "mail.example.com",
    "localhost",
    "127.0.0.1",
    "[127.0.0.1]",
    "IPv6:",
    "::1",
    "sub.",
    "@",
    "%",
    "!",
    ".",
    '"',
    "[",
    "]",
    ":",
    ",",
    "<",
    ">",
    " ",
    "\\",
]
ADDRESSES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=ALPHABET, max_size=40),
    st.lists(st.sampled_from(PIECES), max_size=10).map("".join),
)


def _command(rcpt: str) -> str:
    """The RCPT argument exactly as the session sends it."""
    return f"TO:{rcpt}" if "<" in rcpt else f"TO:<{rcpt}>"


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def closed_policy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> RelayPolicy:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    return make_policy(tmp, CONFIGS[request.param], recipient_access=RECIPIENT_ACCESS)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rcpt=ADDRESSES, client=OUTSIDERS)
def test_never_an_open_relay(closed_policy: RelayPolicy, rcpt: str, client: str) -> None:
    result = session(closed_policy, rcpt, client=client, sasl=None)
    reply = result.rcpts[0].reply
    assert reply is not None
    if reply.code >= 300:
        return
    parsed = parse_path_command(PathKind.RECIPIENT, _command(rcpt))
    assert isinstance(parsed, PathCommand), (rcpt, reply)
    assert parsed.mailbox is not None
    res = closed_policy.resolve(parsed.mailbox.text)
    authorized = res.address_class.is_final or res.address_class is AddressClass.RELAY
    assert authorized and not res.routed, (rcpt, client, reply.line(), res)


@pytest.mark.parametrize("rcpt", TRICKY)
def test_never_an_open_relay_tricky_forms_ipv4_and_ipv6(
    closed_policy: RelayPolicy, rcpt: str
) -> None:
    for client in ("198.51.100.7", "2001:db8::25", "::ffff:198.51.100.7"):
        reply = session(closed_policy, rcpt, client=client).rcpts[0].reply
        assert reply is not None
        if reply.code < 300:
            parsed = parse_path_command(PathKind.RECIPIENT, _command(rcpt))
            assert isinstance(parsed, PathCommand) and parsed.mailbox is not None
            res = closed_policy.resolve(parsed.mailbox.text)
            assert res.address_class.is_final or res.address_class is AddressClass.RELAY
            assert not res.routed


def test_the_invariant_is_not_vacuous(tmp_path: Path) -> None:
    policy = make_policy(tmp_path, CONFIGS["backup_mx"], recipient_access=RECIPIENT_ACCESS)

    def line(rcpt: str) -> str:
        reply = session(policy, rcpt).rcpts[0].reply
        assert reply is not None
        return reply.line()

    assert line("user@example.com") == "250 2.1.5 Ok"
    assert line("user@sub.backup.example.net") == "250 2.1.5 Ok"
    assert line("user%backup.example.net@example.com") == "250 2.1.5 Ok"
    assert line("user@victim.com") == "554 5.7.1 <user@victim.com>: Relay access denied"
    assert line("user@victim.com@backup.example.net") == (
        "554 5.7.1 <user@victim.com@backup.example.net>: Relay access denied"
    )


# -- parse_path_command never raises ------------------------------------------------------

ARGUMENTS = st.one_of(
    st.text(max_size=60),
    st.text(max_size=60).map(lambda t: "TO:" + t),
    st.text(max_size=60).map(lambda t: "FROM:" + t),
    st.text(alphabet=ALPHABET + "=;+SIZEBODYNOTIFYORCPT", max_size=60).map(lambda t: "TO:" + t),
    st.text(alphabet=ALPHABET + "=;+SIZEBODYRETENVID", max_size=60).map(lambda t: "FROM:" + t),
)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(list(PathKind)),
    argument=ARGUMENTS,
    strict=st.booleans(),
    limits=st.booleans(),
    smtputf8=st.booleans(),
    size_limit=st.sampled_from([0, 1000, 10_240_000]),
)
def test_parse_path_command_never_raises(
    kind: PathKind, argument: str, strict: bool, limits: bool, smtputf8: bool, size_limit: int
) -> None:
    result = parse_path_command(
        kind,
        argument,
        strict_rfc821=strict,
        enforce_rfc_limits=limits,
        smtputf8=smtputf8,
        size_limit=size_limit,
    )
    assert isinstance(result, PathCommand | Reply)
    if isinstance(result, Reply):
        assert 500 <= result.code <= 599
    else:
        assert result.kind is kind
        if kind is PathKind.RECIPIENT:
            assert result.mailbox is not None


# -- Reply.softened -----------------------------------------------------------------------


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    code = draw(st.integers(min_value=200, max_value=599))
    first = str(code)[0]
    enhanced = None
    if first in "245" and draw(st.booleans()):
        subject = draw(st.integers(min_value=0, max_value=999))
        detail = draw(st.integers(min_value=0, max_value=999))
        enhanced = f"{first}.{subject}.{detail}"
    return Reply(code, enhanced, draw(st.text(max_size=30)))


@settings(max_examples=500, deadline=None, derandomize=True)
@given(reply=replies())
def test_softened_never_yields_5xx(reply: Reply) -> None:
    soft = reply.softened()
    assert soft.code < 500
    assert soft.text == reply.text
    if soft.enhanced is not None:
        assert soft.enhanced[0] == str(soft.code)[0]
    assert (soft.enhanced is None) == (reply.enhanced is None)
    if reply.code >= 500:
        assert soft.code == reply.code - 100
        assert reply.enhanced is None or soft.enhanced == "4" + reply.enhanced[1:]
    else:
        assert soft == reply
    assert soft.softened() == soft


def test_softened_examples() -> None:
    assert Reply(554, "5.7.1", "x").softened().line() == "454 4.7.1 x"
    assert Reply(501, "5.1.3", "Bad").softened().line() == "401 4.1.3 Bad"
    assert Reply(500, None, "y").softened().line() == "400 y"
    assert Reply(450, "4.7.1", "z").softened().line() == "450 4.7.1 z"
    assert Reply(250, "2.1.5", "Ok").softened().line() == "250 2.1.5 Ok"
