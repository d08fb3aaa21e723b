"""``relaysim policy probe``: the open-relay scan on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED_CF = ROOT / "scenarios" / "relay" / "main.cf"
OPEN_CF = ROOT / "tests" / "data" / "postfix" / "open_relay" / "main.cf"


def probe(main_cf: Path, *args: str) -> list[str]:
    return ["policy", "probe", "--main-cf", str(main_cf), *args]


def test_seed_config_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(probe(SEED_CF)) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == (
        "relay probe of mail.example.com [127.0.0.1] from 203.0.113.99 (EHLO example.org), "
        "victim <relaytest@example.net>"
    )
    assert lines[1].split() == ["#", "test", "MAIL", "FROM", "RCPT", "TO", "reply", "result"]
    assert len(lines) == 2 + 16 + 1
    first = lines[2].split()
    assert first[:4] == ["1", "null", "sender", "<>"]
    assert "<relaytest@example.net>" in first
    assert lines[2].endswith("refused")
    assert "454 4.7.1 <relaytest@example.net>: Relay access denied" in lines[2]
    fifth = lines[6]
    assert fifth.lstrip().startswith("5  percent hack at IP literal")
    assert "<antispam@[127.0.0.1]>" in fifth and "<relaytest%example.net@[127.0.0.1]>" in fifth
    assert "454 4.7.1 <relaytest%example.net@[127.0.0.1]>: Relay access denied" in fifth
    assert all(line.endswith("refused") for line in lines[2:18])
    assert lines[-1] == "0/16 relayed"
    assert err == ""


def test_open_config_relays_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(probe(OPEN_CF)) == 0  # a report: exit 0 whatever it finds
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert all(line.endswith("RELAYED") for line in lines[2:18])
    assert "250 2.1.5 Ok" in lines[2]
    assert lines[18] == "16/16 relayed"
    assert lines[19].startswith("note: mynetworks contains 203.0.113.99")


def test_insider_client(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(probe(SEED_CF, "--client", "10.1.2.3", "--helo", "pc.example.com")) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert "from 10.1.2.3 (EHLO pc.example.com)" in lines[0]
    assert lines[18] == "16/16 relayed - authorized for this client, not an open relay"
    assert lines[19].startswith("note: client 10.1.2.3 is in mynetworks")


def test_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(probe(SEED_CF, "--json")) == 0
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert set(data) == {
        "server",
        "client",
        "victim",
        "forms",
        "relayed",
        "total",
        "nmap_relayed",
        "open_relay",
        "summary",
        "notes",
    }
    assert data["server"] == {"name": "mail.example.com", "ip": "127.0.0.1"}
    assert data["client"] == {"address": "203.0.113.99", "helo": "example.org", "trusted": False}
    assert data["victim"] == "relaytest@example.net"
    assert (data["relayed"], data["total"], data["nmap_relayed"]) == (0, 16, 0)
    assert data["open_relay"] is False
    assert data["summary"] == "0/16 relayed"
    assert data["notes"] == []
    assert len(data["forms"]) == 16
    assert data["forms"][9] == {
        "number": 10,
        "label": "quoted @ at IP literal",
        "nmap": True,
        "mail_from": "antispam@[127.0.0.1]",
        "rcpt_to": '"relaytest@example.net"@[127.0.0.1]',
        "mail": {"code": 250, "enhanced": "2.1.0", "text": "Ok"},
        "rcpt": {
            "code": 454,
            "enhanced": "4.7.1",
            "text": "<relaytest@example.net@[127.0.0.1]>: Relay access denied",
        },
        "decided_by": "defer_unauth_destination",
        "resolved": "relaytest@example.net",
        "relayed": False,
        "stays_here": False,
    }
    assert data["forms"][0]["mail_from"] == ""
    assert all(f["nmap"] for f in data["forms"])


def test_extended_adds_forms_17_and_18(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(probe(OPEN_CF, "--extended")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 18 + 2
    assert lines[18].split()[:5] == ["17", "quoted", "@", "at", "host"]
    assert '<"relaytest@example.net"@mail.example.com>' in lines[18]
    assert lines[19].split()[:4] == ["18", "percent", "hack,", "bare"]
    assert "<relaytest%example.net>" in lines[19] and lines[19].endswith("RELAYED")
    assert lines[20] == "18/18 relayed (Nmap's: 16/16)"


def test_server_options_and_fallback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cf = tmp_path / "main.cf"
    cf.write_text("compatibility_level = 3.6\nmyhostname = mx.example.com\n")
    assert main(probe(cf, "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    # inet_interfaces = all (the default) names no address: the documentation address.
    assert data["server"] == {"name": "mx.example.com", "ip": "192.0.2.25"}
    assert data["forms"][3]["mail_from"] == "antispam@[192.0.2.25]"
    assert any("192.0.2.25 is not in inet_interfaces" in n for n in data["notes"])
    assert main(probe(cf, "--json", "--server-ip", "127.0.0.1", "--server-name", "mx")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["server"] == {"name": "mx", "ip": "127.0.0.1"}
    assert data["forms"][12]["rcpt_to"] == "@mx:relaytest@example.net"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client", "999.1.1.1"], "--client: client address '999.1.1.1' is not an IPv4"),
        (["--server-ip", "mail"], "policy probe: server IP 'mail' is not an IPv4 or IPv6"),
        (["--server-name", "a..b"], "policy probe: server name 'a..b' is not a host name"),
        (["--victim", "someone@example.com"], "is a destination of this server"),
        (["--victim", "nobody"], "victim 'nobody': expected local@domain"),
    ],
)
def test_bad_options_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(probe(SEED_CF, *args)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("relaysim: error: ")
    assert message in err


def test_missing_main_cf_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope" / "main.cf"
    assert main(probe(missing)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"relaysim: error: {missing}: cannot read main.cf: No such file or directory\n"


def test_config_postfix_refuses_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cf = tmp_path / "main.cf"
    cf.write_text(
        "compatibility_level = 3.6\nsmtpd_relay_restrictions = permit\n"
        "smtpd_recipient_restrictions =\n"
    )
    assert main(probe(cf)) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "Postfix refuses to run this policy (an open relay)" in err
