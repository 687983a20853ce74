"""Mid-price direction labels (down / flat / up) at a horizon in events or in time.

Labels look into the future by design; features never do (a test holds them
to that by changing the future and checking the past's features stay put).
Rows whose horizon runs past the end of the data get no label
(``valid`` is False): they are dropped from training and scoring.

Three ways to call a move, after Ntakaris et al. (2018, FI-2010) and Zhang,
Zohren & Roberts (2019, DeepLOB):

- ``point``: ``m_{t+h}`` against ``m_t``;
- ``smoothed``: the mean of the next ``h`` mids, ``(1/h) sum_{i=1..h} m_{t+i}``,
  against ``m_t`` (DeepLOB's labelling of FI-2010, which damps noise);
- both with a relative threshold ``alpha``: up if the change over ``m_t`` is
  above ``alpha``, down if below ``-alpha``, else flat.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from schemas.trading import Direction

CLASSES = (Direction.DOWN, Direction.FLAT, Direction.UP)
"""Class order of every probability vector: index = direction + 1."""

Method = Literal["point", "smoothed"]


def _threshold(change: np.ndarray, alpha: float) -> np.ndarray:
    out = np.zeros(len(change), np.int8)
    out[change > alpha] = Direction.UP
    out[change < -alpha] = Direction.DOWN
    return out


def event_labels(
    mid: np.ndarray, horizon: int, alpha: float = 0.0, method: Method = "point"
) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``h`` rows ahead: (int8 direction per row, bool valid per row)."""
    if horizon < 1:
        raise ValueError("horizon must be at least 1 event")
    mid = np.asarray(mid, np.float64)
    n = len(mid)
    future = np.full(n, np.nan)
    if n > horizon:
        if method == "point":
            future[: n - horizon] = mid[horizon:]
        elif method == "smoothed":
            csum = np.concatenate([[0.0], np.cumsum(mid)])
            t = np.arange(n - horizon)
            future[: n - horizon] = (csum[t + 1 + horizon] - csum[t + 1]) / horizon
        else:
            raise ValueError(f"unknown label method {method!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        change = (future - mid) / mid
    valid = np.isfinite(change)
    return _threshold(np.where(valid, change, 0.0), alpha), valid


def time_labels(
    ts_event: np.ndarray, mid: np.ndarray, horizon_ns: int, alpha: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``horizon_ns`` ahead: the mid as of ``t + h`` (last row at or before it)."""
    if horizon_ns <= 0:
        raise ValueError("horizon must be positive")
    ts = np.asarray(ts_event, np.int64)
    mid = np.asarray(mid, np.float64)
    j = np.searchsorted(ts, ts + horizon_ns, side="right") - 1
    has_future = len(ts) > 0 and ts[-1] >= 0
    valid = (ts + horizon_ns <= ts[-1]) if has_future else np.zeros(0, bool)
    future = mid[np.clip(j, 0, max(len(mid) - 1, 0))] if len(mid) else mid
    with np.errstate(invalid="ignore", divide="ignore"):
        change = (future - mid) / mid
    valid = valid & np.isfinite(change)
    return _threshold(np.where(valid, change, 0.0), alpha), valid


def last_move(
    mid: np.ndarray, prev_mid: float = float("nan"), prev_dir: int = 0
) -> tuple[np.ndarray, float, int]:
    """Direction of the last mid change at or before each row (the "last move" baseline).

    ``prev_mid`` / ``prev_dir`` carry the state across batches; returns
    (int8 per row, last mid, last direction).
    """
    mid = np.asarray(mid, np.float64)
    if len(mid) == 0:
        return np.zeros(0, np.int8), prev_mid, prev_dir
    prev = np.concatenate([[prev_mid], mid[:-1]])
    step = np.sign(mid - prev)
    step[~np.isfinite(step)] = 0
    idx = np.where(step != 0, np.arange(len(mid)), -1)
    np.maximum.accumulate(idx, out=idx)
    out = np.where(idx >= 0, step[np.maximum(idx, 0)], prev_dir).astype(np.int8)
    last_mid = mid[np.isfinite(mid)][-1] if np.isfinite(mid).any() else prev_mid
    return out, float(last_mid), int(out[-1])
