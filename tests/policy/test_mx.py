"""MX resolution (RFC 5321 §5.1, RFC 7505) and the zone-file lookups behind it."""

from __future__ import annotations

import ast
import ipaddress
import itertools
import random
from collections import Counter
from collections.abc import MutableSequence
from pathlib import Path
from typing import Any

import dns.name
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.policy.mx
import sim.policy.zones
from sim.errors import InputError
from sim.policy.mx import (
    Action,
    AnswerKind,
    DnsAnswer,
    MXRecord,
    MXResult,
    MXTarget,
    Outcome,
    Query,
    SkipReason,
    dns_tempfail_reply,
    loops_back_reply,
    mx_resolution,
    no_primary_relay_reply,
    no_usable_mx_reply,
    null_mx_reply,
    nxdomain_reply,
    order_by_preference,
    resolve_mx,
)
from sim.policy.replies import Reply
from sim.policy.zones import ZoneSet, origin_from_filename, parse_zone

EXAMPLE_COM = """\
$ORIGIN example.com.
$TTL 300
@     MX 10 mx1
@     MX 10 mx2
@     MX 20 backup.example.net.
@     A  192.0.2.1
mx1   A  192.0.2.10
mx1   AAAA 2001:db8::10
mx2   A  192.0.2.11
"""
EXAMPLE_NET = """\
$TTL 300
backup A 198.51.100.20
"""


def zones(*texts: str, servfail: tuple[str, ...] = (), timeout: tuple[str, ...] = ()) -> ZoneSet:
    """Zones from text; each text needs a $ORIGIN except the last, which is example.net."""
    named = [(f"z{n}.zone", text) for n, text in enumerate(texts[:-1])]
    named.append(("example.net.zone", texts[-1]) if texts else ("example.net.zone", ""))
    return ZoneSet.from_texts(named, servfail=servfail, timeout=timeout)


def resolve(domain: str, zs: ZoneSet, seed: int = 0, **kw: Any) -> MXResult:
    return resolve_mx(domain, zs.lookup, rng=random.Random(seed), **kw)


def hosts(result: MXResult) -> list[tuple[int, str]]:
    return [(t.preference, t.host) for t in result.targets]


def reasons(result: MXResult) -> dict[str, SkipReason]:
    return {s.host: s.reason for s in result.skipped}


class Recorder:
    """A lookup over a dict of answers (default NXDOMAIN) that records the queries."""

    def __init__(self, answers: dict[str, DnsAnswer]) -> None:
        self.answers = answers
        self.queries: list[str] = []

    def __call__(self, query: Query) -> DnsAnswer:
        self.queries.append(str(query))
        return self.answers.get(str(query), DnsAnswer(AnswerKind.NXDOMAIN))


class NoShuffle:
    """An rng that must not be used."""

    def shuffle(self, x: MutableSequence[Any], /) -> None:
        raise AssertionError("shuffled without a tie")


# -- values -----------------------------------------------------------------------------


def test_values_validate_at_once() -> None:
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        MXRecord(70000, dns.name.from_text("mx.example.com"))
    with pytest.raises(ValueError, match="at least one address"):
        MXTarget("mx.example.com", 10, ())
    with pytest.raises(ValueError, match="non-empty RRset"):
        DnsAnswer(AnswerKind.ANSWER)
    with pytest.raises(ValueError, match="carries no RRset"):
        DnsAnswer(AnswerKind.NXDOMAIN, DnsAnswer.from_text("a.test.", "A", "192.0.2.1").rrset)
    with pytest.raises(ValueError, match="DELIVER needs targets"):
        MXResult("a.test", "a.test", Action.DELIVER, Outcome.TARGETS)
    with pytest.raises(ValueError, match="4xx"):
        MXResult("a.test", "a.test", Action.DEFER, Outcome.NXDOMAIN, reply=nxdomain_reply("a"))
    assert AnswerKind.from_text(" SERVFAIL ") is AnswerKind.SERVFAIL
    with pytest.raises(ValueError, match="expected one of: answer, nodata"):
        AnswerKind.from_text("refused")
    assert DnsAnswer.failure("timeout").kind is AnswerKind.TIMEOUT
    assert DnsAnswer.from_text("a.test.", "MX").kind is AnswerKind.NODATA


