"""Model bundle, the transformer and Hawkes predictors, and the stacked ensemble.

A ``ModelBundle`` is what ``flowsense train`` produces (and the dataflow
loads): fitted Hawkes parameters, the exported transformer, its window and
the stacker. The predictors here are per-symbol states like the OFI
baseline; torch is imported only when a transformer actually runs.

Every model emits class probabilities (``p_down``, ``p_flat``, ``p_up``);
``direction`` is the most likely class and ``confidence`` its probability.
The ensemble keeps each member's direction and confidence in its
prediction (``ofi_*``, ``hawkes_*``, ``transformer_*`` columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from operators.hawkes import HawkesIntensity, HawkesParams, fit, mid_moves, p_up
from operators.model_inputs import INPUT_LEVELS, InputState
from operators.predictors import RollingOfiPredictor
from schemas.features import FeatureBatch
from schemas.trading import PredictionBatch

PROBA_COLUMNS = ("p_down", "p_flat", "p_up")
MEMBER_COLUMNS = tuple(
    f"{m}_{c}" for m in ("ofi", "hawkes", "transformer") for c in ("direction", "confidence")
)


@dataclass(frozen=True, slots=True)
class Stacker:
    """Multinomial logistic regression on member outputs: softmax(x W^T + b)."""

    weights: np.ndarray
    """(3, k)"""
    bias: np.ndarray
    """(3,)"""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_dict(self) -> dict:
        return {"weights": self.weights.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Stacker:
        return cls(np.asarray(d["weights"], float), np.asarray(d["bias"], float))


def stack_inputs(ofi_signed: np.ndarray, hawkes_p_up: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Stacker inputs: OFI direction x confidence, Hawkes 2p-1, transformer log-probabilities."""
    return np.column_stack([ofi_signed, 2 * hawkes_p_up - 1, np.log(np.clip(proba, 1e-6, 1))])


_SHARED: list[ModelBundle] = []


def share(bundle: ModelBundle) -> ModelBundle:
    """Make ``bundle`` the one this process's predictors resume with (see ``__reduce__``)."""
    _SHARED[:] = [bundle]
    return bundle


def _shared() -> ModelBundle:
    if not _SHARED:
        raise RuntimeError("a predictor was resumed before its model was loaded (share())")
    return _SHARED[0]


@dataclass(frozen=True, slots=True)
class ModelBundle:
    """What the dataflow needs to run the trained models.

    A snapshot of a predictor (Bytewax recovery) refers to its bundle rather than
    copying it (a TorchScript module does not pickle): it resumes with the bundle the
    resumed process loaded and ``share``d, the one the settings name."""

    def __reduce__(self) -> tuple:
        return (_shared, ())

    hawkes: HawkesParams
    transformer: Any
    """A TorchScript ``OrderFlowTransformer``: (batch, rows, inputs) -> logits per row."""
    window: int
    stacker: Stacker | None = None
    levels: int = INPUT_LEVELS
    hawkes_min_confidence: float = 0.2
    meta: dict = field(default_factory=dict)


def hawkes_proba(prob_up: np.ndarray, min_confidence: float) -> np.ndarray:
    """3-class view of the Hawkes signal: flat unless |2p-1| >= min_confidence."""
    skew = 2 * prob_up - 1
    out = np.zeros((len(prob_up), 3))
    moving = np.abs(skew) >= min_confidence
    out[:, 1] = np.where(moving, 0.0, 1.0)
    out[:, 2] = np.where(moving, prob_up, 0.0)
    out[:, 0] = np.where(moving, 1 - prob_up, 0.0)
    return out


def _batch(features: FeatureBatch, model: str, proba: np.ndarray, **extra) -> PredictionBatch:
    """A prediction batch from class probabilities (n, 3) in the order down, flat, up."""
    n = len(features)
    cls = proba.argmax(axis=1) if n else np.zeros(0, np.int64)
    cols = {
        "ts_event": features["ts_event"],
        "seq": features["seq"],
        "direction": (cls - 1).astype(np.int8),
        "confidence": proba[np.arange(n), cls] if n else np.zeros(0),
        "bid_px": features["bid_px"],
        "ask_px": features["ask_px"],
        "mid": features["mid"],
        **{k: proba[:, i] for i, k in enumerate(PROBA_COLUMNS)},
        **extra,
    }
    return PredictionBatch(instrument=features.instrument, model=model, columns=cols)


