"""Drift between a reference sample (the training data) and a live window, per feature.

Two measures, as drift monitors (Evidently among them) use them:

- the population stability index, ``PSI = sum((p_live - p_ref) * ln(p_live / p_ref))``
  over bins whose edges are the reference's deciles (a value outside the
  reference range falls in the outer bins; a discrete feature with few values
  gets one bin per distinct value); empty bins count as ``EPS`` so the log
  stays finite. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large;
- the two-sample Kolmogorov-Smirnov statistic ``D`` (largest gap between the
  two empirical CDFs) and its p-value (``scipy.stats.ks_2samp``).

A feature has drifted when ``PSI >= psi_threshold`` or when the KS test
rejects (``p < alpha``) with a gap of at least ``ks_threshold``: on the
hundreds of thousands of rows of a trading day any difference is
"significant", so the p-value alone would flag everything. A window has
drifted when at least ``share`` of its features have (Evidently's default
rule for a data set).

The formulas are a few lines; Evidently computes the same but Evidently 0.7.23
would install 79 packages into a fresh environment (plotly, nltk, scikit-learn,
statsmodels, litestar, ...; ``uv pip install --dry-run``), so they are written here
on scipy's KS test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

from operators.config import DriftConfig

EPS = 1e-4
"""Share given to an empty bin (on either side) in the PSI."""


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float
    p_value: float
    drifted: bool
    n_reference: int
    n_live: int


def bin_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner edges: the reference's quantiles (distinct values), or the midpoints between
    the distinct values when there are no more of them than ``bins``."""
    ref = reference[np.isfinite(reference)]
    values = np.unique(ref)
    if len(values) <= bins:
        return (values[1:] + values[:-1]) / 2
    return np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of the finite ``values`` in each of the ``len(edges) + 1`` bins."""
    v = values[np.isfinite(values)]
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    return counts / max(len(v), 1)


def psi(reference: np.ndarray, live: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``live`` against ``reference``."""
    edges = bin_edges(np.asarray(reference, float), bins)
    p = np.maximum(shares(np.asarray(reference, float), edges), EPS)
    q = np.maximum(shares(np.asarray(live, float), edges), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def feature_drift(
    name: str, reference: np.ndarray, live: np.ndarray, config: DriftConfig | None = None
) -> FeatureDrift:
    config = config or DriftConfig()
    ref = np.asarray(reference, float)
    cur = np.asarray(live, float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if len(ref) == 0 or len(cur) == 0:
        raise ValueError(
            f"{name}: no values in the {'reference' if len(ref) == 0 else 'live'} window"
        )
    value = psi(ref, cur, config.bins)
    ks = ks_2samp(ref, cur)
    drifted = value >= config.psi_threshold or (
        ks.pvalue < config.alpha and ks.statistic >= config.ks_threshold
    )
    return FeatureDrift(
        name, value, float(ks.statistic), float(ks.pvalue), bool(drifted), len(ref), len(cur)
    )


def window_drift(
    reference: dict[str, np.ndarray],
    live: dict[str, np.ndarray],
    config: DriftConfig | None = None,
) -> tuple[list[FeatureDrift], bool]:
    """Each feature's drift (the reference's features, in order) and whether the window
    drifted (``share`` of them or more)."""
    config = config or DriftConfig()
    out = [feature_drift(n, reference[n], live[n], config) for n in reference]
    return out, sum(f.drifted for f in out) >= config.share * len(out)


class DriftWindow:
    """The live window of one symbol's features, measured against a reference.

    ``update`` appends a batch (columns of equal length, and its event times)
    to a ring of the newest ``rows`` values per feature; once the ring is full,
    and at most every ``every_ns`` of event time, it returns each feature's
    drift against ``reference``, else ``None``. State (what a snapshot copies):
    the ring (``rows`` x features floats) and two ints; the reference is passed
    in, never kept.
    """

    def __init__(
        self, names: list[str], rows: int, every_ns: int, config: DriftConfig | None = None
    ) -> None:
        self.names = list(names)
        self.rows, self.every_ns = rows, every_ns
        self.config = config or DriftConfig()
        self.ring = np.full((len(self.names), rows), np.nan)
        self.filled = 0
        self.next_ns: int | None = None

    def update(
        self, columns: dict[str, np.ndarray], ts: np.ndarray, reference: dict[str, np.ndarray]
    ) -> list[FeatureDrift] | None:
        n = len(ts)
        if n == 0:
            return None
        block = np.vstack([np.asarray(columns[c], float)[-self.rows :] for c in self.names])
        k = block.shape[1]
        self.ring = np.concatenate([self.ring[:, k:], block], axis=1)
        self.filled = min(self.rows, self.filled + k)
        now = int(ts[-1])
        if self.filled < self.rows or (self.next_ns is not None and now < self.next_ns):
            return None
        self.next_ns = now + self.every_ns
        return [
            feature_drift(c, reference[c], self.ring[i], self.config)
            for i, c in enumerate(self.names)
        ]
