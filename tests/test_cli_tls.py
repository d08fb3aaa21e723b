"""``relaysim tls check``: text and JSON verdicts on scenarios/tls, one-line input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.policy.certs import load_pem_chain, tlsa_for

TLS = Path(__file__).resolve().parent.parent / "scenarios" / "tls"
LEAF = TLS / "mx.example.com.pem"
SELF = TLS / "selfsigned.pem"
WRONG = TLS / "wrongname.pem"
NOW = "2026-06-01T00:00:00+00:00"
BASE = ["tls", "check", "--domain", "example.com", "--mx", "mx.example.com", "--now", NOW]


def tlsa(pem: Path, usage: int = 3, selector: int = 1, mtype: int = 1) -> str:
    chain = load_pem_chain(pem.read_bytes())
    return tlsa_for(chain[-1] if usage == 2 else chain[0], usage, selector, mtype)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*BASE, *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code, out, err = run(capsys, *args, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert isinstance(data, dict)
    assert list(data) == ["verdict", "authenticated", "via", "reason", "tlsrpt_result"]
    assert isinstance(data["reason"], str) and data["reason"]
    return data


def test_json_dane_authenticated(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--level", "dane", "--cert", str(LEAF), "--tlsa", tlsa(LEAF))
    assert (data["verdict"], data["authenticated"], data["via"], data["tlsrpt_result"]) == (
        "tls",
        True,
        "dane",
        None,
    )


def test_json_dane_ta_record(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--level", "dane-only", "--cert", str(LEAF), "--tlsa", tlsa(LEAF, 2))
    assert data["via"] == "dane"


def test_json_dane_failure_is_not_rescued_by_mta_sts(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys,
        "--level",
        "dane",
        "--cert",
        str(LEAF),
        "--trusted",
        "yes",
        "--tlsa",
        tlsa(SELF),
        "--mta-sts",
        str(TLS / "mta-sts-enforce.txt"),
    )
    assert (data["verdict"], data["authenticated"], data["via"]) == ("defer", False, None)
    assert data["tlsrpt_result"] == "certificate-not-trusted"


def test_json_mta_sts_testing_reports_stripping(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--starttls", "stripped", "--mta-sts", str(TLS / "mta-sts-testing.txt"))
    assert (data["verdict"], data["tlsrpt_result"]) == ("plaintext", "starttls-not-supported")
    enforced = run_json(
        capsys, "--starttls", "stripped", "--mta-sts", str(TLS / "mta-sts-enforce.txt")
    )
    assert enforced["verdict"] == "defer"


def test_json_bogus_tlsa(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--level", "dane", "--dnssec", "bogus", "--starttls", "stripped")
    assert (data["verdict"], data["tlsrpt_result"]) == ("defer", "dnssec-invalid")


def test_text_output_with_the_seed_policy_map(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = main_args(
        capsys,
        "--domain",
        "sensitive.org",
        "--mx",
        "mx.sensitive.org",
        "--policy-map",
        str(TLS / "tls_policy"),
        "--cert",
        str(WRONG),
        "--trusted",
        "yes",
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "sensitive.org via mx.sensitive.org: defer (4.7.5)"
    assert lines[1].startswith("  policy:  verify match=.sensitive.org  [texthash:")
    assert lines[2].startswith(
        "  why:     Server certificate not verified: names other.example.net"
    )
    assert lines[3] == "  TLS-RPT: certificate-host-mismatch"


def main_args(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tls", "check", "--now", NOW, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_default_level(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--cert", str(SELF))
    assert code == 0
    assert out.splitlines()[:2] == [
        "example.com via mx.example.com: tls, not authenticated",
        "  policy:  may  [default: smtp_tls_security_level = may]",
    ]


def test_text_output_unusable_tlsa_shows_applied_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--level", "dane", "--cert", str(SELF), "--tlsa", tlsa(SELF, 1))
    assert code == 0
    assert "  applied: encrypt" in out.splitlines()
    assert "  TLS-RPT: tlsa-invalid" in out.splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy-map", "/nonexistent/tls_policy"], "cannot read TLS policy map"),
        (["--tlsa", "3 1 1 zz"], "--tlsa: bad TLSA record '3 1 1 zz'"),
        (["--mta-sts", str(TLS / "tls_policy")], "tls_policy:1:"),
        (["--mta-sts", "/nonexistent/policy.txt"], "cannot read MTA-STS policy"),
        (["--cert", str(TLS / "tls_policy")], "no PEM certificate found"),
        (["--cert", "/nonexistent.pem"], "cannot read certificate"),
        (["--level", "paranoid"], "unknown TLS security level 'paranoid'"),
        (["--now", "yesterday"], "--now: expected an ISO 8601 time"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("relaysim: error: ")
    assert message in err


def test_bad_policy_map_entry(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "tls_policy").write_text("example.com paranoid\n")
    code, _, err = run(capsys, "--policy-map", str(tmp_path / "tls_policy"))
    assert code == 2 and "unknown TLS security level 'paranoid'" in err


def test_level_and_policy_map_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*BASE, "--level", "may", "--policy-map", str(TLS / "tls_policy")])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_bogus_tlsa_with_forged_records_defers(capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    code = main(
        [
            "tls",
            "check",
            "--domain",
            "example.com",
            "--mx",
            "mx.example.com",
            "--level",
            "dane",
            "--tlsa",
            "3 0 0 00",
            "--dnssec",
            "bogus",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["verdict"] == "defer"
    assert out["tlsrpt_result"] == "dnssec-invalid"
