"""Predictor and strategy at their boundaries (risk and execution: test_risk, test_paper_broker)."""

from __future__ import annotations

import numpy as np
import pytest

from operators.config import StrategyConfig
from operators.predictors import make_predictor
from operators.strategy import Strategy
from schemas.features import FeatureBatch
from schemas.market import Instrument
from schemas.trading import PredictionBatch

INS = Instrument("TEST", price_scale=100, size_scale=1, tick=1, levels=1)
S = 10**9


def _features(ts, ofi):
    n = len(ts)
    return FeatureBatch(
        INS,
        {
            "ts_event": np.asarray(ts, np.int64),
            "seq": np.arange(n),
            "ofi": np.asarray(ofi, float),
            "bid_px": np.full(n, 99.0),
            "ask_px": np.full(n, 101.0),
            "mid": np.full(n, 100.0),
        },
    )


def test_rolling_ofi_decays_with_its_half_life_and_inverted_flips_it():
    p = make_predictor("ofi")
    out = p.update(_features([0, 5 * S, 5 * S], [100.0, 0.0, -40.0])).columns
    # After one half-life (5 s) 100 decays to 50; then -40 arrives: S = 10, A = 90.
    assert out["direction"].tolist() == [1, 1, 1]
    assert out["confidence"][1] == pytest.approx(1.0)
    assert out["confidence"][2] == pytest.approx(10 / 90)
    inv = (
        make_predictor("inverted").update(_features([0, 5 * S, 5 * S], [100.0, 0.0, -40.0])).columns
    )
    assert inv["direction"].tolist() == [-1, -1, -1]
    with pytest.raises(KeyError, match="available: ensemble, hawkes, inverted, ofi, transformer"):
        make_predictor("nope")


def _predictions(ts, direction, confidence, mid=100.0):
    n = len(ts)
    return PredictionBatch(
        INS,
        "ofi",
        {
            "ts_event": np.asarray(ts, np.int64),
            "seq": np.arange(n),
            "direction": np.asarray(direction, np.int8),
            "confidence": np.asarray(confidence, float),
            "bid_px": np.full(n, 99.0),
            "ask_px": np.full(n, 101.0),
            "mid": np.broadcast_to(np.asarray(mid, float), n).copy(),
        },
    )


def test_strategy_acts_on_confident_changes_only_after_cooldown():
    s = Strategy(StrategyConfig(threshold=0.5, cooldown_s=1.0, notional=1_000))
    ts = [0, S // 2, S // 2, S, 2 * S, 3 * S]
    direction = [1, -1, 1, -1, -1, 0]
    confidence = [0.9, 0.9, 0.9, 0.4, 0.6, 1.0]
    got = s.update(_predictions(ts, direction, confidence))
    # row 1: in the cooldown; 2: same target; 3: not confident; 4: flips; 5: flat.
    assert [(t.seq, t.target) for t in got] == [(0, 10.0), (4, -10.0)]
    more = s.update(_predictions([2 * S + S // 2], [1], [1.0]))  # state carries across batches
    assert more == []


def test_strategy_sizes_by_notional_in_whole_lots_and_holds_its_side():
    s = Strategy(StrategyConfig(threshold=0.5, cooldown_s=0, notional=1_050))
    got = s.update(
        _predictions([0, S, 2 * S], [1, 1, -1], [1.0, 1.0, 1.0], mid=[100.0, 50.0, 70.0])
    )
    # 1050 / 100 = 10.5 -> 10 shares; same side at a new price: hold; 1050 / 70 = 15 short.
    assert [(t.seq, t.target) for t in got] == [(0, 10.0), (2, -15.0)]
