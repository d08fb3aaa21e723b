"""DANE (RFC 6698, RFC 7671, RFC 7672) on real certificates, and the certs helper."""

from __future__ import annotations

from datetime import UTC, datetime

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sim.errors import InputError
from sim.policy.certs import (
    Issued,
    cert_names,
    fingerprint,
    load_pem_chain,
    make_ca,
    make_leaf,
    make_self_signed,
    name_matches,
    tlsa_for,
)
from sim.policy.dane import (
    TLSA,
    DaneOutcome,
    DaneState,
    DnssecStatus,
    MatchingType,
    Selector,
    TlsaAnswer,
    Usage,
    association_data,
    parse_tlsa,
    record_matches,
    unusable_reason,
    verify,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LATER = datetime(2031, 1, 1, tzinfo=UTC)  # after END
NAMES = ("mx.example.com", "example.com")


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca(not_before=START, not_after=END)


@pytest.fixture(scope="module")
def other_ca() -> Issued:
    return make_ca("another CA", not_before=START, not_after=END)


@pytest.fixture(scope="module")
def leaf(ca: Issued) -> Issued:
    return make_leaf(ca, ["mx.example.com"], not_before=START, not_after=END)


@pytest.fixture(scope="module")
def selfsigned() -> Issued:
    return make_self_signed(["mx.example.com"], not_before=START, not_after=END)


def rr(text: str) -> TLSA:
    return parse_tlsa(text)


# -- every usage x selector x matching type, matching and not matching -------------------

COMBOS = [(u, s, m) for u in (2, 3) for s in (0, 1) for m in (0, 1, 2)]


@pytest.mark.parametrize(("usage", "selector", "mtype"), COMBOS)
def test_vector_matches_its_own_chain(
    usage: int, selector: int, mtype: int, ca: Issued, leaf: Issued
) -> None:
    target = ca if usage == 2 else leaf
    record = rr(tlsa_for(target.certificate, usage, selector, mtype))
    check = verify([record], (leaf.certificate, ca.certificate), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.MATCH
    assert check.record == record
    assert check.authenticated


@pytest.mark.parametrize(("usage", "selector", "mtype"), COMBOS)
def test_vector_does_not_match_another_chain(
    usage: int, selector: int, mtype: int, ca: Issued, leaf: Issued, other_ca: Issued
) -> None:
    target = ca if usage == 2 else leaf
    record = rr(tlsa_for(target.certificate, usage, selector, mtype))
    stranger = make_leaf(other_ca, ["mx.example.com"], not_before=START, not_after=END)
    check = verify([record], (stranger.certificate, other_ca.certificate), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.NO_MATCH
    assert not check.authenticated


def test_association_data_is_what_rfc_6698_says(leaf: Issued) -> None:
    cert = leaf.certificate
    der = association_data(cert, 0, 0)
    spki = association_data(cert, 1, 0)
    assert x509.load_der_x509_certificate(der) == cert
    assert len(association_data(cert, 0, 1)) == 32
    assert len(association_data(cert, 1, 2)) == 64
    assert spki != der and spki in der  # the SPKI is part of the certificate
    assert tlsa_for(cert).startswith("3 1 1 ")
    with pytest.raises(ValueError, match="selector"):
        association_data(cert, 2, 0)
    with pytest.raises(ValueError, match="matching type"):
        association_data(cert, 0, 3)


def test_record_from_dnspython_rdata(leaf: Issued) -> None:
    text = tlsa_for(leaf.certificate)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TLSA, text)
    assert isinstance(rdata, TLSA)
    assert record_matches(rdata, leaf.certificate)
    assert verify([rdata], (leaf.certificate,), names=NAMES, now=NOW).authenticated


# -- usability (RFC 6698 §4.1, RFC 7672 §3.1.3) ------------------------------------------


@pytest.mark.parametrize("usage", [0, 1])
def test_pkix_usages_are_unusable_for_smtp(usage: int, leaf: Issued, ca: Issued) -> None:
    record = rr(tlsa_for(leaf.certificate, usage, 1, 1))
    assert "RFC 7672 §3.1.3" in (unusable_reason(record) or "")
    check = verify([record], (leaf.certificate, ca.certificate), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("4 1 1 " + "00" * 32, "unknown certificate usage"),
        ("3 2 1 " + "00" * 32, "unknown selector"),
        ("3 1 3 " + "00" * 32, "unknown matching type"),
        ("3 0 0 0102", "not a DER certificate"),
        ("3 1 0 0102", "not a DER certificate or public key"),
    ],
)
def test_unusable_records(text: str, why: str) -> None:
    assert why in (unusable_reason(rr(text)) or "")


def test_one_usable_record_is_enough(leaf: Issued) -> None:
    records = [rr("1 1 1 " + "00" * 32), rr(tlsa_for(leaf.certificate))]
    assert verify(records, (leaf.certificate,), names=NAMES, now=NOW).authenticated


@pytest.mark.parametrize("text", ["3 1 1 zz", "3 1 1 abcd", "3 1", "", "three 1 1 00"])
def test_bad_tlsa_text_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="bad TLSA record"):
        parse_tlsa(text)


