"""The relaysim command line: sim.cli.main and python -m sim."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEMO_CF = ROOT / "scenarios" / "relay" / "main.cf"
NORELAY_CF = ROOT / "scenarios" / "relay" / "main-norelay.cf"
DEMO_ARGS = [
    "policy",
    "check",
    "--main-cf",
    str(DEMO_CF),
    "--client",
    "203.0.113.5",
    "--helo",
    "test.external.com",
    "--from",
    "spammer@evil.com",
    "--rcpt",
    "victim@gmail.com",
]
SIMPLE_CF = """\
compatibility_level = 3.6
myhostname = mail.example.com
inet_interfaces = 127.0.0.1
mynetworks = 127.0.0.0/8 10.0.0.0/8
mydestination = example.com
local_recipient_maps =
smtpd_sender_restrictions = reject_non_fqdn_sender
"""


def check(main_cf: Path, *args: str) -> list[str]:
    return ["policy", "check", "--main-cf", str(main_cf), *args]


@pytest.fixture
def simple_cf(tmp_path: Path) -> Path:
    path = tmp_path / "main.cf"
    path.write_text(SIMPLE_CF)
    return path


def test_demo_prints_the_transcript(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(DEMO_ARGS) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "S: 220 mail.example.com ESMTP Postfix"
    assert "C: EHLO test.external.com" in lines
    assert "C: MAIL FROM:<spammer@evil.com>" in lines
    assert "S: 250 2.1.0 Ok" in lines
    assert "C: RCPT TO:<victim@gmail.com>" in lines
    assert "S: 454 4.7.1 <victim@gmail.com>: Relay access denied" in lines
    assert "   # decided by defer_unauth_destination" in lines
    assert lines[-1] == "S: 221 2.0.0 Bye"
    assert "Traceback" not in err


def test_demo_without_the_default_relay_list(capsys: pytest.CaptureFixture[str]) -> None:
    args = [a if a != str(DEMO_CF) else str(NORELAY_CF) for a in DEMO_ARGS]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "S: 554 5.7.1 <victim@gmail.com>: Relay access denied" in out.splitlines()


def test_json_output_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*DEMO_ARGS, "--rcpt", "abuse@example.com", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    data = json.loads(out)
    assert set(data) == {"mail", "rcpt"}
    assert data["mail"] == {"code": 250, "enhanced": "2.1.0", "text": "Ok"}
    assert len(data["rcpt"]) == 2
    for entry in data["rcpt"]:
        assert set(entry) == {"address", "code", "enhanced", "text", "decided_by"}
    assert data["rcpt"][0] == {
        "address": "victim@gmail.com",
        "code": 454,
        "enhanced": "4.7.1",
        "text": "<victim@gmail.com>: Relay access denied",
        "decided_by": "defer_unauth_destination",
    }
    assert data["rcpt"][1]["address"] == "abuse@example.com"
    assert data["rcpt"][1]["code"] == 250
    assert data["rcpt"][1]["decided_by"] is None


def test_explain_lists_restrictions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*DEMO_ARGS, "--explain"]) == 0
    out = capsys.readouterr().out
    assert "smtpd_relay_restrictions: permit_mynetworks -> no decision" in out
    assert "smtpd_relay_restrictions: permit_sasl_authenticated -> no decision" in out
    assert (
        "smtpd_relay_restrictions: defer_unauth_destination -> "
        "454 4.7.1 <victim@gmail.com>: Relay access denied"
    ) in out
    assert "smtpd_sender_restrictions: reject_non_fqdn_sender -> no decision" in out


def test_without_explain_no_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(DEMO_ARGS) == 0
    assert "->" not in capsys.readouterr().out


def test_cases_batch(tmp_path: Path, simple_cf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps({"client": "198.51.100.7", "from": "a@example.net", "rcpt": ["b@example.com"]})
        + "\n\n"
        + json.dumps({"client": "10.1.2.3", "from": "a@example.net", "rcpt": "x@victim.com"})
        + "\n"
    )
    assert main(check(simple_cf, "--cases", str(cases))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["rcpt"][0]["code"] == 250
    assert first["rcpt"][0]["address"] == "b@example.com"
    assert second["rcpt"][0]["code"] == 250
    assert second["rcpt"][0]["address"] == "x@victim.com"
    assert set(first) == {"mail", "rcpt"}


def test_cases_bad_json_on_line_2(
    tmp_path: Path, simple_cf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.jsonl"
    good = {"client": "198.51.100.7", "from": "a@example.net", "rcpt": ["u@victim.com"]}
    cases.write_text(json.dumps(good) + "\n{not json\n" + json.dumps(good) + "\n")
    assert main(check(simple_cf, "--cases", str(cases))) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["rcpt"][0]["text"] == "<u@victim.com>: Relay access denied"
    assert len(err.splitlines()) == 1
    assert f"{cases}:2:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"from": "a@example.net"}', "'from' and 'rcpt' are required"),
        ('{"from": "a@b.example", "rcpt": [1]}', "rcpt"),
        ('{"client": "300.1.2.3", "from": "a@b.example", "rcpt": "c@example.com"}', "300.1.2.3"),
        ('{"from": "a@b.example", "rcpt": "c@example.com", "dns": {"x": "maybe"}}', "maybe"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_cases_bad_case_on_line_1(
    tmp_path: Path,
    simple_cf: Path,
    capsys: pytest.CaptureFixture[str],
    line: str,
    fragment: str,
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(line + "\n")
    assert main(check(simple_cf, "--cases", str(cases))) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert f"{cases}:1:" in err
    assert fragment in err


def test_cases_unknown_keys_are_ignored_with_a_warning(
    tmp_path: Path, simple_cf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": 7, "from": "a@b.example", "rcpt": "c@example.com"}\n')
    assert main(check(simple_cf, "--cases", str(cases))) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["rcpt"][0]["code"] == 250
    assert f"{cases}:1:" in err
    assert "id" in err


def test_cases_file_missing(
    tmp_path: Path, simple_cf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(check(simple_cf, "--cases", str(tmp_path / "nope.jsonl"))) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "nope.jsonl" in err


def test_unknown_restriction_in_main_cf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "main.cf"
    path.write_text(SIMPLE_CF + "smtpd_recipient_restrictions =\n    permit_mynetwork\n")
    line = SIMPLE_CF.count("\n") + 1
    code = main(check(path, "--from", "a@example.net", "--rcpt", "b@example.com"))
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert f"{path}:{line}:" in err
    assert "permit_mynetwork" in err
    assert "Traceback" not in err


def test_bad_client_ip(simple_cf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = check(simple_cf, "--client", "300.1.2.3", "--from", "a@b.example", "--rcpt", "c@d.com")
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "300.1.2.3" in err


def test_missing_main_cf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "main.cf"
    assert main(check(missing, "--from", "a@b.example", "--rcpt", "c@example.com")) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert str(missing) in err


def test_missing_from_or_rcpt(simple_cf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(check(simple_cf, "--from", "a@b.example")) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_bad_dns_option(simple_cf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = check(simple_cf, "--from", "a@b.example", "--rcpt", "c@example.com", "--dns", "x")
    assert main(args) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_null_sender(simple_cf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(check(simple_cf, "--from", "", "--rcpt", "c@example.com", "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mail"]["code"] == 250
    assert data["rcpt"][0]["code"] == 250


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["policy", "check"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_python_m_sim_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
    assert "relaysim" in proc.stdout
    assert "policy" in proc.stdout


def test_cases_from_stdin(
    simple_cf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = json.dumps({"client": "198.51.100.7", "from": "a@example.net", "rcpt": "u@victim.com"})
    monkeypatch.setattr(sys, "stdin", io.StringIO(line + "\n"))
    assert main(check(simple_cf, "--cases", "-")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rcpt"][0]["code"] == 454
