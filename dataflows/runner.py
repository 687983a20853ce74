"""Run a dataflow in this process on one or more worker threads."""

from __future__ import annotations

from bytewax.dataflow import Dataflow
from bytewax.testing import cluster_main, run_main


def run_flow(flow: Dataflow, workers: int = 1) -> None:
    """``flow`` to its end: ``run_main`` on one worker, else a one-process cluster."""
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
