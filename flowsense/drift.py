"""``flowsense drift``: feature and prediction drift between a reference window and a live
window (``operators.drift``), as a dict and an HTML report with plots.

An input is a run folder (its ``features`` and ``predictions`` tables), a
Parquet/CSV table of features (``flowsense features``) or of predictions, or
market data (a file or folder: features are computed as ``flowsense features``
does). Each window may be cut to ``[from, to)`` in event time.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dataflows.drift import PREDICTION_COLUMNS, load
from operators.config import DriftConfig
from operators.drift import FeatureDrift, window_drift

DEFAULT_FEATURES = ("ofi", "spread", "bid_depth", "ask_depth", "trade_sz")


def cut(df: pl.DataFrame, start: int | None, end: int | None, symbol: str | None) -> pl.DataFrame:
    if df.is_empty():
        return df
    if symbol is not None:
        df = df.filter(pl.col("symbol") == symbol)
    if start is not None:
        df = df.filter(pl.col("ts_event") >= start)
    if end is not None:
        df = df.filter(pl.col("ts_event") < end)
    return df


def _columns(df: pl.DataFrame, names: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"{what} has no column {', '.join(missing)}")
    return {n: df[n].cast(pl.Float64).to_numpy() for n in names}


def _span(df: pl.DataFrame) -> dict[str, Any]:
    if df.is_empty():
        return {"rows": 0, "from_ns": None, "to_ns": None}
    return {
        "rows": df.height,
        "from_ns": int(df["ts_event"].min()),
        "to_ns": int(df["ts_event"].max()),
    }


def drift_report(
    reference: Path,
    live: Path,
    *,
    reference_window: tuple[int | None, int | None] = (None, None),
    live_window: tuple[int | None, int | None] = (None, None),
    symbol: str | None = None,
    features: tuple[str, ...] = DEFAULT_FEATURES,
    config: DriftConfig | None = None,
    cache_dir: Path | None = None,
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The drift report, and the (reference, live) values of each measured column."""
    config = config or DriftConfig()
    ref_f, ref_p = load(reference, cache_dir)
    live_f, live_p = (ref_f, ref_p) if live == reference else load(live, cache_dir)
    ref_f, ref_p = (cut(d, *reference_window, symbol) for d in (ref_f, ref_p))
    live_f, live_p = (cut(d, *live_window, symbol) for d in (live_f, live_p))
    values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    feats: list[FeatureDrift] = []
    drifted = False
    if not ref_f.is_empty() or not live_f.is_empty():
        if ref_f.is_empty() or live_f.is_empty():
            side = "reference" if ref_f.is_empty() else "live"
            raise ValueError(f"the {side} window has no feature rows")
        r, c = _columns(ref_f, features, "reference"), _columns(live_f, features, "live")
        feats, drifted = window_drift(r, c, config)
        values |= {n: (r[n], c[n]) for n in features}
    preds: list[FeatureDrift] = []
    pred_drifted = None
    if not ref_p.is_empty() and not live_p.is_empty():
        r = _columns(ref_p, PREDICTION_COLUMNS, "reference predictions")
        c = _columns(live_p, PREDICTION_COLUMNS, "live predictions")
        r, c = ({f"prediction.{k}": v for k, v in d.items()} for d in (r, c))
        preds, pred_drifted = window_drift(r, c, config)
        values |= {n: (r[n], c[n]) for n in r}
    if not feats and not preds:
        raise ValueError("nothing to compare: no features or predictions in both windows")
    report = {
        "reference": {"path": str(reference)} | _span(ref_f if not ref_f.is_empty() else ref_p),
        "live": {"path": str(live)} | _span(live_f if not live_f.is_empty() else live_p),
        "symbol": symbol,
        "config": {k: getattr(config, k) for k in DriftConfig.model_fields},
        "features": [asdict(f) for f in feats],
        "drifted_features": [f.feature for f in feats if f.drifted],
        "drifted": bool(drifted),
        "prediction": [asdict(f) for f in preds],
        "prediction_drifted": pred_drifted,
    }
    return report, values


def _plot(name: str, ref: np.ndarray, live: np.ndarray, f: dict[str, Any]) -> str:
    """Histograms and empirical CDFs of both windows, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, live = ref[np.isfinite(ref)], live[np.isfinite(live)]
    both = np.concatenate([ref, live])
    lo, hi = np.quantile(both, [0.005, 0.995])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    bins = np.linspace(lo, hi, 41)
    a.hist(np.clip(ref, lo, hi), bins, density=True, alpha=0.5, label="reference")
    a.hist(np.clip(live, lo, hi), bins, density=True, alpha=0.5, label="live")
    a.set_title(f"{name}: PSI {f['psi']:.3f}")
    a.legend()
    for v, label in ((ref, "reference"), (live, "live")):
        s = np.sort(v)
        b.step(s, np.arange(1, len(s) + 1) / len(s), where="post", label=label)
    b.set_xlim(lo, hi)
    b.set_title(f"CDF: KS D {f['ks']:.3f}, p {f['p_value']:.2g}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_html(
    report: dict[str, Any], values: dict[str, tuple[np.ndarray, np.ndarray]], out: Path
) -> None:
    """A self-contained HTML page: the verdict, a table per measure, a plot per column."""
    rows, plots = [], []
    for f in report["features"] + report["prediction"]:
        flag = "DRIFT" if f["drifted"] else "ok"
        rows.append(
            f"<tr class='{flag.lower()}'><td>{html.escape(f['feature'])}</td>"
            f"<td>{f['psi']:.4f}</td><td>{f['ks']:.4f}</td><td>{f['p_value']:.3g}</td><td>{f['n_reference']:,}</td>"
            f"<td>{f['n_live']:,}</td><td>{flag}</td></tr>"
        )
        png = _plot(f["feature"], *values[f["feature"]], f)
        plots.append(f"<img alt='{html.escape(f['feature'])}' src='data:image/png;base64,{png}'>")
    ref, live, cfg = report["reference"], report["live"], report["config"]
    verdict = "drift" if report["drifted"] else "no drift"
    pred = report["prediction_drifted"]
    pred_text = "" if pred is None else f"; predictions: {'drift' if pred else 'no drift'}"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>FlowSense drift report</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} tr.drift{{background:#fdd}}
img{{display:block;margin:1em 0}}</style></head><body>
<h1>Drift: {verdict}{pred_text}</h1>
<p>Reference: {html.escape(ref["path"])}, {_when(ref["from_ns"])} to {_when(ref["to_ns"])} UTC,
{ref["rows"]:,} rows.<br>Live: {html.escape(live["path"])}, {_when(live["from_ns"])} to
{_when(live["to_ns"])} UTC, {live["rows"]:,} rows.</p>
<p>A column drifts when PSI &ge; {cfg["psi_threshold"]} or the KS test rejects at
{cfg["alpha"]} with D &ge; {cfg["ks_threshold"]}; the window drifts when at least
{cfg["share"]:.0%} of its features do. Drifted features:
{html.escape(", ".join(report["drifted_features"]) or "none")}.</p>
<table><tr><th>column</th><th>PSI</th><th>KS D</th><th>p-value</th><th>reference rows</th>
<th>live rows</th><th></th></tr>
{"".join(rows)}
</table>
{"".join(plots)}
</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
