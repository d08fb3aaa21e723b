"""scenarios/multi-hop.yaml: four hand-overs written as Received headers and read back."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest

from sim import load_scenario, run
from sim.cli import main
from sim.policy.trace import trace_message
from sim.results import write_run
from sim.world.engine import RunResult

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "multi-hop.yaml"
PATH = [
    ("submit.corp.example", "10.1.0.25", "gw.corp.example"),
    ("gw.corp.example", "198.51.100.25", "mx.dest.example"),
    ("mx.dest.example", "192.0.2.25", "scan.dest.example"),
    ("scan.dest.example", "10.2.0.30", "mailbox.dest.example"),
]


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run(load_scenario(SCENARIO), until=1800)


def test_the_delivered_message_reads_back_as_the_four_hops(result: RunResult) -> None:
    assert result.summary["delivered"] == result.summary["accepted"] > 10
    samples = [data for name, data in result.samples.items() if name.startswith("msg-")]
    assert samples
    for data in samples:
        assert len(message_from_bytes(data).get_all("Received")) == 4
        trace = trace_message(data)
        oldest_first = list(reversed(trace.hops))
        got = [(h.hop.helo, h.hop.ip, h.hop.by) for h in oldest_first]
        assert got == PATH
        assert [h.number for h in oldest_first] == [1, 2, 3, 4]
        assert all(h.delay is None or h.delay >= 0 for h in trace.hops)


def test_the_trace_delays_add_up_to_the_ledgers_time_in_transit(result: RunResult) -> None:
    """Header stamps have whole seconds: the sum of hop delays is the transit time from
    the gateway's stamp to the mailbox's, within a second or two."""
    m = result.messages.set_index("msg_id")
    for name, data in result.samples.items():
        if not name.startswith("msg-"):
            continue
        msg_id = int(name.removeprefix("msg-").removesuffix(".eml"))
        trace = trace_message(data)
        total = sum(h.delay for h in trace.hops if h.delay is not None)
        assert total == trace.total
        transit = float(m.loc[msg_id, "final_at"] - m.loc[msg_id, "injected_at"])
        assert total <= transit + 1.0  # the first stamp is at the gateway, not at submission


def test_relaysim_trace_reads_the_sample_written_by_relaysim_run(
    result: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(result, tmp_path, plots=False)
    sample = sorted((tmp_path / "samples").glob("msg-*.eml"))[0]
    assert main(["trace", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "4 hops" in out
    for helo, ip, by in PATH:
        assert f"{helo} [{ip}]" in out and by in out