def test_enums_from_text() -> None:
    assert Usage.from_text("DANE-EE") is Usage.DANE_EE
    assert Usage.from_text("2") is Usage.DANE_TA
    assert Selector.from_text("spki") is Selector.SPKI
    assert MatchingType.from_text("SHA2-256") is MatchingType.SHA2_256
    assert DnssecStatus.from_text("SERVFAIL") is DnssecStatus.BOGUS
    assert DaneState.from_text("lookup-failed") is DaneState.LOOKUP_FAILED
    with pytest.raises(ValueError, match="expected one of"):
        DnssecStatus.from_text("maybe")
    with pytest.raises(ValueError, match="expected one of"):
        Usage.from_text("PKIX-XX")


# -- DANE-EE(3): no names, no dates (RFC 7672 §3.1.1) ------------------------------------


def test_dane_ee_ignores_names_and_expiry(selfsigned: Issued) -> None:
    record = rr(tlsa_for(selfsigned.certificate))
    check = verify([record], (selfsigned.certificate,), names=("elsewhere.test",), now=LATER)
    assert check.outcome is DaneOutcome.MATCH


def test_dane_ee_matches_only_the_leaf(ca: Issued, leaf: Issued) -> None:
    record = rr(tlsa_for(ca.certificate, 3, 1, 1))  # EE record for the CA certificate
    check = verify([record], (leaf.certificate, ca.certificate), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.NO_MATCH


def test_no_certificate_presented(leaf: Issued) -> None:
    check = verify([rr(tlsa_for(leaf.certificate))], (), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.NO_MATCH


# -- DANE-TA(2): chain, dates and names (RFC 7671 §5.2, RFC 7672 §3.2.2) -----------------


def test_dane_ta_checks_reference_names(ca: Issued, leaf: Issued) -> None:
    record = rr(tlsa_for(ca.certificate, 2, 1, 1))
    chain = (leaf.certificate, ca.certificate)
    check = verify([record], chain, names=("mx.other.test", "other.test"), now=NOW)
    assert check.outcome is DaneOutcome.NAME_MISMATCH
    assert "RFC 7672 §3.2.2" in check.reason
    assert verify([record], chain, names=("x.test", "mx.example.com"), now=NOW).authenticated


def test_dane_ta_wildcard_covers_one_label(ca: Issued) -> None:
    wild = make_leaf(ca, ["*.example.com"], not_before=START, not_after=END)
    record = rr(tlsa_for(ca.certificate, 2, 0, 1))
    chain = (wild.certificate, ca.certificate)
    assert verify([record], chain, names=("mx.example.com",), now=NOW).authenticated
    assert not verify([record], chain, names=("a.b.example.com",), now=NOW).authenticated
    assert not verify([record], chain, names=("example.com",), now=NOW).authenticated


def test_dane_ta_checks_expiry_below_the_anchor(ca: Issued, leaf: Issued) -> None:
    record = rr(tlsa_for(ca.certificate, 2, 1, 1))
    check = verify([record], (leaf.certificate, ca.certificate), names=NAMES, now=LATER)
    assert check.outcome is DaneOutcome.EXPIRED


def test_dane_ta_needs_the_anchor_in_the_chain(ca: Issued, leaf: Issued) -> None:
    record = rr(tlsa_for(ca.certificate, 2, 1, 1))
    assert verify([record], (leaf.certificate,), names=NAMES, now=NOW).outcome is (
        DaneOutcome.NO_MATCH
    )


def test_dane_ta_full_certificate_record_may_be_absent_from_chain(ca: Issued, leaf: Issued) -> None:
    record = rr(tlsa_for(ca.certificate, 2, 0, 0))  # "2 0 0": the anchor itself
    assert verify([record], (leaf.certificate,), names=NAMES, now=NOW).authenticated


def test_dane_ta_requires_a_real_signature(ca: Issued, other_ca: Issued) -> None:
    # The attacker presents its own leaf followed by the genuine CA certificate.
    forged = make_leaf(other_ca, ["mx.example.com"], not_before=START, not_after=END)
    record = rr(tlsa_for(ca.certificate, 2, 1, 1))
    check = verify([record], (forged.certificate, ca.certificate), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.NO_MATCH


def test_dane_ta_leaf_is_not_an_anchor(leaf: Issued, ca: Issued) -> None:
    record = rr(tlsa_for(leaf.certificate, 2, 1, 1))
    check = verify([record], (leaf.certificate, ca.certificate), names=NAMES, now=NOW)
    assert check.outcome is DaneOutcome.NO_MATCH


# -- the TLSA answer and what it means (RFC 7672 §2.1.1, §2.2) ---------------------------


def test_answer_states(leaf: Issued) -> None:
    good = rr(tlsa_for(leaf.certificate))
    pkix = rr(tlsa_for(leaf.certificate, 1, 1, 1))
    assert TlsaAnswer(DnssecStatus.SECURE, (good,)).state() is DaneState.USABLE
    assert TlsaAnswer(DnssecStatus.SECURE, (pkix,)).state() is DaneState.UNUSABLE
    assert TlsaAnswer(DnssecStatus.SECURE, ()).state() is DaneState.ABSENT
    assert TlsaAnswer(DnssecStatus.INSECURE, (good,)).state() is DaneState.ABSENT
    assert TlsaAnswer(DnssecStatus.NONE).state() is DaneState.ABSENT
    assert TlsaAnswer(DnssecStatus.BOGUS).state() is DaneState.LOOKUP_FAILED
    assert TlsaAnswer(DnssecStatus.SECURE, (good, pkix)).usable == (good,)
    assert TlsaAnswer(DnssecStatus.SECURE, (good,)).texts() == (good.to_text(),)
    with pytest.raises(ValueError, match="no TLSA records"):
        TlsaAnswer(DnssecStatus.NONE, (good,))
    # Forged records in a bogus answer are never used: the lookup failed.
    assert TlsaAnswer(DnssecStatus.BOGUS, (good,)).state() is DaneState.LOOKUP_FAILED


# -- certificate helper -----------------------------------------------------------------


def test_certs_take_dates_not_clocks(ca: Issued) -> None:
    assert ca.certificate.not_valid_before_utc == START
    assert ca.certificate.not_valid_after_utc == END
    with pytest.raises(ValueError, match="timezone-aware"):
        make_ca(not_before=datetime(2025, 1, 1), not_after=END)
    with pytest.raises(ValueError, match="later"):
        make_ca(not_before=END, not_after=START)


def test_names_fingerprints_and_pem(ca: Issued, leaf: Issued) -> None:
    assert cert_names(leaf.certificate) == ("mx.example.com",)
    fp = fingerprint(leaf.certificate)
    assert len(fp) == 95 and fp.count(":") == 31 and fp == fp.upper()
    assert fingerprint(leaf.certificate, public_key=True) != fp
    chain = load_pem_chain(leaf.pem() + ca.pem())
    assert chain == (leaf.certificate, ca.certificate)
    assert b"PRIVATE KEY" in leaf.key_pem()


def test_common_name_only_without_dns_names() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Legacy.Example.COM")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(9)
        .not_valid_before(START)
        .not_valid_after(END)
        .sign(key, hashes.SHA256())
    )
    assert cert_names(cert) == ("legacy.example.com",)


@pytest.mark.parametrize(
    ("presented", "reference", "expected"),
    [
        ("mx.example.com", "MX.example.com.", True),
        ("*.example.com", "mx.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("mx.example.com", "example.com", False),
        ("*.", "x.", False),
    ],
)
def test_name_matching(presented: str, reference: str, expected: bool) -> None:
    assert name_matches(presented, reference) is expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello", "no PEM certificate"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "bad PEM"),
    ],
)
def test_bad_pem(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_pem_chain(data, source="x.pem")
