"""``relaysim mta-sts``: parse (text and JSON), match exit codes, one-line input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

POLICIES = Path(__file__).resolve().parent.parent / "scenarios" / "tls"
APPENDIX_A = POLICIES / "rfc8461-appendix-a.txt"
WILDCARD = POLICIES / "enforce-wildcard-crlf.txt"
WITHDRAW = POLICIES / "withdraw-none.txt"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["mta-sts", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_example_files_are_what_they_claim() -> None:
    assert b"\r\n" in WILDCARD.read_bytes()
    assert b"\r" not in APPENDIX_A.read_bytes()


def test_parse_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "parse", str(APPENDIX_A), "--json")
    assert (code, err) == (0, "")
    assert out.endswith("\n") and out.count("\n") == 1
    data = json.loads(out)
    assert list(data) == ["version", "mode", "mx", "max_age"]
    assert data == {
        "version": "STSv1",
        "mode": "testing",
        "mx": ["mx1.example.com", "mx2.example.com", "mx.backup-example.com"],
        "max_age": 1296000,
    }


def test_parse_json_keeps_its_shape_with_txt(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "parse", str(WILDCARD), "--txt", "v=STSv1; id=20160831085700Z;", "--json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "version": "STSv1",
        "mode": "enforce",
        "mx": ["*.mail.example.com"],
        "max_age": 604800,
    }


def test_parse_json_mode_none(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parse", str(WITHDRAW), "--json")
    assert code == 0
    assert json.loads(out) == {"version": "STSv1", "mode": "none", "mx": [], "max_age": 86400}


def test_parse_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "parse", str(WILDCARD), "--txt", "v=STSv1; id=A1")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "version: STSv1",
        "mode: enforce",
        "mx: *.mail.example.com",
        "max_age: 604800",
        "# _mta-sts id: A1",
    ]


def test_parse_other_txt_records_are_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "parse", str(WILDCARD), "--txt", "v=spf1 -all", "--txt", "v=STSv1; id=B2"
    )
    assert code == 0 and "id: B2" in out


@pytest.mark.parametrize(
    ("host", "code", "printed"),
    [
        ("mx1.mail.example.com", 0, "match"),
        ("MX1.Mail.Example.Com.", 0, "match"),
        ("mail.example.com", 1, "no match"),
        ("a.b.mail.example.com", 1, "no match"),
        ("mx1.mail.example.org", 1, "no match"),
    ],
)
def test_match_exit_codes(
    capsys: pytest.CaptureFixture[str], host: str, code: int, printed: str
) -> None:
    assert run(capsys, "match", str(WILDCARD), host) == (code, printed + "\n", "")


def test_match_literal_patterns(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "match", str(APPENDIX_A), "mx.backup-example.com")[0] == 0
    assert run(capsys, "match", str(APPENDIX_A), "backup-example.com")[0] == 1
    assert run(capsys, "match", str(WITHDRAW), "mx1.example.com")[:2] == (1, "no match\n")


def _error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith("relaysim: error: ") and err.count("\n") == 1, err
    return err


def test_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    err = _error(capsys, "parse", str(missing))
    assert f"{missing}: cannot read policy file: No such file or directory" in err
    assert "cannot read policy file" in _error(capsys, "match", str(missing), "mx.example.com")
    assert "cannot read policy file" in _error(capsys, "parse", str(tmp_path))  # a directory


def test_non_utf8_file_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"version: STSv1\nmode: testing\nmx: caf\xe9.example\nmax_age: 1\n")
    assert "expected UTF-8 text" in _error(capsys, "parse", str(path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 31557601\r\n",
            ":4: max_age",
        ),
        (b"version: STSv1\nmode: enforce\nmax_age: 60\n", "no 'mx' line"),
        (b"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 60\n", ":3: mx pattern"),
        (b"", "empty policy"),
    ],
)
def test_invalid_policy_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "mta-sts.txt"
    path.write_bytes(content)
    assert message in _error(capsys, "parse", str(path), "--json")
    assert message in _error(capsys, "match", str(path), "a.example")


@pytest.mark.parametrize(
    ("txt", "message"),
    [
        (["v=STSv1; id=1", "v=STSv1; id=2"], "--txt: 2 records start with 'v=STSv1'"),
        (["id=1"], "--txt: no record starts with 'v=STSv1;'"),
        (["v=STSv1; id=not-alnum"], "bad id 'not-alnum'"),
        (["v=STSv1"], "missing required 'id=' field"),
    ],
)
def test_invalid_txt_is_exit_2(
    capsys: pytest.CaptureFixture[str], txt: list[str], message: str
) -> None:
    args = [arg for record in txt for arg in ("--txt", record)]
    assert message in _error(capsys, "parse", str(APPENDIX_A), *args, "--json")


def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mta-sts", "match", str(APPENDIX_A)])
    assert info.value.code == 2
    assert "MX_HOST" in capsys.readouterr().err
    assert "must not be empty" in _error(capsys, "match", str(APPENDIX_A), " ")
