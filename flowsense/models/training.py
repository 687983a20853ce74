"""``flowsense train``: fit Hawkes, train the transformer, stack the ensemble, log to MLflow.

On the training data, per symbol, the first ``1 - val_fraction`` of the rows
train the Hawkes process and the transformer; the rest (later in time) is
the validation split on which the stacker is fit and the validation figures
are measured. Nothing of the evaluation data is seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flowsense.models.dataset import Labelled, fingerprint, load_labelled, slice_batch
from flowsense.models.metrics import classification
from flowsense.settings import Settings
from operators.ensemble import ModelBundle, Stacker, hawkes_proba, stack_inputs
from operators.hawkes import HawkesParams, fit, mid_moves
from operators.model_inputs import InputState, input_names
from operators.predictors import RollingOfiPredictor

Progress = Callable[[str, int, int], None]


def fit_hawkes(data: dict[str, Labelled], split: dict[str, int]) -> tuple[HawkesParams, str]:
    """Hawkes MLE on the mid moves of the training part of the symbol with the most moves."""
    best = None
    for symbol, d in data.items():
        f = slice_batch(d.features, slice(0, split[symbol]))
        marks, _ = mid_moves(f["mid"], float("nan"))
        moved = marks >= 0
        if best is None or moved.sum() > best[0]:
            best = (int(moved.sum()), symbol, f["ts_event"][moved] / 1e9, marks[moved])
    _, symbol, times, marks = best
    return fit(times, marks), symbol


def fit_stacker(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> Stacker:
    """Multinomial logistic regression, classes weighted to balance, by L-BFGS (scipy)."""
    from scipy.optimize import minimize

    k = x.shape[1]
    counts = np.bincount(y + 1, minlength=3).astype(float)
    w = (len(y) / (3 * np.maximum(counts, 1)))[y + 1]
    onehot = np.eye(3)[y + 1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        wt, b = theta[: 3 * k].reshape(3, k), theta[3 * k :]
        z = x @ wt.T + b
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        value = -(w * (onehot * logp).sum(1)).sum() / w.sum() + l2 * (wt**2).sum()
        r = (p - onehot) * w[:, None] / w.sum()
        grad = np.concatenate([(r.T @ x + 2 * l2 * wt).ravel(), r.sum(0)])
        return value, grad

    res = minimize(loss, np.zeros(3 * k + 3), jac=True, method="L-BFGS-B")
    return Stacker(res.x[: 3 * k].reshape(3, k), res.x[3 * k :])


TARGETS_PER_SEQUENCE = 64
SEQUENCES_PER_STEP = 8


def train_transformer(xs, ys, window: int, settings: Settings, progress: Progress | None):
    """Train on sampled stretches of rows: each is ``context_rows`` rows of context then 64
    rows whose labels count (-2: no label), classes weighted to balance."""
    import torch

    from operators.transformer import OrderFlowTransformer

    mc = settings.models
    torch.manual_seed(mc.seed)
    torch.set_num_threads(mc.threads)
    rng = np.random.default_rng(mc.seed)
    d = xs[0].shape[1]
    model = OrderFlowTransformer(d, window)
    model.set_scaler(np.concatenate(xs))
    ctx, k = model.context_rows, TARGETS_PER_SEQUENCE
    # Stretch starts: (symbol, first target row), targets [t, t + k) after ctx context rows.
    starts = np.array(
        [
            (i, t)
            for i, y in enumerate(ys)
            for t in range(ctx, len(y) - k + 1, k // 2)
            if (y[t : t + k] > -2).any()
        ]
    )
    y_all = np.concatenate([y[y > -2] for y in ys])
    counts = np.bincount(y_all + 1, minlength=3).astype(float)
    weights = torch.tensor(len(y_all) / (3 * np.maximum(counts, 1)), dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=-1)
    per_step = SEQUENCES_PER_STEP * k
    n_steps = max(1, min(mc.max_windows, len(starts) * k) // per_step)
    losses = []
    for epoch in range(mc.epochs):
        model.train()
        order = rng.permutation(len(starts))
        for s in range(n_steps):
            pick = starts[order[(s * SEQUENCES_PER_STEP) % len(starts) :][:SEQUENCES_PER_STEP]]
            if len(pick) == 0:
                break
            xb = torch.from_numpy(np.stack([xs[i][t - ctx : t + k] for i, t in pick]))
            yb = torch.from_numpy(np.stack([ys[i][t : t + k] + 1 for i, t in pick]))
            yb[yb < 0] = -1  # no label
            opt.zero_grad()
            logits = model(xb)[:, ctx:]
            loss = loss_fn(logits.reshape(-1, 3), yb.reshape(-1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if progress:
                progress("transformer", epoch * n_steps + s + 1, mc.epochs * n_steps)
    model.eval()
    return model, float(np.mean(losses[-max(1, n_steps) :])) if losses else float("nan")


def train(
    settings: Settings,
    data_path: Path,
    val_fraction: float = 0.2,
    out_dir: Path | None = None,
    log_mlflow: bool = True,
    progress: Progress | None = None,
) -> dict:
    """Train every model on ``data_path``; the bundle folder, MLflow ids and validation figures."""
    from operators.transformer import export, predict_proba

    if not 0 < val_fraction < 0.9:
        raise ValueError("val-fraction must be between 0 and 0.9")
    mc = settings.models
    start = time.perf_counter()
    data = load_labelled(data_path, mc, settings.cache_dir)
    split = {s: int(len(d) * (1 - val_fraction)) for s, d in data.items()}
    hawkes, hawkes_symbol = fit_hawkes(data, split)
    xs, ys, x_val, val = [], [], {}, {}
    for s, d in data.items():
        x, lam = InputState(hawkes).update(d.features)
        y = np.where(d.valid, d.labels, -2).astype(np.int64)
        # Labels of training rows must not reach into the validation rows.
        y_train = y[: split[s]].copy()
        y_train[max(split[s] - mc.horizon, 0) :] = -2
        xs.append(x[: split[s]])
        ys.append(y_train)
        x_val[s] = (x, lam)
        val[s] = y
    if sum(int((y > -2).sum()) for y in ys) < 100:
        raise ValueError(f"{data_path}: too few labelled rows to train on")
    model, train_loss = train_transformer(xs, ys, mc.window, settings, progress)
    window = mc.window
    # Validation split: every model on the later rows of each symbol.
    stack_x, stack_y, tp_all, hp_all = [], [], [], []
    for s, d in data.items():
        x, lam = x_val[s]
        lo = split[s]
        tproba = predict_proba(model, x[:lo], x[lo:])
        ofi = RollingOfiPredictor().update(d.features).columns
        hp = lam[lo:, 0] / np.maximum(lam[lo:, 0] + lam[lo:, 1], 1e-12)
        ok = val[s][lo:] > -2
        stack_x.append(stack_inputs((ofi["direction"] * ofi["confidence"])[lo:], hp, tproba)[ok])
        stack_y.append(val[s][lo:][ok])
        tp_all.append(tproba[ok])
        hp_all.append(hp[ok])
    sx, sy = np.concatenate(stack_x), np.concatenate(stack_y)
    stacker = fit_stacker(sx, sy)
    tproba = np.concatenate(tp_all)
    eproba = stacker.predict_proba(sx)
    hp = np.concatenate(hp_all)
    val_metrics = {
        "transformer": classification(sy, tproba.argmax(1) - 1, tproba),
        "ensemble": classification(sy, eproba.argmax(1) - 1, eproba),
        "hawkes": classification(sy, hawkes_proba(hp, 0.2).argmax(1) - 1, None),
    }
    y_train_all = np.concatenate([y[y > -2] for y in ys])
    class_counts = np.bincount(y_train_all + 1, minlength=3).tolist()
    meta = {
        "trained_on": str(data_path),
        "data_fingerprint": fingerprint(data_path),
        "symbols": sorted(data),
        "hawkes_fit_symbol": hawkes_symbol,
        "horizon": mc.horizon,
        "label_method": mc.label_method,
        "label_alpha": mc.label_alpha,
        "class_counts_train": class_counts,
        "inputs": input_names(),
        "trained_at": datetime.now(UTC).isoformat(),
    }
    bundle = ModelBundle(hawkes, export(model), window, stacker, meta=meta)
    from flowsense.models.artifacts import log_training_run, save_bundle

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = save_bundle(out_dir or settings.runs_dir / "models" / stamp, bundle)
    params = {
        "data": str(data_path),
        "window": window,
        "horizon": mc.horizon,
        "label_method": mc.label_method,
        "label_alpha": mc.label_alpha,
        "epochs": mc.epochs,
        "max_windows": mc.max_windows,
        "val_fraction": val_fraction,
        "seed": mc.seed,
        "threads": mc.threads,
        "inputs": len(input_names()),
    }
    metrics = {
        "train_loss": train_loss,
        "val_transformer_macro_f1": val_metrics["transformer"]["macro_f1"],
        "val_ensemble_macro_f1": val_metrics["ensemble"]["macro_f1"],
        "val_hawkes_macro_f1": val_metrics["hawkes"]["macro_f1"],
        "val_ensemble_log_loss": val_metrics["ensemble"]["log_loss"],
        "hawkes_spectral_radius": hawkes.spectral_radius,
        "train_rows": float(sum(split.values())),
    }
    tags = {"data_fingerprint": meta["data_fingerprint"], "symbols": ",".join(meta["symbols"])}
    logged = log_training_run(settings, folder, params, metrics, tags) if log_mlflow else {}
    return {
        "data": str(data_path),
        "bundle": str(folder),
        **logged,
        "symbols": meta["symbols"],
        "rows": {s: len(d) for s, d in data.items()},
        "hawkes": {
            **hawkes.to_dict(),
            "fit_on": hawkes_symbol,
            "spectral_radius": hawkes.spectral_radius,
        },
        "class_counts_train": dict(zip(("down", "flat", "up"), class_counts, strict=True)),
        "train_loss": train_loss,
        "validation": {
            k: {m: v[m] for m in ("accuracy", "macro_f1", "log_loss", "n")}
            for k, v in val_metrics.items()
        },
        "data_fingerprint": meta["data_fingerprint"],
        "elapsed_s": round(time.perf_counter() - start, 2),
    }
