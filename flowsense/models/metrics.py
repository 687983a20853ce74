"""Classification and trading metrics of direction predictions (down / flat / up)."""

from __future__ import annotations

import numpy as np

CLASS_NAMES = ("down", "flat", "up")


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """3x3 counts, rows = true class, columns = predicted (index = direction + 1)."""
    m = np.zeros((3, 3), np.int64)
    np.add.at(m, (np.asarray(y_true) + 1, np.asarray(y_pred) + 1), 1)
    return m


def classification(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None) -> dict:
    """Accuracy, macro F1, per-class precision/recall/F1 and, with probabilities, log-loss."""
    m = confusion(y_true, y_pred)
    tp = np.diag(m).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(m.sum(0) > 0, tp / m.sum(0), 0.0)
        recall = np.where(m.sum(1) > 0, tp / m.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    n = int(m.sum())
    out = {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(m.sum(1)[i]),
            }
            for i, c in enumerate(CLASS_NAMES)
        },
        "confusion": m.tolist(),
        "log_loss": None,
    }
    if proba is not None and n:
        p = np.clip(proba[np.arange(n), np.asarray(y_true) + 1], 1e-15, 1)
        out["log_loss"] = float(-np.log(p).mean())
    return out


def pnl_curve(direction: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Cumulative PnL of holding ``direction`` (one unit) from each row to the next, at the mid.

    No spread, fees or latency: a measure of the signal, not of a strategy.
    """
    dm = np.diff(np.asarray(mid, float), append=np.nan)
    step = np.nan_to_num(np.asarray(direction, float) * dm)
    return np.cumsum(step)
