"""An on-path attacker against each sender TLS setup: the facts it changes, the exposures.

The expected matrix below is derived from Postfix and the RFCs, not read back from
:func:`sim.policy.tls.decide`:

* ``may`` continues in plaintext when STARTTLS is missing or refused (Postfix
  ``smtp_proto.c``: "Else try to continue in plain-text mode") and accepts any
  certificate, so every interception reads the message.
* ``encrypt`` never falls back to plaintext (TLS_README) but does not check the
  certificate: interceptions win, downgrades only delay the mail.
* ``verify`` needs a CA-signed certificate for the MX host name: a self-signed or
  wrong-name certificate is refused (4.7.5).
* ``dane`` with a DNSSEC-validated, usable TLSA record makes TLS mandatory and the
  certificate must match the record, whatever CA signed it (RFC 7672 §2.2, §3.1.1).
* MTA-STS ``testing`` delivers as the level says and only reports (RFC 8461 §5);
  ``enforce`` refuses delivery when STARTTLS is missing or the certificate is not
  CA-valid for a listed MX host (RFC 8461 §4.2, §5).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.policy.certs import make_ca, make_leaf, make_self_signed, tlsa_for
from sim.policy.dane import DnssecStatus, TlsaAnswer, parse_tlsa
from sim.policy.mtasts import Mode
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
)
from sim.policy.tls_attacks import (
    ALL_SETUPS,
    EXTRA_SETUPS,
    INTERCEPTS,
    SENDER_SETUPS,
    SETUP_DESCRIPTIONS,
    Attack,
    Cell,
    Exposure,
    apply,
    build_setup,
    chain_trusted,
    exposure,
    outcome_matrix,
    render_markdown,
    to_frame,
)
from sim.policy.tlsrpt import TlsRptResult

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tls.md"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
DOMAIN, MX = "example.com", "mx.example.com"


class Certs:
    """The real server (CA + leaf), and the attacker's two certificates."""

    def __init__(self) -> None:
        self.ca = make_ca(not_before=START, not_after=END)  # trusted by the sender
        self.server = make_leaf(self.ca, [MX], not_before=START, not_after=END)
        # The attacker's own certificate: self-signed, even with the right name.
        self.forged = make_self_signed([MX], not_before=START, not_after=END)
        # A genuine certificate from the same public CA, for the attacker's own name.
        self.other = make_leaf(self.ca, ["mail.attacker.example"], not_before=START, not_after=END)


@pytest.fixture(scope="module")
def c() -> Certs:
    return Certs()


@pytest.fixture(scope="module")
def cells(c: Certs) -> list[Cell]:
    return outcome_matrix(
        NOW,
        (c.server.certificate, c.ca.certificate),
        (c.ca.certificate,),
        (c.forged.certificate,),
        attacker_trusted_chain=(c.other.certificate, c.ca.certificate),
        setups=ALL_SETUPS,
    )


def cell(cells: list[Cell], setup: str, attack: Attack) -> Cell:
    (found,) = [x for x in cells if x.setup == setup and x.attack is attack]
    return found


# -- the expected matrix ------------------------------------------------------------------

PX, MITM, UNAUTH, AUTH, DEF = (
    Exposure.PLAINTEXT_EXPOSED,
    Exposure.ENCRYPTED_TO_ATTACKER,
    Exposure.ENCRYPTED_UNAUTHENTICATED,
    Exposure.AUTHENTICATED,
    Exposure.DEFERRED,
)
ATTACKS = (
    Attack.NONE,
    Attack.STRIP,
    Attack.STARTTLS_4XX,
    Attack.STARTTLS_5XX,
    Attack.INTERCEPT,
    Attack.INTERCEPT_TRUSTED_OTHER_NAME,
)
#            none    strip  4xx  5xx  intercept  trusted-other-name
EXPECTED: dict[str, tuple[Exposure, ...]] = {
    "none": (PX, PX, PX, PX, PX, PX),
    "may": (UNAUTH, PX, PX, PX, MITM, MITM),
    "encrypt": (UNAUTH, DEF, DEF, DEF, MITM, MITM),
    "verify": (AUTH, DEF, DEF, DEF, DEF, DEF),
    "secure": (AUTH, DEF, DEF, DEF, DEF, DEF),
    "dane": (AUTH, DEF, DEF, DEF, DEF, DEF),
    "dane-only": (AUTH, DEF, DEF, DEF, DEF, DEF),
    "mta-sts-testing": (AUTH, PX, PX, PX, MITM, MITM),
    "mta-sts-enforce": (AUTH, DEF, DEF, DEF, DEF, DEF),
}


