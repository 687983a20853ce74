"""Order-flow features and event-time bars: column names (a public contract) and batches.

Per-event feature columns (``flowsense features``; one row per book update):
``ts_event`` int64 ns UTC, ``symbol``, ``seq`` int64, best level ``bid_px`` /
``ask_px`` (float currency), ``bid_sz`` / ``ask_sz`` (float shares or coins),
``mid``, ``spread``, ``weighted_mid`` (imbalance-weighted mid), ``microprice``
(Stoikov), all float currency (NaN while a side of the book is empty);
``ofi`` (best-level e_n of Cont, Kukanov & Stoikov 2014) and ``ofi_1`` ..
``ofi_L`` (the same per level, Xu, Gould & Howison 2018), float shares or
coins; ``bid_depth`` / ``ask_depth`` (size over the L levels) and ``trade_sz``
(signed aggressor size of a trade at this event, + buyer-initiated).

Bar columns (``--bar``): half-open [start, end) intervals aligned to multiples
of the bar length since midnight UTC; ``ts_event`` is the bar's end,
``ofi`` the sum of e_n, ``ofi_1`` .. ``ofi_L`` the per-level sums, ``dmid``
the mid change over the bar (last mid in the bar minus last mid before it),
``n_events`` the rows in the bar, ``trade_imbalance`` buyer- minus
seller-initiated volume, ``volume`` the traded volume, ``mid`` the last mid.
Bars without events are not emitted (their OFI and volume are 0, and the
next bar's ``dmid`` starts from the last mid before it, so nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas.market import Instrument

BEST_LEVEL_COLUMNS = ("bid_px", "bid_sz", "ask_px", "ask_sz")
PRICE_COLUMNS = ("mid", "spread", "weighted_mid", "microprice")


def ofi_columns(levels: int) -> list[str]:
    """``ofi_1`` .. ``ofi_L``."""
    return [f"ofi_{m}" for m in range(1, levels + 1)]


def feature_columns(levels: int) -> list[str]:
    """Every per-event feature column, in file order."""
    return [
        "ts_event",
        "symbol",
        "seq",
        *BEST_LEVEL_COLUMNS,
        *PRICE_COLUMNS,
        "ofi",
        *ofi_columns(levels),
        "bid_depth",
        "ask_depth",
        "trade_sz",
    ]


def bar_columns(levels: int) -> list[str]:
    """Every bar column, in file order."""
    return [
        "ts_event",
        "symbol",
        "ofi",
        "dmid",
        "n_events",
        "trade_imbalance",
        "volume",
        "mid",
        *ofi_columns(levels),
    ]


@dataclass(frozen=True, slots=True)
class FeatureBatch:
    """Features of consecutive ticks of one symbol, column by column.

    ``columns`` holds every name of ``feature_columns`` except ``symbol`` as a
    NumPy array, plus ``flags`` (uint8 ``TickFlag`` bits of the source row):
    rows without ``TickFlag.BOOK`` (trade-only ticks) are kept for bars and
    models but left out of the per-event features file.
    """

    instrument: Instrument
    columns: dict[str, np.ndarray]

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __len__(self) -> int:
        return len(self.columns["ts_event"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]


@dataclass(frozen=True, slots=True)
class BarBatch:
    """Completed event-time bars of one symbol (``bar_columns`` except ``symbol``)."""

    instrument: Instrument
    bar_ns: int
    columns: dict[str, np.ndarray]

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __len__(self) -> int:
        return len(self.columns["ts_event"])
