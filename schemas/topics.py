"""Kafka topic names (one place; every producer and consumer imports them from here)."""

from __future__ import annotations

TICKS_RAW = "ticks.raw"
"""Ticks from outside producers and ``flowsense publish``; key = symbol."""
TICKS = "ticks"
"""Ticks the live flow accepted (after validation and normalisation); key = symbol."""
TICKS_DEADLETTER = "ticks.deadletter"
"""Input refused with a reason, with the raw bytes."""
FEATURES = "features"
PREDICTIONS = "predictions"
ORDERS = "orders"
FILLS = "fills"
FILLS_BROKER = "fills.broker"
"""Executions reported by the real broker (``flowsense execute``); key = symbol."""
ALERTS = "alerts"
BOOK = "book"
"""The book after each batch the live flow accepted, to 10 levels (one row a batch: the
dashboard's ladder, through the API's Socket.IO ``ticks`` rooms); key = symbol."""
RISK_CONTROL = "risk.control"
"""Operators' commands to the account step (``flowsense risk reset``); JSON, key = account."""

ALL = (
    TICKS_RAW,
    TICKS,
    TICKS_DEADLETTER,
    FEATURES,
    PREDICTIONS,
    ORDERS,
    FILLS,
    FILLS_BROKER,
    ALERTS,
    BOOK,
    RISK_CONTROL,
)
BY_SYMBOL = (TICKS_RAW, TICKS)
"""The high-volume topics, with ``kafka.partitions`` partitions keyed by symbol; others have 1."""
