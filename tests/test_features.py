"""Feature state: batch invariance, prices against independent formulas, the file contract."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflows.offline import compute
from dataflows.readers.lobster import read_lobster
from operators.features import FeatureState
from schemas.features import feature_columns
from tests.conftest import lobster


@pytest.fixture(scope="module")
def goog():
    return read_lobster(lobster("GOOG", "orderbook", 10)).ticks.take(slice(0, 20_000))


def _features(ticks, cuts=()):
    state = FeatureState(ticks.instrument)
    edges = [0, *sorted(cuts), len(ticks)]
    parts = [state.update(ticks.take(slice(a, b))).columns for a, b in itertools.pairwise(edges)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@given(cuts=st.lists(st.integers(1, 19_999), max_size=5, unique=True))
@settings(max_examples=15, deadline=None)
def test_features_do_not_depend_on_batch_boundaries(goog, cuts):
    whole = _features(goog)
    split = _features(goog, cuts)
    for key in whole:
        np.testing.assert_array_equal(whole[key], split[key], err_msg=key)


def test_prices_match_independent_formulas(goog):
    f = _features(goog)
    raw = np.loadtxt(
        lobster("GOOG", "orderbook", 10), delimiter=",", max_rows=20_000, usecols=(0, 1, 2, 3)
    )
    ask, qa, bid, qb = raw[:, 0] / 1e4, raw[:, 1], raw[:, 2] / 1e4, raw[:, 3]
    np.testing.assert_allclose(f["mid"], (bid + ask) / 2)
    np.testing.assert_allclose(f["spread"], ask - bid)
    np.testing.assert_allclose(f["weighted_mid"], (bid * qa + ask * qb) / (qa + qb))
    full = np.loadtxt(lobster("GOOG", "orderbook", 10), delimiter=",", max_rows=20_000)
    np.testing.assert_allclose(f["bid_depth"], full[:, 3::4].sum(axis=1))
    micro = f["microprice"]
    assert np.isfinite(micro).all()
    assert ((micro >= bid - 1e-9) & (micro <= ask + 1e-9)).mean() > 0.99


def test_features_file_has_the_public_columns(tmp_path, lobster_sample):
    df, rejects = compute(lobster_sample("GOOG", 10, 3000))
    assert df.columns == feature_columns(10)
    for name in (
        "ts_event",
        "symbol",
        "bid_px",
        "bid_sz",
        "ask_px",
        "ask_sz",
        "mid",
        "spread",
        "weighted_mid",
        "microprice",
        "ofi",
        "ofi_1",
        "ofi_10",
    ):
        assert name in df.columns
    assert df["ts_event"].dtype == pl.Int64
    assert df.height == 3000 and rejects.height == 0
    np.testing.assert_array_equal(df["ofi"].to_numpy(), df["ofi_1"].to_numpy())
