"""Pluggable predictors: per-symbol state that turns feature batches into prediction batches.

A predictor is chosen by name (``flowsense replay --predictor NAME``). This
module holds the baseline: the sign of the rolling (exponentially decayed,
in event time) best-level OFI, and its deliberately bad mirror image
``inverted``; the registry also names the models of ``operators.ensemble``
(``hawkes``, ``transformer``, ``ensemble``). ``transformer`` and ``ensemble``
need a trained ``ModelBundle`` (``NEEDS_MODEL``), which the dataflow loads
and passes in; their modules (and torch) are imported only when chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numba import njit

from schemas.features import FeatureBatch
from schemas.trading import PredictionBatch


class Predictor(Protocol):
    """Per-symbol predictor state."""

    name: str

    def update(self, features: FeatureBatch) -> PredictionBatch: ...


@njit(cache=True, nogil=True)
def decayed_ofi(ts, ofi, tau_ns, state, last_ts):  # pragma: no cover - numba
    """S_n = S_{n-1} exp(-(t_n - t_{n-1}) / tau) + e_n and the same for |e_n|.

    ``state`` = [S, A] and ``last_ts`` = [time of the last row, -1 if none]
    are updated in place. Returns (S_n, A_n) per row.
    """
    n = len(ts)
    s_out = np.empty(n)
    a_out = np.empty(n)
    s, a, last = state[0], state[1], last_ts[0]
    for i in range(n):
        if last >= 0:
            decay = math.exp(-(ts[i] - last) / tau_ns)
            s *= decay
            a *= decay
        s += ofi[i]
        a += abs(ofi[i])
        last = ts[i]
        s_out[i] = s
        a_out[i] = a
    state[0], state[1], last_ts[0] = s, a, last
    return s_out, a_out


@dataclass(slots=True)
class RollingOfiPredictor:
    """Direction = sign of the decayed OFI; confidence = |decayed OFI| / decayed |OFI|.

    Confidence is the share of recent order flow that pushed one way: 1 when
    every recent event pushed the same way, near 0 when they cancel out.
    """

    half_life_s: float = 5.0
    sign: int = 1
    name: str = "ofi"
    _state: np.ndarray = field(init=False, repr=False)
    _last_ts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.half_life_s <= 0:
            raise ValueError("half_life_s must be positive")
        self._state = np.zeros(2)
        self._last_ts = np.array([-1], np.int64)

    def update(self, features: FeatureBatch) -> PredictionBatch:
        tau_ns = self.half_life_s * 1e9 / math.log(2)
        ts = features["ts_event"]
        s, a = decayed_ofi(ts, features["ofi"], tau_ns, self._state, self._last_ts)
        with np.errstate(invalid="ignore", divide="ignore"):
            confidence = np.where(a > 0, np.abs(s) / a, 0.0)
        direction = (np.sign(s) * self.sign).astype(np.int8)
        return PredictionBatch(
            instrument=features.instrument,
            model=self.name,
            columns={
                "ts_event": ts,
                "seq": features["seq"],
                "direction": direction,
                "confidence": confidence,
                "bid_px": features["bid_px"],
                "ask_px": features["ask_px"],
                "mid": features["mid"],
            },
        )


def _hawkes(bundle: Any) -> Predictor:
    from operators.ensemble import HawkesPredictor

    if bundle is None:
        return HawkesPredictor()
    return HawkesPredictor(bundle.hawkes, min_confidence=bundle.hawkes_min_confidence)


def _transformer(bundle: Any) -> Predictor:
    from operators.ensemble import TransformerPredictor

    return TransformerPredictor(bundle)


def _ensemble(bundle: Any) -> Predictor:
    from operators.ensemble import EnsemblePredictor

    return EnsemblePredictor(bundle)


PREDICTORS: dict[str, Callable[[Any], Predictor]] = {
    "ofi": lambda _: RollingOfiPredictor(),
    "inverted": lambda _: RollingOfiPredictor(sign=-1, name="inverted"),
    "hawkes": _hawkes,
    "transformer": _transformer,
    "ensemble": _ensemble,
}
NEEDS_MODEL = frozenset({"transformer", "ensemble"})
"""Predictors that cannot run without a trained ``ModelBundle``."""


def make_predictor(name: str, bundle: Any = None) -> Predictor:
    """A fresh per-symbol predictor by name; ``KeyError`` names the ones there are.

    ``bundle`` is the trained ``operators.ensemble.ModelBundle`` (needed by
    ``NEEDS_MODEL``; ``hawkes`` uses its parameters when given).
    """
    if name not in PREDICTORS:
        raise KeyError(f"unknown predictor {name!r}; available: {', '.join(sorted(PREDICTORS))}")
    if name in NEEDS_MODEL and bundle is None:
        raise ValueError(f"predictor {name!r} needs a trained model bundle")
    return PREDICTORS[name](bundle)