@pytest.mark.parametrize("setup", ALL_SETUPS)
def test_the_matrix_row_by_row(cells: list[Cell], setup: str) -> None:
    got = tuple(cell(cells, setup, a).exposure for a in ATTACKS)
    assert got == EXPECTED[setup]


@pytest.mark.parametrize(
    ("setup", "attack", "expected"),
    [
        ("may", Attack.STRIP, PX),
        ("may", Attack.INTERCEPT, MITM),  # may does not authenticate
        ("encrypt", Attack.STRIP, DEF),
        ("encrypt", Attack.INTERCEPT, MITM),
        ("verify", Attack.INTERCEPT, DEF),
        ("dane", Attack.STRIP, DEF),
        ("dane", Attack.INTERCEPT, DEF),
        ("mta-sts-testing", Attack.STRIP, PX),  # testing mode only reports
        ("mta-sts-enforce", Attack.STRIP, DEF),
    ],
)
def test_key_stories(cells: list[Cell], setup: str, attack: Attack, expected: Exposure) -> None:
    assert cell(cells, setup, attack).exposure is expected


@pytest.mark.parametrize("setup", SENDER_SETUPS)
def test_without_an_attacker_nothing_is_exposed(cells: list[Cell], setup: str) -> None:
    result = cell(cells, setup, Attack.NONE).exposure
    assert not result.exposed and result.delivered


def test_every_cell_is_the_verdict_of_the_tls_module(cells: list[Cell]) -> None:
    for x in cells:
        assert x.verdict == decide(x.policy, x.facts)
        assert x.exposure is exposure(x.attack, x.verdict)


def test_the_verdicts_behind_the_cells(cells: list[Cell]) -> None:
    refused = cell(cells, "may", Attack.STARTTLS_4XX).verdict
    assert refused.outcome is Outcome.PLAINTEXT and "refused STARTTLS" in refused.reason
    stripped = cell(cells, "encrypt", Attack.STRIP).verdict
    assert (stripped.status, stripped.tlsrpt) == ("4.7.4", TlsRptResult.STARTTLS_NOT_SUPPORTED)
    assert cell(cells, "verify", Attack.STARTTLS_4XX).verdict.status == "4.7.0"
    untrusted = cell(cells, "verify", Attack.INTERCEPT).verdict
    assert untrusted.tlsrpt is TlsRptResult.CERTIFICATE_NOT_TRUSTED
    wrong_name = cell(cells, "verify", Attack.INTERCEPT_TRUSTED_OTHER_NAME).verdict
    assert wrong_name.tlsrpt is TlsRptResult.CERTIFICATE_HOST_MISMATCH
    dane = cell(cells, "dane", Attack.INTERCEPT_TRUSTED_OTHER_NAME).verdict
    assert dane.outcome is Outcome.DEFER and "DANE" in dane.reason  # CA trust is no help
    assert cell(cells, "dane", Attack.NONE).verdict.via is Via.DANE
    # testing mode: delivered anyway, but the failure goes into the TLS-RPT report
    testing = cell(cells, "mta-sts-testing", Attack.INTERCEPT).verdict
    assert testing.outcome is Outcome.TLS and testing.auth is Auth.ENCRYPTED
    assert testing.tlsrpt is TlsRptResult.CERTIFICATE_NOT_TRUSTED
    assert cell(cells, "mta-sts-testing", Attack.STRIP).verdict.tlsrpt is not None
    # without an attacker a valid certificate is checked, even in testing mode
    assert cell(cells, "mta-sts-testing", Attack.NONE).verdict.via is Via.MTA_STS
    enforce = cell(cells, "mta-sts-enforce", Attack.INTERCEPT).verdict
    assert enforce.status == "4.7.5" and "enforce" in enforce.reason