def test_bad_domain_or_local_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'bad domain' is not a host name"):
        resolve("bad domain", zones(EXAMPLE_NET))
    with pytest.raises(ValueError, match="local name"):
        resolve("example.com", zones(EXAMPLE_NET), local_names=["no such"])


def test_policy_modules_stay_pure() -> None:
    forbidden = {"random", "time", "socket", "asyncio", "simpy"}
    for module in (sim.policy.mx, sim.policy.zones):
        tree = ast.parse(Path(str(module.__file__)).read_text())
        imported = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        imported |= {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert imported.isdisjoint(forbidden), module.__name__


# -- ordering ---------------------------------------------------------------------------


def test_sorted_by_preference_lowest_first() -> None:
    zs = zones(
        "$ORIGIN a.test.\n$TTL 300\n@ MX 30 c\n@ MX 10 a\n@ MX 20 b\n"
        "a A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\n",
        EXAMPLE_NET,
    )
    result = resolve("a.test", zs)
    assert result.action is Action.DELIVER and result.outcome is Outcome.TARGETS
    assert result.reply is None
    assert hosts(result) == [(10, "a.a.test"), (20, "b.a.test"), (30, "c.a.test")]


def test_no_tie_draws_nothing_from_the_rng() -> None:
    records = [MXRecord(p, dns.name.from_text(f"m{p}.test")) for p in (5, 1, 3)]
    assert [r.preference for r in order_by_preference(records, NoShuffle())] == [1, 3, 5]


def test_equal_preferences_pinned_seeds() -> None:
    zs = zones(EXAMPLE_COM, EXAMPLE_NET)
    firsts = {seed: resolve("example.com", zs, seed).targets[0].host for seed in range(4)}
    assert firsts == {
        0: "mx1.example.com",
        1: "mx2.example.com",
        2: "mx2.example.com",
        3: "mx2.example.com",
    }
    result = resolve("example.com", zs, 0)
    assert result.targets[0].addresses == (
        ipaddress.ip_address("2001:db8::10"),
        ipaddress.ip_address("192.0.2.10"),
    )
    assert result.targets[-1] == MXTarget(
        "backup.example.net", 20, (ipaddress.ip_address("198.51.100.20"),)
    )


def test_domain_address_is_not_used_when_mx_records_exist() -> None:
    zs = zones("$ORIGIN a.test.\n$TTL 300\n@ MX 10 gone\n@ A 192.0.2.1\n", EXAMPLE_NET)
    result = resolve("a.test", zs)
    assert result.action is Action.BOUNCE and result.outcome is Outcome.NO_USABLE_MX
    assert result.reply == no_usable_mx_reply("a.test")
    assert result.reply.line().startswith("554 5.4.4 ")


# -- implicit MX ------------------------------------------------------------------------


def test_no_mx_means_implicit_mx_on_the_domain_itself() -> None:
    zs = zones("$ORIGIN a.test.\n$TTL 300\n@ A 192.0.2.7\n@ AAAA 2001:db8::7\n", EXAMPLE_NET)
    result = resolve("a.test", zs, local_names=())
    assert result.implicit
    assert result.targets == (
        MXTarget(
            "a.test",
            0,
            (ipaddress.ip_address("2001:db8::7"), ipaddress.ip_address("192.0.2.7")),
            implicit=True,
        ),
    )


@pytest.mark.parametrize(
    ("zone", "why"),
    [
        ("@ TXT hello\n", "No address associated with hostname"),
        ("sub.x A 192.0.2.1\n", "No address associated with hostname"),
    ],
)
def test_implicit_mx_without_address_bounces(zone: str, why: str) -> None:
    zs = zones("$ORIGIN a.test.\n$TTL 300\n" + zone, EXAMPLE_NET)
    name = "a.test" if zone.startswith("@") else "x.a.test"
    result = resolve(name, zs)
    assert result.action is Action.BOUNCE and result.outcome is Outcome.NO_ADDRESS
    assert result.reply == Reply(
        554,
        "5.4.4",
        f"Host or domain name not found. Name service error for name={name} type=A: {why}",
    )


# -- null MX ----------------------------------------------------------------------------


def test_null_mx_bounces_at_once_without_address_lookups() -> None:
    lookup = Recorder(
        {
            "a.test/MX": DnsAnswer.from_text("a.test.", "MX", "0 ."),
            "a.test/A": DnsAnswer.from_text("a.test.", "A", "192.0.2.1"),
        }
    )
    result = resolve_mx("a.test", lookup, rng=NoShuffle())
    assert result.action is Action.BOUNCE and result.outcome is Outcome.NULL_MX
    assert result.reply == null_mx_reply("a.test")
    assert result.reply.line() == (
        "556 5.1.10 Recipient address has null MX; domain a.test does not accept mail"
    )
    assert lookup.queries == ["a.test/MX"]
    assert result.targets == () and result.warnings == ()


def test_null_mx_with_nonzero_preference_is_still_null_but_warned() -> None:
    lookup = Recorder({"a.test/MX": DnsAnswer.from_text("a.test.", "MX", "10 .")})
    result = resolve_mx("a.test", lookup, rng=NoShuffle())
    assert result.outcome is Outcome.NULL_MX
    assert result.warnings == ("null MX with preference 10, not 0 (RFC 7505 §3)",)


def test_null_mx_mixed_with_other_records_is_skipped() -> None:
    lookup = Recorder(
        {
            "a.test/MX": DnsAnswer.from_text("a.test.", "MX", "0 .", "10 mx.a.test."),
            "mx.a.test/A": DnsAnswer.from_text("mx.a.test.", "A", "192.0.2.1"),
            "mx.a.test/AAAA": DnsAnswer.failure("nodata"),
        }
    )
    result = resolve_mx("a.test", lookup, rng=random.Random(0))
    assert hosts(result) == [(10, "mx.a.test")]
    assert reasons(result) == {".": SkipReason.NULL_MX_MIXED}
    assert "RFC 7505 §3" in result.warnings[0]


# -- CNAMEs -----------------------------------------------------------------------------

ALIAS_TARGET = """\
$ORIGIN a.test.
$TTL 300
@      MX 10 mail
mail   CNAME server
server A 192.0.2.25
"""


def test_cname_mx_target_is_followed_and_reported() -> None:
    result = resolve("a.test", zones(ALIAS_TARGET, EXAMPLE_NET))
    assert result.targets == (
        MXTarget("mail.a.test", 10, (ipaddress.ip_address("192.0.2.25"),), "server.a.test"),
    )
    assert result.warnings == (
        "MX host mail.a.test is an alias for server.a.test: an MX target must not be a "
        "CNAME (RFC 2181 §10.3, RFC 5321 §5.1); followed",
    )


def test_strict_mode_refuses_a_cname_mx_target() -> None:
    result = resolve("a.test", zones(ALIAS_TARGET, EXAMPLE_NET), strict=True)
    assert result.action is Action.BOUNCE and result.outcome is Outcome.NO_USABLE_MX
    assert reasons(result) == {"mail.a.test": SkipReason.CNAME_TARGET}


def test_cname_at_the_domain_restarts_the_mx_lookup() -> None:
    zs = zones(EXAMPLE_COM, "$ORIGIN b.test.\n$TTL 300\n@ CNAME example.com.\n", EXAMPLE_NET)
    result = resolve("b.test", zs)
    assert result.domain == "b.test" and result.canonical == "example.com"
    assert {h for _, h in hosts(result)} == {
        "mx1.example.com",
        "mx2.example.com",
        "backup.example.net",
    }
    assert result.warnings == ()


def test_cname_loop_is_a_temporary_failure() -> None:
    zs = zones("$ORIGIN a.test.\n$TTL 300\nx CNAME y\ny CNAME x\n", EXAMPLE_NET)
    result = resolve("x.a.test", zs)
    assert result.action is Action.DEFER and result.outcome is Outcome.DNS_TEMPFAIL
    assert result.reply is not None and result.reply.enhanced == "4.4.3"


# -- skipped targets --------------------------------------------------------------------


def test_ip_literal_and_addressless_targets_are_skipped_with_a_reason() -> None:
    zs = zones(
        "$ORIGIN a.test.\n$TTL 300\n@ MX 10 192.0.2.9.\n@ MX 20 gone\n@ MX 30 empty\n"
        "@ MX 40 ok\nempty TXT nothing\nok A 192.0.2.40\n",
        EXAMPLE_NET,
    )
    result = resolve("a.test", zs)
    assert hosts(result) == [(40, "ok.a.test")]
    assert [(s.host, s.reason, s.detail) for s in result.skipped] == [
        ("192.0.2.9", SkipReason.IP_LITERAL, ""),
        ("gone.a.test", SkipReason.NO_ADDRESS, "NXDOMAIN"),
        ("empty.a.test", SkipReason.NO_ADDRESS, "NODATA"),
    ]


def test_bracketed_literal_target_is_skipped() -> None:
    lookup = Recorder({"a.test/MX": DnsAnswer.from_text("a.test.", "MX", r"10 \[192.0.2.9\].")})
    result = resolve_mx("a.test", lookup, rng=NoShuffle())
    assert reasons(result) == {"[192.0.2.9]": SkipReason.IP_LITERAL}
    assert lookup.queries == ["a.test/MX"]


# -- the local host in the MX list ------------------------------------------------------


def test_backup_mx_keeps_only_more_preferred_hosts() -> None:
    result = resolve(
        "example.com", zones(EXAMPLE_COM, EXAMPLE_NET), local_names=["backup.example.net"]
    )
    assert sorted(hosts(result)) == [(10, "mx1.example.com"), (10, "mx2.example.com")]
    assert reasons(result) == {"backup.example.net": SkipReason.LOCAL_HOST}


def test_local_host_found_by_address_drops_its_equal_preference_peers() -> None:
    zs = zones(EXAMPLE_COM, EXAMPLE_NET)
    for seed in range(4):  # whichever of mx1/mx2 comes first
        result = resolve("example.com", zs, seed, local_names=["192.0.2.11"])
        assert result.action is Action.BOUNCE and result.outcome is Outcome.LOOPS_BACK
        assert result.reply == loops_back_reply("example.com")
        assert result.reply.line() == "554 5.4.6 mail for example.com loops back to myself"
        assert reasons(result)["mx2.example.com"] is SkipReason.LOCAL_HOST
        assert reasons(result)["mx1.example.com"] is SkipReason.NOT_BETTER_THAN_LOCAL


def test_most_preferred_local_host_loops_back_by_name() -> None:
    result = resolve(
        "example.com", zones(EXAMPLE_COM, EXAMPLE_NET), local_names=["MX1.example.com."]
    )
    assert result.outcome is Outcome.LOOPS_BACK and result.action is Action.BOUNCE


def test_local_host_behind_unusable_primaries_defers() -> None:
    zs = zones(
        "$ORIGIN a.test.\n$TTL 300\n@ MX 10 gone\n@ MX 20 me\nme A 192.0.2.20\n", EXAMPLE_NET
    )
    result = resolve("a.test", zs, local_names=["me.a.test"])
    assert result.action is Action.DEFER and result.outcome is Outcome.NO_PRIMARY_RELAY
    assert result.reply == no_primary_relay_reply("a.test")
    assert result.reply.line() == "451 4.4.4 unable to find primary relay for a.test"


def test_implicit_mx_pointing_at_the_local_host_loops_back() -> None:
    zs = zones("$ORIGIN a.test.\n$TTL 300\n@ A 192.0.2.7\n", EXAMPLE_NET)
    assert resolve("a.test", zs, local_names=["192.0.2.7"]).outcome is Outcome.LOOPS_BACK


# -- DNS failures -----------------------------------------------------------------------


def test_nxdomain_is_a_permanent_failure() -> None:
    result = resolve("nosuch.example.com", zones(EXAMPLE_COM, EXAMPLE_NET))
    assert result.action is Action.BOUNCE and result.outcome is Outcome.NXDOMAIN
    assert result.reply == nxdomain_reply("nosuch.example.com")
    assert result.reply.line() == (
        "550 5.1.2 Host or domain name not found. Name service error for "
        "name=nosuch.example.com type=MX: Host not found"
    )


@pytest.mark.parametrize("kind", ["servfail", "timeout"])
def test_temporary_failure_of_the_mx_query_defers(kind: str) -> None:
    zs = zones(EXAMPLE_COM, EXAMPLE_NET, **{kind: ("example.com",)})  # type: ignore[arg-type]
    result = resolve("example.com", zs)
    assert result.action is Action.DEFER and result.outcome is Outcome.DNS_TEMPFAIL
    assert result.reply == dns_tempfail_reply("example.com", "MX")
    assert result.reply.line() == (
        "451 4.4.3 Host or domain name not found. Name service error for name=example.com "
        "type=MX: Host not found, try again"
    )


def test_temporary_address_failures_never_bounce() -> None:
    zs = zones(
        "$ORIGIN a.test.\n$TTL 300\n@ MX 10 flaky\n@ MX 20 gone\nflaky A 192.0.2.1\n",
        EXAMPLE_NET,
        servfail=("flaky.a.test",),
    )
    result = resolve("a.test", zs)
    assert result.action is Action.DEFER and result.outcome is Outcome.DNS_TEMPFAIL
    assert result.reply == dns_tempfail_reply("flaky.a.test", "AAAA")
    assert reasons(result) == {
        "flaky.a.test": SkipReason.DNS_TEMPFAIL,
        "gone.a.test": SkipReason.NO_ADDRESS,
    }


def test_one_family_failing_temporarily_still_delivers() -> None:
    lookup = Recorder(
        {
            "a.test/MX": DnsAnswer.from_text("a.test.", "MX", "10 mx.a.test."),
            "mx.a.test/AAAA": DnsAnswer.failure("timeout"),
            "mx.a.test/A": DnsAnswer.from_text("mx.a.test.", "A", "192.0.2.1"),
        }
    )
    result = resolve_mx("a.test", lookup, rng=NoShuffle())
    assert result.targets[0].addresses == (ipaddress.ip_address("192.0.2.1"),)
    assert lookup.queries == ["a.test/MX", "mx.a.test/AAAA", "mx.a.test/A"]


def test_the_generator_core_can_be_driven_by_hand() -> None:
    steps = mx_resolution("a.test", rng=NoShuffle())
    query = next(steps)
    assert query == Query(dns.name.from_text("a.test."), dns.rdatatype.MX)
    with pytest.raises(StopIteration) as done:
        steps.send(DnsAnswer.failure(AnswerKind.SERVFAIL))
    assert done.value.value.action is Action.DEFER


# -- zones ------------------------------------------------------------------------------


def test_zone_origin_from_origin_line_or_file_name() -> None:
    assert parse_zone("$ORIGIN a.test.\n$TTL 1\n@ A 192.0.2.1\n", filename="x.zone").origin == (
        dns.name.from_text("a.test.")
    )
    assert parse_zone("$TTL 1\n@ A 192.0.2.1\n", filename="d/b.test.zone").origin == (
        dns.name.from_text("b.test.")
    )
    assert origin_from_filename("dir/example.org") == dns.name.from_text("example.org.")
    assert origin_from_filename("bad name.zone") is None


def test_zone_lookups_closed_world() -> None:
    zs = zones("$ORIGIN a.test.\n$TTL 300\nx.y A 192.0.2.1\n", EXAMPLE_NET)

    def kind(name: str, rdtype: str = "A") -> AnswerKind:
        query = Query(dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
        return zs.lookup(query).kind

    assert kind("x.y.a.test") is AnswerKind.ANSWER
    assert kind("x.y.a.test", "MX") is AnswerKind.NODATA
    assert kind("y.a.test") is AnswerKind.NODATA  # empty non-terminal
    assert kind("z.a.test") is AnswerKind.NXDOMAIN
    assert kind("elsewhere.test") is AnswerKind.NXDOMAIN
    with pytest.raises(InputError, match="loaded twice"):
        zones("$ORIGIN a.test.\n", "$ORIGIN a.test.\n", EXAMPLE_NET)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$ORIGIN a.test.\n$TTL 300\n@ MX ten mx\n", "x.zone:3: expected an integer"),
        ("$ORIGIN a.test.\n$TTL 300\n@ MX 10 mx\nmx A 999.1.1.1\n", "x.zone:4: expected a valid"),
        ("$ORIGIN a.test.\n$TTL 300\n@ MX 70000 mx\n", "x.zone:3: 70000 is not an unsigned"),
        ("$ORIGIN a.test.\n$TTL 300\n@ MX 10\n@ A 192.0.2.1\n", "x.zone:3: expected more"),
        ("$ORIGIN a.test.\n@ MX 10 mx\n", "x.zone:2: expected a TTL"),
        ("$ORIGIN a.test.\n$TTL 300\n@ MXX 10 mx\n", "x.zone:3: unknown rdatatype 'MXX'"),
        (
            "$ORIGIN a.test.\n$TTL 300\nm CNAME n\nm A 192.0.2.1\n@ A 192.0.2.2\n",
            "x.zone:4: expected either a CNAME or other records",
        ),
    ],
)
def test_bad_zone_text_names_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_zone(text, filename="x.zone")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_zone_without_origin_needs_a_domain_file_name() -> None:
    with pytest.raises(InputError, match=r"^bad name\.zone:1: expected a \$ORIGIN line"):
        parse_zone("$TTL 300\n@ A 192.0.2.1\n", filename="bad name.zone")


