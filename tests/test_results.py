"""Writing a run directory and reading it back; the summary table."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.errors import InputError
from sim.results import DATA_FILES, PLOT_FILES, print_summary, read_run, write_run
from sim.world.engine import FaultSpec, LinkSpec, RunResult, SourceSpec, World, WorldSpec
from sim.world.mta import MtaSpec
from sim.world.network import Latency

ZONE = """$ORIGIN example.com.
$TTL 300
@ IN MX 10 mx1.example.com.
@ IN MX 20 mx2.example.com.
mx1 IN A 192.0.2.10
mx2 IN A 192.0.2.20
"""


def small_world(*, rate: float = 0.05) -> WorldSpec:
    """A sender, a primary MX that is down from 10 to 40 min, and a backup MX."""
    return WorldSpec(
        mtas=(
            MtaSpec("out.sender.org", "198.51.100.5", connect_timeout=5.0),
            MtaSpec("mx1.example.com", "192.0.2.10", domains=("example.com",)),
            MtaSpec(
                "mx2.example.com", "192.0.2.20", relay_domains=("example.com",), connect_timeout=5.0
            ),
        ),
        links=(
            LinkSpec("out.sender.org", "mx1.example.com", Latency(0.02)),
            LinkSpec("out.sender.org", "mx2.example.com", Latency(0.02)),
            LinkSpec("mx1.example.com", "mx2.example.com", Latency(0.01)),
        ),
        zones=(("example.com.zone", ZONE),),
        sources=(
            SourceSpec("users", "out.sender.org", rate, "alice@sender.org", ("bob@example.com",)),
        ),
        faults=(FaultSpec(600, "mx1.example.com", 1800),),
        sample_every=60,
    )


UNTIL = 2 * 3600.0


@pytest.fixture(scope="module")
def result() -> RunResult:
    return World(small_world(), seed=4).run(until=UNTIL)


@pytest.fixture(scope="module")
def written(result: RunResult, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_run(result, tmp_path_factory.mktemp("run") / "a" / "b")


@pytest.fixture(scope="module")
def run_dir(written: list[Path]) -> Path:
    return written[0].parent


def test_the_small_world_tells_the_failover_story(result: RunResult) -> None:
    s = result.summary
    assert s["lost"] == 0 and s["delivered"] > 100
    assert s["queue_peak"]["mx2.example.com"] > 10


def test_write_run_writes_every_file(written: list[Path]) -> None:
    assert "topology.json" in DATA_FILES and PLOT_FILES["topology"] == "topology.png"
    samples = [p for p in written if p.parent.name == "samples"]
    names = [p.name for p in written if p.parent.name not in ("samples", "transcripts")]
    assert names == [*DATA_FILES, *PLOT_FILES.values()]
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
    for path in written[-len(PLOT_FILES) :]:
        assert path.read_bytes().startswith(b"\x89PNG")
    assert samples and all(p.suffix == ".eml" for p in samples)
    assert samples[0].read_bytes().startswith(b"Received: from out.sender.org")


def test_no_plots_writes_only_data(result: RunResult, tmp_path: Path) -> None:
    written = write_run(result, tmp_path, plots=False)
    assert [p.name for p in written if p.parent.name not in ("samples", "transcripts")] == list(
        DATA_FILES
    )
    assert not list(tmp_path.glob("*.png"))


def test_the_files_read_back(result: RunResult, run_dir: Path) -> None:
    back = read_run(run_dir)
    assert back.summary == json.loads(json.dumps(result.summary))
    pd.testing.assert_frame_equal(back.events, result.events, check_dtype=False)
    pd.testing.assert_frame_equal(back.messages, result.messages, check_dtype=False)
    pd.testing.assert_frame_equal(back.timeseries, result.timeseries, check_dtype=False)
    pd.testing.assert_frame_equal(back.queue_waits, result.queue_waits, check_dtype=False)
    assert back.hosts == result.hosts == ("out.sender.org", "mx1.example.com", "mx2.example.com")
    assert back.links == result.links and len(back.links) == 3


def test_topology_json_is_small_and_plain(run_dir: Path) -> None:
    data = json.loads((run_dir / "topology.json").read_text())
    assert data == {
        "hosts": ["out.sender.org", "mx1.example.com", "mx2.example.com"],
        "links": [
            ["out.sender.org", "mx1.example.com"],
            ["out.sender.org", "mx2.example.com"],
            ["mx1.example.com", "mx2.example.com"],
        ],
    }


def test_a_run_directory_without_topology_reads_with_an_empty_one(
    result: RunResult, tmp_path: Path
) -> None:
    write_run(result, tmp_path, plots=False)
    (tmp_path / "topology.json").unlink()
    back = read_run(tmp_path)
    assert back.hosts == () and back.links == ()
    pd.testing.assert_frame_equal(back.events, result.events, check_dtype=False)


def test_a_broken_topology_json_is_an_input_error(result: RunResult, tmp_path: Path) -> None:
    write_run(result, tmp_path, plots=False)
    (tmp_path / "topology.json").write_text('{"links": [["a"]]}')
    with pytest.raises(InputError, match="not a topology file"):
        read_run(tmp_path)


def test_events_jsonl_is_one_object_per_line_in_column_order(
    result: RunResult, run_dir: Path
) -> None:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    assert len(lines) == len(result.events)
    first = json.loads(lines[0])
    assert list(first) == ["t", "kind", "host", "msg_id", "detail"]
    kinds = {json.loads(line)["kind"] for line in lines}
    assert {"fault_down", "fault_up", "deferred", "relayed", "delivered"} <= kinds


def test_same_seed_gives_byte_identical_events(tmp_path: Path) -> None:
    spec = small_world()
    for name in ("a", "b"):
        write_run(World(spec, seed=9).run(until=1800), tmp_path / name, plots=False)
    a = (tmp_path / "a" / "events.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "events.jsonl").read_bytes()


def test_summary_json_is_json_safe(tmp_path: Path) -> None:
    empty = pd.DataFrame(columns=["t", "kind", "host", "msg_id", "detail"])
    summary = {"lost": np.int64(0), "p50": math.nan, "peak": {"a": np.int64(3)}, "x": (1, 2)}
    frame = pd.DataFrame()
    write_run(RunResult(summary, empty, frame, frame, frame), tmp_path, plots=False)
    text = (tmp_path / "summary.json").read_text()
    assert json.loads(text) == {"lost": 0, "p50": None, "peak": {"a": 3}, "x": [1, 2]}
    assert (tmp_path / "events.jsonl").read_text() == ""


def test_read_run_refuses_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(InputError, match=r"not a run directory.*messages\.csv"):
        read_run(tmp_path)


def test_print_summary_shows_counts_latency_peaks_and_faults(result: RunResult) -> None:
    out = io.StringIO()
    print_summary(result, out, title="failover")
    text = out.getvalue()
    assert text.startswith("failover (seed 4, 2h00m simulated)")
    rows = [line.split() for line in text.splitlines()]
    assert ["delivered", str(result.summary["delivered"])] in rows
    assert ["lost", "0"] in rows
    for needle in ("lost", "p50", "p95", "p99", "queue peaks", "mx2.example.com"):
        assert needle in text
    assert "mx1.example.com down 10m00s to 40m00s" in text


def test_transcripts_and_session_counts_are_written(result: RunResult, tmp_path: Path) -> None:
    written = write_run(result, tmp_path, plots=False)
    transcripts = [p for p in written if p.parent.name == "transcripts"]
    assert transcripts and transcripts[0].read_text().startswith("=== out.sender.org -> ")
    assert " -> MAIL FROM:<alice@sender.org>" in transcripts[0].read_text()
    assert {"inbound_sessions", "outbound_sessions"} <= set(result.timeseries.columns)
