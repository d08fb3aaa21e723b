"""Received trace fields (RFC 5321 §4.4, RFC 5322 §3.6.7, RFC 3848): build, parse, trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.policy.trace import (
    CertStatus,
    HopFacts,
    Protocol,
    TLSInfo,
    Trust,
    build_received,
    parse_received,
    received_fields,
    trace_fields,
    trace_message,
)

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "received"
MULTI_HOP = ROOT / "scenarios" / "messages" / "multi-hop.eml"

EST = timezone(timedelta(hours=-5), "EST")
TLS13 = TLSInfo(
    "TLSv1.3",
    "TLS_AES_256_GCM_SHA384",
    256,
    256,
    key_exchange="X25519",
    server_signature="RSA-PSS (2048 bits)",
    server_digest="SHA256",
)


def multi_hop_message() -> str:
    """The seed's four-hop path, written with build_received (scenarios/messages/multi-hop.eml).

    internal submission host -> outbound gateway -> receiver MX -> security scanner -> final
    delivery; times as in the seed (10:34:55 .. 10:35:00 -0500).
    """
    rcpt = ("bob@receiver.com",)

    def facts(ip: str, name: str, by: str, qid: str, **kw: object) -> HopFacts:
        return HopFacts(ip, by, qid, helo=name, client_name=name, recipients=rcpt, **kw)  # type: ignore[arg-type]

    hops = [
        (facts("10.1.0.10", "internal.sender.org", "gateway.sender.org", "ABC123"), 55),
        (
            facts(
                "198.51.100.25",
                "gateway.sender.org",
                "mx.receiver.com",
                "BCD234",
                protocol=Protocol.ESMTPS,
                tls=TLS13,
            ),
            58,
        ),
        (facts("203.0.113.50", "mx.receiver.com", "scanner.receiver.com", "CDE345"), 59),
        (facts("10.0.0.5", "scanner.receiver.com", "final-delivery.receiver.com", "DEF456"), 60),
    ]
    start = datetime(2024, 1, 15, 10, 34, 0, tzinfo=EST)
    received = [
        "Received: " + build_received(f, start + timedelta(seconds=s)) for f, s in reversed(hops)
    ]
    return "\n".join(
        [
            "Return-Path: <alice@sender.org>",
            "Delivered-To: bob@receiver.com",
            *received,
            "Date: Mon, 15 Jan 2024 10:34:54 -0500",
            "From: Alice <alice@sender.org>",
            "To: Bob <bob@receiver.com>",
            "Subject: four hops",
            "Message-ID: <20240115153454.ABC123@internal.sender.org>",
            "",
            "Submitted inside sender.org, relayed by its gateway, received by the MX of",
            "receiver.com, checked by its scanner and delivered by the final-delivery host.",
            "",
        ]
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- building ---------------------------------------------------------------------------


def test_build_matches_observed_postfix_single_recipient() -> None:
    facts = HopFacts(
        "198.51.100.23",
        "relay.sender.example",
        "4Vx3Q21yZz",
        helo="client.example",
        recipients=("bob@example.net",),
    )
    assert build_received(facts, at("2026-11-30T18:32:02+00:00")) == (
        "from client.example (unknown [198.51.100.23])\n"
        "\tby relay.sender.example (Postfix) with ESMTP id 4Vx3Q21yZz\n"
        "\tfor <bob@example.net>; Mon, 30 Nov 2026 18:32:02 +0000 (UTC)"
    )


def test_build_several_recipients_has_no_for_clause() -> None:
    facts = HopFacts(
        "2001:DB8::25",
        "relay.sender.example",
        "Q1",
        helo="[198.51.100.23]",
        protocol=Protocol.SMTP,
        recipients=("a@example.net", "b@example.net"),
    )
    assert build_received(facts, at("2026-11-30T18:32:02+01:00")) == (
        "from [198.51.100.23] (unknown [IPv6:2001:db8::25])\n"
        "\tby relay.sender.example (Postfix) with SMTP id Q1;\n"
        "\tMon, 30 Nov 2026 18:32:02 +0100"
    )


def test_build_tls_comment_as_postfix_writes_it() -> None:
    facts = HopFacts(
        "198.51.100.25",
        "mail.example.net",
        "Q2",
        helo="mx.example.org",
        client_name="mx.example.org",
        protocol=Protocol.ESMTPSA,
        tls=TLSInfo(
            "TLSv1.2",
            "ECDHE-RSA-AES256-GCM-SHA384",
            256,
            256,
            client_cert=CertStatus.VERIFIED,
            client_cn="laptop.example.org",
            client_issuer="Example CA",
        ),
        auth_sender="alice",
    )
    lines = build_received(facts, at("2024-04-30T10:02:15+00:00")).split("\n\t")
    assert lines[1] == "(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))"
    assert lines[2] == '(Client CN "laptop.example.org", Issuer "Example CA" (verified OK))'
    assert lines[3] == "(Authenticated sender: alice)"
    assert lines[4] == "by mail.example.net (Postfix) with ESMTPSA id Q2;"


def test_build_tls_continuation_line() -> None:
    facts = HopFacts("198.51.100.25", "mx.receiver.com", "Q", protocol=Protocol.ESMTPS, tls=TLS13)
    text = build_received(facts, at("2024-01-15T10:34:58-05:00"))
    assert (
        "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
        "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n"
        "\t(No client certificate requested)\n"
    ) in text


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"client_ip": "999.1.1.1"}, "client_ip"),
        ({"by": "two words"}, "by must be one word"),
        ({"queue_id": ""}, "queue_id"),
        ({"helo": "a;b"}, "helo"),
        ({"software": "Post(fix)"}, "software"),
        ({"tls": TLS13}, "TLS protocol"),
        ({"auth_sender": "alice"}, "authenticated protocol"),
        ({"protocol": Protocol.ESMTPS, "tls": TLSInfo("TLSv1.3")}, "cipher"),
        ({"recipients": ["a@b"]}, "tuple"),
    ],
)
def test_hop_facts_validate(kw: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"client_ip": "192.0.2.1", "by": "mx.example", "queue_id": "Q"}
    with pytest.raises(ValueError, match=message):
        HopFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_build_needs_an_aware_date() -> None:
    facts = HopFacts("192.0.2.1", "mx.example", "Q")
    with pytest.raises(ValueError, match="timezone-aware"):
        build_received(facts, datetime(2024, 1, 1, 12, 0))


def test_protocol_keywords() -> None:
    assert Protocol.for_session(tls=True, auth=True) is Protocol.ESMTPSA
    assert Protocol.for_session(ehlo=False) is Protocol.SMTP
    assert Protocol.for_session(lmtp=True, tls=True) is Protocol.LMTPS
    assert Protocol.for_session(utf8=True, auth=True) is Protocol.UTF8SMTPA
    assert Protocol.from_text("esmtps") is Protocol.ESMTPS
    assert Protocol.ESMTPSA.tls and Protocol.ESMTPSA.authenticated
    assert not Protocol.ESMTPA.tls and Protocol.ESMTPA.authenticated
    assert not Protocol.SMTP.tls and not Protocol.UTF8SMTP.tls
    with pytest.raises(ValueError, match="expected one of"):
        Protocol.from_text("Microsoft SMTP Server")
    with pytest.raises(ValueError, match="EHLO"):
        Protocol.for_session(ehlo=False, tls=True)


def test_trust_and_cert_from_text() -> None:
    assert Trust.from_text("Unverifiable") is Trust.UNVERIFIABLE
    assert CertStatus.from_text("verified OK") is CertStatus.VERIFIED
    assert CertStatus.from_text("not_presented") is CertStatus.NOT_PRESENTED
    with pytest.raises(ValueError, match="expected"):
        Trust.from_text("maybe")


# --- round trip -------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_LABEL = st.text(_ALNUM + "-", min_size=1, max_size=12).map(lambda s: f"x{s}0")
HOSTS = st.lists(_LABEL, min_size=2, max_size=4).map(".".join)
WORDS = st.text(_ALNUM + _ALNUM.upper() + "._+-", min_size=1, max_size=15)
QUEUE_IDS = st.text(_ALNUM + _ALNUM.upper(), min_size=6, max_size=14)
ZONES = st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
WHEN = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=ZONES
).map(lambda d: d.replace(microsecond=0))
TLS = st.builds(
    TLSInfo,
    version=st.sampled_from(["TLSv1.2", "TLSv1.3", "TLSv1"]),
    cipher=st.sampled_from(["TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]),
    cipher_bits=st.sampled_from([128, 256]),
    alg_bits=st.sampled_from([128, 256]),
    key_exchange=st.sampled_from([None, "X25519", "ECDHE (P-256)"]),
    server_signature=st.sampled_from([None, "RSA-PSS (2048 bits)", "ECDSA (P-256)"]),
    server_digest=st.none(),
    client_cert=st.sampled_from([CertStatus.NOT_REQUESTED, CertStatus.NOT_PRESENTED]),
)


@st.composite
def hop_facts(draw: st.DrawFn) -> HopFacts:
    protocol = draw(st.sampled_from(list(Protocol)))
    tls = draw(TLS) if protocol.tls and draw(st.booleans()) else None
    auth = draw(WORDS) if protocol.authenticated and draw(st.booleans()) else None
    helo = draw(st.one_of(HOSTS, st.ip_addresses(v=4).map(lambda ip: f"[{ip}]")))
    return HopFacts(
        client_ip=str(draw(st.ip_addresses())),
        by=draw(HOSTS),
        queue_id=draw(QUEUE_IDS),
        helo=helo,
        client_name=draw(st.none() | HOSTS),
        software=draw(st.sampled_from(["Postfix", "8.17.1/8.17.1", "Postfix, from userid 0"])),
        protocol=protocol,
        recipients=tuple(draw(st.lists(st.tuples(WORDS, HOSTS).map("@".join), max_size=3))),
        tls=tls,
        auth_sender=auth,
    )


@settings(max_examples=100, deadline=None)
@given(hop_facts(), WHEN)
def test_build_then_parse_round_trips(facts: HopFacts, when: datetime) -> None:
    hop = parse_received(build_received(facts, when))
    assert hop.notes == ()
    assert hop.helo == facts.helo
    assert hop.rdns == facts.client_name
    assert hop.ip == facts.client_ip
    assert hop.by == facts.by
    assert hop.software == facts.software
    assert hop.protocol is facts.protocol
    assert hop.queue_id == facts.queue_id
    assert hop.recipient == (facts.recipients[0] if len(facts.recipients) == 1 else None)
    assert hop.tls == facts.tls
    assert hop.auth_sender == facts.auth_sender
    assert hop.time == when
    assert hop.time is not None and hop.time.utcoffset() == when.utcoffset()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    hop = parse_received(text)
    assert hop.time is None or hop.time.utcoffset() is not None


# --- vendor styles ----------------------------------------------------------------------


def fields(name: str) -> tuple[str, ...]:
    return received_fields((DATA / name).read_bytes())[0]


def test_postfix_style() -> None:
    hops = [parse_received(f) for f in fields("postfix.eml")]
    assert [h.by for h in hops] == [
        "mail.example.net",
        "mail.example.net",
        "mx.example.org",
        "laptop.example.org",
    ]
    lmtp, mx, submit, local = hops
    assert lmtp.protocol is Protocol.LMTP and lmtp.ip == "127.0.0.1"
    assert mx.tls is not None and mx.tls.key_exchange == "X25519"
    assert mx.tls.server_signature == "RSA-PSS (2048 bits)" and mx.tls.server_digest == "SHA256"
    assert mx.tls.client_cert is CertStatus.NOT_REQUESTED
    assert submit.ip == "2001:db8::25" and submit.rdns is None
    assert submit.helo == "[IPv6:2001:db8::25]"
    assert submit.auth_sender == "alice" and submit.protocol is Protocol.ESMTPSA
    assert submit.tls is not None and submit.tls.client_cert is CertStatus.VERIFIED
    assert submit.tls.client_cn == "laptop.example.org"
    assert submit.recipient is None  # two recipients: no for clause
    assert submit.time == at("2024-04-30T12:00:05+02:00")
    assert local.from_name is None and local.software == "Postfix, from userid 1000"
    assert local.queue_id == "9C1D2240A7" and local.notes == ()


def test_exim_style() -> None:
    newest, lists, submit, local = (parse_received(f) for f in fields("exim.eml"))
    assert lists.ip == "2001:470:142:3::10" and lists.helo == "eggs.gnu.org"
    assert lists.software == "Exim 4.90_1" and lists.protocol is Protocol.ESMTPS
    assert lists.tls is not None and lists.tls.version == "TLSv1.2"
    assert lists.tls.cipher == "ECDHE_RSA_AES_256_GCM_SHA384" and lists.tls.cipher_bits == 256
    assert lists.queue_id == "1oT1gC-0001B7-EU" and lists.recipient == "qemu-devel@nongnu.org"
    assert newest.ip == "2001:470:142::17" and newest.by == "lfdr.de"
    assert submit.rdns == "mail.example.com" and submit.helo == "smtp.example.com"
    assert submit.ip == "203.0.113.9" and submit.protocol is Protocol.ESMTPSA
    assert submit.tls == TLSInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", client_cert=None)
    assert local.from_name == "peter" and local.helo is None and local.ip is None
    assert local.protocol_text == "local" and local.protocol is None
    assert local.time == at("2022-08-30T14:53:19+01:00")


def test_sendmail_style() -> None:
    hub, relay, submit = (parse_received(f) for f in fields("sendmail.eml"))
    assert hub.software == "8.17.1/8.17.1" and hub.recipient == "staff@example.com"
    assert hub.tls is not None and hub.tls.cipher_bits == 256
    assert hub.tls.client_cert is CertStatus.NOT_REQUESTED  # verify=NOT
    assert relay.helo == "helo.example.net" and relay.rdns == "dsl-198-51-100-77.example.net"
    assert relay.ip == "198.51.100.77" and relay.notes == ()
    assert submit.from_name is None and submit.by == "helo.example.net"
    assert submit.queue_id == "43UE00aB004320" and "from root@localhost" in submit.comments


def test_exchange_style_with_folded_dates() -> None:
    hops = [parse_received(f) for f in fields("exchange.eml")]
    https, internal, frontend, edge, onprem, mapi = hops
    assert https.protocol_text == "HTTPS" and https.encrypted is True
    assert https.time == at("2024-04-30T10:00:07+00:00")  # date folded across lines
    assert internal.protocol_text == "Microsoft SMTP Server"
    assert internal.by_ip == "2603:10a6:208:12::34"
    assert internal.tls is not None and internal.tls.version == "TLSv1.2"
    assert internal.tls.cipher == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert frontend.via == "Frontend Transport" and frontend.queue_id == "15.20.7544.29"
    assert edge.helo == "mail.example.org" and edge.ip == "198.51.100.25"
    assert edge.by == "AM3PEPF0000A78E.mail.protection.outlook.com"
    assert edge.tls is not None and edge.tls.version == "TLSv1.3"
    assert onprem.encrypted is True and onprem.tls is not None and onprem.tls.cipher is None
    assert mapi.protocol_text == "mapi" and mapi.encrypted is None
    assert all(h.notes == () for h in hops)
    trace = trace_fields(fields("exchange.eml"))
    assert [h.delay for h in trace.hops] == [1.0, 0.0, 1.0, 2.0, 1.0, None]


def test_gmail_style() -> None:
    internal, google, mx, submit = (parse_received(f) for f in fields("gmail.eml"))
    assert internal.from_name is None and internal.by == "2002:a05:6a10:c5d5:b0:5a1:2b3c:4d5e"
    assert internal.protocol is Protocol.SMTP
    assert google.protocol_text == "SMTPS" and google.encrypted is True and google.tls is None
    assert "Google Transport Security" in google.comments
    assert mx.rdns == "mail.example.org"  # trailing dot dropped
    assert mx.tls == TLSInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, 256, client_cert=None)
    assert mx.recipient == "bob@gmail.com"
    assert submit.helo == "[192.168.1.23]" and submit.ip == "203.0.113.77"
    assert submit.time == at("2024-06-19T07:23:38-07:00")


def test_x_received_is_not_a_hop() -> None:
    assert len(fields("gmail.eml")) == 4


# --- malformed --------------------------------------------------------------------------


def test_malformed_headers_give_hops_with_notes() -> None:
    hops = [parse_received(f) for f in fields("malformed.eml")]
    assert len(hops) == 8
    ok, unbalanced, no_date, bad_date, no_semicolon, empty, garbage, minus_zero = hops
    assert ok.notes == ()
    assert unbalanced.ip == "198.51.100.30" and unbalanced.by == "mx.example.net"
    assert unbalanced.queue_id == "BBB222" and unbalanced.time is not None
    assert "unbalanced '(' in a comment" in unbalanced.notes
    assert no_date.time is None and no_date.by == "relay.example.org"
    assert "no date (missing ';')" in no_date.notes
    assert bad_date.time is None and bad_date.queue_id == "DDD444"
    assert any("unreadable date" in n for n in bad_date.notes)
    assert no_semicolon.time == at("2024-04-30T10:01:00+00:00")
    assert no_semicolon.queue_id == "EEE555"
    assert "no ';' before the date" in no_semicolon.notes
    assert empty.notes == ("empty Received header",) and empty.by is None
    assert garbage.by is None and any("unexpected text" in n for n in garbage.notes)
    assert minus_zero.time == at("2024-04-30T10:00:00+00:00")
    assert any("-0000" in n for n in minus_zero.notes)


@pytest.mark.parametrize(
    "value",
    [
        "from a (b [1.2.3.4]",
        "from (((((",
        ")))) by ; ;",
        "from a by b with <unclosed id x; Mon, 32 Foo 2024 99:99:99 +9999",
        "by b; Mon, 15 Jan 2024 10:35:00",
        "FROM A BY B WITH ESMTP ID Q FOR <x@y>; 15 Jan 2024 10:35 +0000",
        "from a (\\(x [1.2.3.4]) by b; \x00\udcff",
    ],
)
def test_hostile_input_does_not_raise(value: str) -> None:
    parse_received(value)


def test_uppercase_keywords_and_missing_zone() -> None:
    hop = parse_received("FROM A BY B WITH ESMTP ID Q FOR <x@y>; 15 Jan 2024 10:35 +0000")
    assert (hop.from_name, hop.by, hop.protocol, hop.queue_id, hop.recipient) == (
        "A",
        "B",
        Protocol.ESMTP,
        "Q",
        "x@y",
    )
    naive = parse_received("by b; Mon, 15 Jan 2024 10:35:00")
    assert naive.time == datetime(2024, 1, 15, 10, 35, tzinfo=UTC)
    assert naive.notes == ("date has no time zone: read as UTC",)


# --- traces: delays, skew, trust --------------------------------------------------------


def test_worked_example_delays() -> None:
    trace = trace_message((DATA / "postfix.eml").read_bytes())
    assert [h.delay for h in trace.hops] == [1.0, 130.0, 15.0, None]
    assert [h.number for h in trace.hops] == [4, 3, 2, 1]
    assert trace.total == 146.0
    assert trace.skewed == ()
    assert all(h.trust is Trust.NOT_CHECKED for h in trace.hops)
    assert trace.message_date == at("2024-04-30T05:59:49-04:00")


def test_clock_skew_is_flagged_not_clamped() -> None:
    trace = trace_message((DATA / "skew.eml").read_bytes())
    assert [h.delay for h in trace.hops] == [-50.0, 195.0, None]
    assert [h.number for h in trace.skewed] == [3]
    assert trace.hops[0].skew and not trace.hops[1].skew
    assert trace.as_json()["skew"] is True


def test_unknown_times_give_unknown_delays() -> None:
    trace = trace_message((DATA / "malformed.eml").read_bytes())
    delays = [h.delay for h in trace.hops]
    assert delays[0] == 1.0
    assert delays[1:] == [None] * 7


def test_trust_boundary_below_our_first_mx() -> None:
    data = MULTI_HOP.read_bytes()
    trace = trace_message(data, trusted=["MX.Receiver.com."])
    assert trace.boundary == 2
    assert [h.trust for h in trace.hops] == [Trust.TRUSTED] * 3 + [Trust.UNVERIFIABLE]
    assert [h.number for h in trace.unverifiable] == [1]


def test_trust_boundary_spans_consecutive_headers_by_our_hosts() -> None:
    # The seed's own header order: the MX appears twice (scanner re-injects into it).
    seed = [
        "from mx.receiver.com (mx.receiver.com [203.0.113.50]) by final-delivery.receiver.com"
        " (Postfix) with ESMTP id DEF456 for <bob@receiver.com>; Mon, 15 Jan 2024 10:35:00 -0500",
        "from scanner.receiver.com (scanner.receiver.com [10.0.0.5]) by mx.receiver.com"
        " (Postfix) with ESMTP id CDE345 for <bob@receiver.com>; Mon, 15 Jan 2024 10:34:59 -0500",
        "from gateway.sender.org (gateway.sender.org [198.51.100.25]) by mx.receiver.com"
        " (Postfix) with ESMTPS id BCD234 for <bob@receiver.com>; Mon, 15 Jan 2024 10:34:58 -0500",
        "from internal.sender.org (internal.sender.org [10.1.0.10]) by gateway.sender.org"
        " (Postfix) with ESMTP id ABC123 for <bob@receiver.com>; Mon, 15 Jan 2024 10:34:55 -0500",
    ]
    trace = trace_fields(seed, trusted=["mx.receiver.com"])
    assert trace.boundary == 2
    assert [h.delay for h in trace.hops] == [1.0, 1.0, 3.0, None]


def test_forged_header_claiming_our_name_stays_unverifiable() -> None:
    forged = (
        "from x (x [192.0.2.9]) by mx.receiver.com with ESMTP id F; Mon, 1 Jan 2024 00:00:00 +0000"
    )
    text = MULTI_HOP.read_text().replace("Date:", f"Received: {forged}\nDate:", 1)
    trace = trace_message(text.encode(), trusted=["mx.receiver.com"])
    assert trace.boundary == 2
    assert trace.hops[-1].hop.queue_id == "F"
    assert trace.hops[-1].trust is Trust.UNVERIFIABLE


def test_no_trusted_host_wrote_a_header() -> None:
    trace = trace_message(MULTI_HOP.read_bytes(), trusted=["mx.elsewhere.example"])
    assert trace.boundary is None
    assert all(h.trust is Trust.UNVERIFIABLE for h in trace.hops)
    assert "no Received header was written by a trusted host" in trace.notes[0]


def test_mail_loop_note() -> None:
    value = "from a (a [192.0.2.1]) by b (Postfix) with ESMTP id Q; Mon, 1 Jan 2024 00:00:00 +0000"
    assert "mail loop" in trace_fields([value] * 100).notes[0]
    assert trace_fields([value] * 99).notes == ()


def test_not_a_message() -> None:
    assert received_fields(b"\x89PNG\r\n\x1a\n\x00\x00") == ((), None)
    assert trace_message(b"").hops == ()


# --- the seed's four-hop path -----------------------------------------------------------


def test_multi_hop_scenario_was_written_by_the_builder() -> None:
    assert MULTI_HOP.read_text() == multi_hop_message()


def test_multi_hop_reconstructs_four_hops() -> None:
    trace = trace_message(MULTI_HOP.read_bytes())
    path = [(h.hop.helo, h.hop.by) for h in reversed(trace.hops)]
    assert path == [
        ("internal.sender.org", "gateway.sender.org"),
        ("gateway.sender.org", "mx.receiver.com"),
        ("mx.receiver.com", "scanner.receiver.com"),
        ("scanner.receiver.com", "final-delivery.receiver.com"),
    ]
    assert [h.delay for h in trace.hops] == [1.0, 1.0, 3.0, None]
    assert trace.total == 5.0
    assert [h.hop.encrypted for h in trace.hops] == [False, False, True, False]
