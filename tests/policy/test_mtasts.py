"""MTA-STS (RFC 8461): TXT record, policy file, MX patterns, the sender's cache, verdicts.

Examples come from RFC 8461 §3.1 (the TXT record), Appendix A (the policy file) and
§4.1 (wildcards), and the worked example of reference/tls.md §4.8.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import InputError
from sim.policy.mtasts import (
    MAX_AGE_LIMIT,
    CacheAction,
    CachedPolicy,
    DomainCache,
    Mode,
    PolicyFetch,
    StsPolicy,
    StsRecord,
    discover,
    has_new_policy_id,
    mx_matches,
    needs_fetch,
    parse_policy,
    parse_txt,
    sts_verdict,
)
from sim.policy.tlsrpt import TlsRptResult

APPENDIX_A = (
    "version: STSv1\n"
    "mode: testing\n"
    "mx: mx1.example.com\n"
    "mx: mx2.example.com\n"
    "mx: mx.backup-example.com\n"
    "max_age: 1296000\n"
)
DAY = 86400.0

# -- TXT record (§3.1) ------------------------------------------------------------------


def test_rfc_txt_example() -> None:
    assert parse_txt(["v=STSv1; id=20160831085700Z;"]) == StsRecord("20160831085700Z")


@pytest.mark.parametrize(
    "record",
    [
        "v=STSv1; id=20160831085700Z",
        "v=STSv1;id=20160831085700Z",
        "v=STSv1 ; id=20160831085700Z ; ",
        "v=STSv1;\tid=20160831085700Z;",
    ],
)
def test_txt_delimiters(record: str) -> None:
    assert parse_txt([record]).id == "20160831085700Z"


def test_txt_ignores_other_records_and_keeps_extensions() -> None:
    records = ["v=spf1 -all", "google-site-verification=abc", "v=STSv1; id=A1; ext=x.y"]
    assert parse_txt(records) == StsRecord("A1", (("ext", "x.y"),))


def test_txt_id_of_32_is_fine_first_id_wins() -> None:
    assert parse_txt(["v=STSv1; id=" + "a" * 32]).id == "a" * 32
    assert parse_txt(["v=STSv1; id=first; id=second"]).id == "first"


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (["v=STSv1; id=1", "v=STSv1; id=2"], "2 records start with 'v=STSv1'; exactly one"),
        (["id=20160831085700Z"], "no record starts with 'v=STSv1;' (ignored 1 record"),
        (["v=STSv2; id=1"], "only version STSv1 exists"),
        (["v=stsv1; id=1"], "case-sensitive"),
        (["id=1; v=STSv1"], "no record starts with 'v=STSv1;'"),
        ([], "(no TXT records)"),
        (["v=STSv1"], "missing required 'id=' field"),
        (["v=STSv1; ID=abc"], "write 'id='"),
        (["v=STSv1; id=" + "a" * 33], "bad id"),
        (["v=STSv1; id=2016-08-31"], "bad id '2016-08-31'"),
        (["v=STSv1; id="], "bad id ''"),
        (["v=STSv1; id=1;; x=y"], "field 3 is empty"),
        (["v=STSv1; id=1; junk"], "expected name=value"),
        (["v=STSv1; id=1; ext=a=b"], "bad value 'a=b'"),
    ],
)
def test_bad_txt_records(records: list[str], message: str) -> None:
    with pytest.raises(InputError, match=r"^_mta-sts TXT: ") as info:
        parse_txt(records)
    assert message in str(info.value)


def test_record_validates_id() -> None:
    with pytest.raises(ValueError, match="1-32 letters or digits"):
        StsRecord("bad id")


# -- policy file (§3.2) -----------------------------------------------------------------


def test_rfc_appendix_a_policy() -> None:
    policy = parse_policy(APPENDIX_A)
    assert policy == StsPolicy(
        "STSv1",
        Mode.TESTING,
        ("mx1.example.com", "mx2.example.com", "mx.backup-example.com"),
        1296000,
    )
    assert policy.as_dict() == {
        "version": "STSv1",
        "mode": "testing",
        "mx": ["mx1.example.com", "mx2.example.com", "mx.backup-example.com"],
        "max_age": 1296000,
    }


@pytest.mark.parametrize(
    "text",
    [
        APPENDIX_A,
        APPENDIX_A.replace("\n", "\r\n"),
        APPENDIX_A.rstrip("\n"),
        APPENDIX_A.replace("\n", "\r\n", 2),  # mixed endings are each a valid sts-policy-term
        APPENDIX_A.replace(": ", ":").replace("\n", "  \n"),  # *WSP after ':' and after values
        APPENDIX_A + "\n\n",  # blank lines at the very end: tolerated
        "\ufeff" + APPENDIX_A,
    ],
    ids=["lf", "crlf", "no-final-eol", "mixed", "spacing", "trailing-blank", "bom"],
)
def test_line_endings_and_spacing(text: str) -> None:
    assert parse_policy(text) == parse_policy(APPENDIX_A)


def test_field_order_unknown_fields_and_duplicates() -> None:
    text = (
        "max_age: 86400\n"
        "x-comment: anything at all\n"
        "mx: a.example.net\n"
        "mode: enforce\n"
        "mode: none\n"  # §3.2: all but the first instance of a non-mx field are ignored
        "version: STSv1\n"
        "version: STSv9\n"  # ignored, so not an error
        "max_age: 99999999999\n"
        "mx: *.b.example.net\n"
    )
    policy = parse_policy(text)
    assert (policy.mode, policy.max_age) == (Mode.ENFORCE, 86400)
    assert policy.mx == ("a.example.net", "*.b.example.net")


def test_mode_none_needs_no_mx() -> None:
    policy = parse_policy("version: STSv1\nmode: none\nmax_age: 0\n")
    assert (policy.mode, policy.mx, policy.max_age) == (Mode.NONE, (), 0)


def test_max_age_limits() -> None:
    top = parse_policy(APPENDIX_A.replace("1296000", str(MAX_AGE_LIMIT)))
    assert top.max_age == 31557600
    assert parse_policy(APPENDIX_A.replace("1296000", "0000000001")).max_age == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "policy: empty policy"),
        (APPENDIX_A.replace("1296000", "31557601"), "policy:6: max_age 31557601 is over the limit"),
        (APPENDIX_A.replace("1296000", "-1"), "policy:6: max_age '-1' must be 1 to 10 digits"),
        (APPENDIX_A.replace("1296000", "1d"), "max_age '1d'"),
        (APPENDIX_A.replace("1296000", "12345678901"), "max_age '12345678901'"),
        (APPENDIX_A.replace("1296000", ""), "policy:6: max_age ''"),
        (APPENDIX_A.replace("STSv1", "STSv2"), "policy:1: unsupported version 'STSv2'"),
        (APPENDIX_A.replace("testing", "report"), "policy:2: bad mode 'report'"),
        (APPENDIX_A.replace("testing", "Testing"), "(values are case-sensitive)"),
        (APPENDIX_A.replace("version: STSv1\n", ""), "policy: missing required field 'version'"),
        (APPENDIX_A.replace("mode: testing\n", ""), "missing required field 'mode'"),
        (APPENDIX_A.replace("max_age: 1296000\n", ""), "missing required field 'max_age'"),
        (
            APPENDIX_A.replace("mode:", "Mode:"),
            "missing required field 'mode' (line 2 has 'Mode': field names are case-sensitive)",
        ),
        (
            "version: STSv1\nmode: enforce\nmax_age: 86400\n",
            "policy: no 'mx' line; mode 'enforce' needs at least one",
        ),
        (APPENDIX_A.replace("mx2", "mx_2"), "policy:4: mx pattern 'mx_2.example.com': bad label"),
        (APPENDIX_A.replace("mx1", "mx*"), "'*' is allowed only as the whole leftmost label"),
        (APPENDIX_A.replace("mx1.", "a.*."), "'*' is allowed only"),
        (APPENDIX_A.replace("mx1.example.com", "*"), "'*' is allowed only"),
        (APPENDIX_A.replace("mx1.example.com", ""), "policy:3: empty mx pattern"),
        (APPENDIX_A.replace("mx1.example.com", "mx1..example.com"), "bad label ''"),
        (APPENDIX_A.replace("mx1.example.com", "-mx.example.com"), "bad label '-mx'"),
        (APPENDIX_A.replace("mx1", "bücher"), "not ASCII (write IDNs as A-labels"),
        (APPENDIX_A.replace("\nmx: mx2", "\n\nmx: mx2"), "policy:4: empty line"),
        (APPENDIX_A.replace("mode: testing", "mode testing"), "policy:2: expected 'field: value'"),
        (APPENDIX_A.replace("mode:", " mode:"), "policy:2: bad field name ' mode'"),
        (APPENDIX_A.replace("testing\n", "testing\r\r\n"), "policy:2: stray CR"),
        ("x" * 70000, "larger than 65536 bytes"),
    ],
)
def test_bad_policies(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_policy(text)
    assert message in str(info.value)


def test_error_names_the_source() -> None:
    with pytest.raises(InputError, match=r"^https://mta-sts\.example\.com/x:1: "):
        parse_policy("version: 1\n", source="https://mta-sts.example.com/x")


def test_policy_value_validates() -> None:
    with pytest.raises(ValueError, match=r"max_age must be 0\.\.31557600"):
        StsPolicy("STSv1", Mode.ENFORCE, ("mx.example.com",), MAX_AGE_LIMIT + 1)
    with pytest.raises(ValueError, match="needs at least one mx"):
        StsPolicy("STSv1", Mode.TESTING, (), 1)
    with pytest.raises(ValueError, match="unsupported MTA-STS version"):
        StsPolicy("STSv2", Mode.NONE, (), 1)


def test_policy_strings_round_trip() -> None:
    policy = parse_policy(APPENDIX_A)
    assert policy.policy_strings() == tuple(APPENDIX_A.splitlines())
    assert policy.to_text() == APPENDIX_A.replace("\n", "\r\n")
    assert parse_policy(policy.to_text()) == policy


def test_mode_from_text() -> None:
    assert Mode.from_text(" Enforce ") is Mode.ENFORCE
    with pytest.raises(ValueError, match="expected one of: enforce, testing, none"):
        Mode.from_text("reject")


# -- MX host matching (§4.1) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("*.example.com", "mx1.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "MX1.Example.COM", True),
        ("*.Example.com", "mx1.example.com.", True),
        ("*.example.com.", "mx1.example.com", True),
        ("*.example.com", ".example.com", False),
        ("*.example.com", "mx1.example.org", False),
        ("*.example.com", "mx1example.com", False),
        ("mx1.example.com", "mx1.example.com", True),
        ("mx1.example.com", "MX1.EXAMPLE.COM.", True),
        ("mx1.example.com", "mx2.example.com", False),
        ("mx1.example.com", "a.mx1.example.com", False),
        ("example.com", "mx1.example.com", False),
        ("mx*.example.com", "mx1.example.com", False),  # not a wildcard
        ("a.*.example.com", "a.b.example.com", False),
        ("*", "example", False),
        ("*.example.com", "*.example.com", False),
        ("", "", False),
        ("*.xn--bcher-kva.example", "mx.bücher.example", True),
    ],
)
def test_mx_matches(pattern: str, host: str, expected: bool) -> None:
    assert mx_matches(pattern, host) is expected


def test_policy_matches_any_pattern() -> None:
    policy = parse_policy(APPENDIX_A.replace("mx2.example.com", "*.mail.example.com"))
    assert policy.matches("mx.backup-example.com")
    assert policy.matches("eu.mail.example.com")
    assert not policy.matches("mail.example.com")
    assert not policy.matches("mx2.example.com")


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(first=_label, middle=st.lists(_label, max_size=2), base=st.lists(_label, min_size=1))
def test_wildcard_is_exactly_one_label(first: str, middle: list[str], base: list[str]) -> None:
    suffix = ".".join(base)
    host = ".".join([first, *middle, suffix])
    assert mx_matches("*." + suffix, host) is (len(middle) == 0)
    assert mx_matches("*." + suffix.upper(), host.upper() + ".") is (len(middle) == 0)
    assert not mx_matches("*." + suffix, suffix)


# -- the sender's cache (§3.3, §5.1) ----------------------------------------------------

POLICY_A1 = "version: STSv1\nmode: enforce\nmx: *.mail.example.com\nmax_age: 604800\n"
POLICY_B2 = POLICY_A1.replace("max_age", "mx: backup.example.net\nmax_age")
A1, B2 = StsRecord("A1"), StsRecord("B2")
FETCH_ERROR = PolicyFetch.failed(TlsRptResult.STS_POLICY_FETCH_ERROR, "connection refused")


def test_empty_cache_fetches_and_caches() -> None:
    state = DomainCache()
    assert needs_fetch(state, A1, 0.0)
    d = discover(state, A1, PolicyFetch.ok(POLICY_A1), 0.0)
    assert d.action is CacheAction.FETCHED and d.active and d.report is None
    assert d.policy == parse_policy(POLICY_A1)
    assert d.state.cached == CachedPolicy(parse_policy(POLICY_A1), "A1", 0.0)
    assert d.state.cached is not None and d.state.cached.expires_at == 604800.0


def test_worked_example_over_nine_days() -> None:
    """reference/tls.md §4.8: fetch, use, id change, refresh, expiry, fall back."""
    d = discover(DomainCache(), A1, PolicyFetch.ok(POLICY_A1), 0.0)
    assert d.policy is not None
    assert sts_verdict(d.policy, "mx1.mail.example.com", True) == (True, None)
    # t = 1 d: same id, so the cached policy is used without a fetch
    assert not needs_fetch(d.state, A1, DAY)
    d = discover(d.state, A1, None, DAY)
    assert d.action is CacheAction.CACHED and d.policy is not None
    verdict = sts_verdict(d.policy, "backup.example.net", True)
    assert verdict == (False, TlsRptResult.VALIDATION_FAILURE)
    assert not has_new_policy_id(d.state, A1)  # keep retrying; no permanent failure yet
    # t = 2 d: the TXT id changes to B2 -> refetch; the backup is now allowed
    assert has_new_policy_id(d.state, B2) and needs_fetch(d.state, B2, 2 * DAY)
    d = discover(d.state, B2, PolicyFetch.ok(POLICY_B2), 2 * DAY)
    assert d.action is CacheAction.REFRESHED and d.policy is not None
    assert sts_verdict(d.policy, "backup.example.net", True) == (True, None)
    state = d.state
    # t = 8.9 d: TXT gone; the cached policy (expires at 9 d) MUST still be applied
    d = discover(state, None, None, 8.9 * DAY)
    assert d.action is CacheAction.KEPT and d.policy == parse_policy(POLICY_B2)
    # t = 9 d: expired and no TXT -> no policy, and the expired entry is dropped
    d = discover(state, None, None, 9 * DAY)
    assert (d.action, d.policy, d.state.cached) == (CacheAction.NO_POLICY, None, None)
    assert not d.active


def test_failed_refresh_keeps_the_still_valid_policy() -> None:
    state = discover(DomainCache(), A1, PolicyFetch.ok(POLICY_A1), 0.0).state
    d = discover(state, B2, FETCH_ERROR, DAY)
    assert d.action is CacheAction.KEPT
    assert d.policy == parse_policy(POLICY_A1)
    assert d.report is TlsRptResult.STS_POLICY_FETCH_ERROR and d.detail == "connection refused"
    assert d.state.cached == state.cached
    assert (d.state.failed_id, d.state.failed_at) == ("B2", DAY)


def test_failed_fetch_is_not_retried_within_five_minutes() -> None:
    state = discover(DomainCache(), A1, PolicyFetch.ok(POLICY_A1), 0.0).state
    state = discover(state, B2, FETCH_ERROR, DAY).state
    assert not needs_fetch(state, B2, DAY + 299)
    d = discover(state, B2, None, DAY + 299)
    assert d.action is CacheAction.KEPT and d.report is None
    assert needs_fetch(state, B2, DAY + 300)
    assert needs_fetch(state, StsRecord("C3"), DAY + 1)  # the back-off is per id
    d = discover(state, B2, PolicyFetch.ok(POLICY_B2), DAY + 300)
    assert d.action is CacheAction.REFRESHED and d.state.failed_id is None


def test_expired_policy_and_failed_fetch_is_no_policy() -> None:
    state = discover(DomainCache(), A1, PolicyFetch.ok(POLICY_A1), 0.0).state
    assert needs_fetch(state, A1, 604800.0)  # same id, but expired: refetch
    d = discover(state, A1, FETCH_ERROR, 604800.0)
    assert (d.action, d.policy, d.state.cached) == (CacheAction.NO_POLICY, None, None)
    assert d.report is TlsRptResult.STS_POLICY_FETCH_ERROR


def test_first_fetch_failures_are_reported_by_type() -> None:
    for fetch, result in [
        (PolicyFetch.from_http(200, POLICY_A1, cert_valid=False), TlsRptResult.STS_WEBPKI_INVALID),
        (PolicyFetch.from_http(301), TlsRptResult.STS_POLICY_FETCH_ERROR),
        (PolicyFetch.from_http(404), TlsRptResult.STS_POLICY_FETCH_ERROR),
        (PolicyFetch.from_http(200, POLICY_A1, content_type="text/html"), None),
        (PolicyFetch.from_http(200, "x" * 70000), TlsRptResult.STS_POLICY_FETCH_ERROR),
        (PolicyFetch.ok("version: STSv1\nmode: strict\n"), TlsRptResult.STS_POLICY_INVALID),
    ]:
        d = discover(DomainCache(), A1, fetch, 0.0)
        assert d.action is CacheAction.NO_POLICY and d.policy is None
        assert d.report is (result or TlsRptResult.STS_POLICY_INVALID)
    d = discover(DomainCache(), A1, PolicyFetch.ok("version: STSv1\nmode: strict\n"), 0.0)
    assert "policy:2: bad mode 'strict'" in d.detail
    assert "redirects are not followed" in PolicyFetch.from_http(302).detail
    ok = PolicyFetch.from_http(200, POLICY_A1, content_type="text/plain; charset=utf-8")
    assert ok.text == POLICY_A1


def test_no_txt_and_no_cache_is_no_policy_without_a_report() -> None:
    assert not needs_fetch(DomainCache(), None, 0.0)
    d = discover(DomainCache(), None, None, 0.0)
    assert (d.action, d.policy, d.report) == (CacheAction.NO_POLICY, None, None)


def test_proactive_refresh_once_a_day_when_asked() -> None:
    state = discover(DomainCache(), A1, PolicyFetch.ok(POLICY_A1), 0.0).state
    assert not needs_fetch(state, A1, DAY - 1, refresh_interval=DAY)
    assert needs_fetch(state, A1, DAY, refresh_interval=DAY)
    d = discover(state, A1, FETCH_ERROR, DAY, refresh_interval=DAY)
    assert d.action is CacheAction.KEPT and d.report is TlsRptResult.STS_POLICY_FETCH_ERROR
    d = discover(state, A1, PolicyFetch.ok(POLICY_A1), DAY, refresh_interval=DAY)
    assert d.action is CacheAction.REFRESHED
    assert d.state.cached is not None and d.state.cached.expires_at == DAY + 604800


def test_mode_none_withdraws_and_refresh_failures_are_not_reported() -> None:
    none_policy = "version: STSv1\nmode: none\nmax_age: 86400\n"
    state = discover(DomainCache(), A1, PolicyFetch.ok(POLICY_A1), 0.0).state
    d = discover(state, B2, PolicyFetch.ok(none_policy), DAY)
    assert d.action is CacheAction.REFRESHED and d.policy is not None and not d.active
    assert sts_verdict(d.policy, "anything.example", False) == (True, None)
    d = discover(d.state, StsRecord("C3"), FETCH_ERROR, DAY + 10)
    assert d.action is CacheAction.KEPT and d.report is None


def test_max_age_zero_is_used_once_never_cached() -> None:
    text = POLICY_A1.replace("604800", "0")
    d = discover(DomainCache(), A1, PolicyFetch.ok(text), 5.0)
    assert d.action is CacheAction.FETCHED and d.active
    assert needs_fetch(d.state, A1, 5.0)


def test_discover_demands_the_fetch_it_needs() -> None:
    with pytest.raises(ValueError, match="a policy fetch is needed"):
        discover(DomainCache(), A1, None, 0.0)


def test_fetch_value_validates() -> None:
    with pytest.raises(ValueError, match="either text or an error"):
        PolicyFetch()
    with pytest.raises(ValueError, match="fetch error must be one of"):
        PolicyFetch.failed(TlsRptResult.CERTIFICATE_EXPIRED)


# -- applying the policy (§4, §5) -------------------------------------------------------


def _policy(mode: str) -> StsPolicy:
    return parse_policy(POLICY_A1.replace("enforce", mode))


@pytest.mark.parametrize(
    ("mode", "host", "cert_valid", "expected"),
    [
        ("enforce", "mx1.mail.example.com", True, (True, None)),
        ("enforce", "mx1.mail.example.com", False, (False, TlsRptResult.VALIDATION_FAILURE)),
        ("enforce", "evil.example.org", True, (False, TlsRptResult.VALIDATION_FAILURE)),
        ("testing", "mx1.mail.example.com", True, (True, None)),
        ("testing", "mx1.mail.example.com", False, (True, TlsRptResult.VALIDATION_FAILURE)),
        ("testing", "evil.example.org", True, (True, TlsRptResult.VALIDATION_FAILURE)),
        ("none", "evil.example.org", False, (True, None)),
    ],
)
def test_sts_verdict(mode: str, host: str, cert_valid: bool, expected: tuple[object, ...]) -> None:
    verdict = sts_verdict(_policy(mode), host, cert_valid)
    assert verdict == expected
    allowed, result = verdict
    assert (verdict.allowed, verdict.result) == (allowed, result)


def test_verdict_carries_the_specific_failure() -> None:
    expired = TlsRptResult.CERTIFICATE_EXPIRED
    verdict = sts_verdict(_policy("enforce"), "mx1.mail.example.com", False, failure=expired)
    assert verdict == (False, expired)
    no_tls = TlsRptResult.STARTTLS_NOT_SUPPORTED
    verdict = sts_verdict(_policy("testing"), "mx1.mail.example.com", False, failure=no_tls)
    assert verdict == (True, no_tls)
    # a valid certificate wins over a stale failure hint
    verdict = sts_verdict(_policy("enforce"), "mx1.mail.example.com", True, failure=no_tls)
    assert verdict == (True, None)


def test_no_policy_allows_everything() -> None:
    assert sts_verdict(None, "anything.example", False) == (True, None)
