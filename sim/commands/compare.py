"""``relaysim compare SCENARIO...``: play several scenarios and put them side by side.

Prints one row per scenario (delivered, latency percentiles, the deepest queue, the
message-hours spent in queues) and writes to ``--out`` (default ``runs/compare``)
``compare.csv`` and three plots: ``compare-queues.png``, ``compare-latency.png`` and
``compare-waiting.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.results import save_figure

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``compare`` to the top-level subcommands."""
    cmd = sub.add_parser(
        "compare",
        help="run several scenarios and compare them side by side",
        description=(
            "Run each scenario once and print a comparison table; write compare.csv and "
            "the plots compare-queues.png, compare-latency.png, compare-waiting.png."
        ),
    )
    cmd.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO")
    cmd.add_argument("--seed", type=int, help="one seed for all (default: each scenario's)")
    cmd.add_argument("--until", metavar="T", help="simulated time for all (30000s, 6h, 2d)")
    cmd.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting in every scenario (repeatable)",
    )
    cmd.add_argument(
        "--defence",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with one scenario: also run it with these settings and compare (repeatable)",
    )
    cmd.add_argument("--out", type=Path, default=Path("runs/compare"), metavar="DIR")
    cmd.add_argument("--no-plots", action="store_true", help="only the table and compare.csv")
    cmd.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    from sim.commands.run import parse_until
    from sim.compare import compare
    from sim.scenario import ScenarioError

    until = parse_until(args.until) if args.until is not None else None
    names = [p.stem for p in args.scenarios]
    labels: dict[str, Any]
    if len(set(names)) != len(names):
        labels = {str(p): p for p in args.scenarios}
    else:
        labels = dict(zip(names, args.scenarios, strict=True))
    try:
        if args.defence:
            if len(args.scenarios) != 1:
                raise InputError("--defence compares one scenario with itself: give one file")
            from sim.scenario import load_scenario

            path = args.scenarios[0]
            base = load_scenario(path, overrides=tuple(args.overrides))
            defended = load_scenario(path, overrides=(*args.overrides, *args.defence))
            labels = {path.stem: base, f"{path.stem} + defence": defended}
        comparison = compare(labels, seed=args.seed, until=until, overrides=args.overrides)
    except ScenarioError as exc:
        from sim.commands.run import _print_problems

        _print_problems(exc)
        return 2
    table = comparison.table()
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "compare.csv")
    written = [args.out / "compare.csv"]
    if not args.no_plots:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        from sim.plots.compare import (
            plot_compare_attacks,
            plot_compare_latency,
            plot_compare_queues,
            plot_compare_waiting,
        )

        queues = plot_compare_queues(comparison)
        written.append(save_figure(queues, args.out / "compare-queues.png"))
        plots = [("latency", plot_compare_latency), ("waiting", plot_compare_waiting)]
        if any(c.startswith("attack_") for c in table.columns):
            plots.append(("attacks", plot_compare_attacks))
        for name, draw in plots:
            fig = Figure(figsize=(10.0, 5.5), layout="constrained")
            draw(comparison, ax=fig.add_subplot())
            written.append(save_figure(fig, args.out / f"compare-{name}.png"))
    print(_format(table), file=out)
    print(f"\nwrote {len(written)} files to {args.out}", file=out)
    return 0


def _format(table: Any) -> str:
    from sim.policy.trace import format_duration

    shown = table.copy()
    for column in ("latency_p50_s", "latency_p95_s", "latency_max_s"):
        shown[column] = [
            "-" if value is None or value != value else format_duration(float(value))
            for value in shown[column]
        ]
    shown["message_hours_waiting"] = [f"{v:,.0f}" for v in shown["message_hours_waiting"]]
    shown = shown.rename(
        columns={
            "latency_p50_s": "p50",
            "latency_p95_s": "p95",
            "latency_max_s": "max",
            "queued_at_end": "queued",
            "message_hours_waiting": "msg-hours queued",
        }
    )
    return str(shown.to_string())
