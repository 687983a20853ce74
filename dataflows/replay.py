"""The replay dataflow: files, validate, features, predict, decide, risk, execute, sinks.

Every step after ``by_symbol`` is keyed by symbol and moves whole batches;
each stateful step wraps a small state object of ``operators`` that tests
drive directly. The live dataflow of the services issue swaps the source and
the sinks and keeps every step in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from dataflows.readers import Feed
from dataflows.sinks import LatestValues, ParquetSink
from dataflows.sources import FeedSource, SourceBatch
from dataflows.tables import (
    bars_table,
    features_table,
    fills_table,
    orders_table,
    predictions_table,
    rejects_table,
)
from flowsense.settings import Settings
from operators.bars import BarState
from operators.features import FeatureState
from operators.paper_broker import PaperAccount
from operators.predictors import make_predictor
from operators.risk import RiskGate
from operators.strategy import Strategy
from operators.validate import Validator
from schemas.features import BarBatch, FeatureBatch
from schemas.market import Instrument, Reject, TickBatch
from schemas.trading import SubmitOrder


@dataclass(frozen=True, slots=True)
class Checked:
    """Accepted ticks of a batch and every row refused on the way."""

    ticks: TickBatch | None
    rejects: list[Reject]


def _validate(state: Validator | None, batch: SourceBatch) -> tuple[Validator, Checked]:
    state = state or Validator()
    if batch.ticks is None:
        return state, Checked(None, batch.rejects)
    ok, rejects = state.update(batch.ticks)
    return state, Checked(ok if len(ok) else None, batch.rejects + rejects)


class _Bars(StatefulLogic[FeatureBatch, BarBatch, tuple[Instrument, BarState]]):
    """Event-time bars of one symbol; the open bar is emitted at the end of the stream."""

    def __init__(self, bar_ns: int, resume: tuple[Instrument, BarState] | None) -> None:
        self.bar_ns = bar_ns
        self.instrument, self.state = resume or (None, None)

    def on_item(self, value: FeatureBatch) -> tuple[list[BarBatch], bool]:
        if self.state is None:
            self.instrument = value.instrument
            self.state = BarState(self.bar_ns, value.instrument.levels)
        levels = value.instrument.levels
        ofi = np.column_stack([value[f"ofi_{m}"] for m in range(1, levels + 1)])
        cols = self.state.update(value["ts_event"], ofi, value["mid"], value["trade_sz"])
        return self._emit(cols), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[list[BarBatch], bool]:
        if self.state is None:
            return [], StatefulLogic.DISCARD
        return self._emit(self.state.flush()), StatefulLogic.RETAIN

    def _emit(self, cols: dict[str, np.ndarray]) -> list[BarBatch]:
        if len(cols["ts_event"]) == 0:
            return []
        return [BarBatch(self.instrument, self.bar_ns, cols)]

    def snapshot(self) -> tuple[Instrument, BarState]:
        return (self.instrument, self.state)


def _stateful(factory: Callable[[Any], Any], method: str):
    """A ``stateful_map`` mapper: ``factory(first item)`` builds the key's state object,
    then every item goes through ``state.<method>(item)``."""

    def step(state: Any, value: Any) -> tuple[Any, Any]:
        if state is None:
            state = factory(value)
        return state, getattr(state, method)(value)

    return step


def build_replay_flow(
    groups: dict[str, list[Feed]],
    run_dir: Path,
    settings: Settings,
    speed: float | None = None,
    latest: LatestValues | None = None,
) -> Dataflow:
    """The replay dataflow over ``groups`` of feeds, writing its tables under ``run_dir``."""
    rc = settings.replay
    make_predictor(rc.predictor)  # fail now, with the list of names, not inside a worker
    flow = Dataflow("replay")
    raw = op.input(
        "ticks", flow, FeedSource(groups, rc.levels, rc.batch_size, speed, settings.cache_dir)
    )
    keyed = op.key_on("by_symbol", raw, lambda b: b.symbol)
    checked = op.stateful_map("validate", keyed, _validate)
    rejects = op.filter_map_value("rejected", checked, lambda c: c.rejects or None)
    ticks = op.filter_map_value("accepted", checked, lambda c: c.ticks)
    features = op.stateful_map(
        "features", ticks, _stateful(lambda t: FeatureState(t.instrument), "update")
    )
    bar_ns = int(rc.bar_s * 1e9)
    bars = op.stateful("bars", features, lambda resume: _Bars(bar_ns, resume))
    predictions = op.stateful_map(
        "predict", features, _stateful(lambda _: make_predictor(rc.predictor), "update")
    )
    intents = op.stateful_map(
        "decide", predictions, _stateful(lambda _: Strategy(settings.strategy), "update")
    )
    intents = op.filter_value("has_intents", intents, bool)
    decisions = op.stateful_map(
        "risk", intents, _stateful(lambda _: RiskGate(settings.risk), "update")
    )
    decisions = op.filter_value("has_decisions", decisions, bool)
    accepted = op.filter_map_value(
        "accepted_orders",
        decisions,
        lambda ds: [d for d in ds if isinstance(d, SubmitOrder)] or None,
    )
    fee = settings.broker.fee_bps
    fills = op.stateful_map(
        "execute", accepted, _stateful(lambda _: PaperAccount(fee_bps=fee), "execute")
    )

    def sink(table: str, to_arrow) -> ParquetSink:
        hook = None if latest is None else (lambda sym, t: latest.record(table, sym, t))
        return ParquetSink(run_dir / table, to_arrow, hook)

    op.output("features_out", features, sink("features", features_table))
    op.output("bars_out", bars, sink("bars", bars_table))
    op.output("predictions_out", predictions, sink("predictions", predictions_table))
    op.output("orders_out", decisions, sink("orders", orders_table))
    op.output("fills_out", fills, sink("fills", fills_table))
    op.output("rejects_out", rejects, sink("rejects", rejects_table))
    return flow