@dataclass(slots=True)
class HawkesPredictor:
    """Direction of the next mid move from the online Hawkes intensities.

    With ``params`` (from a trained bundle) it predicts from the first row.
    Without, it fits causally on the symbol's first ``warmup_moves`` mid
    moves (predicting flat until then) and keeps those parameters.
    """

    params: HawkesParams | None = None
    warmup_moves: int = 300
    min_confidence: float = 0.2
    name: str = "hawkes"
    _intensity: HawkesIntensity | None = None
    _times: list = field(default_factory=list)
    _marks: list = field(default_factory=list)
    _last_mid: float = float("nan")

    def update(self, features: FeatureBatch) -> PredictionBatch:
        n = len(features)
        prob = np.full(n, 0.5)
        ts, mid = features["ts_event"], features["mid"]
        start = 0
        if self._intensity is None and self.params is not None:
            self._intensity = HawkesIntensity(self.params)
        if self._intensity is None:
            start = self._warm_up(ts, mid)
        if self._intensity is not None and start < n:
            prob[start:] = p_up(self._intensity.update(ts[start:], mid[start:]))
        return _batch(
            features, self.name, hawkes_proba(prob, self.min_confidence), hawkes_p_up=prob
        )

    def _warm_up(self, ts: np.ndarray, mid: np.ndarray) -> int:
        """Collect moves; at the row that completes the warm-up, fit. The next row to predict."""
        n = len(ts)
        marks, _ = mid_moves(mid, self._last_mid)
        moved = np.flatnonzero(marks >= 0)
        need = self.warmup_moves - sum(len(t) for t in self._times)
        end = n  # rows [0, end) are taken in this call
        if len(moved) >= need:
            end = int(moved[max(need, 1) - 1]) + 1
        taken = moved[moved < end]
        self._times.append(ts[taken] / 1e9)
        self._marks.append(marks[taken])
        finite = mid[:end][np.isfinite(mid[:end])]
        if len(finite):
            self._last_mid = float(finite[-1])
        times, kinds = np.concatenate(self._times), np.concatenate(self._marks)
        if len(times) < self.warmup_moves or len(np.unique(kinds)) < 2:
            return n if end == n else self._warm_up_rest(ts, mid, end)
        self.params = fit(times, kinds)
        self._times, self._marks = [], []
        self._intensity = HawkesIntensity(self.params, last_mid=self._last_mid)
        self._intensity.replay(times, kinds)
        return end

    def _warm_up_rest(self, ts: np.ndarray, mid: np.ndarray, end: int) -> int:
        """Warm-up count reached with one move type only: keep collecting the batch's rest."""
        rest = self._warm_up(ts[end:], mid[end:])
        return end + rest


@dataclass(slots=True)
class TransformerPredictor:
    """The exported transformer over each batch and the rows just before it (its context)."""

    bundle: ModelBundle
    name: str = "transformer"
    _inputs: InputState = field(init=False)
    _context: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._inputs = InputState(self.bundle.hawkes, self.bundle.levels)

    def proba(self, features: FeatureBatch) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities (n, 3) and Hawkes p_up (n,) of the batch's rows."""
        from operators.transformer import context_rows, predict_proba

        x, lam = self._inputs.update(features)
        model = self.bundle.transformer
        context = self._context if self._context is not None else x[:0]
        proba = predict_proba(model, context, x)
        keep = context_rows(model)
        self._context = np.concatenate([context, x])[-keep:] if keep else x[:0]
        return proba, p_up(lam)

    def update(self, features: FeatureBatch) -> PredictionBatch:
        proba, _ = self.proba(features)
        return _batch(features, self.name, proba)


@dataclass(slots=True)
class EnsemblePredictor:
    """Stacked OFI, Hawkes and transformer: the stacker's probabilities, members kept."""

    bundle: ModelBundle
    name: str = "ensemble"
    _ofi: RollingOfiPredictor = field(default_factory=RollingOfiPredictor)
    _transformer: TransformerPredictor = field(init=False)

    def __post_init__(self) -> None:
        if self.bundle.stacker is None:
            raise ValueError("the model bundle has no stacker; train it with flowsense train")
        self._transformer = TransformerPredictor(self.bundle)

    def update(self, features: FeatureBatch) -> PredictionBatch:
        ofi = self._ofi.update(features).columns
        tproba, hp = self._transformer.proba(features)
        ofi_signed = ofi["direction"] * ofi["confidence"]
        proba = self.bundle.stacker.predict_proba(stack_inputs(ofi_signed, hp, tproba))
        hproba = hawkes_proba(hp, self.bundle.hawkes_min_confidence)
        members = {
            "ofi_direction": ofi["direction"],
            "ofi_confidence": ofi["confidence"],
            "hawkes_direction": (hproba.argmax(axis=1) - 1).astype(np.int8),
            "hawkes_confidence": hproba.max(axis=1) if len(hp) else np.zeros(0),
            "transformer_direction": (tproba.argmax(axis=1) - 1).astype(np.int8),
            "transformer_confidence": tproba.max(axis=1) if len(hp) else np.zeros(0),
        }
        return _batch(features, self.name, proba, **members)
