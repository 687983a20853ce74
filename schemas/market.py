"""Market data contracts: the instrument, the columnar tick batch of the hot path, rejects.

Units (ARCHITECTURE.md "Conventions"):
- prices on the hot path are int64 in the instrument's price units
  (``price_scale`` units per currency unit: LOBSTER dollars x 10 000);
- sizes are int64 in the instrument's size units (``size_scale`` units per
  share or coin: 1 for LOBSTER shares, 10**8 for Binance quantities);
- timestamps are int64 nanoseconds since the Unix epoch, UTC.

A missing book level carries ``EMPTY_BID_PX`` / ``EMPTY_ASK_PX`` and size 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag, StrEnum

import numpy as np

EMPTY_BID_PX: int = -(2**62)
"""Price of a missing bid level (below every real price, safe to subtract)."""
EMPTY_ASK_PX: int = 2**62
"""Price of a missing ask level (above every real price, safe to subtract)."""


class RejectReason(StrEnum):
    """Why an input row was refused. Counted per reason and kept in the dead-letter output."""

    WRONG_COLUMN_COUNT = "wrong_column_count"
    BAD_VALUE = "bad_value"
    UNPAIRED_ROW = "unpaired_row"
    CROSSED_BOOK = "crossed_book"
    NEGATIVE_SIZE = "negative_size"
    NON_MONOTONIC_TIME = "non_monotonic_time"
    MALFORMED_MESSAGE = "malformed_message"
    BOOK_NOT_READY = "book_not_ready"
    SEQUENCE_GAP = "sequence_gap"
    SUPERSEDED = "superseded_by_snapshot"
    UNKNOWN_SYMBOL = "unknown_symbol"


class TickFlag(IntFlag):
    """What a tick row carries: a new book state, a trade, or both (LOBSTER executions)."""

    BOOK = 1
    TRADE = 2


@dataclass(frozen=True, slots=True)
class Instrument:
    """Static description of one symbol's feed: scales of its integer prices and sizes."""

    symbol: str
    price_scale: int
    size_scale: int
    tick: int
    levels: int
    venue: str = ""

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("instrument symbol must not be empty")
        if min(self.price_scale, self.size_scale, self.tick, self.levels) <= 0:
            raise ValueError(f"instrument {self.symbol}: scales, tick and levels must be > 0")

    def px(self, units: np.ndarray | int) -> np.ndarray | float:
        """Integer price units to float currency."""
        return np.asarray(units, dtype=np.float64) / self.price_scale

    def sz(self, units: np.ndarray | int) -> np.ndarray | float:
        """Integer size units to float shares/coins."""
        return np.asarray(units, dtype=np.float64) / self.size_scale


TICK_COLUMNS = (
    "ts_event",
    "seq",
    "flags",
    "bid_px",
    "bid_sz",
    "ask_px",
    "ask_sz",
    "trade_px",
    "trade_sz",
)
"""The array columns of a ``TickBatch`` (``line`` is optional)."""


@dataclass(frozen=True, slots=True)
class TickBatch:
    """A run of consecutive ticks of one symbol, column by column (the hot-path form).

    Row ``k`` is one event at ``ts_event[k]``: with ``TickFlag.BOOK`` the book
    columns hold the book *after* the event, with ``TickFlag.TRADE`` the trade
    columns hold an aggressor trade (``trade_sz`` > 0 buyer-initiated, < 0
    seller-initiated). Rows without ``BOOK`` repeat the last book. ``seq`` is the
    row's position in its feed and, with the symbol, identifies it uniquely
    (timestamps repeat: one market order can give many rows in one nanosecond).
    """

    instrument: Instrument
    ts_event: np.ndarray  # int64 [n]
    seq: np.ndarray  # int64 [n]
    flags: np.ndarray  # uint8 [n], TickFlag bits
    bid_px: np.ndarray  # int64 [n, L]
    bid_sz: np.ndarray  # int64 [n, L]
    ask_px: np.ndarray  # int64 [n, L]
    ask_sz: np.ndarray  # int64 [n, L]
    trade_px: np.ndarray  # int64 [n], 0 without a trade
    trade_sz: np.ndarray  # int64 [n], signed, 0 without a trade
    source: str = ""
    """Where the rows came from (file path or topic), for dead-letter records."""
    line: np.ndarray | None = None
    """Optional int64 [n] line number of each row in ``source`` (1-based)."""

    def __post_init__(self) -> None:
        n = len(self.ts_event)
        shape = (n, self.instrument.levels)
        for name in ("seq", "flags", "trade_px", "trade_sz"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"TickBatch.{name} has {len(getattr(self, name))} rows, not {n}")
        for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"TickBatch.{name} has shape {getattr(self, name).shape}, not {shape}"
                )

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __len__(self) -> int:
        return len(self.ts_event)

    def take(self, index: np.ndarray | slice) -> TickBatch:
        """The rows selected by a slice, boolean mask or index array, in order."""
        return TickBatch(
            instrument=self.instrument,
            ts_event=self.ts_event[index],
            seq=self.seq[index],
            flags=self.flags[index],
            bid_px=self.bid_px[index],
            bid_sz=self.bid_sz[index],
            ask_px=self.ask_px[index],
            ask_sz=self.ask_sz[index],
            trade_px=self.trade_px[index],
            trade_sz=self.trade_sz[index],
            source=self.source,
            line=None if self.line is None else self.line[index],
        )

    @staticmethod
    def concat(batches: list[TickBatch]) -> TickBatch:
        """Consecutive batches of one instrument and source as one (the first if alone)."""
        first = batches[0]
        if len(batches) == 1:
            return first
        for b in batches[1:]:
            if b.instrument != first.instrument or b.source != first.source:
                raise ValueError("only batches of one instrument and source concatenate")
        lines = [b.line for b in batches]
        return TickBatch(
            first.instrument,
            *(np.concatenate([getattr(b, c) for b in batches]) for c in TICK_COLUMNS),
            source=first.source,
            line=None if any(x is None for x in lines) else np.concatenate(lines),
        )

    def split(self, max_rows: int) -> list[TickBatch]:
        """Consecutive slices of at most ``max_rows`` rows."""
        return [self.take(slice(i, i + max_rows)) for i in range(0, len(self), max_rows)]

    @staticmethod
    def empty(instrument: Instrument, source: str = "") -> TickBatch:
        levels = instrument.levels
        i64 = np.int64
        return TickBatch(
            instrument=instrument,
            ts_event=np.empty(0, i64),
            seq=np.empty(0, i64),
            flags=np.empty(0, np.uint8),
            bid_px=np.empty((0, levels), i64),
            bid_sz=np.empty((0, levels), i64),
            ask_px=np.empty((0, levels), i64),
            ask_sz=np.empty((0, levels), i64),
            trade_px=np.empty(0, i64),
            trade_sz=np.empty(0, i64),
            source=source,
            line=np.empty(0, i64),
        )


@dataclass(frozen=True, slots=True)
class Reject:
    """One input row refused with a reason; kept in the dead-letter output, never dropped."""

    symbol: str
    source: str
    line: int
    """1-based line (or message) number in ``source``; 0 when unknown."""
    reason: str
    detail: str = ""
    ts_event: int = 0


@dataclass(slots=True)
class FeedData:
    """What a reader makes of one feed: the ticks of one symbol and the rows it refused."""

    ticks: TickBatch
    rejects: list[Reject] = field(default_factory=list)
