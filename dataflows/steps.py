"""The steps every FlowSense dataflow shares, from keyed input batches to orders and fills.

    validate -> features -> bars
                        -> predict -> decide -> by_account -> account -> orders / fills / alerts
                                  (risk resets) -/

Every step up to ``decide`` is keyed by symbol; ``decide`` sends each
symbol's book rows and targets (``MarketSlice``) to the one ``account``
step of the account (``risk.account``), which gates, executes and marks in
event time across symbols (``operators.account``). Its records are keyed by
symbol again for the sinks.

Replay and live flows differ only in their source and sinks: each builds
its input stream of ``SourceBatch`` keyed by symbol, calls ``trading_steps``
and sends the ``Outputs`` to its sinks. Step ids are stable (recovery state
is tied to them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bytewax.operators as op
import numpy as np
from bytewax.dataflow import Stream
from bytewax.operators import KeyedStream, StatefulLogic

from flowsense.settings import Settings
from operators.account import SLICE_COLUMNS, Account, ExecutionConfig
from operators.bars import BarState
from operators.features import FeatureState
from operators.predictors import NEEDS_MODEL, make_predictor
from operators.strategy import Strategy
from operators.validate import Validator
from schemas.features import BarBatch, FeatureBatch
from schemas.market import Instrument, Reject, TickBatch
from schemas.trading import (
    Alert,
    MarketSlice,
    OrderCancelled,
    OrderDenied,
    OrderFilled,
    OrderType,
    PredictionBatch,
    RiskReset,
    SubmitOrder,
)


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


class _Predict:
    """The predictor of one symbol; passes the features on with their predictions."""

    __slots__ = ("predictor",)

    def __init__(self, name: str, bundle: Any = None) -> None:
        self.predictor = make_predictor(name, bundle)

    def update(self, features: FeatureBatch) -> tuple[FeatureBatch, PredictionBatch]:
        return features, self.predictor.update(features)


class _Decide:
    """The strategy of one symbol: targets, sent on with the book rows they were taken at."""

    __slots__ = ("strategy",)

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy

    def update(self, item: tuple[FeatureBatch, PredictionBatch]) -> MarketSlice:
        features, predictions = item
        cols = {k: features[k] for k in (*SLICE_COLUMNS, "trade_sz")}
        return MarketSlice(features.symbol, cols, self.strategy.update(predictions))


class _Account(StatefulLogic[MarketSlice | RiskReset, list, Account]):
    """The ``account`` step: a thin shell over ``operators.account.Account``.

    Live (``merge_wait_ns`` set) it gives the account each item's arrival time and
    wakes it once that wait has passed, so that rows held back by a symbol gone
    quiet go through without the next item."""

    def __init__(self, make: Callable[[], Account], resume: Account | None) -> None:
        self.account = resume or make()
        self.live = self.account.merge_wait_ns is not None

    def on_item(self, value: MarketSlice | RiskReset) -> tuple[list[list], bool]:
        records = self.account.update(value, time.monotonic_ns() if self.live else 0)
        return ([records] if records else []), StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if not (self.live and self.account.waiting()):
            return None
        return datetime.now(UTC) + timedelta(microseconds=self.account.merge_wait_ns / 1e3)

    def on_notify(self) -> tuple[list[list], bool]:
        records = self.account.tick(time.monotonic_ns())
        return ([records] if records else []), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[list[list], bool]:
        records = self.account.flush()
        return ([records] if records else []), StatefulLogic.RETAIN

    def snapshot(self) -> Account:
        return self.account


def _by_symbol(*kinds: type) -> Callable[[tuple[str, list]], list[tuple[str, list]]]:
    """Records of ``kinds`` of one account output, grouped by symbol (keyed for the sinks)."""

    def split(item: tuple[str, list]) -> list[tuple[str, list]]:
        groups: dict[str, list] = {}
        for r in item[1]:
            if isinstance(r, kinds):
                groups.setdefault(r.symbol, []).append(r)
        return list(groups.items())

    return split


def execution_config(settings: Settings) -> ExecutionConfig:
    b = settings.broker
    latency = int((b.entry_latency_ms + b.md_latency_ms) * 1e6)
    return ExecutionConfig(OrderType(b.order_type), b.fee_bps, latency)


@dataclass(frozen=True, slots=True)
class Outputs:
    """The keyed output streams of ``trading_steps``."""

    rejects: KeyedStream[list[Reject]]
    ticks: KeyedStream[TickBatch]
    features: KeyedStream[FeatureBatch]
    bars: KeyedStream[BarBatch]
    predictions: KeyedStream[PredictionBatch]
    orders: KeyedStream[list[SubmitOrder | OrderDenied | OrderCancelled]]
    fills: KeyedStream[list[OrderFilled]]
    alerts: KeyedStream[list[Alert]]


def load_model(settings: Settings) -> Any:
    """The trained ``ModelBundle`` the settings name, loaded once and shared by every symbol.

    ``flowsense.models.artifacts`` (MLflow, torch) is imported only here, so a
    flow with the default predictor never imports them.
    """
    from flowsense.models.artifacts import load_bundle
    from operators.ensemble import share

    return share(load_bundle(settings))


def key_by_symbol(up: Stream[SourceBatch]) -> KeyedStream[SourceBatch]:
    return op.key_on("by_symbol", up, lambda b: b.symbol)


def trading_steps(
    keyed: KeyedStream[SourceBatch],
    settings: Settings,
    symbols: frozenset[str] = frozenset(),
    resets: Stream[RiskReset] | None = None,
    merge_wait_ms: float | None = None,
    tracer: Any = None,
) -> Outputs:
    """Validate, compute features and bars, predict, decide, gate and execute.

    ``symbols``: the symbols the account will see, when known up front (the
    account step waits for each before it decides: see ``operators.account``);
    ``resets``: operators' ``RiskReset`` records; ``merge_wait_ms`` (live): how
    long the account waits for a quiet symbol before it trades the others' rows;
    ``tracer``: an OpenTelemetry tracer to trace every batch from its ticks to its
    orders (``dataflows.tracing``); ``None``: the plain steps, no tracing work at all.
    """
    rc = settings.replay
    bundle = load_model(settings) if rc.predictor in NEEDS_MODEL else None
    make_predictor(rc.predictor, bundle)  # fail now, with the list of names, not in a worker
    tr = None
    if tracer is not None:
        from dataflows.tracing import StepTracing

        tr = StepTracing(tracer)
        keyed = op.map("trace_in", keyed, tr.start("ticks"))

    def stateful(name: str, fn: Callable) -> Callable:
        return fn if tr is None else tr.stateful(name, fn)

    def keep(fn: Callable) -> Callable:
        return fn if tr is None else tr.keep(fn)

    def drop(fn: Callable) -> Callable:
        return fn if tr is None else tr.drop(fn)

    def plain(name: str, stream: KeyedStream) -> KeyedStream:
        return stream if tr is None else op.map_value(name, stream, tr.drop())

    checked = op.stateful_map("validate", keyed, stateful("validate", _validate))
    rejects = op.filter_map_value("rejected", checked, drop(lambda c: c.rejects or None))
    ticks = op.filter_map_value("accepted", checked, keep(lambda c: c.ticks))
    features = op.stateful_map(
        "features",
        ticks,
        stateful("features", _stateful(lambda t: FeatureState(t.instrument), "update")),
    )
    features_out = plain("features_plain", features)
    bar_ns = int(rc.bar_s * 1e9)
    bars = op.stateful("bars", features_out, lambda resume: _Bars(bar_ns, resume))
    predicted = op.stateful_map(
        "predict",
        features,
        stateful("predict", _stateful(lambda _: _Predict(rc.predictor, bundle), "update")),
    )
    predictions = op.map_value("predictions", predicted, drop(lambda fp: fp[1]))
    slices = op.stateful_map(
        "decide",
        predicted,
        stateful("decide", _stateful(lambda _: _Decide(Strategy(settings.strategy)), "update")),
    )
    account = settings.risk.account
    to_account = op.key_on(
        "by_account", op.map("slices", slices, lambda kv: kv[1]), lambda _: account
    )
    if resets is not None:
        keyed_resets = op.key_on("resets_by_account", resets, lambda r: r.account)
        to_account = op.merge("account_in", to_account, keyed_resets)
    execution = execution_config(settings)

    def make() -> Account:
        wait = None if merge_wait_ms is None else int(merge_wait_ms * 1e6)
        return Account(settings.risk, execution, symbols, wait)

    def logic(resume: Account | None) -> StatefulLogic:
        inner = _Account(make, resume)
        return inner if tr is None else tr.account(inner)

    records = op.stateful("account", to_account, logic)
    orders = op.flat_map(
        "orders_by_symbol", records, _by_symbol(SubmitOrder, OrderDenied, OrderCancelled)
    )
    fills = op.flat_map("fills_by_symbol", records, _by_symbol(OrderFilled))
    alerts = op.flat_map("alerts_by_symbol", records, _by_symbol(Alert))
    ticks = plain("ticks_plain", ticks)
    features = features_out
    return Outputs(rejects, ticks, features, bars, predictions, orders, fills, alerts)