# -- properties: preference order and uniform shuffles ----------------------------------

PREFS = st.lists(st.sampled_from([0, 5, 10, 20, 65535]), min_size=1, max_size=8)


def _records(prefs: list[int]) -> list[MXRecord]:
    return [MXRecord(p, dns.name.from_text(f"mx{i}.a.test.")) for i, p in enumerate(prefs)]


@settings(max_examples=150, deadline=None)
@given(prefs=PREFS, seed=st.integers(0, 2**32 - 1))
def test_order_respects_preference_and_never_crosses_levels(prefs: list[int], seed: int) -> None:
    records = _records(prefs)
    ordered = order_by_preference(records, random.Random(seed))
    assert sorted(ordered, key=lambda r: r.host) == sorted(records, key=lambda r: r.host)
    assert [r.preference for r in ordered] == sorted(prefs)
    answers = {
        "a.test/MX": DnsAnswer.from_text(
            "a.test.", "MX", *(f"{r.preference} {r.exchange}" for r in records)
        )
    }
    for i, r in enumerate(records):
        answers[f"{r.host}/A"] = DnsAnswer.from_text(f"{r.exchange}", "A", f"192.0.2.{i + 1}")
    result = resolve_mx("a.test", Recorder(answers), rng=random.Random(seed))
    assert [t.preference for t in result.targets] == sorted(prefs)
    for level in set(prefs):
        assert {t.host for t in result.targets if t.preference == level} == {
            r.host for r in records if r.preference == level
        }


