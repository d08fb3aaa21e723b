"""``relaysim trace``: the hop table, JSON, the delay plot and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
MULTI_HOP = ROOT / "scenarios" / "messages" / "multi-hop.eml"
DATA = ROOT / "tests" / "data" / "received"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["trace", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_of_the_four_hop_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(MULTI_HOP), "--trusted", "mx.receiver.com")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "hop",
        "from",
        "by",
        "protocol",
        "TLS",
        "time",
        "(UTC)",
        "delay",
        "flags",
    ]
    rows = [line.split() for line in lines[1:6]]
    assert rows[0][:3] == ["4", "scanner.receiver.com", "[10.0.0.5]"]
    assert rows[0][3:] == [
        "final-delivery.receiver.com",
        "ESMTP",
        "no",
        "2024-01-15",
        "15:35:00",
        "1s",
    ]
    assert rows[1][0] == "3" and rows[1][-1] == "1s"
    assert rows[2][:6] == [
        "2",
        "gateway.sender.org",
        "[198.51.100.25]",
        "mx.receiver.com",
        "ESMTPS",
        "TLSv1.3",
    ]
    assert rows[2][-1] == "3s"
    assert lines[4].startswith("---  trust boundary: hop 2 was written by mx.receiver.com")
    assert rows[4][0] == "1" and rows[4][-2:] == ["-", "unverifiable"]
    assert "4 hops, 5s from the oldest to the newest stamp" in lines
    assert "unverifiable (below the trust boundary): hop 1" in lines
    assert "CLOCK SKEW" not in out


def test_clock_skew_is_flagged(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(DATA / "skew.eml"))
    assert code == 0
    first = out.splitlines()[1]
    assert first.split()[0] == "3" and "-50s" in first and first.endswith("CLOCK SKEW")
    assert (
        "clock skew: hop 3 (mail.example.net) is stamped 50s before hop 2 (mx.example.org); "
        "one of their clocks is wrong"
    ) in out.splitlines()


def test_notes_of_malformed_headers_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(DATA / "malformed.eml"))
    assert code == 0
    assert "hop 3: empty Received header" in out.splitlines()
    assert "hop 5: unreadable date 'yesterday at noon'" in out.splitlines()


def test_mbox_from_line_and_crlf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(
        b"From alice@example.org Mon Jan 15 10:35:00 2024\r\n"
        b"Received: from a (a [192.0.2.1])\r\n\tby b (Postfix) with ESMTP id Q;\r\n"
        b"\tMon, 15 Jan 2024 10:35:00 +0000\r\nSubject: x\r\n\r\nbody\r\n"
    )
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert out.splitlines()[1].split() == [
        "1",
        "a",
        "[192.0.2.1]",
        "b",
        "ESMTP",
        "no",
        "2024-01-15",
        "10:35:00",
        "-",
    ]
    assert out.splitlines()[-1] == "1 hop"


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, str(MULTI_HOP), "--trusted", "mx.receiver.com,other.example", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["file"] == str(MULTI_HOP)
    assert data["trusted"] == ["mx.receiver.com", "other.example"]
    assert data["boundary_hop"] == 2 and data["total"] == 5.0 and data["skew"] is False
    hops = data["hops"]
    assert [h["hop"] for h in hops] == [4, 3, 2, 1]
    assert [h["delay"] for h in hops] == [1.0, 1.0, 3.0, None]
    assert [h["trust"] for h in hops] == ["trusted", "trusted", "trusted", "unverifiable"]
    assert hops[2]["tls"]["version"] == "TLSv1.3" and hops[2]["protocol"] == "ESMTPS"
    assert hops[3]["time"] == "2024-01-15T10:34:55-05:00"
    assert hops[3]["time_utc"] == "2024-01-15T15:34:55+00:00"
    assert hops[0]["id"] == "DEF456" and hops[0]["for"] == "bob@receiver.com"


def test_plot_file_is_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "hops.png"
    code, out, _ = run(
        capsys, str(DATA / "skew.eml"), "--trusted", "mail.example.net", "--plot", str(png)
    )
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.splitlines()[-1] == f"plot written to {png}"


def test_plot_function_draws_one_bar_per_hop() -> None:
    from matplotlib.figure import Figure

    from sim.plots import plot_hop_delays
    from sim.policy.trace import trace_message

    trace = trace_message(MULTI_HOP.read_bytes(), trusted=["mx.receiver.com"])
    ax = Figure().add_subplot()
    assert plot_hop_delays(trace, ax=ax) is ax
    assert len(ax.patches) == 4
    assert [p.get_width() for p in ax.patches] == [0.0, 3.0, 1.0, 1.0]  # oldest first
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "hop 1: internal.sender.org [10.1.0.10] \u2192 gateway.sender.org"
    standalone = plot_hop_delays(trace.hops)
    assert standalone.get_figure() is not None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.eml", "cannot read: No such file or directory"),
        (lambda d: d, "cannot read:"),
        (lambda d: _write(d / "plain.eml", b"Subject: hi\n\nno trace\n"), "no Received headers"),
        (lambda d: _write(d / "blob.eml", bytes(range(256))), "no Received headers"),
        (lambda d: _write(d / "empty.eml", b""), "no Received headers"),
    ],
)
def test_bad_files_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"relaysim: error: {path}: ") and message in err


def test_unwritable_plot_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "such" / "dir" / "x.png"
    code, _, err = run(capsys, str(MULTI_HOP), "--json", "--plot", str(target))
    assert code == 2
    assert err.startswith(f"relaysim: error: {target}: cannot write the plot")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