def test_a_5xx_refusal_carries_the_postfix_bounce_note(cells: list[Cell]) -> None:
    noted = {(x.setup, x.attack) for x in cells if x.note}
    deferred_5xx = {
        (x.setup, x.attack)
        for x in cells
        if x.attack is Attack.STARTTLS_5XX and x.exposure is Exposure.DEFERRED
    }
    assert noted == deferred_5xx and ("verify", Attack.STARTTLS_5XX) in noted
    note = cell(cells, "encrypt", Attack.STARTTLS_5XX).note
    assert note is not None and "bounces" in note and "soft_bounce" in note
    assert "Note:" in cell(cells, "encrypt", Attack.STARTTLS_5XX).explain()


def test_explain_names_setup_attack_verdict_and_result(cells: list[Cell]) -> None:
    text = cell(cells, "may", Attack.STRIP).explain()
    assert text.startswith("may (")
    assert "strip (removes 250-STARTTLS" in text
    assert ": plaintext." in text and "Result: sent in plaintext" in text
    assert "4.7.4" in cell(cells, "dane", Attack.STRIP).explain()


# -- apply: what the attacker can and cannot change -----------------------------------------


def template(c: Certs, **kw: object) -> ConnectionFacts:
    policy, facts = build_setup("dane", server_chain=(c.server.certificate,), now=NOW)
    del policy
    return replace(facts, **kw)  # type: ignore[arg-type]


def test_apply_none_changes_nothing(c: Certs) -> None:
    facts = template(c)
    assert apply(Attack.NONE, facts, (c.forged.certificate,)) is facts


@pytest.mark.parametrize(
    ("attack", "starttls"),
    [
        (Attack.STRIP, StartTls.STRIPPED),
        (Attack.STARTTLS_4XX, StartTls.REFUSED),
        (Attack.STARTTLS_5XX, StartTls.REFUSED),
    ],
)
def test_downgrades_leave_no_certificate_and_keep_dns_facts(
    c: Certs, attack: Attack, starttls: StartTls
) -> None:
    facts = template(c)
    seen = apply(attack, facts, ())
    assert seen.starttls is starttls
    assert (seen.chain, seen.trusted) == ((), False)
    assert (seen.tlsa, seen.sts, seen.mx, seen.nexthop) == (
        facts.tlsa,
        facts.sts,
        facts.mx,
        facts.nexthop,
    )


def test_intercept_presents_the_attackers_chain(c: Certs) -> None:
    facts = template(c, handshake=Handshake.FAIL)
    seen = apply(Attack.INTERCEPT, facts, [c.forged.certificate])
    assert seen.chain == (c.forged.certificate,) and seen.trusted is False
    assert (seen.starttls, seen.handshake) == (StartTls.OFFERED, Handshake.OK)
    assert seen.tlsa == facts.tlsa  # the TLSA record still names the real key
    assert apply(Attack.INTERCEPT, facts, [c.forged.certificate], True).trusted is True
    with pytest.raises(ValueError, match="certificate chain"):
        apply(Attack.INTERCEPT, facts, ())


def test_intercept_with_a_trusted_certificate_for_another_name(c: Certs) -> None:
    facts = template(c)
    chain = (c.other.certificate, c.ca.certificate)
    seen = apply(Attack.INTERCEPT_TRUSTED_OTHER_NAME, facts, chain)
    assert seen.trusted is True and seen.chain == chain
    # A trusted certificate for the victim's own name is another attack (mis-issuance).
    with pytest.raises(ValueError, match="another name"):
        apply(Attack.INTERCEPT_TRUSTED_OTHER_NAME, facts, (c.server.certificate,))
    apex = make_leaf(c.ca, ["www.example.com"], not_before=START, not_after=END)
    with pytest.raises(ValueError, match="another name"):  # dot-nexthop
        apply(Attack.INTERCEPT_TRUSTED_OTHER_NAME, facts, (apex.certificate,))


def test_mta_sts_policy_survives_the_attack(c: Certs) -> None:
    _, facts = build_setup("mta-sts-enforce", server_chain=(c.server.certificate,), now=NOW)
    for attack in Attack:
        seen = apply(attack, facts, (c.other.certificate, c.ca.certificate))
        assert seen.sts == facts.sts


