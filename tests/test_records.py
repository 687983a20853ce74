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


def test_tick_batches_split_then_concatenated_are_the_batch():
    from schemas.market import TICK_COLUMNS, TickBatch

    ticks = read_lobster(lobster("AMZN", "message", 5)).ticks.take(slice(0, 1000))
    again = TickBatch.concat(ticks.split(97))
    for c in (*TICK_COLUMNS, "line"):
        assert (getattr(again, c) == getattr(ticks, c)).all(), c
    assert again.instrument == ticks.instrument and again.source == ticks.source
    other = read_lobster(lobster("GOOG", "message", 10)).ticks.take(slice(0, 10))
    with pytest.raises(ValueError, match="one instrument"):
        TickBatch.concat([ticks, other])


def test_live_decode_joins_a_backlog_into_one_batch_a_symbol():
    """Messages read in one go go on as one batch per symbol, in order; any other kind
    of message keeps its own place."""
    from bytewax.connectors.kafka import KafkaSourceMessage

    from dataflows.live import decoder
    from schemas import wire

    amzn = read_lobster(lobster("AMZN", "message", 5)).ticks.take(slice(0, 300))
    goog = read_lobster(lobster("GOOG", "message", 10)).ticks.take(slice(0, 200))
    msgs = []
    for i, b in enumerate([*amzn.split(100), *goog.split(100)]):
        msgs.append(
            KafkaSourceMessage(
                b.symbol.encode(), wire.encode_ticks(b), topic="ticks.raw", partition=0, offset=i
            )
        )
    out = decoder()(msgs)
    assert [(o.symbol, len(o.ticks)) for o in out] == [("AMZN", 300), ("GOOG", 200)]
    assert (out[0].ticks.seq == amzn.seq).all() and (out[1].ticks.seq == goog.seq).all()
    assert (out[0].ticks.line == amzn.line).all()
