"""DANE for SMTP: TLSA records checked against a presented certificate chain.

Implements RFC 6698 §2.1 (TLSA fields) and §4.1 (usable records), RFC 7671 §5.1
(DANE-EE: no name or expiry checks) and §5.2 (DANE-TA: the trust anchor is in the
presented chain, or is the full certificate of a ``2 0 0`` record), RFC 7672 §2.1.1
(a bogus or failed TLSA lookup is not "no TLSA"), §2.2 (TLS discovery: usable TLSA
→ authenticated TLS; an RRset of only unusable records → TLS is still mandatory, but
unauthenticated), §3.1.3 (PKIX-TA(0) and PKIX-EE(1) are treated as unusable in SMTP)
and §3.2.2-3.2.3 (DANE-TA reference identifiers, left-most-label wildcards).

Theory of operation
-------------------
A TLSA lookup gives a :class:`TlsaAnswer`: the DNSSEC status of the answer and its
records (dnspython ``TLSA`` rdata).  :meth:`TlsaAnswer.state` sorts it into what a
sender does next (:class:`DaneState`): ``usable`` (authenticate with DANE),
``unusable`` (mandatory unauthenticated TLS), ``absent`` (no DANE: the non-DANE
policy applies) or ``lookup-failed`` (bogus/SERVFAIL: do not use this host, never
plaintext).  :func:`verify` then checks a certificate chain against the usable
records and returns a :class:`DaneCheck`: ``match``, one of the failures, or
``not-applicable``.  Nothing here reads a clock: ``now`` is an argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TypeVar

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from dns.rdtypes.ANY.TLSA import TLSA

from sim.errors import InputError
from sim.policy.certs import cert_names, is_expired, name_matches, spki_der

__all__ = [
    "TLSA",
    "DaneCheck",
    "DaneOutcome",
    "DaneState",
    "DnssecStatus",
    "MatchingType",
    "Selector",
    "TlsaAnswer",
    "Usage",
    "association_data",
    "parse_tlsa",
    "record_matches",
    "unusable_reason",
    "verify",
]


_E = TypeVar("_E", bound=Enum)


def _from_text(cls: type[_E], text: str, what: str) -> _E:
    """A member by number or RFC 7218 acronym (``3``, ``DANE-EE``, ``dane_ee``)."""
    wanted = text.strip().lower().replace("-", "_")
    for member in cls:
        if str(member.value) == wanted or member.name.lower() == wanted:
            return member
    expected = ", ".join(f"{m.value} ({m.name.replace('_', '-')})" for m in cls)
    raise ValueError(f"unknown TLSA {what} {text!r} (expected one of: {expected})")


class Usage(Enum):
    """TLSA certificate usage (RFC 6698 §2.1.1; acronyms RFC 7218)."""

    PKIX_TA = 0
    PKIX_EE = 1
    DANE_TA = 2
    DANE_EE = 3

    @property
    def acronym(self) -> str:
        return self.name.replace("_", "-")

    @classmethod
    def from_text(cls, text: str) -> Usage:
        return _from_text(cls, text, "certificate usage")


class Selector(Enum):
    """TLSA selector (RFC 6698 §2.1.2): the full certificate or its public key."""

    CERT = 0
    SPKI = 1

    @classmethod
    def from_text(cls, text: str) -> Selector:
        return _from_text(cls, text, "selector")


class MatchingType(Enum):
    """TLSA matching type (RFC 6698 §2.1.3)."""

    FULL = 0
    SHA2_256 = 1
    SHA2_512 = 2

    @classmethod
    def from_text(cls, text: str) -> MatchingType:
        return _from_text(cls, text, "matching type")


class DnssecStatus(Enum):
    """What the validating resolver said about the TLSA query (RFC 4033 §5 states).

    ``none`` is a DNSSEC-validated denial of existence: there are no TLSA records.
    ``bogus`` also stands for SERVFAIL, time-outs and "indeterminate" (no trust anchor):
    RFC 7672 §2.1.1 treats all of them as a failed lookup, never as "no TLSA".
    """

    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"
    NONE = "none"

    @classmethod
    def from_text(cls, text: str) -> DnssecStatus:
        if text.strip().lower() in ("servfail", "indeterminate", "error"):
            return cls.BOGUS
        for member in cls:
            if member.value == text.strip().lower():
                return member
        expected = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown DNSSEC status {text!r} (expected one of: {expected})")


class DaneState(Enum):
    """What the TLSA answer means for the connection (RFC 7672 §2.1.1, §2.2)."""

    USABLE = "usable"  # authenticate the server with the usable records
    UNUSABLE = "unusable"  # secure records, none usable: TLS required, no authentication
    ABSENT = "absent"  # no (secure) TLSA records: DANE does not apply
    LOOKUP_FAILED = "lookup-failed"  # bogus / SERVFAIL: do not deliver to this host

    @classmethod
    def from_text(cls, text: str) -> DaneState:
        for member in cls:
            if member.value == text.strip().lower():
                return member
        raise ValueError(f"unknown DANE state {text!r}")


class DaneOutcome(Enum):
    """Result of checking a chain against TLSA records."""

    MATCH = "match"
    NO_MATCH = "no-match"
    NAME_MISMATCH = "name-mismatch"  # DANE-TA chain ok, leaf names not the reference ones
    EXPIRED = "expired"  # DANE-TA chain ok, a certificate below the anchor expired
    NOT_APPLICABLE = "not-applicable"  # no usable record

    @property
    def authenticated(self) -> bool:
        return self is DaneOutcome.MATCH

    @classmethod
    def from_text(cls, text: str) -> DaneOutcome:
        for member in cls:
            if member.value == text.strip().lower():
                return member
        raise ValueError(f"unknown DANE outcome {text!r}")


def parse_tlsa(text: str, *, source: str = "TLSA record") -> TLSA:
    """A TLSA rdata from presentation text ``"3 1 1 HEX"``; bad text is an InputError."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TLSA, text)
    except (dns.exception.DNSException, ValueError) as exc:
        raise InputError(
            f"{source}: bad TLSA record {text!r} ({exc}); expected 'usage selector mtype hex', "
            "e.g. '3 1 1 0123...'"
        ) from None
    assert isinstance(rdata, TLSA)
    return rdata


