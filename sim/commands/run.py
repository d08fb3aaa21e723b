"""``relaysim run SCENARIO``: run a scenario, print its summary, write the run directory.

The world runs in 100 steps of simulated time so that, when stdout is a terminal, a
one-line progress bar on stderr shows how far the simulated clock has got.  The
directory (default ``runs/<scenario>-seed<N>``) gets what :func:`sim.results.write_run`
writes; ``--json`` prints ``summary.json`` to stdout instead of the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.results import print_summary, summary_json, write_run
from sim.world.engine import EVENT_MODES, SAMPLE_EVERY, RunResult, World, WorldSpec

__all__ = ["AUTO_ALL_LIMIT", "choose_events", "parse_until", "register", "run_world"]

AUTO_ALL_LIMIT = 200_000  # --events auto keeps everything for runs up to this size

_STEPS = 100


def register(sub: Any) -> None:
    """Add ``run`` to the top-level subcommands."""
    run = sub.add_parser(
        "run",
        help="run a scenario and write its results",
        description=(
            "Run a scenario file, print a summary (counts, latency percentiles, queue "
            "peaks) and write summary.json, messages.csv, events.jsonl, timeseries.csv, "
            "queue_waits.csv and PNG plots to a run directory."
        ),
    )
    run.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")
    run.add_argument("--seed", type=int, help="random seed (default: the scenario's, else 0)")
    run.add_argument(
        "--until",
        metavar="T",
        help="simulated time to run, overriding the scenario's duration (30000s, 6h, 2d)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one scenario setting (repeatable), e.g. --set faults.0.down_for=4h",
    )
    run.add_argument(
        "--out", type=Path, metavar="DIR", help="run directory (default: runs/NAME-seedN)"
    )
    run.add_argument(
        "--events",
        choices=("auto", *EVENT_MODES),
        default="auto",
        help=(
            "which messages' events and ledger rows to keep: all, sample (1 in "
            f"{SAMPLE_EVERY}) or none; counts and percentiles always cover every message "
            f"(default auto: all up to {AUTO_ALL_LIMIT:,} expected messages, else sample)"
        ),
    )
    run.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    run.add_argument(
        "--json", action="store_true", help="print summary.json to stdout instead of the table"
    )
    run.set_defaults(handler=_run)


def parse_until(text: str) -> float:
    """Seconds in an ``--until`` value (``30000s``, ``6h``, ``2d``, or plain seconds)."""
    from sim.scenario import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise InputError(f"--until: {exc}") from None
    if seconds <= 0:
        raise InputError(f"--until: the run must last more than 0 seconds, got {text!r}")
    return seconds


class _ProgressBar:
    """``[#####.....]  42%  2h31m / 6h00m simulated``, redrawn in place on ``stream``."""

    def __init__(self, stream: TextIO, total: float, label: str) -> None:
        self.stream = stream
        self.total = total
        self.label = label
        self.started = time.monotonic()

    def draw(self, now: float) -> None:
        from sim.policy.trace import format_duration

        share = min(1.0, now / self.total) if self.total else 1.0
        width = 30
        filled = round(share * width)
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\r{self.label} [{bar}] {share:4.0%}  "
            f"{format_duration(now)} / {format_duration(self.total)} simulated  "
            f"({elapsed:.1f}s)\x1b[K"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()


def run_world(world: World, until: float, *, progress: _ProgressBar | None = None) -> RunResult:
    """Run ``world`` to ``until``; with a progress bar, in steps of ``until / 100``."""
    if progress is not None:
        try:
            for step in range(1, _STEPS):
                t = until * step / _STEPS
                if t > world.env.now:
                    world.env.run(until=t)
                progress.draw(world.env.now)
        finally:
            progress.close()
    return world.run(until=until)


def choose_events(mode: str, spec: WorldSpec, until: float) -> str:
    """``--events auto``: everything for ordinary runs, a sample for huge ones."""
    if mode != "auto":
        return mode
    return "all" if spec.expected_messages(until) <= AUTO_ALL_LIMIT else "sample"


def _print_problems(exc: Exception) -> None:
    problems = getattr(exc, "problems", None)
    lines = (
        [str(p.render()) for p in problems]
        if problems
        else (str(exc).splitlines() or ["bad scenario"])
    )
    for line in lines:
        print(f"relaysim: error: {line}", file=sys.stderr)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from sim.scenario import ScenarioError, load_scenario

    until = parse_until(args.until) if args.until is not None else None
    try:
        scenario = load_scenario(args.scenario, overrides=tuple(args.overrides))
        spec = scenario.to_world_spec()
    except ScenarioError as exc:
        _print_problems(exc)
        return 2
    seed = args.seed if args.seed is not None else (scenario.seed or 0)
    duration = until if until is not None else float(scenario.duration)
    if duration <= 0:
        raise InputError(f"{args.scenario}: the scenario's duration is 0; give --until")
    out_dir = args.out if args.out is not None else Path("runs") / f"{scenario.name}-seed{seed}"

    import matplotlib

    matplotlib.use("Agg")  # PNGs only, never a window
    events = choose_events(args.events, spec, duration)
    if events != args.events and events != "all":
        expected = spec.expected_messages(duration)
        print(
            f"relaysim: about {expected:,.0f} messages expected: keeping the events and "
            f"ledger rows of 1 in {SAMPLE_EVERY} (--events all to keep every one)",
            file=sys.stderr,
        )
    world = World(spec, seed=seed, events=events)
    show_bar = out.isatty() and sys.stderr.isatty()
    bar = _ProgressBar(sys.stderr, duration, scenario.name) if show_bar else None
    result = run_world(world, duration, progress=bar)
    result.summary = {"scenario": scenario.name, **result.summary}
    written = write_run(result, out_dir, plots=not args.no_plots)
    if args.json:
        out.write(summary_json(result.summary))
    else:
        print_summary(result, out, title=f"scenario {scenario.name}")
        print(f"\nwrote {len(written)} files to {out_dir}", file=out)
    return 0
