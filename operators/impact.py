"""Price impact of order flow: OLS of mid changes on OFI per bar (Cont, Kukanov & Stoikov 2014).

CKS regress the mid change over each short interval on the OFI of that
interval, one fit per 30-minute window, and find R² ≈ 65% on average, while
trade imbalance explains much less. ``impact`` gives both the fit over the
whole sample and the mean over windows, for OFI and for trade imbalance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

WINDOW_NS = 30 * 60 * 10**9
MIN_BARS = 10


@dataclass(frozen=True, slots=True)
class Fit:
    """y = alpha + beta x: slope, its t-statistic, R² and the number of points."""

    beta: float
    alpha: float
    r2: float
    t_stat: float
    n: int


def ols(x: np.ndarray, y: np.ndarray) -> Fit:
    """Least squares with an intercept (NaN figures if x does not vary)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        nan = float("nan")
        return Fit(nan, nan, nan, nan, len(x))
    r = stats.linregress(x, y)
    t = r.slope / r.stderr if r.stderr > 0 else float("inf")
    return Fit(float(r.slope), float(r.intercept), float(r.rvalue**2), float(t), len(x))


def windowed(ts: np.ndarray, x: np.ndarray, y: np.ndarray, window_ns: int = WINDOW_NS) -> list[Fit]:
    """One fit per window (multiples of ``window_ns`` since the epoch) holding >= MIN_BARS bars.

    A bar belongs to the window holding its start; ``ts`` are bar ends, so
    ``ts - 1`` is used to place a bar ending exactly on a window boundary.
    """
    keys = (ts - 1) // window_ns
    fits = []
    for k in np.unique(keys):
        sel = keys == k
        if sel.sum() >= MIN_BARS:
            fits.append(ols(x[sel], y[sel]))
    return fits


def impact(
    ts: np.ndarray, dmid: np.ndarray, regressors: dict[str, np.ndarray], window_ns: int = WINDOW_NS
) -> dict[str, dict]:
    """For each regressor: the whole-sample fit and the windowed fits' mean R² and beta."""
    out = {}
    for name, x in regressors.items():
        fits = windowed(ts, x, dmid, window_ns)
        r2 = [f.r2 for f in fits if np.isfinite(f.r2)]
        out[name] = {
            "all": asdict(ols(x, dmid)),
            "windows": len(fits),
            "mean_r2": float(np.mean(r2)) if r2 else float("nan"),
            "mean_beta": float(np.mean([f.beta for f in fits])) if fits else float("nan"),
            "mean_t_stat": float(np.mean([f.t_stat for f in fits])) if fits else float("nan"),
        }
    return out