def _cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def association_data(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    """The certificate association data of ``cert`` for a selector and matching type."""
    if selector == Selector.CERT.value:
        data = _cert_der(cert)
    elif selector == Selector.SPKI.value:
        data = spki_der(cert)
    else:
        raise ValueError(f"unknown TLSA selector {selector}")
    if mtype == MatchingType.FULL.value:
        return data
    if mtype == MatchingType.SHA2_256.value:
        return hashlib.sha256(data).digest()
    if mtype == MatchingType.SHA2_512.value:
        return hashlib.sha512(data).digest()
    raise ValueError(f"unknown TLSA matching type {mtype}")


def unusable_reason(record: TLSA) -> str | None:
    """Why a record cannot be used for SMTP (RFC 6698 §4.1, RFC 7672 §3.1.3), or None."""
    if record.usage in (Usage.PKIX_TA.value, Usage.PKIX_EE.value):
        acronym = Usage(record.usage).acronym
        return f"usage {acronym}({record.usage}) is not used for SMTP (RFC 7672 §3.1.3)"
    if record.usage not in (Usage.DANE_TA.value, Usage.DANE_EE.value):
        return f"unknown certificate usage {record.usage}"
    if record.selector not in (s.value for s in Selector):
        return f"unknown selector {record.selector}"
    if record.mtype not in (m.value for m in MatchingType):
        return f"unknown matching type {record.mtype}"
    expected = {1: 32, 2: 64}.get(record.mtype)
    if expected is not None and len(record.cert) != expected:
        return f"digest is {len(record.cert)} bytes, expected {expected}"
    if record.mtype == MatchingType.FULL.value:
        try:
            if record.selector == Selector.CERT.value:
                x509.load_der_x509_certificate(record.cert)
            else:
                serialization.load_der_public_key(record.cert)
        except ValueError:
            return "association data is not a DER certificate or public key"
    return None


def record_matches(record: TLSA, cert: x509.Certificate) -> bool:
    """True when ``cert`` has the record's association data (usage not considered)."""
    if unusable_reason(record) is not None and record.usage in (2, 3):
        return False
    try:
        return association_data(cert, record.selector, record.mtype) == record.cert
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class TlsaAnswer:
    """The answer to ``_25._tcp.<host> TLSA``: DNSSEC status and records."""

    status: DnssecStatus
    records: tuple[TLSA, ...] = ()

    def __post_init__(self) -> None:
        if self.status is DnssecStatus.NONE and self.records:
            raise ValueError("DNSSEC status 'none' means no TLSA records, but records were given")
        # A bogus answer may carry (forged) records: they are never used (state()).

    @property
    def usable(self) -> tuple[TLSA, ...]:
        return tuple(r for r in self.records if unusable_reason(r) is None)

    def state(self) -> DaneState:
        """RFC 7672 §2.1.1 and §2.2: what the sender does with this answer."""
        if self.status is DnssecStatus.BOGUS:
            return DaneState.LOOKUP_FAILED
        if self.status is not DnssecStatus.SECURE or not self.records:
            return DaneState.ABSENT
        return DaneState.USABLE if self.usable else DaneState.UNUSABLE

    def texts(self) -> tuple[str, ...]:
        """Records in presentation format (the TLS-RPT ``policy-string``)."""
        return tuple(r.to_text() for r in self.records)


@dataclass(frozen=True, slots=True)
class DaneCheck:
    """The outcome of :func:`verify`, with the record that matched (if any)."""

    outcome: DaneOutcome
    reason: str
    record: TLSA | None = None

    @property
    def authenticated(self) -> bool:
        return self.outcome.authenticated


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ta_paths(
    record: TLSA, chain: Sequence[x509.Certificate]
) -> Iterable[tuple[x509.Certificate, ...]]:
    """Paths leaf..anchor for a DANE-TA record (RFC 7671 §5.2.2)."""
    for k in range(1, len(chain)):
        if record_matches(record, chain[k]):
            yield tuple(chain[: k + 1])
    if record.selector == Selector.CERT.value and record.mtype == MatchingType.FULL.value:
        anchor = x509.load_der_x509_certificate(record.cert)
        yield (*chain, anchor)


def _check_ta(
    record: TLSA, chain: Sequence[x509.Certificate], names: Sequence[str], now: datetime
) -> DaneCheck | None:
    """Best result for one DANE-TA record, or None when its anchor is not in the chain."""
    best: DaneCheck | None = None
    for path in _ta_paths(record, chain):
        if not all(_issued_by(path[i], path[i + 1]) for i in range(len(path) - 1)):
            continue
        expired = [c for c in path[:-1] if is_expired(c, now)]
        if expired:
            best = DaneCheck(
                DaneOutcome.EXPIRED,
                f"certificate {expired[0].subject.rfc4514_string()} below the DANE-TA "
                "trust anchor is outside its validity period",
                record,
            )
            continue
        presented = cert_names(path[0])
        if not any(name_matches(p, n) for p in presented for n in names):
            return DaneCheck(
                DaneOutcome.NAME_MISMATCH,
                f"DANE-TA chain valid but certificate names {', '.join(presented) or '(none)'} "
                f"match none of {', '.join(names)} (RFC 7672 §3.2.2)",
                record,
            )
        return DaneCheck(
            DaneOutcome.MATCH,
            "certificate chain validated from the DANE-TA(2) trust anchor of record "
            f"{record.to_text()[:12]}...",
            record,
        )
    return best


def verify(
    records: Iterable[TLSA],
    chain: Sequence[x509.Certificate],
    *,
    names: Sequence[str],
    now: datetime,
) -> DaneCheck:
    """Authenticate ``chain`` (leaf first) with the usable ``records``.

    ``names`` are the DANE-TA reference identifiers (RFC 7672 §3.2.2: the TLSA base
    domain / MX host name and the next-hop domain).  DANE-EE(3) ignores names and dates
    (RFC 7672 §3.1.1); DANE-TA(2) checks both below the anchor (RFC 7671 §5.2).
    """
    all_records = tuple(records)
    usable = [r for r in all_records if unusable_reason(r) is None]
    if not usable:
        why = "; ".join(f"{r.to_text()[:12]}...: {unusable_reason(r)}" for r in all_records)
        return DaneCheck(
            DaneOutcome.NOT_APPLICABLE, "no usable TLSA records" + (f" ({why})" if why else "")
        )
    if not chain:
        return DaneCheck(DaneOutcome.NO_MATCH, "the server presented no certificate")
    for record in usable:
        if record.usage == Usage.DANE_EE.value and record_matches(record, chain[0]):
            return DaneCheck(
                DaneOutcome.MATCH,
                f"server certificate matches DANE-EE(3) record {record.to_text()[:12]}... "
                "(no name or expiry checks, RFC 7672 §3.1.1)",
                record,
            )
    failures: list[DaneCheck] = []
    for record in usable:
        if record.usage == Usage.DANE_TA.value:
            result = _check_ta(record, chain, names, now)
            if result is not None and result.authenticated:
                return result
            if result is not None:
                failures.append(result)
    if failures:
        order = [DaneOutcome.NAME_MISMATCH, DaneOutcome.EXPIRED]
        return min(failures, key=lambda f: order.index(f.outcome))
    return DaneCheck(
        DaneOutcome.NO_MATCH,
        f"no usable TLSA record matches the presented chain ({len(usable)} usable record"
        f"{'s' if len(usable) != 1 else ''})",
    )
