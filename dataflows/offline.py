"""The dataflow's steps run over whole files, without Bytewax: features and bars for research.

Same state objects, same order of steps as ``dataflows.replay``; a test holds
the two to identical output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from dataflows.readers import discover, group_feeds, read_feed
from operators.bars import BarState
from operators.features import FeatureState
from operators.validate import Validator
from schemas.features import bar_columns, feature_columns
from schemas.market import FeedData, Reject, TickFlag


def _feeds(path: Path, levels: int | None, cache_dir: Path | None) -> list[FeedData]:
    groups = group_feeds(discover(path)).values()
    return [d for feeds in groups for f in feeds for d in read_feed(f, levels, cache_dir)]


def _frame(symbol: str, cols: dict[str, np.ndarray], names: list[str]) -> pl.DataFrame:
    n = len(cols["ts_event"])
    data = {k: (pl.repeat(symbol, n, eager=True) if k == "symbol" else cols[k]) for k in names}
    return pl.DataFrame(data).select(names)


def rejects_frame(rejects: list[Reject]) -> pl.DataFrame:
    """Rejects as a table (symbol, source, line, reason, detail, ts_event)."""
    names = ["symbol", "source", "line", "reason", "detail", "ts_event"]
    schema = dict(zip(names, [pl.Utf8, pl.Utf8, pl.Int64, pl.Utf8, pl.Utf8, pl.Int64], strict=True))
    return pl.DataFrame(
        [[getattr(r, k) for k in names] for r in rejects], schema=schema, orient="row"
    )


def compute(
    path: Path, levels: int | None = None, bar_ns: int | None = None, cache_dir: Path | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-event features (book updates) or, with ``bar_ns``, bars of ``path``; and the rejects.

    Symbols stack one under the other, each in event order.
    """
    frames, rejects = [], []
    state: dict[str, tuple[Validator, FeatureState, BarState | None]] = {}
    for data in _feeds(path, levels, cache_dir):
        ins = data.ticks.instrument
        if ins.symbol not in state:
            bars = BarState(bar_ns, ins.levels) if bar_ns else None
            state[ins.symbol] = (Validator(), FeatureState(ins), bars)
        validator, features, bars = state[ins.symbol]
        ticks, bad = validator.update(data.ticks)
        rejects += data.rejects + bad
        f = features.update(ticks)
        if bars is None:
            book = (f["flags"] & TickFlag.BOOK) != 0
            cols = {k: v[book] for k, v in f.columns.items()}
            frames.append(_frame(ins.symbol, cols, feature_columns(ins.levels)))
        else:
            ofi = np.column_stack([f[f"ofi_{m}"] for m in range(1, ins.levels + 1)])
            cols = bars.update(f["ts_event"], ofi, f["mid"], f["trade_sz"])
            frames.append(_frame(ins.symbol, cols, bar_columns(ins.levels)))
    for symbol, (_, _, bars) in state.items():
        if bars is not None:
            frames.append(_frame(symbol, bars.flush(), bar_columns(bars.levels)))
    if not frames:
        return pl.DataFrame(), rejects_frame(rejects)
    out = pl.concat(frames, how="diagonal_relaxed").sort("symbol", maintain_order=True)
    return out, rejects_frame(rejects)
