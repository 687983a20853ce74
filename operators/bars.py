"""Event-time bars: half-open [start, end) intervals aligned to the bar since midnight UTC."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

DAY_NS = 86_400_000_000_000
NO_BAR = -1


@njit(cache=True, nogil=True)
def bar_end(ts, bar_ns):  # pragma: no cover - numba
    """End of the bar holding ``ts``; the last bar of a UTC day stops at midnight."""
    day = ts - ts % DAY_NS
    start = day + ((ts - day) // bar_ns) * bar_ns
    return min(start + bar_ns, day + DAY_NS)


@njit(cache=True, nogil=True)
def bar_kernel(ts, ofi, mid, trade_sz, bar_ns, st_i, st_f, flush):  # pragma: no cover - numba
    """Fold rows into bars; return the bars completed by these rows (and the open one if ``flush``).

    State, updated in place: ``st_i`` = [open bar end or -1, events in it];
    ``st_f`` = [mid before the open bar, last mid, trade imbalance, volume,
    ofi sum per level ...]. ``mid`` NaN (one-sided book) keeps the last mid.
    """
    n, levels = ofi.shape
    out_end = np.empty(n + 1, np.int64)
    out_n = np.empty(n + 1, np.int64)
    out_f = np.empty((n + 1, 4 + levels), np.float64)  # dmid, ti, volume, mid, ofi...
    k = 0
    for i in range(n + 1):
        closing = False
        if i == n:
            closing = flush and st_i[0] != -1
        elif st_i[0] != -1 and ts[i] >= st_i[0]:
            closing = True
        if closing:
            out_end[k] = st_i[0]
            out_n[k] = st_i[1]
            out_f[k, 0] = st_f[1] - st_f[0]
            out_f[k, 1] = st_f[2]
            out_f[k, 2] = st_f[3]
            out_f[k, 3] = st_f[1]
            for m in range(levels):
                out_f[k, 4 + m] = st_f[4 + m]
            k += 1
            st_i[0] = -1
            st_f[0] = st_f[1]
        if i == n:
            break
        if st_i[0] == -1:
            st_i[0] = bar_end(ts[i], bar_ns)
            st_i[1] = 0
            st_f[2] = 0.0
            st_f[3] = 0.0
            for m in range(levels):
                st_f[4 + m] = 0.0
        st_i[1] += 1
        if not np.isnan(mid[i]):
            if np.isnan(st_f[1]):
                st_f[0] = mid[i]  # first mid of the stream: the first bar's change starts here
            st_f[1] = mid[i]
        st_f[2] += trade_sz[i]
        st_f[3] += abs(trade_sz[i])
        for m in range(levels):
            st_f[4 + m] += ofi[i, m]
    return out_end[:k], out_n[:k], out_f[:k]


@dataclass(slots=True)
class BarState:
    """Per-symbol state of the open bar, compact enough to snapshot cheaply."""

    bar_ns: int
    levels: int
    ints: np.ndarray = field(init=False)
    floats: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.bar_ns <= 0:
            raise ValueError("bar length must be positive")
        self.ints = np.array([NO_BAR, 0], np.int64)
        self.floats = np.full(4 + self.levels, np.nan)

    def update(
        self,
        ts: np.ndarray,
        ofi: np.ndarray,
        mid: np.ndarray,
        trade_sz: np.ndarray,
        flush: bool = False,
    ) -> dict[str, np.ndarray]:
        """Bars completed by these rows (columns of ``schemas.features.bar_columns``)."""
        ends, counts, f = bar_kernel(
            ts,
            np.ascontiguousarray(ofi, np.float64),
            mid,
            trade_sz.astype(np.float64),
            np.int64(self.bar_ns),
            self.ints,
            self.floats,
            flush,
        )
        cols = {
            "ts_event": ends,
            "ofi": f[:, 4].copy(),
            "dmid": f[:, 0].copy(),
            "n_events": counts,
            "trade_imbalance": f[:, 1].copy(),
            "volume": f[:, 2].copy(),
            "mid": f[:, 3].copy(),
        }
        for m in range(self.levels):
            cols[f"ofi_{m + 1}"] = f[:, 4 + m].copy()
        return cols

    def flush(self) -> dict[str, np.ndarray]:
        """The open bar, if any (end of stream)."""
        empty = np.empty(0, np.float64)
        return self.update(
            np.empty(0, np.int64), np.empty((0, self.levels)), empty, empty, flush=True
        )
