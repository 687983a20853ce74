"""``flowsense evaluate``: every model and the naive baselines on held-out data, with plots.

Models run causally over all rows of the data, as in the dataflow (one
stream per symbol, the same predictor states); only rows at or after
``score_from`` (all rows by default) with a label are scored, so earlier
rows (say, the previous day of a Binance stream, whose book the held-out
day continues) only warm the states up.

Baselines: ``majority`` (the most frequent training class, with the
training class frequencies as probabilities), ``last_move`` (the direction
of the last mid change persists) and ``ofi_sign`` (the sign of the
decayed best-level OFI, the ``ofi`` predictor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from flowsense.models.dataset import load_labelled
from flowsense.models.metrics import CLASS_NAMES, classification, pnl_curve
from flowsense.settings import Settings
from operators.ensemble import (
    PROBA_COLUMNS,
    EnsemblePredictor,
    HawkesPredictor,
    TransformerPredictor,
)
from operators.labels import last_move
from operators.predictors import RollingOfiPredictor

MODELS = ("hawkes", "transformer", "ensemble")
BASELINES = ("majority", "last_move", "ofi_sign")


def _predict_all(bundle: Any, features) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """(direction, probabilities or None) per model and baseline, for every row."""
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    n = len(features)
    counts = np.asarray(bundle.meta.get("class_counts_train", [1, 1, 1]), float)
    prior = counts / counts.sum()
    out["majority"] = (np.full(n, int(prior.argmax()) - 1, np.int8), np.tile(prior, (n, 1)))
    out["last_move"] = (last_move(features["mid"])[0], None)
    ofi = RollingOfiPredictor().update(features).columns
    out["ofi_sign"] = (ofi["direction"], None)
    predictors = {
        "hawkes": HawkesPredictor(bundle.hawkes, min_confidence=bundle.hawkes_min_confidence),
        "transformer": TransformerPredictor(bundle),
        "ensemble": EnsemblePredictor(bundle),
    }
    for name, p in predictors.items():
        c = p.update(features).columns
        proba = np.column_stack([c[k] for k in PROBA_COLUMNS])
        out[name] = (c["direction"], None if name == "hawkes" else proba)
    return out


def evaluate(
    settings: Settings,
    data_path: Path,
    bundle: Any,
    out_dir: Path,
    score_from_ns: int | None = None,
    symbols: list[str] | None = None,
    plots: bool = True,
) -> dict:
    """Scores of every model and baseline on ``data_path``, plots written under ``out_dir``."""
    mc = settings.models.model_copy(
        update={
            k: bundle.meta[k]
            for k in ("horizon", "label_method", "label_alpha")
            if k in bundle.meta
        }
    )
    data = load_labelled(data_path, mc, settings.cache_dir)
    if symbols:
        missing = sorted(set(symbols) - set(data))
        if missing:
            raise ValueError(f"{data_path}: no symbol {', '.join(missing)}; has {', '.join(data)}")
        data = {s: d for s, d in data.items() if s in symbols}
    y, mids, preds = [], [], {}
    per_symbol_pnl: dict[str, dict[str, float]] = {}
    curves: dict[str, dict[str, np.ndarray]] = {}
    for symbol, d in data.items():
        scored = d.valid.copy()
        if score_from_ns is not None:
            scored &= d.features["ts_event"] >= score_from_ns
        if not scored.any():
            continue
        res = _predict_all(bundle, d.features)
        y.append(d.labels[scored])
        mids.append(d.features["mid"][scored])
        for name, (direction, proba) in res.items():
            dirs, probs = preds.setdefault(name, ([], []))
            dirs.append(direction[scored])
            probs.append(None if proba is None else proba[scored])
            curve = pnl_curve(direction[scored], d.features["mid"][scored])
            curves.setdefault(symbol, {})[name] = curve
            per_symbol_pnl.setdefault(symbol, {})[name] = float(curve[-1]) if len(curve) else 0.0
    if not y:
        raise ValueError(f"{data_path}: no labelled rows to score (check --score-from / --symbol)")
    y_all = np.concatenate(y)
    results = {}
    for name in (*BASELINES, *MODELS):
        dirs, probs = preds[name]
        proba = None if probs[0] is None else np.concatenate(probs)
        m = classification(y_all, np.concatenate(dirs), proba)
        m["pnl"] = {s: per_symbol_pnl[s][name] for s in per_symbol_pnl}
        results[name] = m
    best_baseline = max(BASELINES, key=lambda b: results[b]["macro_f1"])
    report = {
        "data": str(data_path),
        "model": bundle.meta.get("trained_on"),
        "data_fingerprint": bundle.meta.get("data_fingerprint"),
        "score_from_ns": score_from_ns,
        "symbols": sorted(per_symbol_pnl),
        "rows_scored": len(y_all),
        "label": {k: mc.model_dump()[k] for k in ("horizon", "label_method", "label_alpha")},
        "class_share": dict(
            zip(
                CLASS_NAMES,
                (np.bincount(y_all + 1, minlength=3) / len(y_all)).tolist(),
                strict=True,
            )
        ),
        "results": results,
        "ensemble_beats_baselines": bool(
            results["ensemble"]["macro_f1"] > results[best_baseline]["macro_f1"]
        ),
        "best_baseline": best_baseline,
        "plots": [],
    }
    if plots:
        report["plots"] = [str(p) for p in write_plots(out_dir, results, preds, y_all, curves)]
    return report


def write_plots(
    out_dir: Path, results: dict, preds: dict, y: np.ndarray, curves: dict
) -> list[Path]:
    """Confusion matrices, calibration (models with probabilities), cumulative PnL: PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(results)
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for ax, name in zip(axes.ravel(), names, strict=False):
        m = np.asarray(results[name]["confusion"], float)
        share = m / np.maximum(m.sum(1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(3):
            for j in range(3):
                ax.text(
                    j,
                    i,
                    f"{int(m[i, j])}\n{share[i, j]:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if share[i, j] < 0.6 else "white",
                )
        ax.set_xticks(range(3), CLASS_NAMES)
        ax.set_yticks(range(3), CLASS_NAMES)
        ax.set_title(f"{name}: macro F1 {results[name]['macro_f1']:.3f}")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    confusion_png = out_dir / "confusion.png"
    fig.savefig(confusion_png, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name in ("transformer", "ensemble", "majority"):
        proba = np.concatenate(preds[name][1])
        conf = proba.max(1)
        hit = (proba.argmax(1) - 1) == y
        bins = np.linspace(0, 1, 11)
        idx = np.clip(np.digitize(conf, bins) - 1, 0, 9)
        xs, ys = [], []
        for b in range(10):
            sel = idx == b
            if sel.sum() >= 20:
                xs.append(conf[sel].mean())
                ys.append(hit[sel].mean())
        ax.plot(xs, ys, "o-", label=name)
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy")
    ax.set_title("calibration (bins of >= 20 rows)")
    ax.legend()
    fig.tight_layout()
    calib_png = out_dir / "calibration.png"
    fig.savefig(calib_png, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(len(curves), 1, figsize=(9, 3.5 * len(curves)), squeeze=False)
    for ax, (symbol, by_model) in zip(axes[:, 0], curves.items(), strict=True):
        for name, curve in by_model.items():
            ax.plot(curve, label=name, lw=1.5 if name == "ensemble" else 1)
        ax.set_title(f"{symbol}: cumulative PnL of one unit at the mid, no costs")
        ax.set_xlabel("scored row")
        ax.set_ylabel("PnL (quote currency)")
        ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    pnl_png = out_dir / "pnl.png"
    fig.savefig(pnl_png, dpi=110)
    plt.close(fig)
    return [confusion_png, calib_png, pnl_png]
