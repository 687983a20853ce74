"""Per-symbol feature state: from tick batches to order-flow features, batch after batch.

The output does not depend on how the stream is cut into batches: every
piece of cross-row state (the previous book, the micro-price estimator, the
last micro-price) is carried in this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from operators.book import best_prices
from operators.microprice import MicropriceEstimator
from operators.ofi import ofi_kernel
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
        n = len(ticks)
        if self.prev_book is None:
            prev = np.zeros((4, ins.levels), np.int64)
            has_prev = False
        else:
            prev, has_prev = self.prev_book, True
        e = ofi_kernel(
            ticks.bid_px,
            ticks.bid_sz,
            ticks.ask_px,
            ticks.ask_sz,
            prev[0],
            prev[1],
            prev[2],
            prev[3],
            has_prev,
        )
        if n:
            self.prev_book = np.stack(
                [ticks.bid_px[-1], ticks.bid_sz[-1], ticks.ask_px[-1], ticks.ask_sz[-1]]
            )
        bpx, bsz, apx, asz = (
            a[:, 0] for a in (ticks.bid_px, ticks.bid_sz, ticks.ask_px, ticks.ask_sz)
        )
        cols = best_prices(bpx, bsz, apx, asz, ins.price_scale)
        cols["microprice"] = self._microprice(ticks, bpx, bsz, apx, asz)
        e_float = e.astype(np.float64) / ins.size_scale
        nan = np.float64("nan")
        out: dict[str, np.ndarray] = {
            "ts_event": ticks.ts_event,
            "seq": ticks.seq,
            "bid_px": np.where(np.isnan(cols["mid"]), nan, bpx / ins.price_scale),
            "bid_sz": bsz / ins.size_scale,
            "ask_px": np.where(np.isnan(cols["mid"]), nan, apx / ins.price_scale),
            "ask_sz": asz / ins.size_scale,
            **cols,
            "ofi": e_float[:, 0].copy(),
        }
        for m in range(ins.levels):
            out[f"ofi_{m + 1}"] = e_float[:, m].copy()
        out["bid_depth"] = ticks.bid_sz.sum(axis=1) / ins.size_scale
        out["ask_depth"] = ticks.ask_sz.sum(axis=1) / ins.size_scale
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
