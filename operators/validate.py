"""Vectorised checks of tick batches: bad rows are refused with a reason, never dropped.

Checks, in order of precedence: a negative size at any level, a crossed (or
locked) best level, and time going backwards relative to the last accepted
row. Only rows that carry a book (``TickFlag.BOOK``) are checked for the book;
every row is checked for time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from schemas.market import EMPTY_ASK_PX, EMPTY_BID_PX, Reject, RejectReason, TickBatch

OK = 0
NEGATIVE_SIZE = 1
CROSSED_BOOK = 2
NON_MONOTONIC_TIME = 3
REASONS = {
    NEGATIVE_SIZE: RejectReason.NEGATIVE_SIZE,
    CROSSED_BOOK: RejectReason.CROSSED_BOOK,
    NON_MONOTONIC_TIME: RejectReason.NON_MONOTONIC_TIME,
}
NO_TIME = np.iinfo(np.int64).min


@njit(cache=True, nogil=True)
def check_rows(ts, flags, bid_px, bid_sz, ask_px, ask_sz, last_ts):  # pragma: no cover - numba
    """Reason code per row (0 = accepted) and the last accepted timestamp."""
    n, levels = bid_px.shape
    codes = np.zeros(n, np.uint8)
    for i in range(n):
        if flags[i] & 1:
            negative = False
            for m in range(levels):
                if bid_sz[i, m] < 0 or ask_sz[i, m] < 0:
                    negative = True
            if negative:
                codes[i] = 1
                continue
            if (
                bid_px[i, 0] != EMPTY_BID_PX
                and ask_px[i, 0] != EMPTY_ASK_PX
                and bid_px[i, 0] >= ask_px[i, 0]
            ):
                codes[i] = 2
                continue
        if ts[i] < last_ts:
            codes[i] = 3
            continue
        last_ts = ts[i]
    return codes, last_ts


@dataclass(slots=True)
class Validator:
    """Per-symbol validation state: the time of the last accepted row."""

    last_ts: int = int(NO_TIME)

    def update(self, batch: TickBatch) -> tuple[TickBatch, list[Reject]]:
        """The accepted rows of ``batch`` and a ``Reject`` for every other row."""
        codes, self.last_ts = check_rows(
            batch.ts_event,
            batch.flags,
            batch.bid_px,
            batch.bid_sz,
            batch.ask_px,
            batch.ask_sz,
            np.int64(self.last_ts),
        )
        self.last_ts = int(self.last_ts)
        bad = np.flatnonzero(codes)
        if len(bad) == 0:
            return batch, []
        rejects = [
            Reject(
                symbol=batch.symbol,
                source=batch.source,
                line=0 if batch.line is None else int(batch.line[i]),
                reason=REASONS[int(codes[i])].value,
                detail=_detail(batch, int(i), int(codes[i])),
                ts_event=int(batch.ts_event[i]),
            )
            for i in bad
        ]
        return batch.take(codes == OK), rejects


def _detail(batch: TickBatch, i: int, code: int) -> str:
    if code == CROSSED_BOOK:
        return f"best bid {batch.bid_px[i, 0]} >= best ask {batch.ask_px[i, 0]}"
    if code == NEGATIVE_SIZE:
        return f"bid sizes {batch.bid_sz[i].tolist()}, ask sizes {batch.ask_sz[i].tolist()}"
    return f"ts {batch.ts_event[i]} before the last accepted row"
