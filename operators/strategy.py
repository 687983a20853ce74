"""From predictions to target positions: the decision rule of the baseline strategy.

Go long ``notional`` (in currency, at the mid) on an UP prediction, short on
DOWN, when its confidence reaches ``threshold``; hold otherwise. A new target
is taken at most once per ``cooldown_s`` of event time, so that a flickering
signal cannot churn. Sizing by notional keeps one setting meaningful for a
$200 stock and a $60 000 coin alike.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from operators.config import StrategyConfig
from schemas.trading import PredictionBatch, TargetPosition


@njit(cache=True, nogil=True)
def target_changes(
    ts, direction, confidence, mid, threshold, cooldown_ns, notional, lots, target_, last_
):  # pragma: no cover
    """Rows where the target position changes side, and the new targets.

    Quantities are whole lots (``lots`` per share or coin). ``target_`` =
    [current target] and ``last_`` = [time of the last change, -1 if none]
    are updated in place.
    """
    n = len(ts)
    rows = np.empty(n, np.int64)
    targets = np.empty(n, np.float64)
    k = 0
    target, last = target_[0], last_[0]
    for i in range(n):
        if confidence[i] < threshold or direction[i] == 0 or not mid[i] > 0:
            continue
        if np.sign(target) == direction[i]:
            continue  # already on this side: hold, whatever the price did
        want = direction[i] * np.floor(notional / mid[i] * lots) / lots
        if want == 0:
            continue
        if last >= 0 and ts[i] - last < cooldown_ns:
            continue
        target = want
        last = ts[i]
        rows[k] = i
        targets[k] = want
        k += 1
    target_[0], last_[0] = target, last
    return rows[:k], targets[:k]


class Strategy:
    """Per-symbol strategy state."""

    __slots__ = ("_last", "_target", "config")

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config
        self._target = np.zeros(1)
        self._last = np.array([-1], np.int64)

    def update(self, predictions: PredictionBatch) -> list[TargetPosition]:
        c = predictions.columns
        cfg = self.config
        rows, targets = target_changes(
            c["ts_event"],
            c["direction"],
            c["confidence"],
            c["mid"],
            cfg.threshold,
            int(cfg.cooldown_s * 1e9),
            cfg.notional,
            float(predictions.instrument.size_scale),
            self._target,
            self._last,
        )
        return [
            TargetPosition(
                symbol=predictions.symbol,
                ts_event=int(c["ts_event"][i]),
                seq=int(c["seq"][i]),
                model=predictions.model,
                target=float(t),
                bid_px=float(c["bid_px"][i]),
                ask_px=float(c["ask_px"][i]),
                mid=float(c["mid"][i]),
            )
            for i, t in zip(rows, targets, strict=True)
        ]