# chi-square critical values at p = 0.001 (fixed seeds: deterministic, tolerant)
CHI2_999 = {1: 10.828, 5: 20.515, 11: 31.264}


def _chi2(counts: Counter[Any], cells: int, n: int) -> float:
    expected = n / cells
    assert len(counts) == cells, "some order never appeared"
    return sum((c - expected) ** 2 / expected for c in counts.values())


def test_example_a_two_way_tie_is_a_fair_coin() -> None:
    records = _records([10, 10, 20])
    rng = random.Random(20240101)
    n = 10_000
    firsts: Counter[int] = Counter()
    for _ in range(n):
        ordered = order_by_preference(records, rng)
        assert ordered[-1] is records[2]
        firsts[records.index(ordered[0])] += 1
    assert abs(firsts[0] - n / 2) < 4 * 50  # binomial sigma = 50
    assert _chi2(firsts, 2, n) < CHI2_999[1]


def test_every_order_of_a_three_way_tie_is_equally_likely_end_to_end() -> None:
    zs = zones(
        "$ORIGIN a.test.\n$TTL 300\n@ MX 10 a\n@ MX 10 b\n@ MX 10 c\n@ MX 20 z\n"
        "a A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nz A 192.0.2.4\n",
        EXAMPLE_NET,
    )
    rng = random.Random(7)
    n = 1800
    orders: Counter[tuple[str, ...]] = Counter()
    for _ in range(n):
        result = resolve_mx("a.test", zs.lookup, rng=rng)
        assert result.targets[-1].host == "z.a.test"
        orders[tuple(t.host[0] for t in result.targets[:3])] += 1
    assert set(orders) == {tuple(p) for p in itertools.permutations("abc")}
    assert _chi2(orders, 6, n) < CHI2_999[5]


def test_two_tied_levels_shuffle_independently_and_uniformly() -> None:
    records = _records([10, 10, 10, 20, 20])
    index = {id(r): i for i, r in enumerate(records)}
    rng = random.Random(3)
    n = 12_000
    orders: Counter[tuple[int, ...]] = Counter()
    for _ in range(n):
        order = tuple(index[id(r)] for r in order_by_preference(records, rng))
        assert set(order[:3]) == {0, 1, 2}  # never crosses a preference level
        orders[order] += 1
    assert _chi2(orders, 12, n) < CHI2_999[11]
