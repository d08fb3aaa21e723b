"""TLS-RPT (RFC 8460): the ``_smtp._tls`` record and the aggregate JSON report.

Reports are validated against a JSON Schema written here from the field definitions of
RFC 8460 §4.4 (with erratum 6241: ``mx-host`` is an array) and the result types of §4.3.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest

from sim.errors import InputError
from sim.policy.mtasts import (
    DomainCache,
    PolicyFetch,
    StsRecord,
    discover,
    parse_policy,
    sts_verdict,
)
from sim.policy.tlsrpt import (
    PolicyType,
    SessionOutcome,
    TlsRptRecord,
    TlsRptResult,
    build_report,
    format_datetime,
    parse_tlsrpt_txt,
    report_filename,
)

RESULT_TYPES = [
    "starttls-not-supported",
    "certificate-host-mismatch",
    "certificate-expired",
    "certificate-not-trusted",
    "validation-failure",
    "tlsa-invalid",
    "dnssec-invalid",
    "dane-required",
    "sts-policy-fetch-error",
    "sts-policy-invalid",
    "sts-webpki-invalid",
]
RFC3339_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
COUNT = {"type": "integer", "minimum": 0}
STRING = {"type": "string", "minLength": 1}

FAILURE_DETAIL = {
    "type": "object",
    "required": ["result-type", "failed-session-count"],
    "properties": {
        "result-type": {"enum": RESULT_TYPES},
        "sending-mta-ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        "receiving-mx-hostname": STRING,
        "receiving-mx-helo": STRING,
        "receiving-ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        "failed-session-count": {"type": "integer", "minimum": 1},
        "additional-information": STRING,
        "failure-reason-code": STRING,
    },
    "additionalProperties": False,
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "RFC 8460 §4.4 SMTP TLS report",
    "type": "object",
    "required": ["organization-name", "date-range", "contact-info", "report-id", "policies"],
    "properties": {
        "organization-name": STRING,
        "date-range": {
            "type": "object",
            "required": ["start-datetime", "end-datetime"],
            "properties": {
                "start-datetime": {"type": "string", "pattern": RFC3339_Z},
                "end-datetime": {"type": "string", "pattern": RFC3339_Z},
            },
            "additionalProperties": False,
        },
        "contact-info": STRING,
        "report-id": STRING,
        "policies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["policy", "summary"],
                "properties": {
                    "policy": {
                        "type": "object",
                        "required": ["policy-type", "policy-domain"],
                        "properties": {
                            "policy-type": {"enum": ["sts", "tlsa", "no-policy-found"]},
                            "policy-string": {"type": "array", "items": {"type": "string"}},
                            "policy-domain": STRING,
                            "mx-host": {"type": "array", "items": STRING},
                        },
                        "if": {"properties": {"policy-type": {"enum": ["sts", "tlsa"]}}},
                        "then": {"required": ["policy-string"]},
                        "additionalProperties": False,
                    },
                    "summary": {
                        "type": "object",
                        "required": [
                            "total-successful-session-count",
                            "total-failure-session-count",
                        ],
                        "properties": {
                            "total-successful-session-count": COUNT,
                            "total-failure-session-count": COUNT,
                        },
                        "additionalProperties": False,
                    },
                    "failure-details": {"type": "array", "items": FAILURE_DETAIL},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)

DAY_START = datetime(2024, 5, 1, tzinfo=UTC)
DAY_END = datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC)
STS_LINES = ("version: STSv1", "mode: enforce", "mx: *.example.net", "max_age: 604800")


def report(outcomes: list[SessionOutcome], **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "organization": "Sender Org",
        "contact": "tlsrpt@sender.example",
        "report_id": "2024-05-01T00:00:00Z_example.net",
        "start": DAY_START,
        "end": DAY_END,
    }
    args.update(kw)
    data = build_report(outcomes, **args)  # type: ignore[arg-type]
    VALIDATOR.validate(data)
    json.dumps(data, allow_nan=False)  # I-JSON: serialisable as is
    return data


def sts(
    result: TlsRptResult | None = None,
    mx: str = "mx1.example.net",
    receiving_ip: str = "198.51.100.7",
) -> SessionOutcome:
    return SessionOutcome(
        PolicyType.STS,
        "example.net",
        mx,
        result,
        policy_strings=STS_LINES,
        mx_host=("*.example.net",),
        sending_ip="192.0.2.1",
        receiving_ip=receiving_ip,
    )


def test_result_types_are_spelled_as_in_the_rfc() -> None:
    assert [r.value for r in TlsRptResult] == RESULT_TYPES
    assert TlsRptResult.from_text("Certificate-Expired") is TlsRptResult.CERTIFICATE_EXPIRED
    with pytest.raises(ValueError, match="unknown TLS-RPT result type 'expired'"):
        TlsRptResult.from_text("expired")
    assert PolicyType.from_text("no-policy-found") is PolicyType.NO_POLICY_FOUND


def test_worked_example_990_successes_10_failures() -> None:
    """reference/tls.md §6.5."""
    outcomes = (
        [sts()] * 990
        + [sts(TlsRptResult.CERTIFICATE_EXPIRED, "mx2.example.net", receiving_ip="198.51.100.8")]
        * 7
        + [sts(TlsRptResult.STARTTLS_NOT_SUPPORTED, "mx3.example.net", receiving_ip="2001:db8::3")]
        * 3
    )
    data = report(outcomes)
    assert data["date-range"] == {
        "start-datetime": "2024-05-01T00:00:00Z",
        "end-datetime": "2024-05-01T23:59:59Z",
    }
    assert data["policies"] == [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": list(STS_LINES),
                "policy-domain": "example.net",
                "mx-host": ["*.example.net"],
            },
            "summary": {"total-successful-session-count": 990, "total-failure-session-count": 10},
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "192.0.2.1",
                    "receiving-mx-hostname": "mx2.example.net",
                    "receiving-ip": "198.51.100.8",
                    "failed-session-count": 7,
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "192.0.2.1",
                    "receiving-mx-hostname": "mx3.example.net",
                    "receiving-ip": "2001:db8::3",
                    "failed-session-count": 3,
                },
            ],
        }
    ]
    assert data["organization-name"] == "Sender Org"
    assert data["contact-info"] == "tlsrpt@sender.example"


def test_policies_are_separated_and_optional_fields_appear_when_known() -> None:
    tlsa = SessionOutcome(
        PolicyType.TLSA,
        "_25._tcp.mx.example.org",
        "mx.example.org",
        TlsRptResult.TLSA_INVALID,
        policy_strings=("3 1 1 0123ABCD",),
        mx_host=("mx.example.org",),
        sending_ip="2001:db8::1",
        receiving_ip="203.0.113.9",
        receiving_helo="mx.example.org",
        failure_reason="X509_V_ERR_CERT_UNTRUSTED",
        additional_information="https://reports.sender.example/chain/1",
    )
    none_found = SessionOutcome(PolicyType.NO_POLICY_FOUND, "example.com", "mx.example.com")
    fetch_error = SessionOutcome(
        PolicyType.STS, "example.com", result=TlsRptResult.STS_POLICY_FETCH_ERROR
    )
    data = report([tlsa, none_found, none_found, sts(), fetch_error, tlsa])
    policies = data["policies"]
    assert isinstance(policies, list)
    assert [p["policy"]["policy-type"] for p in policies] == [
        "tlsa",
        "no-policy-found",
        "sts",
        "sts",
    ]
    assert policies[0]["failure-details"] == [
        {
            "result-type": "tlsa-invalid",
            "sending-mta-ip": "2001:db8::1",
            "receiving-mx-hostname": "mx.example.org",
            "receiving-mx-helo": "mx.example.org",
            "receiving-ip": "203.0.113.9",
            "failed-session-count": 2,
            "additional-information": "https://reports.sender.example/chain/1",
            "failure-reason-code": "X509_V_ERR_CERT_UNTRUSTED",
        }
    ]
    assert policies[1] == {
        "policy": {"policy-type": "no-policy-found", "policy-domain": "example.com"},
        "summary": {"total-successful-session-count": 2, "total-failure-session-count": 0},
    }
    assert policies[3]["failure-details"] == [
        {"result-type": "sts-policy-fetch-error", "failed-session-count": 1}
    ]


def test_report_from_the_mtasts_module() -> None:
    """The verdicts and discovery failures of :mod:`sim.policy.mtasts` feed the report."""
    text = "version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 86400\n"
    d = discover(DomainCache(), StsRecord("A1"), PolicyFetch.ok(text), 0.0)
    assert d.policy is not None
    outcomes = []
    for host, cert_ok in [("mx1.example.net", True), ("rogue.example.com", True)]:
        allowed, result = sts_verdict(d.policy, host, cert_ok)
        assert allowed
        outcomes.append(
            SessionOutcome(
                PolicyType.STS,
                "example.net",
                host,
                result,
                policy_strings=d.policy.policy_strings(),
                mx_host=d.policy.mx,
                failure_reason=None if result is None else "mtasts-policy-mx-mismatch",
            )
        )
    data = report(outcomes)
    policies = data["policies"]
    assert isinstance(policies, list)
    assert policies[0]["policy"]["policy-string"] == text.splitlines()
    assert policies[0]["summary"]["total-failure-session-count"] == 1
    assert policies[0]["failure-details"][0]["result-type"] == "validation-failure"
    assert parse_policy("\n".join(policies[0]["policy"]["policy-string"])) == d.policy


def test_empty_period_and_time_zones() -> None:
    cest = timezone(timedelta(hours=2))
    data = report(
        [],
        start=datetime(2024, 5, 1, 2, 0, tzinfo=cest),
        end=datetime(2024, 5, 2, 1, 59, 59),  # naive: taken as UTC
    )
    assert data["policies"] == []
    assert data["date-range"] == {
        "start-datetime": "2024-05-01T00:00:00Z",
        "end-datetime": "2024-05-02T01:59:59Z",
    }
    assert (
        format_datetime(datetime(2024, 5, 1, 12, 30, 5, 999, tzinfo=UTC)) == "2024-05-01T12:30:05Z"
    )


def test_report_is_deterministic() -> None:
    outcomes = [sts(), sts(TlsRptResult.CERTIFICATE_NOT_TRUSTED), sts()]
    assert json.dumps(report(outcomes)) == json.dumps(report(list(outcomes)))


def test_schema_catches_a_broken_report() -> None:
    data = report([sts(TlsRptResult.CERTIFICATE_EXPIRED)])
    policies = data["policies"]
    assert isinstance(policies, list)
    detail = policies[0]["failure-details"][0]
    for key, bad in [
        ("result-type", "expired"),
        ("sending-mta-ip", "not-an-ip"),
        ("failed-session-count", 0),
    ]:
        broken = json.loads(json.dumps(data))
        broken["policies"][0]["failure-details"][0][key] = bad
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate(broken)
    assert detail["result-type"] == "certificate-expired"
    broken = json.loads(json.dumps(data))
    broken["date-range"]["end-datetime"] = "2024-05-01 23:59:59"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"organization": ""}, "organization-name must not be empty"),
        ({"report_id": ""}, "report-id must not be empty"),
        ({"end": datetime(2024, 4, 30, tzinfo=UTC)}, "is before start-datetime"),
    ],
)
def test_bad_report_arguments(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        report([], **kw)


def test_outcome_validates() -> None:
    with pytest.raises(ValueError, match=r"sending_ip: '192\.0\.2\.300' is not an IP address"):
        SessionOutcome(PolicyType.STS, "example.net", sending_ip="192.0.2.300")
    with pytest.raises(ValueError, match="policy_domain must not be empty"):
        SessionOutcome(PolicyType.STS, "")
    with pytest.raises(ValueError, match="result must be a TlsRptResult"):
        SessionOutcome(PolicyType.STS, "example.net", result="certificate-expired")  # type: ignore[arg-type]


def test_report_filename() -> None:
    """RFC 8460 §5.1 example: mail.sndr.example.com!example.net!1470013207!1470186007!001."""
    start = datetime.fromtimestamp(1470013207, tz=UTC)
    end = datetime.fromtimestamp(1470186007, tz=UTC)
    name = report_filename("mail.sndr.example.com", "example.net", start, end, unique_id="001")
    assert name == "mail.sndr.example.com!example.net!1470013207!1470186007!001.json.gz"
    assert report_filename("s", "d", start, end, gzip=False) == "s!d!1470013207!1470186007.json"


# -- the _smtp._tls TXT record (§3) ------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "rua"),
    [
        (["v=TLSRPTv1;rua=mailto:reports@example.com"], ("mailto:reports@example.com",)),
        (
            ["v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"],
            ("https://reporting.example.com/v1/tlsrpt",),
        ),
        (
            ["v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com , https://r.example/x;"],
            ("mailto:a@example.com", "https://r.example/x"),
        ),
        (
            ["v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b%2Cc@example.com"],
            ("mailto:a@example.com", "mailto:b%2Cc@example.com"),
        ),
    ],
)
def test_rfc_tlsrpt_records(records: list[str], rua: tuple[str, ...]) -> None:
    assert parse_tlsrpt_txt(records).rua == rua


def test_record_parts() -> None:
    record = parse_tlsrpt_txt(["v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example/p; ext=1"])
    assert record == TlsRptRecord(
        ("mailto:tls@example.com", "https://r.example/p"), (("ext", "1"),)
    )
    assert record.mailto == ("tls@example.com",)
    assert record.https == ("https://r.example/p",)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([], "no record starts with 'v=TLSRPTv1'"),
        (["rua=mailto:a@example.com"], "no record starts with 'v=TLSRPTv1'"),
        (["v=TLSRPTv2; rua=mailto:a@example.com"], "found 'v=TLSRPTv2; rua=mailto:a@example.com'"),
        (["v=tlsrptv1; rua=mailto:a@example.com"], "must be exactly 'v=TLSRPTv1'"),
        (
            ["v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"],
            "2 records start with 'v=TLSRPTv1'; exactly one",
        ),
        (["v=TLSRPTv1"], "missing required 'rua=' field"),
        (["v=TLSRPTv1; ext=1"], "missing required 'rua=' field"),
        (["v=TLSRPTv1; rua="], "empty URI"),
        (["v=TLSRPTv1; rua=mailto:a@example.com,"], "empty URI"),
        (["v=TLSRPTv1; rua=ftp://r.example/x"], "unsupported scheme 'ftp'"),
        (["v=TLSRPTv1; rua=reports@example.com"], "has no scheme (expected mailto: or https:)"),
        (["v=TLSRPTv1; rua=tls.example.com"], "has no scheme"),
        (["v=TLSRPTv1; rua=mailto:example.com"], "expected mailto:local@domain"),
        (["v=TLSRPTv1; rua=https:/x"], "expected https://host/path"),
        (["v=TLSRPTv1; rua=mailto:a!b@example.com"], "must be percent-encoded"),
        (["v=TLSRPTv1;; rua=mailto:a@example.com"], "field 2 is empty"),
        (["v=TLSRPTv1; rua mailto:a@example.com"], "expected name=value"),
    ],
)
def test_bad_tlsrpt_records(records: list[str], message: str) -> None:
    with pytest.raises(InputError, match=r"^_smtp\._tls TXT: ") as info:
        parse_tlsrpt_txt(records)
    assert message in str(info.value)


def test_record_value_validates() -> None:
    with pytest.raises(ValueError, match="at least one rua"):
        TlsRptRecord(())