def test_a_misissued_certificate_is_still_read_by_the_attacker(c: Certs) -> None:
    """Under interception every TLS delivery reaches the attacker, 'verified' or not."""
    stolen = (c.server.certificate, c.ca.certificate)  # say the CA was fooled
    _, facts = build_setup("verify", server_chain=stolen, now=NOW)
    seen = apply(Attack.INTERCEPT, facts, stolen, True)
    verdict = decide(TlsPolicy(Level.VERIFY), seen)
    assert verdict.authenticated
    assert exposure(Attack.INTERCEPT, verdict) is Exposure.ENCRYPTED_TO_ATTACKER


def test_dane_ta_rejects_the_same_ca_for_another_name(c: Certs) -> None:
    """DANE-TA(2) pinning the server's own CA: the attacker's leaf from that CA fails."""
    _, facts = build_setup("dane", server_chain=(c.server.certificate,), now=NOW)
    tlsa = TlsaAnswer(DnssecStatus.SECURE, (parse_tlsa(tlsa_for(c.ca.certificate, usage=2)),))
    facts = replace(facts, chain=(c.server.certificate, c.ca.certificate), tlsa=tlsa)
    assert decide(TlsPolicy(Level.DANE), facts).via is Via.DANE
    chain = (c.other.certificate, c.ca.certificate)
    seen = apply(Attack.INTERCEPT_TRUSTED_OTHER_NAME, facts, chain)
    verdict = decide(TlsPolicy(Level.DANE), seen)
    assert verdict.tlsrpt is TlsRptResult.CERTIFICATE_HOST_MISMATCH
    assert exposure(Attack.INTERCEPT_TRUSTED_OTHER_NAME, verdict) is DEF


# -- exposure -------------------------------------------------------------------------------


def _verdict(outcome: Outcome, auth: Auth, via: Via | None = None) -> Verdict:
    status = "4.7.4" if outcome is Outcome.DEFER else None
    return Verdict(outcome, auth, via, "test", status=status)


def test_exposure_classification() -> None:
    tls_unauth = _verdict(Outcome.TLS, Auth.ENCRYPTED)
    tls_auth = _verdict(Outcome.TLS, Auth.VERIFIED, Via.PKIX)
    plain = _verdict(Outcome.PLAINTEXT, Auth.NONE)
    defer = _verdict(Outcome.DEFER, Auth.NONE)
    assert exposure(Attack.NONE, tls_unauth) is UNAUTH
    assert exposure(Attack.NONE, tls_auth) is AUTH
    assert exposure(Attack.NONE, plain) is PX
    for attack in Attack:
        assert exposure(attack, defer) is DEF
        assert exposure(attack, plain) is PX
    for attack in INTERCEPTS:
        assert exposure(attack, tls_unauth) is MITM
        assert exposure(attack, tls_auth) is MITM
    for attack in (Attack.STRIP, Attack.STARTTLS_4XX, Attack.STARTTLS_5XX):
        with pytest.raises(ValueError, match="impossible"):
            exposure(attack, tls_unauth)


def test_exposure_properties() -> None:
    assert {e for e in Exposure if e.exposed} == {PX, MITM}
    assert {e for e in Exposure if not e.delivered} == {DEF}
    assert all(e.description for e in Exposure)


def test_from_text() -> None:
    assert Attack.from_text("STRIP") is Attack.STRIP
    assert Attack.from_text("starttls_4xx") is Attack.STARTTLS_4XX
    assert Attack.from_text(" intercept-trusted-other-name ") is (
        Attack.INTERCEPT_TRUSTED_OTHER_NAME
    )
    assert Exposure.from_text("encrypted_to_attacker") is MITM
    with pytest.raises(ValueError, match="unknown attack"):
        Attack.from_text("dns-spoof")
    assert all(a.description for a in Attack)


# -- setups, trust, the matrix API ---------------------------------------------------------


