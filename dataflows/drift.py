"""Drift of the live features against a reference, as the ``flowsense_feature_drift`` metric.

With ``FLOWSENSE_DRIFT__REFERENCE`` set, the live flow adds a ``drift`` step
on the features stream (per symbol, ``operators.drift.DriftWindow``) and an
output that sets the gauges (``dataflows.metrics``); unset, there is no step.

Inputs of ``flowsense drift`` and of the reference are read here (``load``):
a run folder, a Parquet/CSV table of features or predictions, or market data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bytewax.operators as op
import numpy as np
import polars as pl
from bytewax.dataflow import Stream
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows import metrics
from flowsense.settings import DriftSettings
from operators.drift import DriftWindow, FeatureDrift
from schemas.features import FeatureBatch
from schemas.market import TickFlag

PREDICTION_COLUMNS = ("confidence", "direction")


def load(path: Path, cache_dir: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(features, predictions) of ``path``; either may be empty."""
    from dataflows.sinks import read_table

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir() and (path / "features").is_dir():
        return read_table(path, "features"), read_table(path, "predictions")
    if path.suffix in (".parquet", ".csv"):
        df = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
        if "spread" not in df.columns and set(PREDICTION_COLUMNS) <= set(df.columns):
            return pl.DataFrame(), df
        return df, pl.DataFrame()
    from dataflows.offline import compute

    features, _ = compute(path, None, None, cache_dir)
    return features, pl.DataFrame()


def reference_values(cfg: DriftSettings, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """The reference's book rows, at most ``reference_rows`` per feature (evenly spaced)."""
    assert cfg.reference is not None
    df, _ = load(cfg.reference, cache_dir)
    missing = [f for f in cfg.features if f not in df.columns]
    if df.is_empty() or missing:
        raise ValueError(f"drift reference {cfg.reference}: no feature column {missing or ''}")
    step = max(1, df.height // cfg.reference_rows)
    return {f: df[f].cast(pl.Float64).to_numpy()[::step] for f in cfg.features}


class _Drift:
    """The ``drift`` step of one symbol: book rows of each batch into its window (the
    reference is shared by every symbol and left out of the state)."""

    def __init__(self, cfg: DriftSettings) -> None:
        self.window = DriftWindow(cfg.features, cfg.window_rows, int(cfg.every_s * 1e9), cfg)

    def update(
        self, batch: FeatureBatch, reference: dict[str, np.ndarray]
    ) -> list[FeatureDrift] | None:
        book = (batch["flags"] & TickFlag.BOOK) != 0
        cols = {c: batch[c][book] for c in self.window.names}
        return self.window.update(cols, batch["ts_event"][book], reference)


class _GaugePartition(StatelessSinkPartition[tuple[str, list[FeatureDrift]]]):
    def write_batch(self, items: list[tuple[str, list[FeatureDrift]]]) -> None:
        for symbol, drifts in items:
            for d in drifts:
                metrics.feature_drift.labels(d.feature, "psi", symbol).set(d.psi)
                metrics.feature_drift.labels(d.feature, "ks", symbol).set(d.ks)


class DriftGaugeSink(DynamicSink[tuple[str, list[FeatureDrift]]]):
    """Each measure -> ``flowsense_feature_drift{feature,statistic,symbol}``."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _GaugePartition:
        return _GaugePartition()


def add_drift(features: Any, cfg: DriftSettings, cache_dir: Path | None = None) -> Stream | None:
    """The ``drift`` step and its gauge output on a keyed features stream; ``None`` (and no
    step) when no reference is set."""
    if cfg.reference is None:
        return None
    reference = reference_values(cfg, cache_dir)

    def step(state: _Drift | None, batch: FeatureBatch) -> tuple[_Drift, Any]:
        state = state or _Drift(cfg)
        return state, state.update(batch, reference)

    measured = op.stateful_map("drift", features, step)
    drifts = op.filter_map_value("drift_measures", measured, lambda d: d)
    op.output("drift_metrics", drifts, DriftGaugeSink())
    return drifts
