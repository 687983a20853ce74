"""Sink tables: each stream's items as Arrow tables, one schema per table.

A converter takes ``(symbol, item)`` as the keyed streams carry them and
returns a table (``None`` for nothing to write). The Parquet sinks of the
replay use them, and so will the database sinks of the live dataflow.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from schemas.features import BarBatch, FeatureBatch, bar_columns, feature_columns
from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX, Reject, TickBatch
from schemas.trading import (
    Alert,
    OrderCancelled,
    OrderDenied,
    OrderFilled,
    PredictionBatch,
    SubmitOrder,
)

TABLES = ("features", "bars", "predictions", "orders", "fills", "alerts", "rejects")
"""The tables of a replay run."""


_ARROW_TYPES = {
    np.dtype(t): pa.from_numpy_dtype(np.dtype(t))
    for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "f4", "f8")
}


def arrow(col: np.ndarray) -> pa.Array:
    """A NumPy column as an Arrow array over the same memory. By hand for the common case
    (contiguous, fixed-width numbers): ``pa.array``'s type inference and pandas checks
    cost 2x more, and the live flow makes ~25 columns a message for each output topic."""
    t = _ARROW_TYPES.get(col.dtype)
    if t is None or not col.flags.c_contiguous:
        return pa.array(col)
    return pa.Array.from_buffers(t, len(col), [None, pa.py_buffer(col)])


def repeated(text: str, n: int) -> pa.Array:
    """``text`` ``n`` times, as a string column."""
    return pa.repeat(pa.scalar(text, pa.string()), n)


def _with_symbol(symbol: str, cols: dict[str, np.ndarray], names: list[str]) -> pa.Table:
    # Arrays built one by one: ``pa.table`` of a dict mixing an Arrow array and NumPy
    # columns costs ~7x more, and this runs for every message the live flow sends.
    n = len(cols["ts_event"])
    sym = repeated(symbol, n)
    arrays = [sym if name == "symbol" else arrow(cols[name]) for name in names]
    return pa.Table.from_arrays(arrays, names=names)


def ticks_table(symbol: str, batch: TickBatch) -> pa.Table:
    """Accepted ticks, best level and trade, in currency and shares/coins."""
    ins = batch.instrument
    book = batch.bid_px[:, 0] != EMPTY_BID_PX, batch.ask_px[:, 0] != EMPTY_ASK_PX
    trade = batch.trade_sz != 0
    cols = {
        "ts_event": batch.ts_event,
        "seq": batch.seq,
        "flags": batch.flags.astype(np.int32),
        "bid_px": np.where(book[0], batch.bid_px[:, 0] / ins.price_scale, np.nan),
        "bid_sz": batch.bid_sz[:, 0] / ins.size_scale,
        "ask_px": np.where(book[1], batch.ask_px[:, 0] / ins.price_scale, np.nan),
        "ask_sz": batch.ask_sz[:, 0] / ins.size_scale,
        "trade_px": np.where(trade, batch.trade_px / ins.price_scale, np.nan),
        "trade_sz": batch.trade_sz / ins.size_scale,
    }
    return _with_symbol(symbol, cols, ["ts_event", "symbol", *list(cols)[1:]])


BOOK_DEPTH = 10
"""Levels a side of ``book_table`` carries at most (the dashboard's ladder)."""


def book_table(symbol: str, batch: TickBatch) -> pa.Table | None:
    """The book after the batch's last row, as one row: ``ts_event``, ``symbol``, ``seq``,
    ``bids`` and ``asks`` (best first, at most ``BOOK_DEPTH`` ``[price, size]`` pairs, in
    currency and shares/coins; empty levels left out). Rows without ``TickFlag.BOOK``
    repeat the last book, so the last row is the current book."""
    n = len(batch.ts_event)
    if n == 0:
        return None
    ins = batch.instrument
    depth = min(BOOK_DEPTH, ins.levels)

    def side(px: np.ndarray, sz: np.ndarray, empty: int) -> list[list[float]]:
        return [
            [float(p) / ins.price_scale, float(q) / ins.size_scale]
            for p, q in zip(px[n - 1, :depth], sz[n - 1, :depth], strict=True)
            if p != empty
        ]

    pair = pa.list_(pa.list_(pa.float64()))
    return pa.table(
        {
            "ts_event": pa.array([int(batch.ts_event[-1])], pa.int64()),
            "symbol": pa.array([symbol], pa.string()),
            "seq": pa.array([int(batch.seq[-1])], pa.int64()),
            "bids": pa.array([side(batch.bid_px, batch.bid_sz, EMPTY_BID_PX)], pair),
            "asks": pa.array([side(batch.ask_px, batch.ask_sz, EMPTY_ASK_PX)], pair),
        }
    )


def features_table(symbol: str, batch: FeatureBatch) -> pa.Table:
    """Every accepted tick, with its ``flags`` (trade-only rows have no ``TickFlag.BOOK``)."""
    names = [*feature_columns(batch.instrument.levels), "flags"]
    return _with_symbol(symbol, batch.columns, names)


def bars_table(symbol: str, batch: BarBatch) -> pa.Table:
    return _with_symbol(symbol, batch.columns, bar_columns(batch.instrument.levels))


PREDICTION_EXTRA = (
    ("p_down", pa.float64()),
    ("p_flat", pa.float64()),
    ("p_up", pa.float64()),
    *(
        (f"{m}_{c}", pa.int8() if c == "direction" else pa.float64())
        for m in ("ofi", "hawkes", "transformer")
        for c in ("direction", "confidence")
    ),
)
"""Columns a model adds when it has them: class probabilities (``hawkes``, ``transformer``,
``ensemble``) and the ensemble's members. A run has one predictor, so one schema."""


def predictions_table(symbol: str, batch: PredictionBatch) -> pa.Table:
    c = batch.columns
    n = len(batch)
    extra = {name: pa.array(c[name], type) for name, type in PREDICTION_EXTRA if name in c}
    cols = {
        "ts_event": arrow(c["ts_event"]),
        "symbol": repeated(symbol, n),
        "seq": arrow(c["seq"]),
        "model": repeated(batch.model, n),
        "direction": arrow(c["direction"]),
        "confidence": arrow(c["confidence"]),
        "mid": arrow(c["mid"]),
        **extra,
    }
    return pa.Table.from_arrays(list(cols.values()), names=list(cols))


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
        ("order_type", pa.string()),
        ("limit_px", pa.float64()),
    ]
)


