"""The replay dataflow: files -> the shared trading steps -> Parquet tables of a run.

Every step after ``by_symbol`` is keyed by symbol and moves whole batches
(``dataflows.steps``); the live dataflow swaps the source and the sinks and
keeps every step in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from dataflows.readers import Feed
from dataflows.sinks import LatestSink, LatestValues, ParquetSink
from dataflows.sources import FeedSource
from dataflows.steps import Outputs, key_by_symbol, trading_steps
from dataflows.tables import (
    alerts_table,
    bars_table,
    book_table,
    features_table,
    fills_table,
    orders_table,
    predictions_table,
    rejects_table,
)
from flowsense.settings import Settings
from flowsense.tracing import dataflow_tracer


def build_replay_flow(
    groups: dict[str, list[Feed]],
    run_dir: Path,
    settings: Settings,
    speed: float | None = None,
    latest: LatestValues | None = None,
    tracer: Any = None,
) -> Dataflow:
    """The replay dataflow over ``groups`` of feeds, writing its tables under ``run_dir``.

    ``tracer``: an OpenTelemetry tracer; ``None``: the settings' (``FLOWSENSE_TRACING__*``),
    which is no tracing unless an OTLP endpoint is set."""
    rc = settings.replay
    flow = Dataflow("replay")
    raw = op.input(
        "ticks", flow, FeedSource(groups, rc.levels, rc.batch_size, speed, settings.cache_dir)
    )
    # LOBSTER groups are symbols: the account step waits for each (event-time merge).
    symbols = frozenset(g for g, feeds in groups.items() if all(f.kind == "lobster" for f in feeds))
    if tracer is None:
        tracer = dataflow_tracer(settings.tracing.otlp_endpoint, settings.tracing.service)
    out = trading_steps(key_by_symbol(raw), settings, symbols, tracer=tracer)
    replay_sinks(out, run_dir, latest)
    return flow


def replay_sinks(out: Outputs, run_dir: Path, latest: LatestValues | None = None) -> None:
    """The run's Parquet tables under ``run_dir`` (and the latest values, for a live view)."""

    def sink(table: str, to_arrow) -> ParquetSink:
        hook = None if latest is None else (lambda sym, t: latest.record(table, sym, t))
        return ParquetSink(run_dir / table, to_arrow, hook)

    op.output("features_out", out.features, sink("features", features_table))
    op.output("bars_out", out.bars, sink("bars", bars_table))
    op.output("predictions_out", out.predictions, sink("predictions", predictions_table))
    op.output("orders_out", out.orders, sink("orders", orders_table))
    op.output("fills_out", out.fills, sink("fills", fills_table))
    op.output("alerts_out", out.alerts, sink("alerts", alerts_table))
    op.output("rejects_out", out.rejects, sink("rejects", rejects_table))
    if latest is not None:
        # The serving layer's order-book ladder: the book after each batch, in memory only.
        op.output("book_out", out.ticks, LatestSink("book", book_table, latest))
