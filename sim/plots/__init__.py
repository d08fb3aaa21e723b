"""Plots of relaysim results: object-oriented matplotlib, ``plot_x(data, *, ax=None) -> Axes``.

Library code never calls ``plt.show()`` nor touches pyplot's global state: without an
``ax`` a plot makes its own :class:`matplotlib.figure.Figure`.  The command line saves
PNGs with the Agg backend; notebooks display the returned axes.
"""

from __future__ import annotations

from sim.plots.qshape import plot_attempts, plot_qshape
from sim.plots.topology import plot_topology
from sim.plots.trace import plot_hop_delays
from sim.plots.world import (
    plot_latency_by_sender,
    plot_latency_cdf,
    plot_outcomes,
    plot_queue_depth,
    plot_retry_timeline,
    plot_tls_outcomes,
)

__all__ = [
    "plot_attempts",
    "plot_hop_delays",
    "plot_latency_by_sender",
    "plot_latency_cdf",
    "plot_outcomes",
    "plot_qshape",
    "plot_queue_depth",
    "plot_retry_timeline",
    "plot_tls_outcomes",
    "plot_topology",
]
