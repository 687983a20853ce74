"""Throughput of the feature kernels and of the whole replay dataflow, measured in one run.

    .venv/bin/python benchmarks/bench_features.py [--data DIR] [--repeat 5] [--json]

Reports events/s of: the Numba OFI kernel (all levels), the whole per-symbol
feature step (OFI, prices, micro-price), the bar kernel, a Polars-expression
OFI and the plain-Python reference OFI (the baseline: ratios are against it),
and the whole replay dataflow on one worker (read, validate, features, bars,
predict, decide, risk, execute, Parquet sinks): once parsing the CSV text,
once from the parse cache that repeated replays use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import best_of, machine  # noqa: E402
from dataflows.readers.lobster import read_lobster  # noqa: E402
from flowsense.commands.replay import run_replay  # noqa: E402
from flowsense.settings import SHARED_DATA, Settings  # noqa: E402
from operators.bars import BarState  # noqa: E402
from operators.features import FeatureState  # noqa: E402
from operators.ofi import ofi_kernel  # noqa: E402
from tests.reference.ofi_ref import ofi_levels  # noqa: E402


def polars_ofi(df: pl.DataFrame, levels: int) -> pl.DataFrame:
    """The same e_n per level, as Polars expressions over shifted columns."""
    exprs = []
    for m in range(levels):
        pb, qb, pa, qa = (pl.col(f"{k}{m}") for k in ("bp", "bq", "ap", "aq"))
        e = (
            pl.when(pb >= pb.shift()).then(qb).otherwise(0)
            - pl.when(pb <= pb.shift()).then(qb.shift()).otherwise(0)
            - pl.when(pa <= pa.shift()).then(qa).otherwise(0)
            + pl.when(pa >= pa.shift()).then(qa.shift()).otherwise(0)
        )
        exprs.append(e.fill_null(0).alias(f"ofi_{m + 1}"))
    return df.select(exprs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "lobster")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    ticks = read_lobster(args.data / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv").ticks
    n, levels = len(ticks), ticks.instrument.levels
    zeros = np.zeros((4, levels), np.int64)
    cols = (ticks.bid_px, ticks.bid_sz, ticks.ask_px, ticks.ask_sz)

    def kernel():
        ofi_kernel(*cols, zeros, False)

    def features():
        FeatureState(ticks.instrument).update(ticks)

    f = FeatureState(ticks.instrument).update(ticks)
    ofi = np.column_stack([f[f"ofi_{m}"] for m in range(1, levels + 1)])

    def bars():
        BarState(10**10, levels).update(f["ts_event"], ofi, f["mid"], f["trade_sz"], flush=True)

    frame = pl.DataFrame(
        {
            f"{k}{m}": a[:, m]
            for m in range(levels)
            for k, a in zip(("bp", "bq", "ap", "aq"), cols, strict=True)
        }
    )

    def polars_version():
        polars_ofi(frame, levels)

    n_ref = 20_000
    books = [
        [
            (int(cols[0][i, m]), int(cols[1][i, m]), int(cols[2][i, m]), int(cols[3][i, m]))
            for m in range(levels)
        ]
        for i in range(n_ref)
    ]

    def reference():
        ofi_levels(books)

    kernel(), features(), bars(), polars_version()  # compile / warm caches
    rates = {
        "python_reference_ofi": n_ref / best_of(reference, max(1, args.repeat // 2)),
        "polars_ofi": n / best_of(polars_version, args.repeat),
        "numba_ofi_kernel": n / best_of(kernel, args.repeat),
        "numba_feature_step": n / best_of(features, args.repeat),
        "numba_bars": n / best_of(bars, args.repeat),
    }

    tmp = Path(tempfile.mkdtemp())
    sample = args.data
    events = 0
    for label, cache in (
        ("replay_dataflow_1_worker_parsing", None),
        ("replay_dataflow_1_worker", tmp / "cache"),
    ):
        settings = Settings(runs_dir=tmp, cache_dir=cache)
        run_replay(settings, sample, run_dir=tmp / f"{label}-warmup")  # numba, OS and parse caches
        best = min(
            run_replay(settings, sample, run_dir=tmp / f"{label}-{i}")["elapsed_s"]
            for i in range(3)
        )
        events = run_replay(settings, sample, run_dir=tmp / f"{label}-last")["events"]
        rates[label] = events / best
    shutil.rmtree(tmp, ignore_errors=True)

    base = rates["python_reference_ofi"]
    result = {
        "machine": machine(),
        "book_events": n,
        "levels": levels,
        "replay_events": events,
        "events_per_s": {k: round(v) for k, v in rates.items()},
        "ratio_to_python_reference": {k: round(v / base, 1) for k, v in rates.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['machine']}")
    print(f"{n:,} GOOG book events, {levels} levels; replay: {events:,} events of {sample}")
    for k, v in rates.items():
        print(f"{k:28s} {v:>14,.0f} events/s  x{v / base:>9,.1f}")


if __name__ == "__main__":
    main()
