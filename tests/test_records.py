"""Per-record forms: conversion from batches, and refusal of bad records at the edge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dataflows.readers.lobster import read_lobster
from operators.features import FeatureState
from operators.predictors import make_predictor
from schemas.market import TickFlag
from schemas.records import QuoteTick, Trade, feature_records, prediction_records, tick_records
from tests.conftest import lobster


def test_tick_records_carry_every_book_and_trade():
    ticks = read_lobster(lobster("AMZN", "message", 5)).ticks.take(slice(0, 400))
    recs = tick_records(ticks)
    books = [r for r in recs if r.__class__.__name__ == "BookUpdate"]
    trades = [r for r in recs if isinstance(r, Trade)]
    assert len(books) == 400
    assert len(trades) == int(((ticks.flags & TickFlag.TRADE) > 0).sum())
    first = books[0]
    assert first.bids[0].price == ticks.bid_px[0, 0] / 10_000 and len(first.bids) == 5
    assert trades[0].side == 1 and trades[0].size == 1  # row 0: hidden sell order executed
    assert first.model_dump()["symbol"] == "AMZN"


def test_feature_and_prediction_records_follow_the_batches():
    ticks = read_lobster(lobster("GOOG", "message", 10)).ticks.take(slice(0, 300))
    features = FeatureState(ticks.instrument).update(ticks)
    recs = feature_records(features)
    assert len(recs) == 300 and len(recs[5].ofi_levels) == 10
    assert recs[5].ofi == features["ofi"][5]
    preds = prediction_records(make_predictor("ofi").update(features))
    assert {p.model for p in preds} == {"ofi"} and all(0 <= p.confidence <= 1 for p in preds)


@pytest.mark.parametrize(
    "bad",
    [
        {"bid_px": float("nan")},
        {"ask_px": float("inf")},
        {"bid_sz": -1.0},
        {"ts_event": -5},
        {"venue": "X"},
    ],
)
def test_records_refuse_bad_values(bad):
    good = {
        "symbol": "A",
        "ts_event": 1,
        "bid_px": 10.0,
        "bid_sz": 1.0,
        "ask_px": 10.1,
        "ask_sz": 2.0,
    }
    QuoteTick(**good)
    with pytest.raises(ValidationError):
        QuoteTick(**{**good, **bad})
