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

import json
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


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TradingState(StrEnum):
    """The account's trading state: the kill switch moves it to HALTED."""

    ACTIVE = "active"
    HALTED = "halted"


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
    """An order the strategy wants (the risk gate lets through those it emits).

    ``order_type`` market pays the touch; limit rests at ``limit_px`` (NaN for
    a market order) in the paper broker's queue model.
    """

    client_order_id: str
    symbol: str
    ts_event: int
    side: Side
    quantity: float
    prediction_id: str
    bid_px: float
    ask_px: float
    mid: float
    order_type: OrderType = OrderType.MARKET
    limit_px: float = float("nan")
    account: str = "paper"


@dataclass(frozen=True, slots=True)
class OrderCancelled(_Record):
    """An open order (or its unfilled rest) was cancelled: by a newer target, or a halt."""

    client_order_id: str
    symbol: str
    ts_event: int
    side: Side
    quantity: float
    """The quantity left unfilled and now cancelled."""
    reason: str


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
    """Something an operator must know; ``name`` as the seed's alert rules (``HighDrawdown``)."""

    alert_id: str
    symbol: str
    ts_event: int
    severity: AlertSeverity
    name: str
    message: str


@dataclass(frozen=True, slots=True)
class RiskReset(_Record):
    """An operator lifts the halt of ``account`` (``flowsense risk reset``).

    ``ts_event`` is when the operator asked (wall clock, ns UTC): a reset lifts
    only a halt that happened before it, so reading the control topic again
    after a restart cannot lift a later halt.
    """

    account: str
    ts_event: int
    operator: str
    reason: str = ""

    def to_json(self) -> bytes:
        return json.dumps({"v": 1, "type": "risk_reset", **self.to_dict()}).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RiskReset:
        """Parse a control message; ``ValueError`` with the reason if it is not a reset."""
        try:
            d = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"not JSON: {e}") from None
        if not isinstance(d, dict) or d.get("type") != "risk_reset" or d.get("v") != 1:
            raise ValueError("not a v1 risk_reset message")
        try:
            return cls(
                str(d["account"]), int(d["ts_event"]), str(d["operator"]), str(d.get("reason", ""))
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"bad risk_reset field: {e}") from None


@dataclass(frozen=True, slots=True)
class MarketSlice:
    """What the account step sees of one symbol per feature batch: its book and its intents.

    ``columns``: ``ts_event``, ``seq`` int64; ``bid_px``, ``bid_sz``, ``ask_px``,
    ``ask_sz``, ``mid``, ``microprice`` float currency / shares; ``trade_sz``
    float, signed by aggressor (+ buyer-initiated), of a trade at that row.
    ``intents`` are the strategy's targets at rows of this slice.
    """

    symbol: str
    columns: dict[str, np.ndarray]
    intents: list[TargetPosition]

    def __len__(self) -> int:
        return len(self.columns["ts_event"])
