"""SMTP TLS Reporting (RFC 8460): the ``_smtp._tls`` record and the aggregate JSON report.

Implements RFC 8460 §3 (the TLSRPT policy record), §4.3 (result types, as registered
in the IANA "STARTTLS Validation Result Types" registry, §6.6) and §4.4 (the JSON
report).  Delivery of reports (§5: e-mail with DKIM, HTTPS POST) is not modelled here.

Theory of operation: a sending MTA records one :class:`SessionOutcome` per TLS session
attempt (success, or a failure with its :class:`TlsRptResult`) and, at the end of the
reporting period (a UTC day, §4.1), :func:`build_report` aggregates them: one
``policies[]`` entry per (policy type, policy domain, policy strings, MX patterns), with
a success/failure summary and one ``failure-details[]`` entry per distinct (result type,
sending IP, receiving MX, receiving IP, HELO, reason code).  Dates come in as
``datetime`` arguments; nothing here reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from sim.errors import InputError
from sim.policy.vocab import enum_from_text

__all__ = [
    "PolicyType",
    "SessionOutcome",
    "TlsRptRecord",
    "TlsRptResult",
    "build_report",
    "format_datetime",
    "parse_tlsrpt_txt",
    "report_filename",
]


class TlsRptResult(Enum):
    """RFC 8460 §4.3 result types, spelled as the RFC and the IANA registry spell them."""

    # §4.3.1 negotiation failures
    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"
    CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"
    VALIDATION_FAILURE = "validation-failure"
    # §4.3.2 policy failures, DANE-specific
    TLSA_INVALID = "tlsa-invalid"
    DNSSEC_INVALID = "dnssec-invalid"
    DANE_REQUIRED = "dane-required"
    # §4.3.2 policy failures, MTA-STS-specific
    STS_POLICY_FETCH_ERROR = "sts-policy-fetch-error"
    STS_POLICY_INVALID = "sts-policy-invalid"
    STS_WEBPKI_INVALID = "sts-webpki-invalid"

    @classmethod
    def from_text(cls, text: str) -> TlsRptResult:
        return enum_from_text(cls, text, "TLS-RPT result type")


class PolicyType(Enum):
    """RFC 8460 §4.4 ``policy-type``."""

    STS = "sts"
    TLSA = "tlsa"
    NO_POLICY_FOUND = "no-policy-found"

    @classmethod
    def from_text(cls, text: str) -> PolicyType:
        return enum_from_text(cls, text, "TLS-RPT policy type")


# -- the _smtp._tls TXT record (§3) ---------------------------------------------------

_VERSION = "v=TLSRPTv1"
_EXT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_EXT_VALUE = re.compile(r"^[\x21-\x3a\x3c\x3e-\x7e]+$")  # no "=", ";", SP or CTLs
_DELIM = re.compile(r"[ \t]*;[ \t]*")
_URI_SCHEMES = ("mailto", "https")


@dataclass(frozen=True, slots=True)
class TlsRptRecord:
    """A parsed ``_smtp._tls`` record: the reporting URIs and any extension fields."""

    rua: tuple[str, ...]
    extensions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.rua:
            raise ValueError("a TLSRPT record needs at least one rua URI")
        for uri in self.rua:
            _check_uri(uri)

    @property
    def mailto(self) -> tuple[str, ...]:
        """The e-mail addresses of the ``mailto:`` URIs (percent-encoding left as is)."""
        return tuple(u.split(":", 1)[1] for u in self.rua if u.lower().startswith("mailto:"))

    @property
    def https(self) -> tuple[str, ...]:
        return tuple(u for u in self.rua if u.lower().startswith("https:"))


def _check_uri(uri: str) -> None:
    scheme, colon, rest = uri.partition(":")
    if not colon or not rest:
        raise ValueError(f"rua URI {uri!r} has no scheme (expected mailto: or https:)")
    if scheme.lower() not in _URI_SCHEMES:
        raise ValueError(
            f"rua URI {uri!r}: unsupported scheme {scheme!r} (expected mailto or https)"
        )
    if any(c in uri for c in " \t!;,") or any(ord(c) < 0x21 or ord(c) > 0x7E for c in uri):
        raise ValueError(
            f"rua URI {uri!r}: ',', '!', ';', spaces and non-ASCII must be percent-encoded"
        )
    if scheme.lower() == "mailto":
        local, at, domain = rest.partition("@")
        if not at or not local or not domain:
            raise ValueError(f"rua URI {uri!r}: expected mailto:local@domain")
    else:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise ValueError(f"rua URI {uri!r}: expected https://host/path")


def parse_tlsrpt_txt(records: Sequence[str], *, source: str = "_smtp._tls TXT") -> TlsRptRecord:
    """Parse the TXT strings found at ``_smtp._tls.<domain>`` (RFC 8460 §3).

    Each element of ``records`` is one TXT record (its character-strings already
    concatenated without spaces, §3).  Records that do not start with ``v=TLSRPTv1``
    are ignored; exactly one must remain.  Raises :class:`InputError` otherwise.
    """
    if isinstance(records, str):
        records = [records]
    candidates = [r for r in records if re.match(r"^v=TLSRPTv1[ \t]*(;|$)", r)]
    if not candidates:
        hint = ""
        near = [r for r in records if r.lower().startswith("v=tlsrpt")]
        if near:
            hint = f" (found {near[0]!r}: the version must be exactly 'v=TLSRPTv1', first)"
        raise InputError(f"{source}: no record starts with 'v=TLSRPTv1'{hint}")
    if len(candidates) > 1:
        raise InputError(
            f"{source}: {len(candidates)} records start with 'v=TLSRPTv1'; exactly one is "
            "allowed (RFC 8460 §3: the domain then does not implement TLS-RPT)"
        )
    text = candidates[0]
    fields = _DELIM.split(text)
    if fields and fields[-1] == "":
        fields.pop()  # one trailing delimiter is allowed
    rua: list[str] = []
    extensions: list[tuple[str, str]] = []
    for number, item in enumerate(fields[1:], 2):
        name, eq, value = item.partition("=")
        if not item:
            raise InputError(f"{source}: field {number} is empty (two ';' in a row?)")
        if not eq:
            raise InputError(f"{source}: field {number} {item!r}: expected name=value")
        if name == "rua":
            uris = re.split(r"[ \t]*,[ \t]*", value)
            if not value or any(not u for u in uris):
                raise InputError(f"{source}: rua {value!r}: empty URI in the list")
            for uri in uris:
                try:
                    _check_uri(uri)
                except ValueError as exc:
                    raise InputError(f"{source}: {exc}") from None
            rua.extend(uris)
        elif not _EXT_NAME.match(name):
            raise InputError(f"{source}: field {number} {item!r}: bad field name {name!r}")
        elif not _EXT_VALUE.match(value):
            raise InputError(f"{source}: field {name!r}: bad value {value!r}")
        else:
            extensions.append((name, value))
    if not rua:
        raise InputError(f"{source}: missing required 'rua=' field in {text!r}")
    return TlsRptRecord(tuple(rua), tuple(extensions))


# -- session outcomes and the aggregate report (§4) -------------------------------------


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """One TLS session attempt as the sending MTA saw it.

    ``result is None`` means success.  ``mx_host`` is the policy's ``mx-host`` list (the
    MTA-STS ``mx`` patterns, or the MX host name for a TLSA policy); ``receiving_mx`` is
    the host actually tried (None for a failure before any MX, such as a policy fetch).
    Fields left None are left out of the report.
    """

    policy_type: PolicyType
    policy_domain: str
    receiving_mx: str | None = None
    result: TlsRptResult | None = None
    policy_strings: tuple[str, ...] = ()
    mx_host: tuple[str, ...] = ()
    sending_ip: str | None = None
    receiving_ip: str | None = None
    receiving_helo: str | None = None
    failure_reason: str | None = None
    additional_information: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.policy_type, PolicyType):
            raise ValueError(f"policy_type must be a PolicyType, got {self.policy_type!r}")
        if self.result is not None and not isinstance(self.result, TlsRptResult):
            raise ValueError(f"result must be a TlsRptResult or None, got {self.result!r}")
        if not self.policy_domain:
            raise ValueError("policy_domain must not be empty")
        for name in ("sending_ip", "receiving_ip"):
            value = getattr(self, name)
            if value is not None:
                try:
                    ip_address(value)
                except ValueError:
                    raise ValueError(f"{name}: {value!r} is not an IP address") from None

    @property
    def succeeded(self) -> bool:
        return self.result is None


@dataclass(slots=True)
class _Bucket:
    successes: int = 0
    failures: int = 0
    details: dict[tuple[str, ...], int] = field(default_factory=dict)


def _utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def format_datetime(when: datetime) -> str:
    """RFC 3339 ``date-time`` in UTC with a ``Z``, whole seconds (naive means UTC)."""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_report(
    outcomes: Iterable[SessionOutcome],
    *,
    organization: str,
    contact: str,
    report_id: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """The RFC 8460 §4.4 report (a JSON-ready dict) for the sessions in ``outcomes``.

    ``policies`` keeps the order in which each policy was first seen, and
    ``failure-details`` the order of each failure kind's first session, so equal inputs
    give byte-identical JSON.
    """
    if not organization:
        raise ValueError("organization-name must not be empty")
    if not report_id:
        raise ValueError("report-id must not be empty")
    if _utc(end) < _utc(start):
        raise ValueError(f"end-datetime {end} is before start-datetime {start}")
    buckets: dict[tuple[Any, ...], _Bucket] = {}
    for o in outcomes:
        key = (o.policy_type, o.policy_domain.lower(), o.policy_strings, o.mx_host)
        bucket = buckets.setdefault(key, _Bucket())
        if o.result is None:
            bucket.successes += 1
            continue
        bucket.failures += 1
        detail = (
            o.result.value,
            o.sending_ip or "",
            o.receiving_mx or "",
            o.receiving_ip or "",
            o.receiving_helo or "",
            o.failure_reason or "",
            o.additional_information or "",
        )
        bucket.details[detail] = bucket.details.get(detail, 0) + 1
    policies = []
    for (ptype, domain, strings, mx_host), bucket in buckets.items():
        policy: dict[str, Any] = {"policy-type": ptype.value}
        if ptype is not PolicyType.NO_POLICY_FOUND or strings:
            policy["policy-string"] = list(strings)
        policy["policy-domain"] = domain
        if mx_host:
            policy["mx-host"] = list(mx_host)
        entry: dict[str, Any] = {
            "policy": policy,
            "summary": {
                "total-successful-session-count": bucket.successes,
                "total-failure-session-count": bucket.failures,
            },
        }
        if bucket.details:
            entry["failure-details"] = [
                _detail(detail, count) for detail, count in bucket.details.items()
            ]
        policies.append(entry)
    return {
        "organization-name": organization,
        "date-range": {
            "start-datetime": format_datetime(start),
            "end-datetime": format_datetime(end),
        },
        "contact-info": contact,
        "report-id": report_id,
        "policies": policies,
    }


def _detail(detail: tuple[str, ...], count: int) -> dict[str, Any]:
    result, sending, mx, receiving, helo, reason, info = detail
    out: dict[str, Any] = {"result-type": result}
    if sending:
        out["sending-mta-ip"] = sending
    if mx:
        out["receiving-mx-hostname"] = mx
    if helo:
        out["receiving-mx-helo"] = helo
    if receiving:
        out["receiving-ip"] = receiving
    out["failed-session-count"] = count
    if info:
        out["additional-information"] = info
    if reason:
        out["failure-reason-code"] = reason
    return out


def report_filename(
    submitter: str,
    policy_domain: str,
    start: datetime,
    end: datetime,
    *,
    unique_id: str | None = None,
    gzip: bool = True,
) -> str:
    """RFC 8460 §5.1 report file name: ``sender!policy-domain!begin!end[!id].json[.gz]``."""

    begin, finish = int(_utc(start).timestamp()), int(_utc(end).timestamp())
    name = f"{submitter}!{policy_domain}!{begin}!{finish}"
    if unique_id:
        name += f"!{unique_id}"
    return name + (".json.gz" if gzip else ".json")
