"""``relaysim plot RUN_DIR --kind KIND``: redraw a plot from a saved run, without re-running.

The run directory is read back with :func:`sim.results.read_run`; the PNG goes to
``--out`` or, by default, to the file of that kind in the run directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from sim.errors import InputError
from sim.results import PLOT_FILES, read_run, save_plot

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``plot`` to the top-level subcommands."""
    plot = sub.add_parser(
        "plot",
        help="draw a plot of a saved run directory",
        description="Draw one plot of a run directory written by 'relaysim run'.",
    )
    plot.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory of relaysim run")
    plot.add_argument("--kind", required=True, choices=list(PLOT_FILES), help="which plot to draw")
    plot.add_argument(
        "--out", type=Path, metavar="FILE", help="PNG to write (default: inside RUN_DIR)"
    )
    plot.set_defaults(handler=_plot)


def _plot(args: argparse.Namespace, out: TextIO) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from sim.plots.world import PLOTS

    if not args.run_dir.is_dir():
        raise InputError(f"{args.run_dir}: no such run directory")
    result = read_run(args.run_dir)
    target: Path = args.out if args.out is not None else args.run_dir / PLOT_FILES[args.kind]
    if target.suffix.lower() != ".png":
        raise InputError(f"--out {target}: expected a .png file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    save_plot(PLOTS[args.kind], result, target)
    print(target, file=out)
    return 0
