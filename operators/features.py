"""Per-symbol feature state: from tick batches to order-flow features, batch after batch.

The output does not depend on how the stream is cut into batches: every
piece of cross-row state (the previous book, the micro-price estimator, the
last micro-price) is carried in this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from operators.book import ASK_DEPTH, BID_DEPTH, MID, OFI, SPREAD, WEIGHTED_MID, book_kernel
from operators.microprice import MicropriceEstimator
from schemas.features import FeatureBatch
from schemas.market import Instrument, TickBatch, TickFlag


@dataclass(slots=True)
class FeatureState:
    """The book before the next batch, and the micro-price estimator of one symbol."""

    instrument: Instrument
    microprice: MicropriceEstimator = field(default_factory=MicropriceEstimator)
    prev_book: np.ndarray | None = None
    """int64 [4, L]: bid px, bid sz, ask px, ask sz of the last row seen."""
    last_micro: float = float("nan")

    def update(self, ticks: TickBatch) -> FeatureBatch:
        """Features of every row of ``ticks`` (rows must follow the previous batch)."""
        ins = self.instrument
        has_prev = self.prev_book is not None
        prev = self.prev_book if has_prev else np.zeros((4, ins.levels), np.int64)
        bpx, bsz, apx, asz = ticks.bid_px, ticks.bid_sz, ticks.ask_px, ticks.ask_sz
        book = book_kernel(bpx, bsz, apx, asz, prev, has_prev, ins.price_scale, ins.size_scale)
        if len(ticks):
            self.prev_book = np.stack([bpx[-1], bsz[-1], apx[-1], asz[-1]])
        best = (bpx[:, 0], bsz[:, 0], apx[:, 0], asz[:, 0])
        one_sided = np.isnan(book[MID])
        out: dict[str, np.ndarray] = {
            "ts_event": ticks.ts_event,
            "seq": ticks.seq,
            "bid_px": np.where(one_sided, np.nan, best[0] / ins.price_scale),
            "bid_sz": best[1] / ins.size_scale,
            "ask_px": np.where(one_sided, np.nan, best[2] / ins.price_scale),
            "ask_sz": best[3] / ins.size_scale,
            "mid": book[MID],
            "spread": book[SPREAD],
            "weighted_mid": book[WEIGHTED_MID],
            "microprice": self._microprice(ticks, *best),
            "ofi": book[OFI],
        }
        for m in range(ins.levels):
            out[f"ofi_{m + 1}"] = book[OFI + m]
        out["bid_depth"] = book[BID_DEPTH]
        out["ask_depth"] = book[ASK_DEPTH]
        out["trade_sz"] = ticks.trade_sz / ins.size_scale
        out["flags"] = ticks.flags
        return FeatureBatch(instrument=ins, columns=out)

    def _microprice(self, ticks: TickBatch, bpx, bsz, apx, asz) -> np.ndarray:
        """Stoikov micro-price of book rows; rows without a new book repeat the last one."""
        book = (ticks.flags & TickFlag.BOOK) != 0
        micro = np.full(len(ticks), np.nan)
        if book.all():
            micro = self.microprice.update(bpx, bsz, apx, asz, self.instrument.tick)
        elif book.any():
            micro[book] = self.microprice.update(
                bpx[book], bsz[book], apx[book], asz[book], self.instrument.tick
            )
        if len(micro) == 0:
            return micro
        # Carry the last book row's micro-price forward over trade-only rows.
        idx = np.where(book, np.arange(len(micro)), -1)
        np.maximum.accumulate(idx, out=idx)
        filled = np.where(idx >= 0, micro[np.maximum(idx, 0)], self.last_micro)
        self.last_micro = float(filled[-1])
        return filled / self.instrument.price_scale
