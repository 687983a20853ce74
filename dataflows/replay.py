"""The replay dataflow: files, validate, features, predict, decide, risk, execute, sinks.

Every step after ``by_symbol`` is keyed by symbol and moves whole batches;
each stateful step wraps a small state object of ``operators`` that tests
drive directly. The live dataflow of the services issue swaps the source and
the sinks and keeps every step in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bytewax.operators as op
import numpy as np
import pyarrow as pa
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from dataflows.readers import Feed
from dataflows.sinks import LatestValues, ParquetSink
from dataflows.sources import FeedSource, SourceBatch
from flowsense.settings import Settings
from operators.bars import BarState
from operators.features import FeatureState
from operators.paper_broker import PaperAccount
from operators.predictors import Predictor, make_predictor
from operators.risk import RiskGate
from operators.strategy import Strategy, TargetPosition
from operators.validate import Validator
from schemas.features import BarBatch, FeatureBatch, bar_columns, feature_columns
from schemas.market import Reject, TickBatch
from schemas.trading import OrderDenied, OrderFilled, PredictionBatch, SubmitOrder

TABLES = ("features", "bars", "predictions", "orders", "fills", "rejects")


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


def _features(state: FeatureState | None, ticks: TickBatch) -> tuple[FeatureState, FeatureBatch]:
    state = state or FeatureState(ticks.instrument)
    return state, state.update(ticks)


class _Bars(StatefulLogic[FeatureBatch, BarBatch, BarState]):
    """Event-time bars of one symbol; the open bar is emitted at the end of the stream."""

    def __init__(self, bar_ns: int, resume: BarState | None) -> None:
        self.bar_ns = bar_ns
        self.state = resume
        self.instrument = None

    def on_item(self, value: FeatureBatch) -> tuple[list[BarBatch], bool]:
        self.instrument = value.instrument
        if self.state is None:
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
        if len(cols["ts_event"]) == 0 or self.instrument is None:
            return []
        return [BarBatch(self.instrument, self.bar_ns, cols)]

    def snapshot(self) -> BarState:
        return self.state


def _predict(make: str):
    def step(state: Predictor | None, features: FeatureBatch) -> tuple[Predictor, PredictionBatch]:
        state = state or make_predictor(make)
        return state, state.update(features)

    return step


def _stateful(factory, method: str):
    """A ``stateful_map`` mapper around ``factory()`` and one of its methods."""

    def step(state: Any, value: Any) -> tuple[Any, Any]:
        state = state or factory()
        return state, getattr(state, method)(value)

    return step


# -- to Arrow -----------------------------------------------------------------------------


def _with_symbol(symbol: str, cols: dict[str, np.ndarray], names: list[str]) -> pa.Table:
    n = len(cols["ts_event"])
    data = {name: cols[name] for name in names if name != "symbol"}
    return pa.table({"symbol": pa.repeat(symbol, n).cast(pa.string()), **data}).select(names)


def features_table(symbol: str, batch: FeatureBatch) -> pa.Table:
    """Every accepted tick, with its ``flags`` (trade-only rows have no ``TickFlag.BOOK``)."""
    names = [*feature_columns(batch.instrument.levels), "flags"]
    return _with_symbol(symbol, batch.columns, names)


def bars_table(symbol: str, batch: BarBatch) -> pa.Table:
    return _with_symbol(symbol, batch.columns, bar_columns(batch.instrument.levels))


def predictions_table(symbol: str, batch: PredictionBatch) -> pa.Table:
    c = batch.columns
    n = len(batch)
    return pa.table(
        {
            "ts_event": c["ts_event"],
            "symbol": pa.repeat(symbol, n).cast(pa.string()),
            "seq": c["seq"],
            "model": pa.repeat(batch.model, n).cast(pa.string()),
            "direction": c["direction"],
            "confidence": c["confidence"],
            "mid": c["mid"],
        }
    )


ORDER_SCHEMA = pa.schema(
    [
        ("ts_event", pa.int64()),
        ("symbol", pa.string()),
        ("client_order_id", pa.string()),
        ("prediction_id", pa.string()),
        ("side", pa.int8()),
        ("quantity", pa.float64()),
        ("status", pa.string()),
        ("rule", pa.string()),
        ("detail", pa.string()),
        ("bid_px", pa.float64()),
        ("ask_px", pa.float64()),
    ]
)


def orders_table(symbol: str, orders: list[SubmitOrder | OrderDenied]) -> pa.Table:
    rows = []
    for o in orders:
        row = {
            k: getattr(o, k)
            for k in ("ts_event", "symbol", "client_order_id", "prediction_id", "quantity")
        }
        row["side"] = int(o.side)
        if isinstance(o, OrderDenied):
            row.update(status="denied", rule=o.rule, detail=o.detail, bid_px=None, ask_px=None)
        else:
            row.update(status="accepted", rule="", detail="", bid_px=o.bid_px, ask_px=o.ask_px)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=ORDER_SCHEMA)


def records_table(symbol: str, records: list[Any]) -> pa.Table | None:
    if not records:
        return None
    rows = [r.to_dict() if hasattr(r, "to_dict") else dict(r.__dict__) for r in records]
    for row in rows:
        if "side" in row:
            row["side"] = int(row["side"])
    return pa.Table.from_pylist(rows)


def rejects_table(symbol: str, rejects: list[Reject]) -> pa.Table | None:
    if not rejects:
        return None
    names = ("symbol", "source", "line", "reason", "detail", "ts_event")
    return pa.table({k: [getattr(r, k) for r in rejects] for k in names})


# -- the flow -----------------------------------------------------------------------------


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
    features = op.stateful_map("features", ticks, _features)
    bar_ns = int(rc.bar_s * 1e9)
    bars = op.stateful("bars", features, lambda resume: _Bars(bar_ns, resume))
    predictions = op.stateful_map("predict", features, _predict(rc.predictor))
    intents = op.stateful_map(
        "decide", predictions, _stateful(lambda: Strategy(settings.strategy), "update")
    )
    intents = op.filter_value("has_intents", intents, bool)
    decisions = op.stateful_map(
        "risk", intents, _stateful(lambda: RiskGate(settings.risk), "update")
    )
    decisions = op.filter_value("has_decisions", decisions, bool)
    accepted = op.filter_map_value(
        "accepted_orders",
        decisions,
        lambda ds: [d for d in ds if isinstance(d, SubmitOrder)] or None,
    )
    fee = settings.broker.fee_bps
    fills = op.stateful_map(
        "execute", accepted, _stateful(lambda: PaperAccount(fee_bps=fee), "execute")
    )

    def sink(table: str, to_arrow) -> ParquetSink:
        hook = None if latest is None else (lambda sym, t: latest.record(table, sym, t))
        return ParquetSink(run_dir / table, to_arrow, hook)

    op.output("features_out", features, sink("features", features_table))
    op.output("bars_out", bars, sink("bars", bars_table))
    op.output("predictions_out", predictions, sink("predictions", predictions_table))
    op.output("orders_out", decisions, sink("orders", orders_table))
    op.output("fills_out", fills, sink("fills", records_table))
    op.output("rejects_out", rejects, sink("rejects", rejects_table))
    return flow


__all__ = ["TABLES", "Checked", "OrderFilled", "TargetPosition", "build_replay_flow"]
