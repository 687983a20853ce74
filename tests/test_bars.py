"""Event-time bars against a plain-Python reference; alignment; batch invariance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows.offline import compute
from operators.bars import BarState
from tests.conftest import lobster
from tests.reference.ofi_ref import bars as ref_bars

DAY = 86_400 * 10**9


def _run(state: BarState, ts, e, mid, trade, cuts=()):
    out = []
    edges = [0, *sorted(cuts), len(ts)]
    for a, b in itertools.pairwise(edges):
        out.append(state.update(ts[a:b], e[a:b, None], mid[a:b], trade[a:b]))
    out.append(state.flush())
    return {k: np.concatenate([o[k] for o in out]) for k in out[0]}


@pytest.fixture(scope="module")
def amzn_events():
    f, _ = compute(lobster("AMZN", "message", 1))
    return (
        f["ts_event"].to_numpy(),
        f["ofi"].to_numpy(),
        f["mid"].to_numpy(),
        f["trade_sz"].to_numpy(),
    )


@pytest.mark.parametrize("bar_s", [1, 7, 10, 60])
def test_bars_with_real_events_equal_reference(amzn_events, bar_s):
    ts, e, mid, trade = amzn_events
    got = _run(BarState(bar_s * 10**9, 1), ts, e, mid, trade)
    want = ref_bars(ts.tolist(), e.tolist(), mid.tolist(), trade.tolist(), bar_s * 10**9)
    assert len(got["ts_event"]) == len(want)
    for key in ("ts_event", "n_events"):
        assert got[key].tolist() == [w[key] for w in want]
    for key in ("ofi", "dmid", "trade_imbalance", "volume"):
        np.testing.assert_allclose(got[key], [w[key] for w in want], rtol=0, atol=1e-9)
    # Mid changes add up: the sum of dmid is the day's mid change.
    valid = mid[~np.isnan(mid)]
    assert got["dmid"].sum() == pytest.approx(valid[-1] - valid[0], abs=1e-6)
    assert got["n_events"].sum() == len(ts)


def test_bars_are_half_open_and_aligned_since_midnight_utc():
    day0 = 19_000 * DAY
    ts = np.array(
        [day0, day0 + 7 * 10**9 - 1, day0 + 7 * 10**9, DAY + day0 - 1, DAY + day0], np.int64
    )
    one = np.ones(len(ts))
    got = _run(BarState(7 * 10**9, 1), ts, one, one, np.zeros(len(ts)))
    # 86400 is not a multiple of 7: the day's last bar stops at midnight.
    assert got["ts_event"].tolist() == [
        day0 + 7 * 10**9,
        day0 + 14 * 10**9,
        day0 + DAY,
        day0 + DAY + 7 * 10**9,
    ]
    assert got["n_events"].tolist() == [2, 1, 1, 1]


@given(cuts=st.lists(st.integers(1, 4999), max_size=6, unique=True))
@settings(max_examples=25, deadline=None)
def test_bars_do_not_depend_on_batch_boundaries(amzn_events, cuts):
    ts, e, mid, trade = (a[:5000] for a in amzn_events)
    whole = _run(BarState(10**9, 1), ts, e, mid, trade)
    split = _run(BarState(10**9, 1), ts, e, mid, trade, cuts)
    for key in whole:
        np.testing.assert_array_equal(whole[key], split[key])