def orders_table(symbol: str, orders: list[SubmitOrder | OrderDenied | OrderCancelled]) -> pa.Table:
    """Orders the risk gate let through (``accepted``), those it refused (``denied``, with
    the rule and its values) and cancellations (``cancelled``: ``rule`` is the reason,
    ``quantity`` what was left open)."""
    rows = []
    for o in orders:
        row = {k: getattr(o, k) for k in ("ts_event", "symbol", "client_order_id", "quantity")}
        row["side"] = int(o.side)
        if isinstance(o, OrderDenied):
            row.update(status="denied", rule=o.rule, detail=o.detail)
            row["prediction_id"] = o.prediction_id
        elif isinstance(o, OrderCancelled):
            row.update(status="cancelled", rule=o.reason, detail="", prediction_id="")
        else:
            row.update(
                status="accepted",
                rule="",
                detail="",
                bid_px=o.bid_px,
                ask_px=o.ask_px,
                order_type=str(o.order_type),
                limit_px=None if math.isnan(o.limit_px) else o.limit_px,
                prediction_id=o.prediction_id,
            )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=ORDER_SCHEMA)


ALERT_SCHEMA = pa.schema(
    [
        ("ts_event", pa.int64()),
        ("symbol", pa.string()),
        ("alert_id", pa.string()),
        ("severity", pa.string()),
        ("name", pa.string()),
        ("message", pa.string()),
    ]
)


def alerts_table(symbol: str, alerts: list[Alert]) -> pa.Table | None:
    if not alerts:
        return None
    rows = [{k: str(v) if k == "severity" else v for k, v in a.to_dict().items()} for a in alerts]
    return pa.Table.from_pylist(rows, schema=ALERT_SCHEMA)


def fills_table(symbol: str, fills: list[OrderFilled]) -> pa.Table | None:
    if not fills:
        return None
    rows = [f.to_dict() for f in fills]
    for row in rows:
        row["side"] = int(row["side"])
    return pa.Table.from_pylist(rows)


def rejects_table(symbol: str, rejects: list[Reject]) -> pa.Table | None:
    if not rejects:
        return None
    names = ("symbol", "source", "line", "reason", "detail", "ts_event")
    return pa.table({k: [getattr(r, k) for r in rejects] for k in names})
