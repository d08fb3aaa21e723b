"""TLS security levels, DANE, MTA-STS and policy maps: the outcome matrix and the rules.

The matrix below is the specification of :func:`sim.policy.tls.decide` for every level
against the facts that change its outcome; docs/tls.md shows the same table, rendered
by :func:`render_matrix` (regenerate with ``.venv/bin/python -m tests.policy.test_tls``).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.errors import PolicyConfigError
from sim.policy.certs import Issued, fingerprint, make_ca, make_leaf, make_self_signed, tlsa_for
from sim.policy.dane import DnssecStatus, TlsaAnswer, parse_tlsa
from sim.policy.mtasts import parse_policy
from sim.policy.tls import (
    Auth,
    ConnectionFacts,
    Handshake,
    Level,
    Outcome,
    StartTls,
    TlsPolicy,
    Verdict,
    Via,
    decide,
    names_match,
)
from sim.policy.tls_policy_map import (
    TlsPolicyMap,
    default_security_level,
    lookup_keys,
    parse_policy_value,
)
from sim.policy.tlsrpt import TlsRptResult

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tls.md"
SEED_MAP = ROOT / "scenarios" / "tls" / "tls_policy"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
DOMAIN, MX = "example.com", "mx.example.com"


class Certs:
    """The certificates of the matrix, made once per run (keys differ between runs)."""

    def __init__(self) -> None:
        self.ca = make_ca(not_before=START, not_after=END)
        self.ok = make_leaf(self.ca, [MX], not_before=START, not_after=END)
        self.mismatch = make_leaf(self.ca, ["other.example.net"], not_before=START, not_after=END)
        self.selfsigned = make_self_signed([MX], not_before=START, not_after=END)

    def chain(self, which: str) -> tuple[tuple[Issued, ...], bool]:
        """(presented chain, chains to a trusted root) for a certificate case."""
        if which == "ok":
            return (self.ok, self.ca), True
        if which == "mismatch":
            return (self.mismatch, self.ca), True
        return (self.selfsigned,), False


_CERTS: Certs | None = None


def certs() -> Certs:
    global _CERTS
    if _CERTS is None:
        _CERTS = Certs()
    return _CERTS


# -- the outcome matrix -------------------------------------------------------------------

# Rows: STARTTLS offered with the certificate ok (CA-signed, names mx.example.com),
# mismatch (CA-signed, other.example.net) or self-signed (mx.example.com, no CA), and
# STARTTLS stripped (then the certificate does not matter).  Columns: the TLSA lookup
# for mx.example.com.  "secure" publishes "3 1 1" of the ok certificate; "insecure"
# returns the same record without DNSSEC; "none" is a validated denial; "bogus" is a
# DNSSEC failure or SERVFAIL.  fingerprint pins the ok certificate.
TLSA_COLUMNS = ("none", "insecure", "secure", "bogus")
ROWS = ("ok", "mismatch", "self-signed", "stripped")
ROW_TITLES = {
    "ok": "offered, cert ok",
    "mismatch": "offered, name mismatch",
    "self-signed": "offered, self-signed",
    "stripped": "stripped",
}
U, P, PL = "tls unauthenticated", "tls pkix", "plaintext"
DANE_OK = "tls dane"
D_START = "defer starttls-not-supported"
D_TRUST = "defer certificate-not-trusted"
D_HOST = "defer certificate-host-mismatch"
D_DNSSEC = "defer dnssec-invalid"
D_REQ = "defer dane-required"


def _same(cell: str) -> tuple[str, str, str, str]:
    return (cell, cell, cell, cell)


MATRIX: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "none": {row: _same(PL) for row in ROWS},
    "may": {"ok": _same(U), "mismatch": _same(U), "self-signed": _same(U), "stripped": _same(PL)},
    "encrypt": {
        "ok": _same(U),
        "mismatch": _same(U),
        "self-signed": _same(U),
        "stripped": _same(D_START),
    },
    "dane": {
        "ok": (U, U, DANE_OK, D_DNSSEC),
        "mismatch": (U, U, D_TRUST, D_DNSSEC),
        "self-signed": (U, U, D_TRUST, D_DNSSEC),
        "stripped": (PL, PL, D_START, D_DNSSEC),
    },
    "dane-only": {
        "ok": (D_REQ, D_REQ, DANE_OK, D_DNSSEC),
        "mismatch": (D_REQ, D_REQ, D_TRUST, D_DNSSEC),
        "self-signed": (D_REQ, D_REQ, D_TRUST, D_DNSSEC),
        "stripped": (D_REQ, D_REQ, D_START, D_DNSSEC),
    },
    "fingerprint": {
        "ok": _same("tls fingerprint"),
        "mismatch": _same(D_TRUST),
        "self-signed": _same(D_TRUST),
        "stripped": _same(D_START),
    },
    "verify": {
        "ok": _same(P),
        "mismatch": _same(D_HOST),
        "self-signed": _same(D_TRUST),
        "stripped": _same(D_START),
    },
    "secure": {
        "ok": _same(P),
        "mismatch": _same(D_HOST),
        "self-signed": _same(D_TRUST),
        "stripped": _same(D_START),
    },
}


def cell(verdict: Verdict) -> str:
    if verdict.outcome is Outcome.TLS:
        return "tls " + (verdict.via.value if verdict.via is not None else "unauthenticated")
    if verdict.outcome is Outcome.PLAINTEXT:
        return "plaintext"
    assert verdict.tlsrpt is not None
    return f"defer {verdict.tlsrpt.value}"


def matrix_facts(row: str, column: str) -> ConnectionFacts:
    c = certs()
    which = "ok" if row == "stripped" else row
    chain, trusted = c.chain(which)
    records = (parse_tlsa(tlsa_for(c.ok.certificate)),)
    tlsa = {
        "none": TlsaAnswer(DnssecStatus.NONE),
        "insecure": TlsaAnswer(DnssecStatus.INSECURE, records),
        "secure": TlsaAnswer(DnssecStatus.SECURE, records),
        "bogus": TlsaAnswer(DnssecStatus.BOGUS),
    }[column]
    return ConnectionFacts(
        nexthop=DOMAIN,
        mx=MX,
        now=NOW,
        starttls=StartTls.STRIPPED if row == "stripped" else StartTls.OFFERED,
        chain=tuple(i.certificate for i in chain),
        trusted=trusted,
        tlsa=tlsa,
    )


def matrix_policy(level: str) -> TlsPolicy:
    lvl = Level.from_text(level)
    if lvl is Level.FINGERPRINT:
        return TlsPolicy(lvl, (fingerprint(certs().ok.certificate),))
    return TlsPolicy(lvl)


CASES = [
    (level, row, column, MATRIX[level][row][i])
    for level in MATRIX
    for row in ROWS
    for i, column in enumerate(TLSA_COLUMNS)
]


@pytest.mark.parametrize(("level", "row", "column", "expected"), CASES)
def test_outcome_matrix(level: str, row: str, column: str, expected: str) -> None:
    verdict = decide(matrix_policy(level), matrix_facts(row, column))
    assert cell(verdict) == expected, verdict.reason
    if verdict.outcome is Outcome.DEFER:
        assert verdict.status is not None and verdict.status.startswith("4.7.")


def test_matrix_covers_every_level() -> None:
    assert list(MATRIX) == [m.value for m in Level]


def render_matrix() -> str:
    """The markdown table of docs/tls.md, from MATRIX."""
    head = "| level | STARTTLS / certificate | " + " | ".join(f"TLSA {c}" for c in TLSA_COLUMNS)
    lines = [head + " |", "|" + " --- |" * (2 + len(TLSA_COLUMNS))]
    for level, rows in MATRIX.items():
        for row in ROWS:
            cells = " | ".join(rows[row])
            lines.append(f"| `{level}` | {ROW_TITLES[row]} | {cells} |")
    return "\n".join(lines) + "\n"


BEGIN, END_MARK = "<!-- outcome-matrix:begin -->\n", "<!-- outcome-matrix:end -->"


def test_docs_matrix_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END_MARK in text
    current = text.split(BEGIN, 1)[1].split(END_MARK, 1)[0]
    assert current == render_matrix(), "regenerate: .venv/bin/python -m tests.policy.test_tls"


# -- facts beyond the matrix ------------------------------------------------------------


def facts(**kw: object) -> ConnectionFacts:
    c = certs()
    base = ConnectionFacts(
        nexthop=DOMAIN,
        mx=MX,
        now=NOW,
        chain=(c.ok.certificate, c.ca.certificate),
        trusted=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def secure_tlsa(*texts: str) -> TlsaAnswer:
    return TlsaAnswer(DnssecStatus.SECURE, tuple(parse_tlsa(t) for t in texts))


def test_may_handshake_failure_retries_in_plaintext_or_defers() -> None:
    policy = TlsPolicy(Level.MAY)
    assert decide(policy, facts(handshake=Handshake.FAIL)).outcome is Outcome.PLAINTEXT
    young = decide(policy, facts(handshake=Handshake.FAIL, plaintext_retry=False))
    assert (young.outcome, young.status) == (Outcome.DEFER, "4.7.5")
    refused = decide(policy, facts(starttls=StartTls.REFUSED))
    assert refused.outcome is Outcome.PLAINTEXT


@pytest.mark.parametrize("level", ["encrypt", "fingerprint", "verify", "secure", "dane-only"])
def test_mandatory_levels_never_fall_back(level: str) -> None:
    policy = matrix_policy(level)
    tlsa = secure_tlsa(tlsa_for(certs().ok.certificate))
    refused = decide(policy, facts(starttls=StartTls.REFUSED, tlsa=tlsa))
    assert (refused.outcome, refused.status) == (Outcome.DEFER, "4.7.0")
    assert refused.tlsrpt is TlsRptResult.STARTTLS_NOT_SUPPORTED
    failed = decide(policy, facts(handshake=Handshake.FAIL, tlsa=tlsa))
    assert (failed.outcome, failed.status) == (Outcome.DEFER, "4.7.5")
    assert failed.tlsrpt is TlsRptResult.VALIDATION_FAILURE
    stripped = decide(policy, facts(starttls=StartTls.STRIPPED, tlsa=tlsa))
    assert (stripped.outcome, stripped.status) == (Outcome.DEFER, "4.7.4")


def test_verify_and_secure_check_expiry() -> None:
    for level in (Level.VERIFY, Level.SECURE):
        late = decide(TlsPolicy(level), facts(now=datetime(2031, 1, 1, tzinfo=UTC)))
        assert late.outcome is Outcome.DEFER
        assert late.tlsrpt is TlsRptResult.CERTIFICATE_EXPIRED


def test_match_patterns_for_verify_and_secure() -> None:
    c = certs()
    apex = make_leaf(c.ca, [DOMAIN], not_before=START, not_after=END)
    deep = make_leaf(c.ca, ["a.b.example.com"], not_before=START, not_after=END)

    def ok(policy: TlsPolicy, leaf: Issued, mx: str = MX) -> bool:
        chain = (leaf.certificate, c.ca.certificate)
        return decide(policy, facts(chain=chain, mx=mx)).outcome is Outcome.TLS

    verify, secure = TlsPolicy(Level.VERIFY), TlsPolicy(Level.SECURE)
    assert verify.match_patterns == ("hostname",)
    assert secure.match_patterns == ("nexthop", "dot-nexthop")
    assert ok(verify, c.ok) and not ok(verify, apex)  # hostname = MX name only
    assert ok(secure, apex) and ok(secure, deep) and ok(secure, c.ok)  # nexthop, dot-nexthop
    assert not ok(secure, c.mismatch)
    dot = TlsPolicy(Level.SECURE, (".example.com",))
    assert ok(dot, deep) and not ok(dot, apex)  # .domain: subdomains only
    exact = TlsPolicy(Level.VERIFY, ("a.b.example.com",))
    assert ok(exact, deep) and not ok(exact, c.ok)
    nexthop = TlsPolicy(Level.VERIFY, ("nexthop",))
    assert ok(nexthop, apex) and not ok(nexthop, c.ok)
    # The MX name comes from insecure DNS: verify trusts it, secure does not.
    assert ok(verify, c.mismatch, mx="other.example.net")
    assert not ok(secure, c.mismatch, mx="other.example.net")


def test_names_match_wildcards() -> None:
    presented = ("*.example.com",)
    assert names_match(presented, ("hostname",), nexthop=DOMAIN, mx=MX)
    assert names_match(presented, ("dot-nexthop",), nexthop=DOMAIN, mx=MX)
    assert names_match(presented, (".mail.example.com",), nexthop=DOMAIN, mx=MX) is False
    assert not names_match(presented, ("nexthop",), nexthop=DOMAIN, mx=MX)


def test_fingerprint_matches_certificate_or_public_key() -> None:
    leaf = certs().ok.certificate
    by_key = TlsPolicy(Level.FINGERPRINT, (fingerprint(leaf, public_key=True).lower(),))
    verdict = decide(by_key, facts(trusted=False))  # no CA, name or date checks
    assert (verdict.outcome, verdict.via) == (Outcome.TLS, Via.FINGERPRINT)
    bare = TlsPolicy(Level.FINGERPRINT, (fingerprint(leaf).replace(":", ""),))
    assert decide(bare, facts(now=datetime(2031, 1, 1, tzinfo=UTC))).auth is Auth.FINGERPRINT


def test_dane_all_unusable_records_mean_mandatory_unauthenticated_tls() -> None:
    tlsa = secure_tlsa(tlsa_for(certs().ok.certificate, 1, 1, 1))  # PKIX-EE only
    verdict = decide(TlsPolicy(Level.DANE), facts(tlsa=tlsa, trusted=False))
    assert (verdict.outcome, verdict.auth, verdict.level) == (
        Outcome.TLS,
        Auth.ENCRYPTED,
        Level.ENCRYPT,
    )
    assert verdict.tlsrpt is TlsRptResult.TLSA_INVALID
    assert "RFC 7672 §2.2" in verdict.reason
    stripped = decide(TlsPolicy(Level.DANE), facts(tlsa=tlsa, starttls=StartTls.STRIPPED))
    assert stripped.outcome is Outcome.DEFER  # never plaintext
    only = decide(TlsPolicy(Level.DANE_ONLY), facts(tlsa=tlsa))
    assert (only.outcome, only.tlsrpt) == (Outcome.DEFER, TlsRptResult.TLSA_INVALID)


def test_dane_ee_ignores_pkix_and_dates() -> None:
    c = certs()
    tlsa = secure_tlsa(tlsa_for(c.selfsigned.certificate))
    later = datetime(2031, 1, 1, tzinfo=UTC)
    verdict = decide(
        TlsPolicy(Level.DANE),
        facts(chain=(c.selfsigned.certificate,), trusted=False, tlsa=tlsa, now=later),
    )
    assert (verdict.outcome, verdict.via) == (Outcome.TLS, Via.DANE)


def test_dane_ta_reference_names_are_mx_and_nexthop() -> None:
    c = certs()
    tlsa = secure_tlsa(tlsa_for(c.ca.certificate, 2, 1, 1))
    assert decide(TlsPolicy(Level.DANE), facts(tlsa=tlsa)).via is Via.DANE
    wrong = decide(
        TlsPolicy(Level.DANE), facts(tlsa=tlsa, chain=(c.mismatch.certificate, c.ca.certificate))
    )
    assert wrong.tlsrpt is TlsRptResult.CERTIFICATE_HOST_MISMATCH


# -- MTA-STS (RFC 8461) and its precedence below DANE (RFC 8461 §2) ---------------------

ENFORCE = parse_policy("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n")
TESTING = parse_policy("version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 86400\n")
WITHDRAWN = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n")


def test_mta_sts_never_overrides_a_failing_dane_validation() -> None:
    c = certs()
    # The MX host presents a PKIX-valid certificate that MTA-STS enforce accepts ...
    without_dane = decide(TlsPolicy(Level.DANE), facts(sts=ENFORCE))
    assert (without_dane.outcome, without_dane.via) == (Outcome.TLS, Via.MTA_STS)
    # ... but its DNSSEC-signed TLSA record pins another key: DANE fails and decides.
    tlsa = secure_tlsa(tlsa_for(c.selfsigned.certificate))
    verdict = decide(TlsPolicy(Level.DANE), facts(sts=ENFORCE, tlsa=tlsa))
    assert verdict.outcome is Outcome.DEFER
    assert verdict.via is None and not verdict.authenticated
    assert verdict.tlsrpt is TlsRptResult.CERTIFICATE_NOT_TRUSTED
    assert "DANE" in verdict.reason
    # Same with a testing policy: DANE failure is still final.
    assert decide(TlsPolicy(Level.DANE), facts(sts=TESTING, tlsa=tlsa)).outcome is Outcome.DEFER


def test_dane_success_does_not_need_pkix() -> None:
    c = certs()
    tlsa = secure_tlsa(tlsa_for(c.selfsigned.certificate))
    chain = (c.selfsigned.certificate,)
    verdict = decide(TlsPolicy(Level.DANE), facts(sts=ENFORCE, tlsa=tlsa, chain=chain))
    assert (verdict.outcome, verdict.via, verdict.tlsrpt) == (Outcome.TLS, Via.DANE, None)


def test_mta_sts_enforce_refuses_unlisted_mx_even_with_dane() -> None:
    tlsa = secure_tlsa(tlsa_for(certs().ok.certificate))
    verdict = decide(TlsPolicy(Level.DANE), facts(sts=ENFORCE, tlsa=tlsa, mx="mx2.example.com"))
    assert (verdict.outcome, verdict.tlsrpt) == (Outcome.DEFER, TlsRptResult.VALIDATION_FAILURE)


@pytest.mark.parametrize(
    ("kw", "result"),
    [
        ({"mx": "backup.example.net"}, TlsRptResult.VALIDATION_FAILURE),
        ({"starttls": StartTls.STRIPPED}, TlsRptResult.STARTTLS_NOT_SUPPORTED),
        ({"handshake": Handshake.FAIL}, TlsRptResult.VALIDATION_FAILURE),
        ({"trusted": False}, TlsRptResult.CERTIFICATE_NOT_TRUSTED),
        ({"now": datetime(2031, 1, 1, tzinfo=UTC)}, TlsRptResult.CERTIFICATE_EXPIRED),
        ({"mx": "mx1.example.com"}, TlsRptResult.CERTIFICATE_HOST_MISMATCH),
    ],
)
def test_mta_sts_enforce_and_testing(kw: dict[str, object], result: TlsRptResult) -> None:
    enforce_all = parse_policy(
        "version: STSv1\nmode: enforce\nmx: *.example.com\nmx: backup.example.org\nmax_age: 86400\n"
    )
    enforced = decide(TlsPolicy(Level.MAY), facts(sts=enforce_all, **kw))
    assert (enforced.outcome, enforced.tlsrpt) == (Outcome.DEFER, result), enforced.reason
    assert "MTA-STS" in enforced.reason
    testing = replace(enforce_all, mode=TESTING.mode)
    tested = decide(TlsPolicy(Level.MAY), facts(sts=testing, **kw))
    assert tested.outcome is not Outcome.DEFER
    assert tested.tlsrpt is result and "testing" in tested.reason


def test_mta_sts_success_authenticates_an_opportunistic_connection() -> None:
    verdict = decide(TlsPolicy(Level.MAY), facts(sts=TESTING))
    assert (verdict.outcome, verdict.via, verdict.tlsrpt) == (Outcome.TLS, Via.MTA_STS, None)
    assert decide(TlsPolicy(Level.VERIFY), facts(sts=ENFORCE)).via is Via.PKIX


def test_mta_sts_mode_none_and_level_none_ignore_the_policy() -> None:
    stripped = facts(starttls=StartTls.STRIPPED)
    assert decide(TlsPolicy(Level.MAY), replace(stripped, sts=WITHDRAWN)).outcome is (
        Outcome.PLAINTEXT
    )
    assert decide(TlsPolicy(Level.NONE), replace(stripped, sts=ENFORCE)).outcome is (
        Outcome.PLAINTEXT
    )


def test_mta_sts_cannot_relax_a_level() -> None:
    verdict = decide(TlsPolicy(Level.VERIFY), facts(sts=TESTING, trusted=False))
    assert verdict.outcome is Outcome.DEFER


def test_insecure_tlsa_falls_back_to_mta_sts() -> None:
    tlsa = TlsaAnswer(
        DnssecStatus.INSECURE, (parse_tlsa(tlsa_for(certs().selfsigned.certificate)),)
    )
    verdict = decide(TlsPolicy(Level.DANE), facts(sts=ENFORCE, tlsa=tlsa))
    assert (verdict.outcome, verdict.via) == (Outcome.TLS, Via.MTA_STS)


# -- values -----------------------------------------------------------------------------


def test_values_validate() -> None:
    assert Level.from_text(" DANE-only ") is Level.DANE_ONLY
    assert StartTls.from_text("not-offered") is StartTls.STRIPPED
    with pytest.raises(ValueError, match="expected one of: none, may, encrypt"):
        Level.from_text("mandatory")
    with pytest.raises(ValueError, match="match= is only valid"):
        TlsPolicy(Level.ENCRYPT, ("x",))
    with pytest.raises(ValueError, match="timezone-aware"):
        ConnectionFacts(nexthop=DOMAIN, mx=MX, now=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        Verdict(Outcome.TLS, Auth.NONE, None, "x")
    with pytest.raises(ValueError):
        Verdict(Outcome.DEFER, Auth.NONE, None, "x")
    assert facts(mx="MX.Example.COM.").mx == MX


def test_verdict_json_shape() -> None:
    verdict = decide(TlsPolicy(Level.ENCRYPT), facts(starttls=StartTls.STRIPPED))
    assert verdict.as_dict() == {
        "verdict": "defer",
        "authenticated": False,
        "via": None,
        "reason": verdict.reason,
        "tlsrpt_result": "starttls-not-supported",
    }


# -- smtp_tls_policy_maps ---------------------------------------------------------------


def test_lookup_keys_follow_postfix_order() -> None:
    assert lookup_keys("a.b.Example.COM.") == (
        "a.b.example.com",
        ".b.example.com",
        ".example.com",
        ".com",
    )
    assert lookup_keys("gov") == ("gov",)
    assert lookup_keys("[mail.example.org]:587") == ("[mail.example.org]:587",)
    assert lookup_keys("[mail.example.org]") == ("[mail.example.org]",)


def test_seed_policy_map() -> None:
    table = TlsPolicyMap.read(SEED_MAP)
    assert table.lookup("example.com").level is Level.ENCRYPT
    assert table.lookup("mail.example.com").level is Level.MAY  # no .example.com key
    sensitive = table.lookup("sensitive.org")
    assert (sensitive.level, sensitive.match) == (Level.VERIFY, (".sensitive.org",))
    assert table.lookup("mail.sensitive.org").level is Level.MAY
    assert table.lookup("agency.gov").level is Level.DANE
    assert table.lookup("a.b.agency.gov").level is Level.DANE
    assert table.lookup("gov").level is Level.MAY  # ".gov" is subdomains only
    assert table.lookup("example.net") == table.default
    none_default = TlsPolicyMap.read(SEED_MAP, default_level=Level.NONE)
    assert none_default.lookup("example.net").level is Level.NONE


def test_exact_key_beats_parent_and_tables_are_tried_per_key(tmp_path: Path) -> None:
    (tmp_path / "first").write_text(".example.com secure\n")
    (tmp_path / "second").write_text("mail.example.com encrypt\n.com none\n")
    maps = TlsPolicyMap.open(["hash:first", "texthash:second"], directory=tmp_path)
    assert maps.lookup("mail.example.com").level is Level.ENCRYPT
    assert maps.lookup("other.example.com").level is Level.SECURE
    assert maps.lookup("example.com").level is Level.NONE
    inline = TlsPolicyMap.open(["inline:{ [relay.example]:587=secure }"])
    assert inline.lookup("[relay.example]:587").level is Level.SECURE
    assert inline.lookup("[relay.example]").level is Level.MAY


def test_policy_values(tmp_path: Path) -> None:
    fp1, fp2 = "B6:B4:72:34", "51:E9:AF:2E"
    value = parse_policy_value(f"fingerprint match={fp1}|{fp2}, match=AA:BB")
    assert value.match == (fp1, fp2, "AA:BB")
    secure = parse_policy_value("secure match=.example.net:example.net ciphers=high")
    assert secure.match == (".example.net", "example.net")
    assert secure.attributes == (("ciphers", "high"),)
    assert secure.describe() == "secure match=.example.net match=example.net ciphers=high"
    (tmp_path / "tls_policy").write_text(f"[thumb.example.org] fingerprint\n    match={fp1}\n")
    continued = TlsPolicyMap.read(tmp_path / "tls_policy").lookup("[thumb.example.org]")
    assert continued.match == (fp1,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty TLS policy"),
        ("mandatory", "unknown TLS security level"),
        ("verify colour=blue", "unknown attribute 'colour'"),
        ("encrypt match=hostname", "match= is invalid with level 'encrypt'"),
        ("verify match", "expected name=value"),
        ("fingerprint", "needs match="),
    ],
)
def test_bad_policy_values(value: str, message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message):
        parse_policy_value(value)


def test_unreadable_policy_map(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="no such file"):
        TlsPolicyMap.read(tmp_path / "missing")
    with pytest.raises(PolicyConfigError, match="not found"):
        TlsPolicyMap.open(["hash:missing"], directory=tmp_path)


def test_default_security_level() -> None:
    assert default_security_level(None) is Level.MAY
    assert default_security_level(None, "3.11") is Level.MAY
    assert default_security_level(None, "3.6") is Level.NONE
    assert default_security_level("", "3.11") is Level.NONE
    assert default_security_level("dane") is Level.DANE
    with pytest.raises(PolicyConfigError):
        default_security_level(None, "three")


def test_tls_modules_read_no_clock() -> None:
    policy_dir = ROOT / "sim" / "policy"
    for name in ("tls.py", "tls_policy_map.py", "dane.py", "certs.py"):
        tree = ast.parse((policy_dir / name).read_text())
        calls = [
            n.func.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        ]
        assert not {"now", "utcnow", "today", "time"} & set(calls), name


if __name__ == "__main__":  # pragma: no cover
    print(render_matrix(), end="")


def test_bracketed_and_port_nexthops_match_as_the_bare_domain() -> None:
    from sim.policy.tls import _bare_nexthop

    assert _bare_nexthop("[relay.example.net]:587") == "relay.example.net"
    assert _bare_nexthop("[relay.example.net]") == "relay.example.net"
    assert _bare_nexthop("relay.example.net:587") == "relay.example.net"
    assert _bare_nexthop("Example.COM.") == "example.com"
