"""Model input vectors per feature row: scale-free order-flow features and Hawkes intensities.

One ``InputState`` per symbol turns ``FeatureBatch``es into float32 rows,
batch after batch, the same way in training (``flowsense train``) and in
the dataflow. Sizes are divided by the mean size of a book level and the
spread is counted in ticks, so the features mean the same on NASDAQ shares
and on crypto coins. Every column uses only the row and the rows before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from operators.hawkes import HawkesIntensity, HawkesParams, p_up
from operators.labels import last_move
from schemas.features import FeatureBatch

INPUT_LEVELS = 5
"""OFI levels fed to the models (fewer in the data: zeros)."""


def input_names(levels: int = INPUT_LEVELS) -> list[str]:
    return [
        *(f"ofi_{m}_rel" for m in range(1, levels + 1)),
        "micro_minus_mid_spreads",
        "spread_ticks",
        "depth_imbalance",
        "best_imbalance",
        "trade_rel",
        "log_dt_ms",
        "last_move",
        "log_lambda_up",
        "log_lambda_down",
        "hawkes_skew",
    ]


@dataclass(slots=True)
class InputState:
    """Carries the last timestamp, last mid move and Hawkes intensities of one symbol."""

    hawkes: HawkesParams
    levels: int = INPUT_LEVELS
    _intensity: HawkesIntensity = field(init=False)
    _last_ts: int = -1
    _last_mid: float = float("nan")
    _last_dir: int = 0

    def __post_init__(self) -> None:
        self._intensity = HawkesIntensity(self.hawkes)

    def update(self, f: FeatureBatch) -> tuple[np.ndarray, np.ndarray]:
        """(n, d) float32 inputs and (n, 2) Hawkes intensities of the batch's rows."""
        ins = f.instrument
        n = len(f)
        ts = f["ts_event"]
        lam = self._intensity.update(ts, f["mid"])
        depth = f["bid_depth"] + f["ask_depth"]
        with np.errstate(invalid="ignore", divide="ignore"):
            level_size = depth / (2 * ins.levels)
            cols = [
                (f[f"ofi_{m}"] / level_size if m <= ins.levels else np.zeros(n))
                for m in range(1, self.levels + 1)
            ]
            cols += [
                (f["microprice"] - f["mid"]) / f["spread"],
                f["spread"] * ins.price_scale / ins.tick,
                (f["bid_depth"] - f["ask_depth"]) / depth,
                (f["bid_sz"] - f["ask_sz"]) / (f["bid_sz"] + f["ask_sz"]),
                f["trade_sz"] / level_size,
            ]
        prev_ts = np.concatenate(
            [[self._last_ts if self._last_ts >= 0 else ts[0] if n else 0], ts[:-1]]
        )
        cols.append(np.log1p(np.maximum(ts - prev_ts, 0) / 1e6))
        moves, self._last_mid, self._last_dir = last_move(f["mid"], self._last_mid, self._last_dir)
        cols.append(moves.astype(np.float64))
        cols += [np.log(lam[:, 0] + 1e-9), np.log(lam[:, 1] + 1e-9), 2 * p_up(lam) - 1]
        if n:
            self._last_ts = int(ts[-1])
        x = np.column_stack(cols) if n else np.zeros((0, len(cols)))
        x = np.clip(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), -50, 50)
        return x.astype(np.float32), lam