def test_build_setup(c: Certs) -> None:
    chain = (c.server.certificate, c.ca.certificate)
    for name in ALL_SETUPS:
        policy, facts = build_setup(name, server_chain=chain, now=NOW)
        assert facts.chain == chain and facts.trusted and facts.mx == MX
        assert facts.starttls is StartTls.OFFERED
        assert name in SETUP_DESCRIPTIONS
        if name.startswith("mta-sts"):
            assert policy.level is Level.MAY and facts.sts is not None
            assert facts.sts.mx == (MX,)
            assert facts.sts.mode is (Mode.TESTING if "testing" in name else Mode.ENFORCE)
        else:
            assert policy.level is Level.from_text(name) and facts.sts is None
        if name.startswith("dane"):
            assert facts.tlsa.status is DnssecStatus.SECURE and facts.tlsa.usable
        else:
            assert facts.tlsa.status is DnssecStatus.NONE
    assert set(SENDER_SETUPS) | set(EXTRA_SETUPS) == set(ALL_SETUPS)
    with pytest.raises(ValueError, match="unknown sender setup"):
        build_setup("dane-please", server_chain=chain, now=NOW)
    with pytest.raises(ValueError, match="empty"):
        build_setup("may", server_chain=(), now=NOW)


def test_chain_trusted(c: Certs) -> None:
    anchors = (c.ca.certificate,)
    assert chain_trusted((c.server.certificate, c.ca.certificate), anchors)
    assert chain_trusted((c.server.certificate,), anchors)  # root not sent: still builds
    assert chain_trusted((c.ca.certificate,), anchors)
    assert not chain_trusted((c.forged.certificate,), anchors)
    assert not chain_trusted((c.server.certificate, c.forged.certificate), anchors)
    assert not chain_trusted((), anchors)
    assert not chain_trusted((c.server.certificate,), ())


def test_outcome_matrix_arguments(c: Certs) -> None:
    server = (c.server.certificate, c.ca.certificate)
    anchors = (c.ca.certificate,)
    cells = outcome_matrix(NOW, server, anchors, (c.forged.certificate,))
    assert list(dict.fromkeys(x.setup for x in cells)) == list(SENDER_SETUPS)
    assert Attack.INTERCEPT_TRUSTED_OTHER_NAME not in {x.attack for x in cells}
    with pytest.raises(ValueError, match="needs attacker_trusted_chain"):
        outcome_matrix(
            NOW, server, anchors, (c.forged.certificate,), attacks=list(Attack), setups=["may"]
        )
    with pytest.raises(ValueError, match="trusted CA"):
        outcome_matrix(
            NOW,
            server,
            anchors,
            (c.forged.certificate,),
            attacker_trusted_chain=(c.forged.certificate,),
        )
    # An untrusted real server: verify cannot deliver even without an attacker.
    alone = outcome_matrix(
        NOW, server, (), (c.forged.certificate,), attacks=[Attack.NONE], setups=["verify"]
    )
    assert [x.exposure for x in alone] == [DEF]


def test_to_frame(cells: list[Cell]) -> None:
    frame = to_frame(cells)
    assert list(frame.index) == list(ALL_SETUPS)
    assert list(frame.columns) == [a.value for a in ATTACKS]
    assert (frame.index.name, frame.columns.name) == ("setup", "attack")
    may_strip: object = frame.loc["may", "strip"]
    dane_intercept: object = frame.loc["dane", "intercept"]
    assert (may_strip, dane_intercept) == (PX, DEF)
    verdict: object = to_frame(cells, value="verdict").loc["encrypt", "strip"]
    assert isinstance(verdict, Verdict) and verdict.status == "4.7.4"
    whole: object = to_frame(cells, value="cell").loc["verify", "none"]
    assert isinstance(whole, Cell) and whole.setup == "verify"


# -- docs/tls.md shows the same matrix --------------------------------------------------------

_BLOCK = re.compile(r"<!-- attack-matrix:begin -->\n(.*?)<!-- attack-matrix:end -->", re.S)


def test_docs_show_the_current_matrix(cells: list[Cell]) -> None:
    match = _BLOCK.search(DOC.read_text())
    assert match is not None, "docs/tls.md lacks the attack-matrix block"
    six = [x for x in cells if x.setup in SENDER_SETUPS]
    assert match.group(1) == render_markdown(six), (
        "regenerate: .venv/bin/python -m tests.policy.test_tls_attacks"
    )


def _main() -> None:  # pragma: no cover - prints the docs table
    certs = Certs()
    matrix = outcome_matrix(
        NOW,
        (certs.server.certificate, certs.ca.certificate),
        (certs.ca.certificate,),
        (certs.forged.certificate,),
        attacker_trusted_chain=(certs.other.certificate, certs.ca.certificate),
    )
    print(render_markdown(matrix), end="")


if __name__ == "__main__":  # pragma: no cover
    _main()
