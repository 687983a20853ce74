"""Predictions, orders, fills and alerts.

Predictions come in columnar batches (one per book event on the hot path);
orders, denials, fills and alerts are few and travel as immutable records.
Prices in these records are float currency and quantities float shares or
coins (they leave the hot path and feed cash and PnL, which would overflow
int64 price x size units on crypto). Every record carries ``symbol`` and
``ts_event`` (int ns UTC); ids are derived from the input so that a replay
produces the same ids and never duplicates an order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np

from schemas.market import Instrument


class Direction(IntEnum):
    """Predicted direction of the mid price."""

    DOWN = -1
    FLAT = 0
    UP = 1


class Side(IntEnum):
    BUY = 1
    SELL = -1


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    DENIED = "denied"
    """Refused by the risk gate before it reached a broker."""


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class PredictionBatch:
    """One prediction per input row of a ``FeatureBatch``.

    Columns: ``ts_event`` int64, ``seq`` int64 (the feature row it was made
    at), ``direction`` int8 (``Direction``), ``confidence`` float64 in [0, 1],
    ``bid_px`` / ``ask_px`` / ``mid`` float currency (the touch at that
    moment, which execution needs to price a paper fill).

    Models add, when they have them: ``p_down`` / ``p_flat`` / ``p_up``
    float64 class probabilities (``direction`` is the most likely class and
    ``confidence`` its probability), and the ensemble its members' outputs,
    ``ofi_direction`` / ``ofi_confidence``, ``hawkes_*`` and ``transformer_*``
    (int8 direction, float64 confidence).
    """

    instrument: Instrument
    model: str
    columns: dict[str, np.ndarray]

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __len__(self) -> int:
        return len(self.columns["ts_event"])


def prediction_id(symbol: str, model: str, seq: int) -> str:
    """Deterministic id of the prediction ``model`` made at row ``seq`` of ``symbol``."""
    return f"{symbol}:{model}:{seq}"


class _Record:
    """Plain-dict view for sinks and APIs."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class TargetPosition:
    """The strategy wants ``target`` shares/coins of ``symbol`` after prediction ``seq``."""

    symbol: str
    ts_event: int
    seq: int
    model: str
    target: float
    bid_px: float
    ask_px: float
    mid: float


@dataclass(frozen=True, slots=True)
class SubmitOrder(_Record):
    """A market order the strategy wants, before the risk gate."""

    client_order_id: str
    symbol: str
    ts_event: int
    side: Side
    quantity: float
    prediction_id: str
    bid_px: float
    ask_px: float
    mid: float


@dataclass(frozen=True, slots=True)
class OrderDenied(_Record):
    """The risk gate refused an order: which rule, and the values it saw."""

    client_order_id: str
    symbol: str
    ts_event: int
    side: Side
    quantity: float
    prediction_id: str
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class OrderFilled(_Record):
    """An execution of (part of) an order."""

    fill_id: str
    client_order_id: str
    symbol: str
    ts_event: int
    side: Side
    quantity: float
    price: float
    fee: float
    position_after: float


@dataclass(frozen=True, slots=True)
class Alert(_Record):
    alert_id: str
    symbol: str
    ts_event: int
    severity: AlertSeverity
    name: str
    message: str
