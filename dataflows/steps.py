"""The steps every FlowSense dataflow shares, from keyed input batches to orders and fills.

    validate -> features -> bars
                        -> predict -> decide -> risk -> execute

Replay and live flows differ only in their source and sinks: each builds
its input stream of ``SourceBatch`` keyed by symbol, calls ``trading_steps``
and sends the ``Outputs`` to its sinks. Step ids are stable (recovery state
is tied to them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Stream
from bytewax.operators import KeyedStream, StatefulLogic

from flowsense.settings import Settings
from operators.bars import BarState
from operators.features import FeatureState
from operators.paper_broker import PaperAccount
from operators.predictors import NEEDS_MODEL, make_predictor
from operators.risk import RiskGate
from operators.strategy import Strategy
from operators.validate import Validator
from schemas.features import BarBatch, FeatureBatch
from schemas.market import Instrument, Reject, TickBatch
from schemas.trading import OrderDenied, OrderFilled, PredictionBatch, SubmitOrder


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """What a source emits: ticks of one symbol and/or input rows refused on the way in."""

    symbol: str
    ticks: TickBatch | None = None
    rejects: list[Reject] = field(default_factory=list)


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


@dataclass(frozen=True, slots=True)
class Outputs:
    """The keyed output streams of ``trading_steps``."""

    rejects: KeyedStream[list[Reject]]
    ticks: KeyedStream[TickBatch]
    features: KeyedStream[FeatureBatch]
    bars: KeyedStream[BarBatch]
    predictions: KeyedStream[PredictionBatch]
    orders: KeyedStream[list[SubmitOrder | OrderDenied]]
    fills: KeyedStream[list[OrderFilled]]


def load_model(settings: Settings) -> Any:
    """The trained ``ModelBundle`` the settings name, loaded once and shared by every symbol.

    ``flowsense.models.artifacts`` (MLflow, torch) is imported only here, so a
    flow with the default predictor never imports them.
    """
    from flowsense.models.artifacts import load_bundle

    return load_bundle(settings)


def key_by_symbol(up: Stream[SourceBatch]) -> KeyedStream[SourceBatch]:
    return op.key_on("by_symbol", up, lambda b: b.symbol)


def trading_steps(keyed: KeyedStream[SourceBatch], settings: Settings) -> Outputs:
    """Validate, compute features and bars, predict, decide, gate and execute."""
    rc = settings.replay
    bundle = load_model(settings) if rc.predictor in NEEDS_MODEL else None
    make_predictor(rc.predictor, bundle)  # fail now, with the list of names, not in a worker
    checked = op.stateful_map("validate", keyed, _validate)
    rejects = op.filter_map_value("rejected", checked, lambda c: c.rejects or None)
    ticks = op.filter_map_value("accepted", checked, lambda c: c.ticks)
    features = op.stateful_map(
        "features", ticks, _stateful(lambda t: FeatureState(t.instrument), "update")
    )
    bar_ns = int(rc.bar_s * 1e9)
    bars = op.stateful("bars", features, lambda resume: _Bars(bar_ns, resume))
    predictions = op.stateful_map(
        "predict", features, _stateful(lambda _: make_predictor(rc.predictor, bundle), "update")
    )
    intents = op.stateful_map(
        "decide", predictions, _stateful(lambda _: Strategy(settings.strategy), "update")
    )
    intents = op.filter_value("has_intents", intents, bool)
    orders = op.stateful_map(
        "risk", intents, _stateful(lambda _: RiskGate(settings.risk), "update")
    )
    orders = op.filter_value("has_orders", orders, bool)
    accepted = op.filter_map_value(
        "accepted_orders",
        orders,
        lambda os: [o for o in os if isinstance(o, SubmitOrder)] or None,
    )
    fee = settings.broker.fee_bps
    fills = op.stateful_map(
        "execute", accepted, _stateful(lambda _: PaperAccount(fee_bps=fee), "execute")
    )
    return Outputs(rejects, ticks, features, bars, predictions, orders, fills)
