"""Direction labels against hand-worked examples and plain loops, and no look-ahead in features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataflows.readers import discover, read_feed
from operators.ensemble import HawkesPredictor
from operators.features import FeatureState
from operators.hawkes import HawkesParams
from operators.labels import event_labels, last_move, time_labels
from operators.model_inputs import InputState
from operators.predictors import RollingOfiPredictor
from operators.validate import Validator
from schemas.market import TickBatch


def test_point_labels_by_hand():
    mid = np.array([10.0, 10.0, 11.0, 10.5, 10.5, 9.0])
    y, valid = event_labels(mid, 2)
    # m[t+2] vs m[t]: 11>10 up, 10.5>10 up, 10.5<11 down, 9<10.5 down; last two have no future
    assert y[:4].tolist() == [1, 1, -1, -1]
    assert valid.tolist() == [True] * 4 + [False] * 2


def test_smoothed_labels_equal_a_plain_loop():
    rng = np.random.default_rng(3)
    mid = 100 + np.cumsum(rng.choice([-0.01, 0, 0.01], 500))
    h, alpha = 7, 2e-5
    y, valid = event_labels(mid, h, alpha, "smoothed")
    for t in range(len(mid)):
        if t + h >= len(mid):
            assert not valid[t]
            continue
        change = (sum(mid[t + 1 : t + h + 1]) / h - mid[t]) / mid[t]
        want = 1 if change > alpha else -1 if change < -alpha else 0
        assert valid[t] and y[t] == want, t


def test_time_labels_take_the_mid_as_of_the_horizon():
    ts = np.array([0, 1, 2, 5, 9, 10]) * 1_000_000_000
    mid = np.array([10.0, 11.0, 9.0, 12.0, 10.0, 10.0])
    y, valid = time_labels(ts, mid, 3_000_000_000)
    # t=0 -> mid at 3s is the one of t=2 (9); t=1 -> t=2..4: 9 (row 2); t=2 -> 5s: 12
    assert y[:3].tolist() == [-1, -1, 1]
    assert valid.tolist() == [True, True, True, True, False, False]


def test_last_move_carries_across_batches():
    mid = np.array([1.0, 1.0, 2.0, 2.0, 1.5, 1.5, 1.5])
    whole, _, _ = last_move(mid)
    assert whole.tolist() == [0, 0, 1, 1, -1, -1, -1]
    a, m, d = last_move(mid[:3])
    b, _, _ = last_move(mid[3:], m, d)
    assert np.concatenate([a, b]).tolist() == whole.tolist()


def _ticks(path: Path) -> TickBatch:
    (feed,) = discover(path)
    (data,) = list(read_feed(feed, None, None))
    ok, _ = Validator().update(data.ticks)
    return ok


def _take(t: TickBatch, idx: np.ndarray) -> TickBatch:
    arrays = ("ts_event", "seq", "flags", "bid_px", "bid_sz", "ask_px", "ask_sz")
    cols = {k: getattr(t, k)[idx].copy() for k in (*arrays, "trade_px", "trade_sz")}
    return TickBatch(t.instrument, **cols)


@pytest.mark.parametrize("cut", [700, 1500])
def test_no_look_ahead_changing_the_future_leaves_the_past(lobster_sample, cut):
    """Features, model inputs and predictions of rows <= cut do not move when rows after it do."""
    ticks = _ticks(lobster_sample("AMZN", 5, 2000))
    n = len(ticks)
    # Another future: the rows after ``cut`` replaced by rows from the start, shifted in time.
    future = np.arange(cut + 1, n) - (cut + 1)
    other = _take(ticks, np.concatenate([np.arange(cut + 1), future]))
    shift = ticks.ts_event[cut] - other.ts_event[cut + 1] + 1
    other.ts_event[cut + 1 :] += shift
    other.seq[cut + 1 :] = np.arange(cut + 1, n)
    params = HawkesParams(np.array([0.3, 0.3]), np.array([[0.3, 0.1], [0.1, 0.3]]), 2.0)
    outs = []
    for t in (ticks, other):
        f = FeatureState(t.instrument).update(t)
        x, lam = InputState(params).update(f)
        ofi = RollingOfiPredictor().update(f).columns["confidence"]
        hp = HawkesPredictor(warmup_moves=50).update(f).columns["hawkes_p_up"]
        outs.append((f, x, lam, ofi, hp))
    (f0, x0, l0, o0, h0), (f1, x1, l1, o1, h1) = outs
    past = slice(0, cut + 1)
    for name in f0.columns:
        np.testing.assert_array_equal(f0[name][past], f1[name][past], err_msg=name)
    np.testing.assert_array_equal(x0[past], x1[past])
    np.testing.assert_array_equal(l0[past], l1[past])
    np.testing.assert_array_equal(o0[past], o1[past])
    np.testing.assert_array_equal(h0[past], h1[past])
    # The future did change (so the test could have failed), and so did its features.
    assert not np.array_equal(f0["mid"][cut + 1 :], f1["mid"][cut + 1 :])
    assert not np.array_equal(x0[cut + 1 :], x1[cut + 1 :])
